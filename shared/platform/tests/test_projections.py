"""Projection declarations: live handlers per topic, held back (transiently) while paused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ilrflow.platform.errors import TransientError, is_transient
from ilrflow.platform.projections import (
    CONTROL_COLLECTION,
    PAUSE_SEEN_WITHIN_SECONDS,
    Projection,
    live_handlers,
)


class FakeCollection:
    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.reads = 0

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.reads += 1
        return self.documents.get(query["_id"])


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeDatabase(dict[str, FakeCollection]):
    def __missing__(self, name: str) -> FakeCollection:
        self[name] = FakeCollection()
        return self[name]


def declared(written: list[tuple[str, str]]) -> list[Projection]:
    def handlers(kind: str) -> Any:
        def for_collection(name: str) -> dict[str, Any]:
            async def handle(event: Any) -> None:
                written.append((name, event))

            return {f"type.{kind}": handle}

        return for_collection

    return [
        Projection("learners", "learner-updated", "learner_projection", handlers("learner")),
        Projection("staff", "learner-updated", "staff_projection", handlers("staff")),
        Projection("ilr", "ilr-state", "ilr_projection", handlers("ilr")),
    ]


def test_live_handlers_are_grouped_by_topic_and_write_the_live_collections() -> None:
    by_topic = live_handlers(FakeDatabase(), declared([]))  # type: ignore[arg-type]
    assert {t: sorted(h) for t, h in by_topic.items()} == {
        "learner-updated": ["type.learner", "type.staff"],
        "ilr-state": ["type.ilr"],
    }


async def test_a_paused_projection_fails_transiently_until_the_pause_ends_or_runs_out() -> None:
    db = FakeDatabase()
    clock = Clock()
    written: list[tuple[str, str]] = []
    handle = live_handlers(db, declared(written), clock)["learner-updated"]["type.learner"]  # type: ignore[arg-type]
    await handle("e1")  # type: ignore[arg-type]

    until = datetime.now(UTC) + timedelta(minutes=1)
    db[CONTROL_COLLECTION].documents["learners"] = {"_id": "learners", "until": until}
    clock.now += PAUSE_SEEN_WITHIN_SECONDS  # what a rebuild waits after pausing
    with pytest.raises(TransientError) as paused:
        await handle("e2")  # type: ignore[arg-type]
    assert is_transient(paused.value)
    await live_handlers(db, declared(written))["learner-updated"]["type.staff"]("s1")  # type: ignore[arg-type]

    expired = datetime.now(UTC) - timedelta(seconds=1)
    db[CONTROL_COLLECTION].documents["learners"]["until"] = expired.replace(tzinfo=None)
    await handle("e3")  # type: ignore[arg-type]
    assert written == [
        ("learner_projection", "e1"),
        ("staff_projection", "s1"),
        ("learner_projection", "e3"),
    ]


async def test_the_pause_is_read_once_per_bound_while_running_and_every_record_while_paused() -> (
    None
):
    db = FakeDatabase()
    clock = Clock()
    handle = live_handlers(db, declared([]), clock)["learner-updated"]["type.learner"]  # type: ignore[arg-type]
    control = db[CONTROL_COLLECTION]
    for event in ("e1", "e2", "e3"):
        await handle(event)  # type: ignore[arg-type]
    assert control.reads == 1

    control.documents["learners"] = {"_id": "learners", "until": datetime.now(UTC) + timedelta(1)}
    await handle("e4")  # type: ignore[arg-type]  # within the bound: a record "begun before"
    clock.now += PAUSE_SEEN_WITHIN_SECONDS
    for event in ("e5", "e6"):
        with pytest.raises(TransientError):
            await handle(event)  # type: ignore[arg-type]
    assert control.reads == 3

    del control.documents["learners"]  # resumed: the next record goes on at once
    await handle("e7")  # type: ignore[arg-type]
    assert control.reads == 4
