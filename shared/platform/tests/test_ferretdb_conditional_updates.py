"""Where a conditional update is decided: on the server, or emulated with write locks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo.results import UpdateResult

from ilrflow.platform.ferretdb import WRITE_LOCKS, conditional_updates, serialised_writes
from ilrflow.platform.settings import get_settings

FERRETDB = {"ferretdbVersion": "v1.24.2"}
MONGODB = {"version": "7.0.14"}


@pytest.mark.parametrize(
    ("ferretdb", "backend", "expected"),
    [
        (True, "sqlite", "emulated"),
        (True, "postgresql", "native"),
        (False, "sqlite", "native"),  # MongoDB: the backend setting means nothing there
        (False, "postgresql", "native"),
    ],
)
def test_only_sqlite_backed_ferretdb_emulates(ferretdb: bool, backend: str, expected: str) -> None:
    assert conditional_updates(ferretdb, backend) == expected


class Server:
    """The calls a wrapped collection makes, per collection, on a server of one document."""

    def __init__(self, build: dict[str, Any]) -> None:
        self.build = build
        self.calls: list[tuple[str, str, Any]] = []
        self.admin = self

    async def command(self, name: str) -> dict[str, Any]:
        return self.build


class Collection:
    def __init__(self, server: Server, name: str) -> None:
        self.server = server
        self.name = name
        self.database = self
        self.client = server

    def __getitem__(self, name: str) -> Collection:
        return Collection(self.server, name)

    async def insert_one(self, document: dict[str, Any]) -> None:
        self.server.calls.append((self.name, "insert_one", document["_id"]))

    async def delete_one(self, filter: dict[str, Any]) -> None:
        self.server.calls.append((self.name, "delete_one", filter["_id"]))

    async def find_one(self, filter: dict[str, Any]) -> dict[str, Any]:
        self.server.calls.append((self.name, "find_one", filter))
        return {"_id": "a", "version": 1}

    async def update_one(self, filter: dict[str, Any], update: Any) -> UpdateResult:
        self.server.calls.append((self.name, "update_one", filter))
        return UpdateResult({"n": 1, "nModified": 1}, acknowledged=True)


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def use(name: str) -> None:
        monkeypatch.setenv("ILRFLOW_FERRETDB_BACKEND", name)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


async def conditional_update(build: dict[str, Any]) -> list[tuple[str, str, Any]]:
    server = Server(build)
    collection = serialised_writes(Collection(server, "trackers"))  # type: ignore[arg-type]
    await collection.update_one({"_id": "a", "version": 1}, {"$inc": {"version": 1}})
    return server.calls


async def test_on_postgresql_backed_ferretdb_the_server_gets_the_condition(backend: Any) -> None:
    backend("postgresql")
    assert await conditional_update(FERRETDB) == [
        ("trackers", "update_one", {"_id": "a", "version": 1})
    ]


async def test_on_mongodb_the_server_gets_the_condition_whatever_the_setting(
    backend: Any,
) -> None:
    backend("sqlite")
    assert await conditional_update(MONGODB) == [
        ("trackers", "update_one", {"_id": "a", "version": 1})
    ]


async def test_on_sqlite_backed_ferretdb_it_is_checked_here_under_a_write_lock(
    backend: Any,
) -> None:
    backend("sqlite")
    assert await conditional_update(FERRETDB) == [
        (WRITE_LOCKS, "insert_one", "trackers:a"),
        ("trackers", "find_one", {"_id": "a"}),
        ("trackers", "update_one", {"_id": "a"}),
        (WRITE_LOCKS, "delete_one", "trackers:a"),
    ]
