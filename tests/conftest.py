"""Cross-service test support: the five services against the real Kafka and FerretDB.

`make test` starts Kafka and FerretDB (deploy/local/stack.sh) and exports their addresses; the
`stack` fixture starts the five services once per session with a database prefix of their own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from ilrflow.shared.auth import mint_token
from ilrflow.shared.devstack import (
    SERVICES,
    ServiceProcess,
    start_services,
    stop_services,
    wait_ready,
)
from ilrflow.shared.kafka import ensure_topics
from ilrflow.shared.settings import Settings

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")
# ILRFLOW_TEST_PORT_BASE lets two suites run side by side (each also gets its own database
# prefix, which is part of every consumer group id).
PORT_BASE = int(os.environ.get("ILRFLOW_TEST_PORT_BASE", "18001"))
TEST_PORTS = {name: PORT_BASE + i for i, name in enumerate(SERVICES)}


def eventually(check: Callable[[], T], timeout: float = 30.0, interval: float = 0.2) -> T:
    """Poll `check` until it returns a truthy value without raising; fail with the last error."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError as error:
            last_error = error
        if time.monotonic() > deadline:
            if last_error is not None:
                raise last_error
            raise AssertionError(f"condition not met within {timeout}s (last result {result!r})")
        time.sleep(interval)  # poll interval


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    processes: list[ServiceProcess]
    urls: dict[str, str] = field(default_factory=dict)

    def token(self, tenant: str, sub: str, *roles: str, groups: list[str] | None = None) -> str:
        return mint_token(self.settings, tenant=tenant, sub=sub, roles=list(roles), groups=groups)

    def client(
        self, service: str, tenant: str, sub: str, *roles: str, groups: list[str] | None = None
    ) -> httpx.Client:
        token = self.token(tenant, sub, *roles, groups=groups)
        return httpx.Client(
            base_url=self.urls[service], headers={"authorization": f"Bearer {token}"}, timeout=15
        )

    def anonymous(self, service: str) -> httpx.Client:
        return httpx.Client(base_url=self.urls[service], timeout=15)

    def process(self, name: str) -> ServiceProcess:
        return next(p for p in self.processes if p.name == name)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    run_id = secrets.token_hex(3)
    env = {
        "ILRFLOW_KAFKA_BOOTSTRAP": os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        "ILRFLOW_MONGO_URL": os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
        "ILRFLOW_DB_PREFIX": f"test{run_id}",
        "ILRFLOW_LOG_LEVEL": "INFO",
        "ILRFLOW_RELAY_POLL_SECONDS": "0.2",
    }
    settings = Settings(
        kafka_bootstrap=env["ILRFLOW_KAFKA_BOOTSTRAP"],
        mongo_url=env["ILRFLOW_MONGO_URL"],
        db_prefix=env["ILRFLOW_DB_PREFIX"],
    )
    log_dir = REPO / ".stack" / "test-logs" / run_id
    asyncio.run(ensure_topics(settings.kafka_bootstrap, settings.topic_partitions))
    processes = start_services(TEST_PORTS, env, log_dir)
    try:
        wait_ready(processes)
        yield Stack(
            settings=settings,
            env=env,
            processes=processes,
            urls={p.name: p.url for p in processes},
        )
    finally:
        stop_services(processes)


def new_tenant() -> str:
    return f"tenant-{secrets.token_hex(4)}"


def body(response: httpx.Response) -> Any:
    return response.json()
