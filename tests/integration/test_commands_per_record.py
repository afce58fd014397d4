"""On the real MongoDB-wire server, the database commands a record costs where the pipeline
runs it per tracker (each costs the database's CPU, the bottleneck: docs/benchmark.md): the
tracker's ILR projection, notify's recipient directory and the email claim; and the caches
that save reads see this process's own changes at once."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from ilrflow.contracts.events import EventType, IlrState, StaffUpdated, Topics, new_event
from ilrflow.notify.adapters import repository as notify_repository
from ilrflow.notify.adapters.repository import NotifyRepository
from ilrflow.notify.bootstrap import projections
from ilrflow.notify.domain.model import StaffMember, TenantNotifySettings
from ilrflow.platform.mongo import Document
from ilrflow.platform.projections import live_handlers
from ilrflow.tracker.adapters.projections import ProjectionRepository

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def count(self) -> int:
        return sum(n for name, n in self.sent.items() if name not in ("buildInfo", "endSessions"))


@pytest.fixture
async def counted() -> AsyncIterator[tuple[Any, Commands]]:
    commands = Commands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
        retryWrites=False,
        tz_aware=True,
        event_listeners=[commands],
    )
    name = f"itest{secrets.token_hex(3)}"
    try:
        yield client[name], commands
    finally:
        await client.drop_database(name)
        await client.close()


def ilr_state(version: int, learner_id: str = "L1") -> Any:
    state = IlrState(
        learner_id=learner_id, version=version, qa_verified=False, learner={"Version": version}
    )
    return new_event(state, tenant="acme", subject=learner_id, actor="ilr")


async def test_an_ilr_state_is_one_command_and_never_overwrites_a_newer_one(
    counted: tuple[Any, Commands],
) -> None:
    database, commands = counted
    projections = ProjectionRepository(database)
    for version in (1, 3, 2):  # the first stored, then a newer, then a late older one
        before = commands.count()
        await projections.on_ilr_state(ilr_state(version))
        assert commands.count() - before == 1
    stored = await projections.ilr_of("acme", "L1")
    assert stored is not None
    assert (stored.version, stored.learner) == (3, {"Version": 3})


async def test_the_tenants_staff_and_settings_are_read_once_and_this_processs_changes_at_once(
    counted: tuple[Any, Commands],
) -> None:
    database, commands = counted
    repository = NotifyRepository(database)
    tutor = StaffMember(id="tutor-1", name="Tia", email="tia@example.org", roles=["tutor"])
    await repository.upsert_staff("acme", tutor)
    await repository.directory("acme", ["L1"])

    before = commands.count()
    await repository.directory("acme", ["L1"])
    assert commands.count() - before == 1  # the learner contacts only

    await repository.upsert_staff("acme", tutor.model_copy(update={"email": "t@example.org"}))
    await repository.save_settings("acme", TenantNotifySettings(email_admins=True))
    directory = await repository.directory("acme", ["L1"])
    assert directory.staff["tutor-1"].email == "t@example.org"
    assert directory.settings.email_admins


async def test_an_email_is_claimed_with_its_row_in_one_command(
    counted: tuple[Any, Commands],
) -> None:
    database, commands = counted
    repository = NotifyRepository(database)
    await repository.notifications.insert_one(
        {"_id": "n1", "delivery": {"status": "pending", "attempts": 0, "next_attempt_at": T0}}
    )
    before = commands.count()
    row = await repository.claim_email("n1", T0 + timedelta(seconds=1))
    assert commands.count() - before == 1
    assert row is not None
    assert row["_id"] == "n1"


async def test_a_staff_change_the_live_consumer_applies_is_seen_by_the_next_tracker_event(
    counted: tuple[Any, Commands],
) -> None:
    database, _ = counted
    live = NotifyRepository(database)
    handlers = live_handlers(database, projections(database, live))[Topics.LEARNER_UPDATED]
    staff = StaffUpdated(
        id="tutor-1", name="Tia", email="tia@example.org", roles=["tutor"], groups=[]
    )
    apply_staff = handlers[EventType.STAFF_UPDATED]
    await apply_staff(new_event(staff, tenant="acme", subject="tutor-1", actor="admin"))
    assert (await live.directory("acme", [])).staff["tutor-1"].email == "tia@example.org"

    moved = staff.model_copy(update={"email": "tia@elsewhere.org"})
    await apply_staff(new_event(moved, tenant="acme", subject="tutor-1", actor="admin"))
    assert (await live.directory("acme", [])).staff["tutor-1"].email == "tia@elsewhere.org"


async def test_a_change_made_on_another_replica_is_seen_within_the_bound(
    counted: tuple[Any, Commands], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, _ = counted
    bound = 2.0
    monkeypatch.setattr(notify_repository, "SLOW_READS_SECONDS", bound)
    here, there = NotifyRepository(database), NotifyRepository(database)
    read_at = time.monotonic()
    assert not (await here.directory("acme", [])).settings.email_admins
    await there.save_settings("acme", TenantNotifySettings(email_admins=True))
    assert not (await here.directory("acme", [])).settings.email_admins  # kept, within the bound

    while not (await here.directory("acme", [])).settings.email_admins:
        assert time.monotonic() - read_at < bound + 1.0
        await asyncio.sleep(0.05)  # poll interval
    assert time.monotonic() - read_at >= bound
