"""On the real MongoDB-wire server: what our FerretDB patches (deploy/local/ferretdb/patches)
change, shown on the server itself (update-document-locks: tests/integration/
test_conditional_updates.py), and that the server says it has them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ilrflow.platform.ferretdb import PATCHES_FIELD, REQUIRED_PATCHES, missing_patches

pytestmark = pytest.mark.e2e

PATCHES = Path(__file__).resolve().parents[2] / "deploy" / "local" / "ferretdb" / "patches"


async def test_the_server_reports_every_patch_it_was_built_with(database: Any) -> None:
    build = await database.client.admin.command("buildInfo")
    assert missing_patches(build) == []
    if "ferretdbVersion" in build:  # our FerretDB: every patch of the repository, by name
        reported = build["buildEnvironment"][PATCHES_FIELD].split(",")
        assert sorted(reported) == sorted(p.stem for p in PATCHES.glob("*.patch"))


def test_the_patches_the_services_require_are_in_the_repository() -> None:
    assert set(REQUIRED_PATCHES) <= {p.stem for p in PATCHES.glob("*.patch")}


async def _plan(database: Any, filter: dict[str, Any]) -> str:
    explained = await database.command(
        "explain", {"find": "aggregates", "filter": filter}, verbosity="queryPlanner"
    )
    planner = explained.get("queryPlanner", {})
    if "Plan" in planner:  # FerretDB: SQLite's plan lines
        return " ".join(str(line) for line in planner["Plan"])
    return str(planner.get("winningPlan"))  # MongoDB


async def test_a_filter_naming_one_id_and_more_reads_by_the_id_index(database: Any) -> None:
    """sqlite-id-prefilter.patch: upstream FerretDB read every document for `{_id: x, version:
    3}` (a conditional update scanned the collection: ~20 a second here, ~650 patched)."""
    collection = database["aggregates"]
    await collection.insert_many([{"_id": f"a{n}", "version": n % 4} for n in range(50)])
    plan = await _plan(database, {"_id": "a7", "version": 3})
    assert "SCAN" not in plan.replace("SEARCH", ""), plan
    assert "COLLSCAN" not in plan, plan


async def test_the_whole_filter_still_decides(database: Any) -> None:
    collection = database["aggregates"]
    await collection.insert_many([{"_id": "a", "version": 2}, {"_id": "b", "version": 3}])
    assert await collection.find_one({"_id": "a", "version": 3}) is None
    assert await collection.find_one({"_id": "a", "version": {"$lte": 2}}) == {
        "_id": "a",
        "version": 2,
    }
    stale = await collection.update_one({"_id": "a", "version": 1}, {"$set": {"x": 1}})
    fresh = await collection.update_one(
        {"_id": "a", "version": 2}, {"$set": {"x": 2}, "$inc": {"version": 1}}
    )
    assert (stale.matched_count, fresh.matched_count) == (0, 1)
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "version": 3, "x": 2}
    assert await collection.count_documents({"_id": "b", "version": 3}) == 1


async def test_push_with_slice_keeps_a_bounded_window(database: Any) -> None:
    """push-slice.patch: upstream FerretDB ignored `$slice` in a `$push`, so a window of an
    aggregate's recent event ids grew with every event."""
    collection = database["aggregates"]
    await collection.insert_one({"_id": "a", "recent": []})
    for n in range(10):
        await collection.update_one(
            {"_id": "a"}, {"$push": {"recent": {"$each": [n], "$slice": -3}}}
        )
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "recent": [7, 8, 9]}
    await collection.update_one({"_id": "a"}, {"$push": {"recent": {"$each": [10], "$slice": 2}}})
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "recent": [7, 8]}
