"""Start, watch and stop the five services as local processes (for ``make run`` and the tests).

Kafka and FerretDB are started by ``deploy/local/stack.sh``; this module runs the Python side:
one process per service, each with its HTTP API, consumers and outbox relay.
"""

from __future__ import annotations

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


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_services(
    ports: dict[str, int],
    env: dict[str, str],
    log_dir: Path,
    services: tuple[str, ...] = SERVICES,
) -> list[ServiceProcess]:
    log_dir.mkdir(parents=True, exist_ok=True)
    started = []
    for name in services:
        log_path = log_dir / f"{name}.log"
        process_env = {**os.environ, **env, "ILRFLOW_HTTP_PORT": str(ports[name])}
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", f"ilrflow.{name}.main"],
                env=process_env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(ServiceProcess(name, ports[name], process, log_path))
    return started


def wait_ready(processes: list[ServiceProcess], deadline_seconds: float = 90) -> None:
    """Poll each service's /readyz until it answers 200; fail with its log if it dies or stalls."""
    deadline = time.monotonic() + deadline_seconds
    pending = list(processes)
    with httpx.Client(timeout=2) as client:
        while pending:
            for service in list(pending):
                if service.process.poll() is not None:
                    raise RuntimeError(f"{service.name} exited:\n{tail(service.log_path)}")
                try:
                    if client.get(f"{service.url}/readyz").status_code == 200:
                        pending.remove(service)
                except httpx.TransportError:
                    pass
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
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


def run_until_stopped(
    processes: list[ServiceProcess], log_dir: Path, on_ready: Callable[[], None]
) -> int:
    """Wait until every service answers, call ``on_ready``, then keep them running until Ctrl-C
    (or SIGTERM), 0, or until one exits by itself, 1. The services are stopped either way."""
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        wait_ready(processes)
        on_ready()
        while not stop_requested:
            dead = [p.name for p in processes if p.process.poll() is not None]
            if dead:
                print(f"service(s) exited: {', '.join(dead)}; see {log_dir}", file=sys.stderr)
                return 1
            time.sleep(0.5)  # poll interval
        return 0
    finally:
        print("\nstopping the services ...", file=sys.stderr)
        stop_services(processes)


def kill_service(service: ServiceProcess) -> None:
    """SIGKILL, as a crash would: no shutdown hooks run."""
    service.process.kill()
    service.process.wait()


def restart_service(service: ServiceProcess, env: dict[str, str]) -> ServiceProcess:
    [restarted] = start_services(
        {service.name: service.port}, env, service.log_path.parent, (service.name,)
    )
    return restarted


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} missing)"
    content = path.read_text(errors="replace").splitlines()
    return f"--- {path.name} ---\n" + "\n".join(content[-lines:])
