"""On the real MongoDB-wire server: the trackers list's rows follow their trackers, never go
back to an older version, and a start-up repair mends what a crash left behind."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from ilrflow.tracker.adapters.tracker_rows import TrackerRows, row_of

pytestmark = pytest.mark.e2e

START = datetime(2026, 1, 5, 9, 0)  # naive: as this test client reads dates back (UTC)


def tracker(n: int, version: int = 1, status: str = "allocated", **more: Any) -> dict[str, Any]:
    return {
        "_id": f"t:{n:03d}",
        "id": f"{n:03d}",
        "tenant": "t",
        "raised_at": START + timedelta(minutes=n),
        "status": status,
        "tracker_type": "change_of_address",
        "allocated_to": "admin-1",
        "learner_id": f"L{n % 3}",
        "learner_group": "g1",
        "raised_by": "admin-1",
        "version": version,
        "history": [{"what": "raised"}],
        "preview": {"big": "x" * 200},
        **more,
    }


async def test_a_row_never_goes_back_to_an_older_version(database: Any) -> None:
    rows = TrackerRows(database)
    await rows.saved(tracker(1, version=3, status="processed"))
    await rows.saved(tracker(1, version=2, status="allocated"))  # a slower, older write
    stored = await rows.rows.find_one({"_id": "t:001"})
    assert stored == row_of(tracker(1, version=3, status="processed"))


async def test_concurrent_writes_end_at_the_newest_version(database: Any) -> None:
    rows = TrackerRows(database)
    versions = [tracker(1, version=v, status=f"s{v}") for v in (4, 1, 6, 2, 5, 3)]
    await asyncio.gather(*(rows.saved(document) for document in versions))
    stored = await rows.rows.find_one({"_id": "t:001"})
    assert stored is not None
    assert (stored["version"], stored["status"]) == (6, "s6")


async def test_a_save_leaves_the_group_to_the_learners_move(database: Any) -> None:
    rows = TrackerRows(database)
    await rows.added(tracker(1, version=1))
    await rows.moved("t:001", "g2")
    await rows.saved(tracker(1, version=2, learner_group="g1"))  # loaded before the move
    stored = await rows.rows.find_one({"_id": "t:001"})
    assert stored is not None
    assert stored["learner_group"] == "g2"


async def test_repair_inserts_missing_rows_and_mends_stale_ones(database: Any) -> None:
    trackers = database["trackers"]
    rows = TrackerRows(database)
    await trackers.insert_many([tracker(n) for n in range(1, 6)])
    await rows.added(tracker(1))
    await rows.added(tracker(2))
    await trackers.update_one({"_id": "t:001"}, {"$set": {"learner_group": "g2"}})  # moved
    # Tracker 2 was processed and the process died before writing its row.
    await trackers.update_one({"_id": "t:002"}, {"$set": {"status": "processed", "version": 2}})

    assert await rows.repair(trackers) == 5  # three missing, two stale
    assert await rows.repair(trackers) == 0
    stored = {row["_id"]: row async for row in rows.rows.find({})}
    expected = {d["_id"]: row_of(d) async for d in trackers.find({})}
    assert stored == expected


async def test_pages_are_newest_first_and_filtered(database: Any) -> None:
    rows = TrackerRows(database)
    for n in range(1, 8):
        await rows.added(tracker(n, status="processed" if n % 2 else "allocated"))
    first = await rows.page_ids({"tenant": "t"}, None, 3)
    assert first == ["t:007", "t:006", "t:005"]
    after = (START + timedelta(minutes=5), "005")
    assert await rows.page_ids({"tenant": "t"}, after, 3) == ["t:004", "t:003", "t:002"]
    assert await rows.page_ids({"tenant": "t", "status": "allocated"}, None, 10) == [
        "t:006",
        "t:004",
        "t:002",
    ]


async def test_a_save_of_a_tracker_without_a_row_inserts_it(database: Any) -> None:
    """The raise's row write was lost (the process died); the next save puts the row back."""
    rows = TrackerRows(database)
    await rows.saved(tracker(9, version=2, status="processed"))
    assert await rows.rows.find_one({"_id": "t:009"}) == row_of(
        tracker(9, version=2, status="processed")
    )
