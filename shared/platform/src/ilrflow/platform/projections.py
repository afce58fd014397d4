"""Projections: collections a service keeps from another service's events, rebuildable from the
earliest offset (``ilrflow projections rebuild``).

A service declares each projection once (its topic, its live collection and handlers that write
into a collection of a given name); its bootstrap consumes the live handlers and the CLI runs the
same handlers into a fresh collection. While the CLI catches the fresh collection up and swaps it
in, it pauses the projection with a control document: the live handlers then fail transiently, so
their records are retried and re-read (nothing is committed, nothing lost) until the pause ends.
The pause carries a deadline, so a CLI that dies mid-rebuild holds nothing back for long.

A live handler does not read the control document for every record: a read that found the
projection running is trusted for ``PAUSE_SEEN_WITHIN_SECONDS``, and the CLI, having paused,
waits that long before it reads the live group's committed offsets. So by then every replica
applies no record without having seen the pause; a record applied in that second is one "begun
before the pause", which the rebuild already waits for (its offset is committed, so the catch-up
applies it to the fresh collection too).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.contracts.events import Envelope
from ilrflow.platform.errors import TransientError
from ilrflow.platform.kafka import Handler
from ilrflow.platform.mongo import Document

CONTROL_COLLECTION = "projection_control"
# How long a handler trusts a read that found its projection running (see the module).
PAUSE_SEEN_WITHIN_SECONDS = 1.0


@dataclass(frozen=True)
class Projection:
    """One projection: ``handlers(name)`` and ``ensure_indexes(name)`` work on the collection
    called ``name`` (the live ``collection``, or the one a rebuild fills)."""

    name: str
    topic: str
    collection: str
    handlers: Callable[[str], Mapping[str, Handler]]
    ensure_indexes: Callable[[str], Awaitable[None]] | None = None


class ProjectionPause:
    """The control documents of one service database: which projections are paused, until when."""

    def __init__(
        self, db: AsyncDatabase[Document], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.control: AsyncCollection[Document] = db[CONTROL_COLLECTION]
        self._clock = clock
        self._running_until: dict[str, float] = {}  # projection -> when to read again

    async def pause(self, projection: str, for_seconds: float, by: str) -> datetime:
        until = datetime.now(UTC) + timedelta(seconds=for_seconds)
        await self.control.update_one(
            {"_id": projection}, {"$set": {"until": until, "by": by}}, upsert=True
        )
        return until

    async def resume(self, projection: str) -> None:
        await self.control.delete_one({"_id": projection})

    async def is_paused(self, projection: str) -> bool:
        document = await self.control.find_one({"_id": projection})
        if document is None:
            return False
        until: datetime = document["until"]
        return (until if until.tzinfo else until.replace(tzinfo=UTC)) > datetime.now(UTC)

    def hold(self, projection: str, handler: Handler) -> Handler:
        """``handler``, failing transiently while the projection is paused: a primary-key read
        of the control, at most once per ``PAUSE_SEEN_WITHIN_SECONDS`` while it runs (the price
        of never writing into a collection that is being swapped out)."""

        async def held(event: Envelope[Any]) -> None:
            if await self._paused_lately(projection):
                raise TransientError(f"projection {projection} is paused for a rebuild")
            await handler(event)

        return held

    async def _paused_lately(self, projection: str) -> bool:
        asked_at = self._clock()  # an answer is as old as its question
        if asked_at < self._running_until.get(projection, 0.0):
            return False
        paused = await self.is_paused(projection)
        if not paused:
            self._running_until[projection] = asked_at + PAUSE_SEEN_WITHIN_SECONDS
        return paused


def live_handlers(
    db: AsyncDatabase[Document],
    projections: Iterable[Projection],
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, dict[str, Handler]]:
    """Per topic, the handlers (by event type) that keep each projection's live collection."""
    pause = ProjectionPause(db, clock)
    by_topic: dict[str, dict[str, Handler]] = {}
    for projection in projections:
        for event_type, handler in projection.handlers(projection.collection).items():
            by_topic.setdefault(projection.topic, {})[event_type] = pause.hold(
                projection.name, handler
            )
    return by_topic
