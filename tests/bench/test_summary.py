"""The benchmark's summary of issue #16's figures, built from a run's report (no stack, no timing)."""

from __future__ import annotations

from typing import Any

from bench.bare_pipeline import issues_document, lookup_keys
from bench.pipeline import rebuild_rate, summary
from bench.rebuild import learner_updates
from bench.watch import per_tracker


def report(**parts: Any) -> dict[str, Any]:
    """A run's report as ``bench.pipeline.main`` writes it, with the parts given."""
    return {"load_average_start": [3.5, 2.0, 1.0], "load_average_end": [6.0, 4.0, 2.0], **parts}


PIPELINE = {
    "max_rate": {"trackers": 300, "seconds": 40.0, "end_to_end_per_s": 7.5},
    "paced": {
        "25%": {"target_per_s": 1.9, "p99_ms": 98.0},
        "50%": {"target_per_s": 3.8, "p99_ms": 122.4},
        "100%": {"target_per_s": 7.5, "p99_ms": 158.0},
    },
    "cpu_seconds_during_max_rate": {"ferretdb": 14.3, "tracker": 3.4},
}
BARE = {"trackers": 300, "seconds": 25.0, "bare_trackers_per_s": 12.0}
REBUILD = {"rebuild_events_per_s": 850.5}


def test_the_summary_holds_every_figure_the_run_measured() -> None:
    figures = summary(
        report(
            pipeline=PIPELINE,
            bare=BARE,
            rebuild=REBUILD,
            peak_rss_mb={"kafka": 503.0, "tracker": 95.1},
            audit_ingest={"audit_ingest_per_s": 245.7, "bare_audit_insert_per_s": 2336.0},
            audit_timeline={"p95_ms": 109.3, "entries": 20000},
        )
    )

    assert figures == {
        "trackers_per_s": 7.5,
        "bare_trackers_per_s": 12.0,
        "ratio": 0.625,
        "p99_ms_at_half": 122.4,
        "rebuild_events_per_s": 850.5,
        "load_average": {"start": [3.5, 2.0, 1.0], "end": [6.0, 4.0, 2.0]},
        "cpu_seconds_max_rate": {"ferretdb": 14.3, "tracker": 3.4},
        "peak_rss_mb": {"kafka": 503.0, "tracker": 95.1},
        "audit_ingest_per_s": 245.7,
        "bare_audit_insert_per_s": 2336.0,
        "timeline_p95_ms": 109.3,
        "timeline_entries": 20000,
    }


def test_the_ratio_comes_from_the_unrounded_rates() -> None:
    pipeline = PIPELINE | {"max_rate": {"trackers": 200, "seconds": 30.0}}
    bare = {"trackers": 200, "seconds": 7.0}

    figures = summary(report(pipeline=pipeline, bare=bare))

    assert figures["trackers_per_s"] == 6.67
    assert figures["bare_trackers_per_s"] == 28.57
    assert figures["ratio"] == 0.233  # 6.667 / 28.571, not 6.67 / 28.57 rounded again


def test_figures_not_measured_are_left_out_never_guessed() -> None:
    audit_only = summary(report(audit_timeline={"p95_ms": 61.4, "entries": 1_000_000}))

    assert audit_only == {
        "load_average": {"start": [3.5, 2.0, 1.0], "end": [6.0, 4.0, 2.0]},
        "timeline_p95_ms": 61.4,
        "timeline_entries": 1_000_000,
    }


def test_no_p99_at_half_when_the_half_rate_phase_has_too_few_trackers() -> None:
    pipeline = PIPELINE | {"paced": {"50%": {"target_per_s": 3.8}}}

    figures = summary(report(pipeline=pipeline, bare=BARE))

    assert "p99_ms_at_half" not in figures
    assert figures["ratio"] == 0.625


def test_no_ratio_without_the_bare_pipeline() -> None:
    figures = summary(report(pipeline=PIPELINE))

    assert figures["trackers_per_s"] == 7.5
    assert "ratio" not in figures
    assert "bare_trackers_per_s" not in figures


def test_rebuild_rate_leaves_out_the_pause_and_the_records_applied_in_it() -> None:
    ilr = {"records": 800, "caught_up": 50, "seconds": 4.0, "paused_seconds": 2.5}
    learners = {"records": 340, "caught_up": 0, "seconds": 3.0, "paused_seconds": 2.0}

    assert rebuild_rate([ilr, learners]) == round((750 + 340) / (1.5 + 1.0), 1)


def test_per_tracker_counts_what_grew_by_name_without_the_prefix() -> None:
    before = {"run1.tracker-processed": 10, "run1.ilr-state": 4, "run1.dead": 2}
    after = {"run1.tracker-processed": 310, "run1.ilr-state": 304, "run1.dead": 2, "run1.new": 3}

    assert per_tracker(before, after, 300, "run1.") == {
        "ilr-state": 1.0,
        "new": 0.01,
        "tracker-processed": 1.0,
    }


def test_one_tracker_in_three_issues_a_training_plan_version() -> None:
    assert [n for n in range(9) if issues_document(n)] == [1, 4, 7]


def test_a_bare_audit_batch_touches_each_lookup_document_once() -> None:
    records = [
        {"learner": "L1", "n": 1, "actor": "admin-1", "topic": "p.tracker-processed"},
        {"learner": "L1", "n": 1, "actor": "admin-1", "topic": "p.ilr-updated"},
    ]

    assert lookup_keys(records) == {
        "tenant:bare-tenant",
        "learner:L1",
        "tracker:T000001",
        "correlation:T000001",
        "actor:admin-1",
        "type:p.tracker-processed",
        "type:p.ilr-updated",
    }


def test_the_long_topic_rebuild_gives_the_rebuild_rate_when_it_ran() -> None:
    long = {"records": 20_000, "rebuild_events_per_s": 1_234.5}

    figures = summary(report(rebuild=REBUILD, rebuild_long=long))

    assert figures["rebuild_events_per_s"] == 1_234.5  # not (b)'s 850.5 of a short topic
    assert figures["rebuild_records"] == 20_000


def test_the_rebuild_topic_ends_each_learner_at_its_last_round() -> None:
    changes = learner_updates(records=7, learners=3)

    last = {c.learner.id: f"{c.learner.given_names} {c.learner.family_name}" for c in changes}
    assert [c.change for c in changes] == ["created"] * 3 + ["changed"] * 4
    assert last == {
        "L000000": "Given 0 Family 2",  # rounds 0, 1, 2
        "L000001": "Given 1 Family 1",
        "L000002": "Given 2 Family 1",
    }
