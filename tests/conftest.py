"""Cross-service test support: the five services against the real Kafka and FerretDB.

`make test` starts Kafka and FerretDB (deploy/local/stack.sh) and exports their addresses; the
`stack` fixture starts the five services once per session with a database prefix of their own.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from devstack import (
    CONSOLE,
    SERVICES,
    ServiceProcess,
    console_env,
    start_services,
    stop_services,
    wait_ready,
)
from workload import TLS  # one TLS context for every client (see there)

from ilrflow.platform.auth import mint_token
from ilrflow.platform.kafka import ensure_topics
from ilrflow.platform.settings import Settings

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")
# ILRFLOW_TEST_PORT_BASE lets two suites run side by side (each also gets its own database
# prefix, which is part of every consumer group id).
PORT_BASE = int(os.environ.get("ILRFLOW_TEST_PORT_BASE", "18001"))
TEST_PORTS = {name: PORT_BASE + i for i, name in enumerate(SERVICES)}
CONSOLE_TEST_PORT = PORT_BASE - 1  # as in `make run`: the console on the port before the learner's


def eventually(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.2) -> T:
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


def settled(
    read: Callable[[], T], quiet: float = 1.5, timeout: float = 90.0, interval: float = 0.2
) -> T:
    """Poll `read` until its value has not changed for `quiet` seconds: what earlier requests
    set off has arrived. Fail if it is still changing after `timeout`."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while True:
        time.sleep(interval)  # poll interval
        current, now = read(), time.monotonic()
        if current != value:
            value, since = current, now
        elif now - since >= quiet:
            return value
        if now > deadline:
            raise AssertionError(f"still changing after {timeout}s (last value {value!r})")


REFUSED_MAIL_DOMAIN = "@refused.example.org"  # the sink answers 550 for these recipients


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    content: bytes
    received_at: float = field(default_factory=time.monotonic)


class SmtpSink:
    """A real SMTP server on loopback that keeps every message it accepts (for email tests)."""

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self.port = _free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.messages if address in m.recipients]

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.endswith(REFUSED_MAIL_DOMAIN):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        self.messages.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    processes: list[ServiceProcess]
    urls: dict[str, str] = field(default_factory=dict)
    mail: SmtpSink | None = None
    log_dir: Path | None = None  # each service's log, and its spans (spans-<service>.jsonl)

    def token(self, tenant: str, sub: str, *roles: str, groups: list[str] | None = None) -> str:
        return mint_token(self.settings, tenant=tenant, sub=sub, roles=list(roles), groups=groups)

    def client(
        self, service: str, tenant: str, sub: str, *roles: str, groups: list[str] | None = None
    ) -> httpx.Client:
        token = self.token(tenant, sub, *roles, groups=groups)
        return httpx.Client(
            base_url=self.urls[service],
            headers={"authorization": f"Bearer {token}"},
            timeout=15,
            verify=TLS,
        )

    def anonymous(self, service: str) -> httpx.Client:
        return httpx.Client(base_url=self.urls[service], timeout=15, verify=TLS)

    def process(self, name: str) -> ServiceProcess:
        return next(p for p in self.processes if p.name == name)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    run_id = secrets.token_hex(3)
    mail = SmtpSink()
    mail.start()
    env = {
        "ILRFLOW_KAFKA_BOOTSTRAP": os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        "ILRFLOW_MONGO_URL": os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
        "ILRFLOW_DB_PREFIX": f"test{run_id}",
        # Topics of its own: runs sharing a broker never read each other's history.
        "ILRFLOW_TOPIC_PREFIX": f"test{run_id}.",
        "ILRFLOW_LOG_LEVEL": "INFO",
        "ILRFLOW_RELAY_POLL_SECONDS": "0.2",
        "ILRFLOW_SMTP_HOST": "127.0.0.1",
        "ILRFLOW_SMTP_PORT": str(mail.port),
        "ILRFLOW_EMAIL_POLL_SECONDS": "0.2",
        # The webhook receivers of the tests listen on 127.0.0.1; retries come fast.
        "ILRFLOW_WEBHOOK_ALLOW_PRIVATE_URLS": "1",
        "ILRFLOW_WEBHOOK_POLL_SECONDS": "0.2",
        "ILRFLOW_WEBHOOK_RETRY_FIRST_SECONDS": "0.3",
        "ILRFLOW_WEBHOOK_MAX_ATTEMPTS": "3",
        "ILRFLOW_OTEL_EXPORTER": "file",
    }
    settings = Settings(
        kafka_bootstrap=env["ILRFLOW_KAFKA_BOOTSTRAP"],
        mongo_url=env["ILRFLOW_MONGO_URL"],
        db_prefix=env["ILRFLOW_DB_PREFIX"],
        topic_prefix=env["ILRFLOW_TOPIC_PREFIX"],
    )
    # Test code that talks to Kafka directly (tests.e2e.helpers) reads the prefix from here.
    os.environ["ILRFLOW_TOPIC_PREFIX"] = settings.topic_prefix
    log_dir = REPO / ".stack" / "test-logs" / run_id
    env["ILRFLOW_OTEL_FILE"] = str(log_dir / "spans-{service}.jsonl")
    # The run's own signing key and checkpoint file, as a deployment configures them.
    env["ILRFLOW_AUDIT_CHECKPOINT_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
    env["ILRFLOW_AUDIT_CHECKPOINT_DIR"] = str(log_dir / "audit-checkpoints")
    asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap, settings.topic_partitions, prefix=settings.topic_prefix
        )
    )
    processes = start_services(TEST_PORTS, env, log_dir)
    try:
        wait_ready(processes)
        yield Stack(
            settings=settings,
            env=env,
            processes=processes,
            urls={p.name: p.url for p in processes},
            mail=mail,
            log_dir=log_dir,
        )
    finally:
        stop_services(processes)
        mail.stop()


@pytest.fixture(scope="session")
def console(stack: Stack) -> Iterator[str]:
    """The web console (development sign-in) in front of the stack's services: its base URL."""
    env = {**stack.env, **console_env(stack.urls)}
    assert stack.log_dir is not None
    [process] = start_services({CONSOLE: CONSOLE_TEST_PORT}, env, stack.log_dir, (CONSOLE,))
    try:
        wait_ready([process])
        yield process.url
    finally:
        stop_services([process])


def new_tenant() -> str:
    return f"tenant-{secrets.token_hex(4)}"


def body(response: httpx.Response) -> Any:
    return response.json()


# Moving a tenant to a lane leaves records on the lane topics of this session's deployment, and
# `ilrflow projections rebuild` refuses once lane topics hold records (it replays the pooled
# topic only), so the lane tests run after every other test that shares the stack.
RUN_LAST = ("tests/e2e/test_lanes.py", "tests/e2e/test_local_lane.py")


# Everything in these folders needs the running stack, marked or not: `make test-unit` (-m "not
# e2e") must never try to reach a broker because a new test file forgot its `pytestmark`.
STACK_FOLDERS = ("tests/e2e/", "tests/integration/", "tests/faults/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(STACK_FOLDERS):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: any(item.nodeid.startswith(last) for last in RUN_LAST))
