"""Putting an ILR history back together from the record and its version documents."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ilrflow.ilr.domain.history import HistorySources


def entry(version: int, tracker_id: str | None = None) -> dict[str, Any]:
    return {"version": version, "tracker_id": tracker_id or f"T{version}"}


def test_a_new_record_holds_its_current_version_and_reads_the_rest_from_version_documents() -> None:
    sources = HistorySources(version=3, latest=entry(3))

    assert sources.stored_versions_needed() == [1, 2]
    assert sources.history([entry(2), entry(1)]) == [entry(1), entry(2), entry(3)]


def test_a_version_document_above_the_record_is_ignored() -> None:
    sources = HistorySources(version=2, latest=entry(2))

    assert sources.history([entry(1), entry(3, "T-never-landed")]) == [entry(1), entry(2)]


def test_the_record_wins_over_a_version_document_of_its_own_version() -> None:
    sources = HistorySources(version=2, latest=entry(2))

    assert sources.history([entry(1), entry(2, "T-lost-the-race")]) == [entry(1), entry(2)]


def test_an_old_record_uses_its_embedded_entries_for_the_versions_they_cover() -> None:
    sources = HistorySources(version=4, latest=entry(4), embedded=[entry(1), entry(2)])

    assert sources.stored_versions_needed() == [3]
    assert sources.history([entry(3)]) == [entry(1), entry(2), entry(3), entry(4)]


def test_an_old_record_not_changed_since_needs_no_version_document() -> None:
    sources = HistorySources(version=2, latest=None, embedded=[entry(1), entry(2)])

    assert sources.stored_versions_needed() == []
    assert sources.history([]) == [entry(1), entry(2)]


def test_a_record_without_versions_has_no_history() -> None:
    sources = HistorySources(version=0, latest=None)

    assert sources.stored_versions_needed() == []
    assert sources.history([entry(1, "T-never-landed")]) == []


@given(
    versions=st.integers(min_value=0, max_value=40),
    embedded_share=st.floats(min_value=0, max_value=1),
    strays=st.lists(st.integers(min_value=1, max_value=60), max_size=5),
)
def test_every_version_reads_back_once_in_order_whatever_the_layout(
    versions: int, embedded_share: float, strays: list[int]
) -> None:
    embedded = [entry(v) for v in range(1, int(versions * embedded_share) + 1)]
    after_embedded = range(len(embedded) + 1, versions + 1)
    latest = entry(versions) if after_embedded else None
    sources = HistorySources(version=versions, latest=latest, embedded=embedded)
    needed = sources.stored_versions_needed()
    stored = [entry(v) for v in needed] + [entry(v, "T-stray") for v in strays if v not in needed]

    assert needed == list(after_embedded)[:-1]
    assert sources.history(stored) == [entry(v) for v in range(1, versions + 1)]
