"""`make run` (deploy/local/run.py) keeps the services running: one killed as a crash would kill it
comes back after a logged backoff while the others go on, and only Ctrl-C stops them all. Runs
on this stack's Kafka and FerretDB with prefixes of its own, and ports of its own (so a running
`make run` is never touched)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from devstack import CONSOLE, SERVICES

from tests.conftest import PORT_BASE, REPO, eventually

# Generous waits: five services start at once on a shared, often loaded machine.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

RUN_SCRIPT = REPO / "deploy" / "local" / "run.py"
VICTIM = "notify"
PORTS = {name: PORT_BASE + 300 + i for i, name in enumerate(SERVICES)}  # lanes use +100, +200
PORTS[CONSOLE] = PORT_BASE + 299  # the console is started (and watched) too, on the port before


def children(pid: int) -> dict[str, int]:
    """The service processes ``make run`` started: service name -> pid."""
    listed = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    found = {}
    for line in listed.splitlines():
        child, args = line.split(maxsplit=1)
        for name in PORTS:
            if f"ilrflow.{name}.main" in args:
                found[name] = int(child)
    return found


def ready(name: str) -> bool:
    try:
        response = httpx.get(f"http://127.0.0.1:{PORTS[name]}/readyz", timeout=2)
    except httpx.TransportError:
        return False
    return response.status_code == 200


def test_a_crashed_service_comes_back_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    run_id = secrets.token_hex(3)
    env = {
        **os.environ,
        "ILRFLOW_DB_PREFIX": f"makerun{run_id}",
        "ILRFLOW_TOPIC_PREFIX": f"makerun{run_id}.",
        "ILRFLOW_KEEP_STACK": "1",  # the stack is this test run's, not make run's to stop
    }
    run = subprocess.Popen(
        [sys.executable, str(RUN_SCRIPT), "--port-base", str(PORTS["learner"])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    output: list[str] = []
    assert run.stdout is not None
    reader = threading.Thread(target=lambda: output.extend(run.stdout or []), daemon=True)
    reader.start()
    started: dict[str, int] = {}
    now: dict[str, int] = {}
    try:
        eventually(lambda: any("ilrflow is running" in line for line in output), timeout=300)
        started = children(run.pid)
        assert set(started) == set(PORTS), output

        os.kill(started[VICTIM], signal.SIGKILL)
        eventually(lambda: any(f"{VICTIM} restarted" in line for line in output), timeout=60)
        eventually(lambda: ready(VICTIM), timeout=180)
        now = children(run.pid)
        assert now[VICTIM] != started[VICTIM]
        assert {n: p for n, p in now.items() if n != VICTIM} == {
            n: p for n, p in started.items() if n != VICTIM
        }  # the others went on
        [exited] = [line for line in output if f"{VICTIM} exited" in line]
        assert "code -9" in exited
        assert "restarting in 1.0s" in exited

        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=60) == 0, output
        assert not [pid for pid in now.values() if Path(f"/proc/{pid}").exists()], output
        assert not [name for name in PORTS if ready(name)]
    finally:
        print("".join(output[-80:]))  # make run's terminal, shown when the test fails
        if run.poll() is None:
            run.send_signal(signal.SIGINT)  # it stops its services
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()
