"""Searches on a 100,000-entry audit log are answered through ``_id`` lookups: the learner
timeline, and every ``/v1/audit/events`` filter (learner, tracker, type, actor, correlation id,
time window, both orders, cursors) through the lookup documents. Run with ``-s`` to see the
figures (also: ``uv run python -m bench.audit_timeline``). The log's builder and the measurements
are ``bench/audit_scale.py``'s, where what the database reports about each read is explained.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.audit_lookups import is_id_lookup
from bench.audit_scale import ENTRIES, LEARNERS, measure, plan_summary

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(1800)  # building 100,000 entries on FerretDB takes minutes
def test_searches_on_a_100k_log_are_id_lookups() -> None:
    figures = asyncio.run(measure(ENTRIES, LEARNERS))
    print("\n" + figures.report())

    assert figures.timeline_lines == ENTRIES // LEARNERS
    assert figures.mismatches == []
    assert set(figures.explains) == {
        "audit_sequences",
        "audit_lookup_heads",
        "audit_lookup_pages",
        "audit_entries",
    }
    assert is_id_lookup(figures.timeline_explain), plan_summary(figures.timeline_explain)
    for collection, explain in figures.explains.items():
        assert is_id_lookup(explain), (collection, plan_summary(explain))
    # Latency is a figure to read (printed above, and by bench/audit_timeline.py), not a pass mark.
