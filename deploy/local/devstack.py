"""Start, watch and stop the five services as local processes (for ``make run`` and the tests).

Kafka and FerretDB are started by ``deploy/local/stack.sh``; this module runs the Python side:
one process per service (or several replicas of each, ``start_replicas``), each with its HTTP
API, consumers and outbox relay; and the web console, which calls the five over HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

SERVICES: tuple[str, ...] = ("learner", "tracker", "ilr", "notify", "audit")
CONSOLE = "web"  # the console: no database, no Kafka; it calls the five services' APIs


def console_env(service_urls: dict[str, str], dev_sign_in: str = "1") -> dict[str, str]:
    """The console's settings on a development machine: where the five services listen, and
    development sign-in (a tenant's people listed, signed in with a development token)."""
    return {
        "ILRFLOW_WEB_SERVICE_URLS": json.dumps({n: service_urls[n] for n in SERVICES}),
        "ILRFLOW_WEB_DEV_SIGN_IN": dev_sign_in,
    }


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    replica: int = 0  # 0, 1, ...: replicas of one service share its database and consumer group

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def label(self) -> str:
        """``notify`` for the first replica, ``notify#1`` for the second and so on."""
        return self.name if self.replica == 0 else f"{self.name}#{self.replica}"


def start_services(
    ports: dict[str, int],
    env: dict[str, str],
    log_dir: Path,
    services: tuple[str, ...] = SERVICES,
) -> list[ServiceProcess]:
    """One process of each of ``services``, on its port in ``ports``."""
    return start_replicas({name: [ports[name]] for name in services}, env, log_dir)


def start_replicas(
    ports: dict[str, list[int]], env: dict[str, str], log_dir: Path, first_replica: int = 0
) -> list[ServiceProcess]:
    """One process per port listed for each service: replicas of it side by side, each with its
    own HTTP port and log, the same settings otherwise (database, topics, consumer group), as
    the Kubernetes deployments run them."""
    log_dir.mkdir(parents=True, exist_ok=True)
    started = []
    for name, service_ports in ports.items():
        for replica, port in enumerate(service_ports, start=first_replica):
            suffix = "" if replica == 0 else f"-{replica}"
            log_path = log_dir / f"{name}{suffix}.log"
            process_env = {
                **os.environ,
                **_client_token_issuer({n: p[0] for n, p in ports.items()}),
                **env,
                "ILRFLOW_HTTP_PORT": str(port),
            }
            with log_path.open("ab") as log_file:
                process = subprocess.Popen(
                    [sys.executable, "-m", f"ilrflow.{name}.main"],
                    env=process_env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started.append(ServiceProcess(name, port, process, log_path, replica))
    return started


def _client_token_issuer(ports: dict[str, int]) -> dict[str, str]:
    """API clients' tokens name the learner service that issues them, wherever it listens."""
    if "learner" not in ports:
        return {}
    return {"ILRFLOW_CLIENT_TOKEN_ISSUER": f"http://127.0.0.1:{ports['learner']}"}


def wait_ready(processes: list[ServiceProcess], deadline_seconds: float = 90) -> None:
    """Poll each service's /readyz until it answers 200; fail with its log if it dies or stalls."""
    deadline = time.monotonic() + deadline_seconds
    pending = list(processes)
    with httpx.Client(timeout=2) as client:
        while pending:
            for service in list(pending):
                if service.process.poll() is not None:
                    raise RuntimeError(f"{service.label} exited:\n{tail(service.log_path)}")
                try:
                    if client.get(f"{service.url}/readyz").status_code == 200:
                        pending.remove(service)
                except httpx.TransportError:
                    pass
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.label for s in pending)
                logs = "\n".join(tail(s.log_path) for s in pending)
                raise RuntimeError(f"not ready after {deadline_seconds}s: {names}\n{logs}")
            if pending:
                time.sleep(0.2)


def stop_services(processes: list[ServiceProcess], grace_seconds: float = 20) -> None:
    for service in processes:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for service in processes:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            service.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


@dataclass(frozen=True)
class RestartBackoff:
    """How long a crashed service waits before it is started again: ``first_seconds``, doubled
    with each crash in a row, at most ``max_seconds``. A service that ran ``stable_seconds``
    before it crashed starts over at ``first_seconds``."""

    first_seconds: float = 1.0
    max_seconds: float = 30.0
    stable_seconds: float = 60.0

    def delay(self, crashes_in_a_row: int) -> float:
        return float(min(self.first_seconds * 2 ** (crashes_in_a_row - 1), self.max_seconds))


@dataclass
class _Watch:
    started_at: float
    crashes_in_a_row: int = 0
    restart_at: float | None = None  # set while the service waits to be restarted


class Supervisor:
    """Keeps the services running: one that exits is started again after a backoff, and every
    exit and restart is told (``say``). ``check`` does one round and never blocks, so a caller's
    loop stays responsive to Ctrl-C during a backoff. ``processes`` always holds the current
    process of each service."""

    def __init__(
        self,
        processes: list[ServiceProcess],
        env: dict[str, str],
        backoff: RestartBackoff = RestartBackoff(),
        say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
        clock: Callable[[], float] = time.monotonic,
        start: Callable[[ServiceProcess, dict[str, str]], ServiceProcess] | None = None,
    ) -> None:
        self.processes = processes
        self._env = env
        self._backoff = backoff
        self._say = say
        self._clock = clock
        self._start = start or restart_service
        self._watches = {p.label: _Watch(started_at=clock()) for p in processes}

    def check(self) -> None:
        now = self._clock()
        for index, service in enumerate(self.processes):
            watch = self._watches[service.label]
            if watch.restart_at is None:
                code = service.process.poll()
                if code is not None:
                    self._crashed(service, watch, code, now)
            elif now >= watch.restart_at:
                self.processes[index] = self._start(service, self._env)
                watch.restart_at, watch.started_at = None, now
                self._say(
                    f"[run] {service.label} restarted (pid {self.processes[index].process.pid})"
                )

    def _crashed(self, service: ServiceProcess, watch: _Watch, code: int, now: float) -> None:
        ran_for = now - watch.started_at
        stable = ran_for >= self._backoff.stable_seconds
        watch.crashes_in_a_row = 1 if stable else watch.crashes_in_a_row + 1
        delay = self._backoff.delay(watch.crashes_in_a_row)
        watch.restart_at = now + delay
        self._say(
            f"[run] {service.label} exited with code {code} after {ran_for:.1f}s "
            f"(crash {watch.crashes_in_a_row} in a row); restarting in {delay:.1f}s; "
            f"log {service.log_path}"
        )


def run_until_stopped(
    processes: list[ServiceProcess],
    log_dir: Path,
    on_ready: Callable[[], None],
    env: dict[str, str],
) -> int:
    """Wait until every service answers, call ``on_ready``, then keep them running until Ctrl-C
    (or SIGTERM): a service that exits is restarted with backoff (``Supervisor``), with the
    ``env`` it was started with. The services are stopped at the end, 0."""
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    supervisor = Supervisor(processes, env)
    try:
        wait_ready(processes)
        on_ready()
        print(f"[run] watching the services; a crashed one is restarted (logs in {log_dir})")
        while not stop_requested:
            supervisor.check()
            time.sleep(0.5)  # poll interval
        return 0
    finally:
        print("\nstopping the services ...", file=sys.stderr)
        stop_services(supervisor.processes)


def kill_service(service: ServiceProcess) -> None:
    """SIGKILL, as a crash would: no shutdown hooks run."""
    service.process.kill()
    service.process.wait()


def restart_service(service: ServiceProcess, env: dict[str, str]) -> ServiceProcess:
    """The same replica again: its port, its log."""
    [restarted] = start_replicas(
        {service.name: [service.port]}, env, service.log_path.parent, service.replica
    )
    return restarted


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} missing)"
    content = path.read_text(errors="replace").splitlines()
    return f"--- {path.name} ---\n" + "\n".join(content[-lines:])
