"""Updates go to the server as they are, once the server is known to serialise them."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.results import UpdateResult

from ilrflow.platform.ferretdb import (
    REQUIRED_PATCHES,
    UnpatchedFerretDBError,
    missing_patches,
    serialised_writes,
)

PATCHED = {
    "ferretdbVersion": "unknown",
    "buildEnvironment": {
        "ilrflowPatches": "push-slice,sqlite-id-index,sqlite-id-prefilter,update-document-locks"
    },
}
UPSTREAM = {"ferretdbVersion": "v1.24.2", "buildEnvironment": {"go.version": "go1.24"}}
MONGODB = {"version": "7.0.14"}


@pytest.mark.parametrize(
    ("build", "missing"),
    [
        (PATCHED, []),
        (MONGODB, []),
        (UPSTREAM, list(REQUIRED_PATCHES)),
        ({"ferretdbVersion": "unknown"}, list(REQUIRED_PATCHES)),
        (
            {"ferretdbVersion": "unknown", "buildEnvironment": {"ilrflowPatches": "push-slice"}},
            ["update-document-locks", "sqlite-id-prefilter"],
        ),
    ],
)
def test_only_a_ferretdb_without_our_patches_misses_any(
    build: dict[str, Any], missing: list[str]
) -> None:
    assert missing_patches(build) == missing


class Server:
    """The calls a wrapped collection makes, on a server of one document."""

    def __init__(self, build: dict[str, Any]) -> None:
        self.build = build
        self.calls: list[tuple[str, Any]] = []
        self.admin = self

    async def command(self, name: str) -> dict[str, Any]:
        self.calls.append(("command", name))
        return self.build


class Collection:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.database = self
        self.client = server
        self.name = "ilrflow_tracker"

    async def update_one(self, filter: dict[str, Any], update: Any) -> UpdateResult:
        self.server.calls.append(("update_one", filter))
        return UpdateResult({"n": 1, "nModified": 1}, acknowledged=True)


@pytest.mark.parametrize("build", [PATCHED, MONGODB])
async def test_a_conditional_update_is_one_round_trip_after_the_first_check(
    build: dict[str, Any],
) -> None:
    server = Server(build)
    collection = serialised_writes(Collection(server))  # type: ignore[arg-type]
    told: list[Any] = []
    collection.add_write_listener(lambda identity, change: told.append(identity))  # type: ignore[attr-defined]
    for version in (1, 2):
        await collection.update_one({"_id": "a", "version": version}, {"$inc": {"version": 1}})
    assert server.calls == [
        ("command", "buildInfo"),
        ("update_one", {"_id": "a", "version": 1}),
        ("update_one", {"_id": "a", "version": 2}),
    ]
    assert told == ["a", "a"]


async def test_an_unpatched_ferretdb_gets_no_update() -> None:
    server = Server(UPSTREAM)
    collection = serialised_writes(Collection(server))  # type: ignore[arg-type]
    with pytest.raises(
        UnpatchedFerretDBError, match=r"ilrflow_tracker lacks .*update-document-locks"
    ):
        await collection.update_one({"_id": "a", "version": 1}, {"$inc": {"version": 1}})
    assert server.calls == [("command", "buildInfo")]
