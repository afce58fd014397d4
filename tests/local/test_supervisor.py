"""``make run``'s supervisor without processes: when a crashed service is started again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devstack import RestartBackoff, ServiceProcess, Supervisor


class FakeProcess:
    """A process that runs until ``crash`` is called."""

    count = 0

    def __init__(self) -> None:
        FakeProcess.count += 1
        self.pid = FakeProcess.count
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def crash(self, code: int = 1) -> None:
        self.returncode = code


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def service(name: str = "tracker", replica: int = 0) -> ServiceProcess:
    process: Any = FakeProcess()
    return ServiceProcess(name, 8002 + replica, process, Path(f"/logs/{name}.log"), replica)


def restarted(old: ServiceProcess, env: dict[str, str]) -> ServiceProcess:
    return service(old.name, old.replica)


def supervisor(*services: ServiceProcess) -> tuple[Supervisor, Clock, list[str]]:
    clock, said = Clock(), []
    backoff = RestartBackoff(first_seconds=1, max_seconds=8, stable_seconds=60)
    watched = Supervisor(list(services), {}, backoff, said.append, clock, restarted)
    return watched, clock, said


def crash(watched: Supervisor, index: int = 0) -> None:
    watched.processes[index].process.crash()  # type: ignore[attr-defined]


def test_the_delay_doubles_up_to_its_cap() -> None:
    backoff = RestartBackoff(first_seconds=1, max_seconds=8)
    assert [backoff.delay(n) for n in range(1, 6)] == [1, 2, 4, 8, 8]


def test_a_crashed_service_is_restarted_after_the_backoff_and_the_others_are_left_alone() -> None:
    watched, clock, said = supervisor(service("tracker"), service("ilr"))
    first, other = watched.processes
    crash(watched)
    watched.check()
    assert "tracker exited with code 1" in said[0]
    assert "restarting in 1.0s" in said[0]
    clock.now = 0.5
    watched.check()
    assert watched.processes[0] is first  # still waiting
    clock.now = 1.0
    watched.check()
    assert watched.processes[0] is not first
    assert watched.processes[0].name == "tracker"
    assert watched.processes[1] is other
    assert said[-1].startswith("[run] tracker restarted (pid ")


def test_crashes_in_a_row_wait_longer_and_a_stable_run_starts_over() -> None:
    watched, clock, said = supervisor(service())
    delays = []
    for _ in range(5):
        crash(watched)
        watched.check()
        delays.append(said[-1].split("restarting in ")[1].split("s;")[0])
        clock.now += 10  # past any delay: restarted on the next check
        watched.check()
    assert delays == ["1.0", "2.0", "4.0", "8.0", "8.0"]
    clock.now += 60  # ran long enough to count as stable
    crash(watched)
    watched.check()
    assert "crash 1 in a row" in said[-1]
    assert "restarting in 1.0s" in said[-1]


def test_two_replicas_of_a_service_are_watched_each_on_its_own() -> None:
    watched, clock, said = supervisor(service("tracker", 0), service("tracker", 1))
    first, second = watched.processes
    crash(watched, 1)
    watched.check()
    assert "tracker#1 exited with code 1" in said[0]
    clock.now = 1.0
    watched.check()
    assert watched.processes[0] is first
    assert watched.processes[1] is not second
    assert watched.processes[1].replica == 1
    assert said[-1].startswith("[run] tracker#1 restarted (pid ")
