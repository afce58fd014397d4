"""`make run`: Kafka, FerretDB, the five services and the web console on this machine, a demo
tenant, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

from devstack import CONSOLE, SERVICES, console_env, run_until_stopped, start_services

from ilrflow.platform.kafka import ensure_topics
from ilrflow.platform.settings import CONSOLE_PORT, SERVICE_PORTS, Settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from seed import seed_demo_tenant  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--port-base",
        type=int,
        default=None,
        help="the learner's port (default 8001); tracker, ilr, notify and audit take the next "
        "ones, the console the one before",
    )
    args = parser.parse_args(argv)
    ports = (
        {name: args.port_base + i for i, name in enumerate(SERVICES)}
        if args.port_base is not None
        else dict(SERVICE_PORTS)
    )
    ports[CONSOLE] = args.port_base - 1 if args.port_base is not None else CONSOLE_PORT
    settings = Settings()
    subprocess.run([str(HERE / "stack.sh"), "up"], check=True)
    asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap, settings.topic_partitions, prefix=settings.topic_prefix
        )
    )
    log_dir = ROOT / ".stack" / "run" / "logs"
    # Every setting comes from this shell, but the console's: where the services listen, and
    # development sign-in (unless the shell turns it off).
    service_urls = {name: f"http://127.0.0.1:{ports[name]}" for name in SERVICES}
    env = console_env(service_urls, os.environ.get("ILRFLOW_WEB_DEV_SIGN_IN", "1"))
    processes = start_services(ports, env, log_dir, (*SERVICES, CONSOLE))

    def seed_and_tell() -> None:
        tokens = seed_demo_tenant(settings, service_urls)
        print_banner(processes, tokens)

    try:
        return run_until_stopped(processes, log_dir, seed_and_tell, env)
    finally:
        if os.environ.get("ILRFLOW_KEEP_STACK") != "1":
            subprocess.run([str(HERE / "stack.sh"), "down"], check=False)


def print_banner(processes: list, tokens: dict[str, str]) -> None:  # type: ignore[type-arg]
    urls = {p.name: p.url for p in processes}
    console = urls.pop(CONSOLE)
    print(banner(urls, tokens, console), flush=True)


def banner(urls: dict[str, str], tokens: dict[str, str], console: str | None = None) -> str:
    """What `make run` prints once everything is up: every line a newcomer may copy works in a
    fresh shell opened in the repository (tests/e2e/test_cli.py runs them)."""
    lines = ["", "ilrflow is running (Ctrl-C stops everything):"]
    if console is not None:
        lines.append(f"  console   {console}   (sign in as anyone of the demo tenant)")
    lines.append("  kafka     127.0.0.1:9092        mongodb-wire (FerretDB) 127.0.0.1:27017")
    lines += [f"  {name:<9} {url}   docs {url}/docs" for name, url in urls.items()]
    lines += ["", "Demo tenant 'demo': paste these into your shell (tokens valid 8 hours):"]
    lines += [f"  export {who}={token}" for who, token in tokens.items()]
    lines += [
        "",
        "Try, in another shell in this directory:",
        f'  curl -sf -H "Authorization: Bearer $ADMIN" {urls["tracker"]}/v1/trackers',
        "  ./ilrflow tenants list",
        "  ./ilrflow topics describe",
        "  ./ilrflow --help",
        "(./ilrflow runs the operator CLI; it finds uv in ~/.local/bin even when that is not on",
        " PATH. `uv run ilrflow ...` works too once ~/.local/bin is on PATH.)",
        f"Logs: {ROOT / '.stack' / 'run' / 'logs'}/<service>.log",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    assert SERVICES
    sys.exit(main())
