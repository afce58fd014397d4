"""The patch the ILR service publishes for a processed tracker (the one apply_tracker returns) is
the one the tracker's preview showed for the same record and change, also when the record is read
back from the database, and also for a record stored with the old ``_applied_trackers`` key."""

from __future__ import annotations

from datetime import date
from typing import Any

import bson
import pytest
from bson.codec_options import CodecOptions

from ilrflow.contracts.events import Address, EmployerRef, Enrolment, LearnerSnapshot
from ilrflow.ilr_engine import (
    APPLIED_TRACKERS_KEY,
    ApplyResult,
    IlrLearner,
    IlrPolicy,
    TrackerApplication,
    apply_tracker,
    learner_from_enrolment,
    preview,
    published,
    published_patch,
)
from ilrflow.platform.mongo import plain

POLICY = IlrPolicy()
BREAK = {
    "last_day_of_learning": "2025-01-31",
    "expected_return_date": "2025-04-01",
    "reason": "surgery",
}
CHANGES: dict[str, dict[str, Any]] = {
    "change_of_name": {"given_names": "Anne", "family_name": "Smith-Jones"},
    "change_of_address": {"address": {"lines": ["2 Low Street", "York"], "postcode": "yo1 7hh"}},
    "change_of_contact_details": {"email": "anne@example.org", "phone": "+44 113 496 0000"},
    "break_in_learning": BREAK,
    "change_of_employer": {
        "effective_date": "2025-02-03",
        "weekly_hours": 16,
        "employer": {"ern": "987654321", "name": "Beta Ltd"},
    },
    "change_of_working_hours": {"effective_date": "2025-02-03", "weekly_hours": 16},
    "change_of_programme": {"last_day_of_learning": "2025-03-14", "new_standard_code": 244},
    "withdrawal": {"last_day_of_learning": "2025-03-14", "reason": 44},
}


def enrolled() -> IlrLearner:
    learner = LearnerSnapshot(
        id="learner-0001",
        given_names="Ann",
        family_name="Smith",
        email="ann@example.org",
        date_of_birth=date(2000, 1, 31),
        uln="9276308686",  # ten digits: stored as a BSON int64
        address=Address(lines=["1 High Street", "Leeds"], postcode="LS1 4AP"),
    )
    enrolment = Enrolment(
        id="enrolment-0001",
        standard_code=123,
        start_date=date(2024, 9, 2),
        planned_end_date=date(2025, 9, 30),
        employer=EmployerRef(ern="123456789", name="Acme Ltd"),
        weekly_hours=37.5,
        planned_otj_hours=300,
    )
    return learner_from_enrolment(learner, enrolment, None)


def applied(record: IlrLearner, tracker_type: str, changes: dict[str, Any]) -> ApplyResult:
    application = TrackerApplication(
        tracker_id=f"T-{tracker_type}",
        tracker_type=tracker_type,
        changes=changes,
        processor_roles=("admin",),
        qa_verified=False,
        policy=POLICY,
    )
    result = apply_tracker(record, application)
    assert result.status == "applied", result.reason
    return result


def as_the_database_returns(record: IlrLearner) -> IlrLearner:
    """What PyMongo hands back for a stored record: the ULN as an Int64."""
    stored: IlrLearner = bson.decode(bson.encode(record), CodecOptions(tz_aware=False))
    return stored


def cases() -> list[tuple[str, IlrLearner, dict[str, Any]]]:
    on_break = applied(enrolled(), "break_in_learning", BREAK).record
    found = [(kind, enrolled(), changes) for kind, changes in CHANGES.items()]
    return [*found, ("return_to_learning", on_break, {"return_date": "2025-04-01"})]


@pytest.mark.parametrize(
    ("tracker_type", "record", "changes"), cases(), ids=[c[0] for c in cases()]
)
def test_the_applied_patch_is_the_preview_patch(
    tracker_type: str, record: IlrLearner, changes: dict[str, Any]
) -> None:
    stored = as_the_database_returns(record)
    assert type(stored["ULN"]) is not int  # the case the issue is about

    shown = preview(published(stored), tracker_type, changes, POLICY, today=date(2026, 1, 5))
    patch = applied(stored, tracker_type, changes).patch

    assert patch == shown["ilr_patch"]
    assert all(op["path"] != "/ULN" for op in patch)


def test_a_record_read_through_plain_is_the_record_written() -> None:
    record = enrolled()
    stored = plain(as_the_database_returns(record))

    assert type(stored["ULN"]) is int
    assert published_patch(record, stored) == []


def with_old_bookkeeping(record: IlrLearner) -> IlrLearner:
    """A record as earlier versions stored it: with the ids of the trackers applied to it."""
    return {**record, APPLIED_TRACKERS_KEY: ["T-earlier", "T-change_of_name"]}


@pytest.mark.parametrize(
    ("tracker_type", "record", "changes"), cases(), ids=[c[0] for c in cases()]
)
def test_an_old_record_with_applied_trackers_publishes_as_before(
    tracker_type: str, record: IlrLearner, changes: dict[str, Any]
) -> None:
    old = as_the_database_returns(with_old_bookkeeping(record))

    shown = preview(published(old), tracker_type, changes, POLICY, today=date(2026, 1, 5))
    result = applied(old, tracker_type, changes)

    assert published(old) == published(record)  # the old key is never shown
    assert result.patch == shown["ilr_patch"] == applied(record, tracker_type, changes).patch
    assert not any(APPLIED_TRACKERS_KEY in op["path"] for op in result.patch)
    assert APPLIED_TRACKERS_KEY not in result.record  # the next version is stored without it


def test_a_listed_tracker_id_no_longer_decides_anything() -> None:
    # Only the event id tells a duplicate; the old list is read by nobody.
    old = with_old_bookkeeping(enrolled())

    result = applied(old, "change_of_name", CHANGES["change_of_name"])

    assert result.record["GivenNames"] == "Anne"
