"""The routing table in the deployment's platform database, and each process's cached copy.

One document (``<db_prefix>_platform.routes``, ``_id: "routes"``) holds the table; only the
``ilrflow lanes`` command writes it, conditionally on the version it read. Every relay process
keeps its own report document in ``relays`` (keyed by process, so no two processes ever update
one document; upstream FerretDB 1.24 lost concurrent updates of a document, ours applies them
one at a time: ``ilrflow.platform.ferretdb``). Reads are by ``_id`` only.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from ilrflow.platform.lanes import POOLED, RelayAck, RoutingTable
from ilrflow.platform.logging import get_logger
from ilrflow.platform.mongo import Document
from ilrflow.platform.settings import Settings

log = get_logger(__name__)

TABLE_ID = "routes"


class RoutingStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._routes = database["routes"]
        self._relays = database["relays"]

    @classmethod
    def of(cls, client: AsyncMongoClient[Document], settings: Settings) -> RoutingStore:
        return cls(client[settings.platform_database])

    async def read(self) -> RoutingTable:
        return RoutingTable.from_document(await self._routes.find_one({"_id": TABLE_ID}))

    async def write(self, table: RoutingTable, expected_version: int) -> bool:
        """Store ``table`` if the stored one is still at ``expected_version``; False otherwise."""
        document = table.to_document() | {"updated_at": datetime.now(UTC)}
        if expected_version == 0:
            result = await self._routes.update_one(
                {"_id": TABLE_ID}, {"$setOnInsert": document}, upsert=True
            )
            return result.upserted_id is not None
        result = await self._routes.update_one(
            {"_id": TABLE_ID, "version": expected_version}, {"$set": document}
        )
        return result.modified_count == 1

    async def report(self, ack: RelayAck) -> None:
        await self._relays.update_one(
            {"_id": ack.process},
            {
                "$set": {
                    "service": ack.service,
                    "lanes": list(ack.lanes),
                    "version": ack.version,
                    "seen_at": ack.seen_at,
                }
            },
            upsert=True,
        )

    async def relay_acks(self) -> list[RelayAck]:
        return [
            RelayAck(
                process=d["_id"],
                service=d.get("service", "?"),
                lanes=tuple(d.get("lanes") or ()),
                version=int(d.get("version", 0)),
                seen_at=_aware(d["seen_at"]),
            )
            async for d in self._relays.find({})
        ]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class StaticRoutes:
    """Every tenant pooled, nothing reported: for relays used without a deployment (tests)."""

    lanes: tuple[str, ...] = (POOLED,)

    async def table(self) -> RoutingTable:
        return RoutingTable()

    async def acknowledge(self) -> None:
        return None


class ProcessRoutes:
    """This process's copy of the routing table, at most ``refresh_seconds`` old, and its
    acknowledgement: "from now on I publish with version N or newer"."""

    def __init__(
        self,
        store: RoutingStore,
        service: str,
        lanes: Sequence[str],
        refresh_seconds: float = 1.0,
        heartbeat_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.service = service
        self.lanes = tuple(lanes)
        self.process = f"{service}:{socket.gethostname()}:{os.getpid()}"
        self._refresh_seconds = refresh_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._clock = clock
        self._table = RoutingTable()
        self._read_at: float | None = None
        self._reported: tuple[int, float] | None = None

    async def table(self) -> RoutingTable:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._refresh_seconds:
            fresh = await self._store.read()
            if fresh.version >= self._table.version:  # never step back to an older copy
                self._table = fresh
            self._read_at = now
        return self._table

    async def acknowledge(self) -> None:
        """Called after a relay pass: every publish from now on uses this version or newer.
        Written when the version changes and as a heartbeat, so operators can tell live relays
        from stopped ones."""
        now = self._clock()
        version = self._table.version
        if self._reported is not None:
            reported_version, reported_at = self._reported
            if reported_version == version and now - reported_at < self._heartbeat_seconds:
                return
        await self._store.report(
            RelayAck(self.process, self.service, self.lanes, version, datetime.now(UTC))
        )
        if self._reported is None or self._reported[0] != version:
            log.info("routing table applied", version=version, lanes=list(self.lanes))
        self._reported = (version, now)
