"""The embedded outbox: events ride inside the aggregate document and a relay publishes them.

A state change and the events it causes are written in one single-document atomic update (the
events are pushed onto the document's ``outbox`` array and ``outbox_pending`` is incremented).
The relay publishes each pending event, then pulls it from the array. A crash between the two
re-publishes the event on restart; consumers drop it by its event id. A pass hands all its
documents' events to the producer in order and awaits their confirmations together, then clears
the outboxes concurrently: one broker round trip per pass, not one per document.

Each event goes to the topic the routing table gives for its tenant (``ilrflow.platform.lanes``).
A relay publishes only tenants routed to the lanes its process serves, and none that is paused
for a move between lanes; after each pass it acknowledges the table version it applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection

from ilrflow.contracts.events import Envelope, event_from_document, event_to_document
from ilrflow.platform.ferretdb import add_write_listener
from ilrflow.platform.lanes import RoutingTable
from ilrflow.platform.logging import get_logger
from ilrflow.platform.mongo import Document
from ilrflow.platform.routing import StaticRoutes
from ilrflow.platform.tracing import current_traceparent

log = get_logger(__name__)

OUTBOX_FIELD = "outbox"
PENDING_FIELD = "outbox_pending"

# (event, logical topic) -> None once published, or the delivery confirmation to await: a
# relay hands a whole pass to the producer and then awaits every confirmation together.
Publish = Callable[[Envelope[Any], str], Awaitable[Awaitable[None] | None]]


class Routes(Protocol):
    """The routing table as a relay sees it (``ilrflow.platform.routing.ProcessRoutes``)."""

    lanes: tuple[str, ...]

    async def table(self) -> RoutingTable: ...

    async def acknowledge(self) -> None: ...


def outbox_update(events: Sequence[Envelope[Any]]) -> dict[str, Any]:
    """Update operators that append events to a document's outbox (merge them into your update)."""
    if not events:
        return {}
    return {
        "$push": {OUTBOX_FIELD: {"$each": [_stored(e) for e in events]}},
        "$inc": {PENDING_FIELD: len(events)},
    }


def merge_updates(*updates: dict[str, Any]) -> dict[str, Any]:
    """Combine update documents operator by operator (``$set`` with ``$set`` and so on)."""
    merged: dict[str, dict[str, Any]] = {}
    for update in updates:
        for operator, fields in update.items():
            merged.setdefault(operator, {}).update(fields)
    return merged


def new_document_outbox(events: Sequence[Envelope[Any]]) -> Document:
    """The outbox fields of a document that is inserted together with its first events."""
    return {OUTBOX_FIELD: [_stored(e) for e in events], PENDING_FIELD: len(events)}


def _stored(event: Envelope[Any]) -> dict[str, Any]:
    """The event as the outbox keeps it, with the trace of the span writing it: the relay
    publishes later, outside the request, and the consumers continue this trace."""
    document = event_to_document(event)
    document["traceparent"] = event.traceparent or current_traceparent()
    return document


async def ensure_outbox_index(collection: AsyncCollection[Document]) -> None:
    await collection.create_index(PENDING_FIELD)


class OutboxRelay:
    """Publishes pending outbox events of the given collections.

    A collection wrapped by ``serialised_writes`` tells the relay which documents got events, so
    a pass reads just those by ``_id`` (the one filter FerretDB 1.24 pushes down to SQL). A full
    scan for ``outbox_pending > 0`` runs in the pass on the first pass (events left by a previous
    process), when the routing table changes, and on every pass for collections that cannot
    tell. Every ``scan_seconds`` a sweep beside the passes (the safety net) adds the pending
    documents it finds to the to-do set: a scan decodes every document on FerretDB, tens of
    milliseconds that events written meanwhile would otherwise wait for.
    """

    def __init__(
        self,
        collections: Sequence[AsyncCollection[Document]],
        publish: Publish,
        poll_seconds: float = 0.5,
        batch_size: int = 100,
        routes: Routes | None = None,
        scan_seconds: float = 30.0,
    ) -> None:
        self._collections = list(collections)
        self._publish = publish
        self._routes: Routes = routes or StaticRoutes()
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._scan_seconds = scan_seconds
        self._next_sweep = time.monotonic() + scan_seconds
        self._sweep: asyncio.Task[None] | None = None
        self._table_version: int | None = None  # the routing table of the last pass; None: none yet
        # Per collection (by position): ids of documents written with events, in write order;
        # None for a collection that cannot tell (scanned on every pass).
        self._dirty: list[dict[Any, None] | None] = []
        for collection in self._collections:
            dirty: dict[Any, None] = {}
            told = add_write_listener(collection, partial(_note_events, dirty))
            self._dirty.append(dirty if told else None)
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        """Called after a write with events, so they go out without waiting for the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        try:
            await self._relay_forever()
        finally:
            if self._sweep is not None:
                self._sweep.cancel()

    async def _relay_forever(self) -> None:
        while True:
            # Cleared before the pass: a write during it wakes the next one at once. A pass
            # that moved nothing (only a paused tenant's documents left) waits for the poll.
            self._wake.clear()
            try:
                moved = await self.drain_once()
            except Exception:
                log.exception("outbox relay pass failed; retrying")
                await asyncio.sleep(self._poll_seconds)
                continue
            if moved == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)

    async def drain_once(self) -> int:
        """One pass over every collection; returns how many events were published."""
        # One table for the whole pass (refreshed even when idle, so the acknowledgement is
        # current). A new table means a full scan: after a move, documents other processes
        # wrote while the tenant was paused are pending too, and must go out, oldest first,
        # before the ones this process writes next.
        table = await self._routes.table()
        scan_all = table.version != self._table_version
        self._table_version = table.version
        if scan_all:
            self._next_sweep = time.monotonic() + self._scan_seconds
        elif time.monotonic() >= self._next_sweep:
            self._start_sweep()
        moved = 0
        for collection, dirty in zip(self._collections, self._dirty, strict=True):
            if scan_all or dirty is None:
                if dirty is not None:
                    dirty.clear()  # the scan sees them all
                moved += await self._scan(collection, table)
            else:
                moved += await self._relay_dirty(collection, dirty, table)
        await self._routes.acknowledge()
        return moved

    def _start_sweep(self) -> None:
        self._next_sweep = time.monotonic() + self._scan_seconds
        if self._sweep is None or self._sweep.done():
            self._sweep = asyncio.create_task(self.sweep(), name="outbox-sweep")

    async def sweep(self) -> None:
        """The safety net: put every document with pending events on the to-do set (behind
        those already on it) and wake the relay. A document relayed meanwhile is read again
        and found empty."""
        found = 0
        try:
            for collection, dirty in zip(self._collections, self._dirty, strict=True):
                if dirty is None:
                    continue  # scanned in every pass anyway
                cursor = collection.find({PENDING_FIELD: {"$gt": 0}}, {"_id": 1})
                async for document in cursor:
                    dirty.setdefault(document["_id"], None)
                    found += 1
        except Exception:
            log.exception("outbox sweep failed; the next one runs in the usual interval")
        if found:
            self.wake()

    async def _scan(self, collection: AsyncCollection[Document], table: RoutingTable) -> int:
        # No query limit: documents of other lanes' or paused tenants are passed over, and must
        # not fill the batch; ``batch_size`` bounds the documents actually relayed per pass.
        cursor = collection.find({PENDING_FIELD: {"$gt": 0}}, {OUTBOX_FIELD: 1})
        try:
            documents = [document async for document in cursor]
        finally:
            await cursor.close()
        return await self._relay_in_order(collection, documents, table, self._dirty_of(collection))

    async def _relay_dirty(
        self, collection: AsyncCollection[Document], dirty: dict[Any, None], table: RoutingTable
    ) -> int:
        """Relay the documents written with events. Ids are taken out before reading: an event
        written while they are published puts a document back, and it goes out in this pass too;
        a failure puts them all back first in line for the next pass."""
        moved = 0
        later: dict[Any, None] = {}  # held (paused tenant) or past the batch: the next pass
        while dirty:
            identities = list(dirty)
            dirty.clear()
            try:
                found = await asyncio.gather(
                    *(collection.find_one({"_id": i}, {OUTBOX_FIELD: 1}) for i in identities)
                )
                documents = [document for document in found if document is not None]
                moved += await self._relay_in_order(collection, documents, table, later)
            except BaseException:
                waiting = dict(dirty)
                dirty.clear()
                dirty.update({**dict.fromkeys(identities), **later, **waiting})
                raise
        dirty.update(later)
        return moved

    async def _relay_in_order(
        self,
        collection: AsyncCollection[Document],
        documents: list[Document],
        table: RoutingTable,
        later: dict[Any, None] | None,
    ) -> int:
        """Relay documents oldest pending event first. Events of one learner can sit in several
        aggregates (two trackers), and after a pause (a lane move) or an outage many are pending
        at once: publishing them in the order they were written keeps their order on the
        partition. A paused tenant's documents, and those past the batch, are noted in ``later``
        for the next pass, so they go out as soon as the pause ends; another lane's are left to
        that lane's relay."""
        in_order = sorted(documents, key=_oldest_pending_time)
        chosen: list[tuple[Document, list[Document]]] = []
        for position, document in enumerate(in_order):
            if len(chosen) >= self._batch_size:
                if later is not None:
                    later.update(dict.fromkeys(d["_id"] for d in in_order[position:]))
                break
            pending = self._publishable(document, table)
            if pending:
                chosen.append((document, pending))
            elif later is not None and _paused(document, table):
                later[document["_id"]] = None
        if not chosen:
            return 0
        # Every event of the pass goes to the producer in order, then the confirmations are
        # awaited together: one broker round trip per pass, not per document. Only then are
        # the outboxes cleared (a crash in between publishes them again; consumers dedupe).
        confirmations: list[Awaitable[None]] = []
        for document, pending in chosen:
            confirmations += await self._send(document, pending, table)
        await _all_confirmed(confirmations)
        await asyncio.gather(*(self._clear(collection, d, p) for d, p in chosen))
        moved = sum(len(pending) for _, pending in chosen)
        self.published += moved
        return moved

    def _dirty_of(self, collection: AsyncCollection[Document]) -> dict[Any, None] | None:
        return self._dirty[self._collections.index(collection)]

    def _publishable(self, document: Document, table: RoutingTable) -> list[Document]:
        """The document's pending events if this relay publishes its tenant now, else none."""
        pending: list[Document] = document.get(OUTBOX_FIELD) or []
        # An aggregate belongs to one tenant. The pass's table is the one the relay then
        # acknowledges, so a pause holds from the pass after it was read.
        if pending and table.publishes(pending[0]["tenant"], self._routes.lanes):
            return pending
        return []

    async def _send(
        self, document: Document, pending: list[Document], table: RoutingTable
    ) -> list[Awaitable[None]]:
        tenant = pending[0]["tenant"]
        confirmations = []
        for item in pending:
            event = event_from_document(item)
            confirmation = await self._publish(event, table.route(tenant, event.type))
            if confirmation is not None:
                confirmations.append(confirmation)
        return confirmations

    async def _clear(
        self, collection: AsyncCollection[Document], document: Document, pending: list[Document]
    ) -> None:
        # $pullAll by exact value: FerretDB 1.24 ignores a $pull whose condition names a field.
        await collection.update_one(
            {"_id": document["_id"]},
            {"$pullAll": {OUTBOX_FIELD: pending}, "$inc": {PENDING_FIELD: -len(pending)}},
        )

    async def oldest_age_seconds(self) -> float:
        """Seconds since the oldest pending event's ``time`` (0 when nothing is pending)."""
        oldest: datetime | None = None
        for collection in self._collections:
            async for document in collection.find({PENDING_FIELD: {"$gt": 0}}, {OUTBOX_FIELD: 1}):
                for item in document.get(OUTBOX_FIELD) or []:
                    written = _as_datetime(item.get("time"))
                    if written is not None and (oldest is None or written < oldest):
                        oldest = written
        if oldest is None:
            return 0.0
        return max((datetime.now(UTC) - oldest).total_seconds(), 0.0)

    async def depth(self) -> int:
        total = 0
        for collection in self._collections:
            async for document in collection.find({PENDING_FIELD: {"$gt": 0}}, {PENDING_FIELD: 1}):
                total += int(document.get(PENDING_FIELD, 0))
        return total


async def _all_confirmed(confirmations: list[Awaitable[None]]) -> None:
    """Await every confirmation (none is left unobserved), then raise the first failure."""
    results = await asyncio.gather(*confirmations, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _note_events(dirty: dict[Any, None], identity: Any, change: Document) -> None:
    """A write listener: remember documents inserted or updated together with new events."""
    added = change.get("$inc", {}).get(PENDING_FIELD, 0) if "$inc" in change else None
    if added is None:
        added = change.get(PENDING_FIELD, 0)  # an inserted document
    if isinstance(added, int) and added > 0 and identity is not None:
        dirty[identity] = None


def _paused(document: Document, table: RoutingTable) -> bool:
    pending = document.get(OUTBOX_FIELD) or []
    return bool(pending) and pending[0]["tenant"] in table.paused


def _oldest_pending_time(document: Document) -> datetime:
    times = [_as_datetime(item.get("time")) for item in document.get(OUTBOX_FIELD) or []]
    return min((t for t in times if t is not None), default=datetime.min.replace(tzinfo=UTC))


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None
