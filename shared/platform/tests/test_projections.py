"""Projection declarations: live handlers per topic, held back (transiently) while paused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ilrflow.platform.errors import TransientError, is_transient
from ilrflow.platform.projections import CONTROL_COLLECTION, Projection, live_handlers


class FakeCollection:
    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return self.documents.get(query["_id"])


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
    written: list[tuple[str, str]] = []
    handle = live_handlers(db, declared(written))["learner-updated"]["type.learner"]  # type: ignore[arg-type]
    await handle("e1")  # type: ignore[arg-type]

    until = datetime.now(UTC) + timedelta(minutes=1)
    db[CONTROL_COLLECTION].documents["learners"] = {"_id": "learners", "until": until}
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
