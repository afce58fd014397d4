"""FerretDB 1.24 compatibility: the one place that works around its sharp edges.

FerretDB applies an update as read-modify-write without isolation (our patched build,
deploy/local/ferretdb/patches/update-document-locks.patch, takes a lock per document around it,
so one FerretDB server applies the updates of one document one at a time), and a conditional
update is slow on its SQLite backend. ``serialised_writes`` wraps a collection so that updates
of one document are taken one at a time, and on SQLite-backed FerretDB does a conditional update
as a read by ``_id``, a check here (``matches``) and an update by ``_id``. One at a time inside a
process (an asyncio lock per document) and, on SQLite, across processes, replicas of a service
side by side (a lock document per document in ``write_locks``, taken by inserting its ``_id``:
see ``_DatabaseLocks``). On MongoDB, and on PostgreSQL-backed FerretDB, which pushes the filter
of a conditional update down to SQL, conditional updates go to the server as they are
(``conditional_updates``, by ``ILRFLOW_FERRETDB_BACKEND``).

FerretDB 1.24 also ignores ``$slice`` in a ``$push`` (the array keeps growing). Our build patches
that (deploy/local/ferretdb/patches/push-slice.patch, which matters where conditional updates go
to the server); on the emulated path the wrapper, having read the document by ``_id`` anyway,
writes the sliced array itself (``with_pushes_sliced``), so an unpatched server is bounded too.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError
from pymongo.results import UpdateResult

from ilrflow.platform.mongo import Document
from ilrflow.platform.settings import get_settings

WRITE_LOCKS = "write_locks"
LOCK_LEASE = timedelta(seconds=10)  # a holder killed mid-write blocks the document this long
LOCK_POLL_SECONDS = (0.002, 0.05)  # first and longest wait between tries for a held lock


class _DocumentLocks:
    """One asyncio lock per document id, dropped again when nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[Any, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Any) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class _DatabaseLocks:
    """A lock per document shared by every process writing it: the lock is a document in
    ``write_locks`` whose ``_id`` names the locked one, taken by inserting it (one insert of an
    ``_id`` succeeds) and released by deleting it. A lock past its lease was left by a holder
    that died mid-write: it is deleted, and the waiters race to insert theirs again."""

    def __init__(self, locks: AsyncCollection[Document], lease: timedelta = LOCK_LEASE) -> None:
        self._locks = locks
        self._lease = lease
        self._token = secrets.token_hex(8)  # this process

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        owner = f"{self._token}:{secrets.token_hex(4)}"
        await self._acquire(key, owner)
        try:
            yield
        finally:
            await self._locks.delete_one({"_id": key, "owner": owner})

    async def _acquire(self, key: str, owner: str) -> None:
        wait = LOCK_POLL_SECONDS[0]
        while True:
            now = datetime.now(UTC)
            try:
                await self._locks.insert_one(
                    {"_id": key, "owner": owner, "expires_at": now + self._lease}
                )
                return
            except DuplicateKeyError:
                held = await self._locks.find_one({"_id": key})
            if held is not None and _aware(held["expires_at"]) <= now:
                await self._locks.delete_one({"_id": key, "owner": held["owner"]})
                continue
            await asyncio.sleep(wait)  # poll: the holder deletes the lock within milliseconds
            wait = min(wait * 2, LOCK_POLL_SECONDS[1])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


WriteListener = Callable[[Any, Document], None]
ConditionalUpdates = Literal["native", "emulated"]


def conditional_updates(ferretdb: bool, backend: str) -> ConditionalUpdates:
    """How a conditional update is done on a server: ``native`` (sent as it is; the server
    applies updates of one document one at a time) on MongoDB and on PostgreSQL-backed FerretDB,
    ``emulated`` on SQLite-backed FerretDB (a read by ``_id``, the check here and an update by
    ``_id``, under the document's lock in the database: SQLite would read every document)."""
    return "emulated" if ferretdb and backend == "sqlite" else "native"


class _SerialisedWrites:
    """A collection whose single-document updates of one document run one at a time."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._locks = _DocumentLocks()
        self._database_locks = _DatabaseLocks(collection.database[WRITE_LOCKS])
        self._listeners: list[WriteListener] = []
        self._conditional_updates: ConditionalUpdates | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def add_write_listener(self, listener: WriteListener) -> None:
        """Call ``listener(_id, update or inserted document)`` after each successful write."""
        self._listeners.append(listener)

    async def insert_one(self, document: Document, *args: Any, **kwargs: Any) -> Any:
        result = await self._collection.insert_one(document, *args, **kwargs)
        self._tell(document.get("_id"), document)
        return result

    async def insert_many(self, documents: list[Document], *args: Any, **kwargs: Any) -> Any:
        try:
            return await self._collection.insert_many(documents, *args, **kwargs)
        finally:  # some may be stored even when others fail: telling too much is harmless
            for document in documents:
                self._tell(document.get("_id"), document)

    async def update_one(self, filter: Document, update: Any, *args: Any, **kwargs: Any) -> Any:
        async with self._hold(filter):
            result = await self._conditional_update(filter, update, *args, **kwargs)
            if result is None:
                result = await self._collection.update_one(filter, update, *args, **kwargs)
        if isinstance(update, dict) and result.matched_count + (result.upserted_id is not None):
            self._tell(filter.get("_id"), update)
        return result

    async def replace_one(
        self, filter: Document, replacement: Document, *args: Any, **kwargs: Any
    ) -> Any:
        async with self._hold(filter):
            result = await self._collection.replace_one(filter, replacement, *args, **kwargs)
        if result.matched_count + (result.upserted_id is not None):
            self._tell(filter.get("_id"), replacement)
        return result

    async def find_one_and_update(self, filter: Document, *args: Any, **kwargs: Any) -> Any:
        async with self._hold(filter):
            return await self._collection.find_one_and_update(filter, *args, **kwargs)

    @asynccontextmanager
    async def _hold(self, filter: Document) -> AsyncIterator[None]:
        """The document's lock in this process, then (when emulating) across processes."""
        key = _document_key(filter)
        async with self._locks.hold(key):
            if await self._native():
                yield
                return
            async with self._database_locks.hold(f"{self._collection.name}:{key}"):
                yield

    async def _conditional_update(
        self, filter: Document, update: Any, *args: Any, **kwargs: Any
    ) -> UpdateResult | None:
        """On SQLite-backed FerretDB, ``{_id: x, <conditions>}``: read by ``_id`` and check the
        conditions here, then update by ``_id`` alone. FerretDB 1.24 on SQLite pushes only a filter that is
        exactly ``{_id: <string>}`` down to SQL; with any other condition the update reads and
        decodes every document of the collection. Safe because every writer of the document
        holds its lock (see ``serialised_writes``). None: not applicable, use the plain update.
        """
        identity = filter.get("_id")
        conditions = {k: v for k, v in filter.items() if k != "_id"}
        needed = conditions or _sliced_push_fields(update)
        if not needed or not isinstance(identity, str) or kwargs.get("upsert") or args:
            return None
        if await self._native():
            return None
        current = await self._collection.find_one({"_id": identity})
        if current is None:
            return UpdateResult({"n": 0, "nModified": 0}, acknowledged=True)
        matched = matches(current, conditions)
        if matched is None:
            return None  # unsliced: the next write through here slices the array again
        if not matched:
            return UpdateResult({"n": 0, "nModified": 0}, acknowledged=True)
        sliced = with_pushes_sliced(current, update)
        return await self._collection.update_one({"_id": identity}, sliced, **kwargs)

    async def _native(self) -> bool:
        if self._conditional_updates is None:
            build = await self._collection.database.client.admin.command("buildInfo")
            self._conditional_updates = conditional_updates(
                "ferretdbVersion" in build, get_settings().ferretdb_backend
            )
        return self._conditional_updates == "native"

    def _tell(self, identity: Any, change: Document) -> None:
        for listener in self._listeners:
            listener(identity, change)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": lambda a, b: bool(a < b),
    "$lte": lambda a, b: bool(a <= b),
    "$gt": lambda a, b: bool(a > b),
    "$gte": lambda a, b: bool(a >= b),
}


class _UnsupportedFilterError(Exception):
    """A filter the in-process check leaves to the server."""


def matches(document: Document, conditions: Document) -> bool | None:
    """Whether ``document`` matches a filter of fields (a dotted path goes into sub-documents)
    compared with a scalar by equality, ``$ne``, ``$lt/$lte/$gt/$gte`` (numbers) or ``$not`` of
    those, with MongoDB's semantics for arrays and missing fields. None when the filter uses
    anything else (let the server decide)."""
    try:
        return all(
            _condition(_lookup(document, field), condition)
            for field, condition in conditions.items()
        )
    except _UnsupportedFilterError:
        return None


def _lookup(document: Document, field: str) -> Any:
    """The value at ``field`` (None when missing); a path through an array is unsupported."""
    if field.startswith("$"):
        raise _UnsupportedFilterError(field)
    value: Any = document
    for step in field.split("."):
        if isinstance(value, list):
            raise _UnsupportedFilterError(field)
        value = value.get(step) if isinstance(value, dict) else None
    return value


def _condition(value: Any, condition: Any) -> bool:
    if not isinstance(condition, dict):
        return _known(_equals(value, condition))
    if not condition or not all(op.startswith("$") for op in condition):
        raise _UnsupportedFilterError(condition)
    return all(_known(_operator(op, value, target)) for op, target in condition.items())


def _known(outcome: bool | None) -> bool:
    if outcome is None:
        raise _UnsupportedFilterError(outcome)
    return outcome


def _operator(op: str, value: Any, target: Any) -> bool | None:
    if op == "$eq":
        return _equals(value, target)
    if op == "$ne":
        equal = _equals(value, target)
        return None if equal is None else not equal
    if op == "$not" and isinstance(target, dict) and target:
        return not _condition(value, target)
    if op in _COMPARISONS and _is_number(target):
        if value is None:  # missing or null: no number compares to it
            return False
        if _is_number(value):
            return _COMPARISONS[op](value, target)
    return None


def _equals(value: Any, target: Any) -> bool | None:
    """MongoDB equality against a scalar: an array matches if one element does; None matches a
    missing field. Sub-documents, arrays as targets and mixed bool/number are left to the server."""
    if isinstance(target, dict | list | tuple):
        return None
    if isinstance(value, list):
        return any(_scalar_equals(item, target) for item in value)
    return _scalar_equals(value, target)


def _scalar_equals(value: Any, target: Any) -> bool:
    if isinstance(value, bool) != isinstance(target, bool):
        return False
    if _is_number(value) and _is_number(target):
        return bool(value == target)
    return type(value) is type(target) and bool(value == target)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _sliced_push_fields(update: Any) -> list[str]:
    """The top-level fields ``update`` pushes to with ``$each`` and ``$slice`` (alone)."""
    if not isinstance(update, dict):
        return []
    return [
        field
        for field, spec in update.get("$push", {}).items()
        if "." not in field and isinstance(spec, dict) and set(spec) == {"$each", "$slice"}
    ]


def with_pushes_sliced(current: Document, update: Any) -> Any:
    """``update`` with each ``$push`` ... ``$slice`` turned into a ``$set`` of the sliced array
    (as MongoDB would leave it), computed from ``current``: FerretDB 1.24 ignores ``$slice``."""
    fields = [f for f in _sliced_push_fields(update) if isinstance(current.get(f, []), list)]
    if not fields:
        return update
    pushes = {f: spec for f, spec in update["$push"].items() if f not in fields}
    sets = dict(update.get("$set", {}))
    for field in fields:
        spec = update["$push"][field]
        sets[field] = _sliced([*current.get(field, []), *spec["$each"]], int(spec["$slice"]))
    rewritten = {op: changes for op, changes in update.items() if op not in ("$push", "$set")}
    rewritten["$set"] = sets
    if pushes:
        rewritten["$push"] = pushes
    return rewritten


def _sliced(items: list[Any], limit: int) -> list[Any]:
    return items[limit:] if limit < 0 else items[:limit]


def add_write_listener(collection: AsyncCollection[Document], listener: WriteListener) -> bool:
    """Have ``listener`` told of each write to a ``serialised_writes`` collection; False (and
    nothing done) for any other collection."""
    if not isinstance(collection, _SerialisedWrites):
        return False
    collection.add_write_listener(listener)
    return True


def _document_key(filter: Document) -> Any:
    identity = filter.get("_id")
    # A filter on something other than one _id value (rare here) shares one collection-wide key.
    return identity if isinstance(identity, str | int) else ("<collection>",)


def serialised_writes(collection: AsyncCollection[Document]) -> AsyncCollection[Document]:
    """``collection`` with updates of the same document taken one at a time, in this process
    and (on SQLite-backed FerretDB) across the service's replicas.

    FerretDB 1.24 applies an update as read-modify-write without isolation: two concurrent
    updates of one document both match and the later write-back drops the other's change (seen
    here: the outbox relay's ``$pullAll`` racing a save lost whole events, and two conditional
    updates on the same version both matched; with two replicas, one's relay dropped the other's
    enrolment of a learner). Every writer of an aggregate in ilrflow is a process of its own
    service (HTTP, consumers, relay, in any replica): each update holds the document's lock in
    its process and, on SQLite, the document's lock in the database (``_DatabaseLocks``). On
    MongoDB the updates are atomic anyway, and so they are on our patched FerretDB (one server);
    on PostgreSQL the conditional updates go to the server (``conditional_updates``). Inserts
    need no lock: they never modify an existing document.

    On SQLite, the database lock makes a conditional update cheap: it is done as a read by
    ``_id``, the check here, and an update by ``_id`` (see ``_conditional_update``).
    """
    return cast(AsyncCollection[Document], _SerialisedWrites(collection))
