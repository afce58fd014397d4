"""`make run`: Kafka, FerretDB and the five services on this machine, a demo tenant, until Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack import SERVICES, start_services, stop_services, wait_ready

from ilrflow.platform.kafka import ensure_topics
from ilrflow.platform.settings import SERVICE_PORTS, Settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from seed import seed_demo_tenant  # noqa: E402


def main() -> int:
    settings = Settings()
    subprocess.run([str(HERE / "stack.sh"), "up"], check=True)
    asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap, settings.topic_partitions, prefix=settings.topic_prefix
        )
    )
    processes = start_services(dict(SERVICE_PORTS), {}, ROOT / ".stack" / "run" / "logs")
    stop_requested = False

    def request_stop(*_: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        wait_ready(processes)
        tokens = seed_demo_tenant(settings, {p.name: p.url for p in processes})
        print_banner(processes, tokens)
        while not stop_requested:
            if any(p.process.poll() is not None for p in processes):
                dead = [p.name for p in processes if p.process.poll() is not None]
                print(
                    f"service(s) exited: {', '.join(dead)}; see .stack/run/logs/", file=sys.stderr
                )
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("\nstopping the services ...", file=sys.stderr)
        stop_services(processes)
        if os.environ.get("ILRFLOW_KEEP_STACK") != "1":
            subprocess.run([str(HERE / "stack.sh"), "down"], check=False)


def print_banner(processes: list, tokens: dict[str, str]) -> None:  # type: ignore[type-arg]
    print("\nilrflow is running (Ctrl-C stops everything):")
    print("  kafka     127.0.0.1:9092        mongodb-wire (FerretDB) 127.0.0.1:27017")
    for process in processes:
        print(f"  {process.name:<9} {process.url}   docs {process.url}/docs")
    print("\nDemo tenant 'demo' (tokens valid 8 hours):")
    for who, token in tokens.items():
        print(f"  {who:<10} {token}")
    print('\nTry:  curl -H "Authorization: Bearer $ADMIN" http://127.0.0.1:8002/v1/trackers')
    print(f"Logs: {ROOT / '.stack' / 'run' / 'logs'}/<service>.log", flush=True)


if __name__ == "__main__":
    assert SERVICES
    sys.exit(main())
