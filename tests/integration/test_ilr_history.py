"""On the real MongoDB-wire server: an ILR history kept in version documents beside the record."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from ilrflow.ilr.adapters.repository import HistoryEntry, IlrRepository, doc_id, version_doc_id

pytestmark = pytest.mark.e2e

TENANT, LEARNER = "t", "L1"


def change(version: int, tracker_id: str) -> HistoryEntry:
    return HistoryEntry(
        version=version,
        actor="admin-1",
        at=datetime(2026, 1, 5, 10, version % 60, tzinfo=UTC),
        cause="tracker",
        tracker_id=tracker_id,
        outcome="applied",
        reason=f"{tracker_id} applied.",
        patch=[{"op": "replace", "path": "/Postcode", "value": f"BD{version} 1AA"}],
    )


async def apply(repository: IlrRepository, tracker_id: str) -> bool:
    """One applied change on top of whatever the record holds now."""
    current = await repository.get(TENANT, LEARNER)
    assert current is not None
    return await repository.record_outcome(
        current,
        event_id=f"E-{tracker_id}",
        new_learner={"Postcode": tracker_id},
        history=change(current.version + 1, tracker_id),
        events=[],
    )


async def history_of(repository: IlrRepository) -> list[tuple[int, str | None]]:
    record = await repository.get(TENANT, LEARNER)
    assert record is not None
    return [(entry["version"], entry["tracker_id"]) for entry in await repository.history(record)]


@pytest.fixture
async def repository(database: Any) -> IlrRepository:
    repository = IlrRepository(database)
    await repository.create_empty(TENANT, LEARNER, group=None)
    return repository


async def test_a_history_of_many_versions_reads_back_in_order(
    repository: IlrRepository, database: Any
) -> None:
    for n in range(1, 13):
        assert await apply(repository, f"T{n}")

    assert await history_of(repository) == [(n, f"T{n}") for n in range(1, 13)]
    record = await database["ilr_records"].find_one({"_id": doc_id(TENANT, LEARNER)})
    assert "history" not in record
    assert record["latest_history"]["version"] == 12
    assert await database["ilr_versions"].count_documents({}) == 11
    first = await database["ilr_versions"].find_one({"_id": version_doc_id(TENANT, LEARNER, 1)})
    assert first["_id"] == "t:L1:v000001"
    assert (first["tenant"], first["learner_id"], first["version"]) == (TENANT, LEARNER, 1)
    assert first["patch"] == change(1, "T1").patch


async def test_a_version_document_above_the_record_is_ignored(
    repository: IlrRepository, database: Any
) -> None:
    for n in range(1, 4):
        assert await apply(repository, f"T{n}")
    stray = {"tenant": TENANT, "learner_id": LEARNER}
    for version in (3, 4):  # written by changes that lost their race or never landed
        await database["ilr_versions"].insert_one(
            {
                **stray,
                **change(version, "T-lost").to_document(),
                "_id": version_doc_id(TENANT, LEARNER, version),
            }
        )

    assert await history_of(repository) == [(1, "T1"), (2, "T2"), (3, "T3")]


async def test_a_retried_write_of_the_same_version_leaves_one_entry(
    repository: IlrRepository,
) -> None:
    assert await apply(repository, "T1")
    before = await repository.get(TENANT, LEARNER)
    assert before is not None
    assert await apply(repository, "T2")

    # The same change again from the same starting point (a redelivery after a crash): refused.
    again = await repository.record_outcome(
        before,
        event_id="E-T2",
        new_learner={"Postcode": "T2"},
        history=change(2, "T2"),
        events=[],
    )

    assert not again
    assert await history_of(repository) == [(1, "T1"), (2, "T2")]


async def test_racing_writers_of_one_version_leave_only_the_winners_entry(
    repository: IlrRepository,
) -> None:
    assert await apply(repository, "T1")
    expected = [(1, "T1")]
    for round_ in range(10):
        current = await repository.get(TENANT, LEARNER)
        assert current is not None
        version = current.version + 1
        writers = [
            repository.record_outcome(
                current,
                event_id=f"E-{round_}-{side}",
                new_learner={"Postcode": side},
                history=change(version, f"T{round_}{side}"),
                events=[],
            )
            for side in "ab"
        ]
        landed = await asyncio.gather(*writers)
        assert sorted(landed) == [False, True]
        expected.append((version, f"T{round_}{'ab'[landed.index(True)]}"))

    assert await history_of(repository) == expected


async def test_an_old_record_keeps_its_embedded_history(
    repository: IlrRepository, database: Any
) -> None:
    embedded = [change(1, "T-old1").to_document(), change(2, "T-old2").to_document()]
    await database["ilr_records"].update_one(
        {"_id": doc_id(TENANT, LEARNER)},
        {"$set": {"version": 2, "learner": {"Postcode": "old"}, "history": embedded}},
    )
    assert await history_of(repository) == [(1, "T-old1"), (2, "T-old2")]

    assert await apply(repository, "T3")
    assert await apply(repository, "T4")

    assert await history_of(repository) == [(1, "T-old1"), (2, "T-old2"), (3, "T3"), (4, "T4")]
    assert await database["ilr_versions"].count_documents({}) == 1  # v3; v4 is in the record
