"""FerretDB 1.24 compatibility: the check that our FerretDB is the patched build, and the write
listeners the outbox relay relies on.

Upstream FerretDB 1.24 applies an update as read-modify-write without isolation (two concurrent
conditional updates of one document both match, and the later write-back drops the other's
change), on SQLite reads every document for a filter naming ``_id`` and anything else, and
ignores ``$slice`` in a ``$push``. Our build (deploy/local/ferretdb/patches) fixes all three, on
both backends: ``update-document-locks`` applies the updates of one document one at a time,
``sqlite-id-prefilter`` reads a filter naming one ``_id`` by the ``_id`` index, ``push-slice``
slices. So every update, conditional ones included, goes to the server as it is, as on MongoDB:
one round trip, atomic per document in the server (``tests/integration/test_ferretdb_patches.py``
shows the three on the real server).

That is checked, not assumed: the build records the patches it applied in the binary
(deploy/local/stack.sh, ``-X main.patches``), FerretDB reports them in ``buildInfo``
(``buildEnvironment.ilrflowPatches``), and a ``serialised_writes`` collection refuses to write to
a FerretDB that lacks one of ``REQUIRED_PATCHES`` (``UnpatchedFerretDBError``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from pymongo.asynchronous.collection import AsyncCollection

from ilrflow.platform.mongo import Document

# What the services rely on; sqlite-id-index only makes reads by _id faster.
REQUIRED_PATCHES = ("update-document-locks", "sqlite-id-prefilter", "push-slice")
PATCHES_FIELD = "ilrflowPatches"  # in buildInfo's buildEnvironment, comma-separated

WriteListener = Callable[[Any, Document], None]


class UnpatchedFerretDBError(RuntimeError):
    """The server is a FerretDB built without a patch the services rely on."""


def missing_patches(build_info: Document) -> list[str]:
    """The ``REQUIRED_PATCHES`` a server (its ``buildInfo`` answer) lacks: none on MongoDB."""
    if "ferretdbVersion" not in build_info:
        return []
    reported = str((build_info.get("buildEnvironment") or {}).get(PATCHES_FIELD, ""))
    applied = set(reported.split(","))
    return [patch for patch in REQUIRED_PATCHES if patch not in applied]


class _SerialisedWrites:
    """A collection that tells its listeners of each write, on a server checked once to apply
    the updates of one document one at a time."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._listeners: list[WriteListener] = []
        self._checked = False

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
        await self._check_server()
        result = await self._collection.update_one(filter, update, *args, **kwargs)
        if isinstance(update, dict) and result.matched_count + (result.upserted_id is not None):
            self._tell(filter.get("_id"), update)
        return result

    async def replace_one(
        self, filter: Document, replacement: Document, *args: Any, **kwargs: Any
    ) -> Any:
        await self._check_server()
        result = await self._collection.replace_one(filter, replacement, *args, **kwargs)
        if result.matched_count + (result.upserted_id is not None):
            self._tell(filter.get("_id"), replacement)
        return result

    async def find_one_and_update(self, filter: Document, *args: Any, **kwargs: Any) -> Any:
        await self._check_server()
        return await self._collection.find_one_and_update(filter, *args, **kwargs)

    async def _check_server(self) -> None:
        if self._checked:
            return
        build = await self._collection.database.client.admin.command("buildInfo")
        missing = missing_patches(build)
        if missing:
            raise UnpatchedFerretDBError(
                f"the FerretDB of {self._collection.database.name} lacks the patches "
                f"{', '.join(missing)} (deploy/local/ferretdb/patches): its updates of one "
                "document could race; rebuild it with deploy/local/stack.sh install"
            )
        self._checked = True

    def _tell(self, identity: Any, change: Document) -> None:
        for listener in self._listeners:
            listener(identity, change)


def add_write_listener(collection: AsyncCollection[Document], listener: WriteListener) -> bool:
    """Have ``listener`` told of each write to a ``serialised_writes`` collection; False (and
    nothing done) for any other collection."""
    if not isinstance(collection, _SerialisedWrites):
        return False
    collection.add_write_listener(listener)
    return True


def serialised_writes(collection: AsyncCollection[Document]) -> AsyncCollection[Document]:
    """``collection`` whose updates go to a server that applies the updates of one document one
    at a time (MongoDB, or our patched FerretDB: checked on the first update, see the module),
    with write listeners (``add_write_listener``: the outbox relay hears of written documents).

    No lock is taken here, in the process or in the database: replicas of a service side by side
    update one document safely because the server serialises the updates, and a conditional
    update (``{_id: x, version: 3}``) is one round trip, decided by the server.
    """
    return cast(AsyncCollection[Document], _SerialisedWrites(collection))
