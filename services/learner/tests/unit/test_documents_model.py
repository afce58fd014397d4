"""The training plan's fields and versions, as plain Python: records built by the ILR engine
from an enrolment, and changed by it as processing a tracker would."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from document_fixtures import AT, ENROLMENT, LEARNER, RECORD, after_break_and_return

from ilrflow.contracts.errors import Conflict, NotFound
from ilrflow.contracts.events import EmployerRef, LearnerSnapshot
from ilrflow.learner.domain.documents import (
    Acknowledgement,
    DocumentFields,
    LearnerDocuments,
    document_fields,
)


def _fields(record: dict[str, Any] = RECORD, learner: LearnerSnapshot = LEARNER) -> DocumentFields:
    fields = document_fields(learner, record)
    assert fields is not None
    return fields


def test_the_plan_states_the_learner_employer_programme_dates_hours_and_price() -> None:
    assert _fields() == DocumentFields(
        learner_name="Priya Shah",
        uln="9276308686",
        employer_name="Acme Ltd",
        employer_ern="123456789",
        standard_code=91,
        start_date=date(2025, 9, 1),
        original_start_date=None,
        planned_end_date=date(2027, 3, 31),
        planned_otj_hours=400,
        training_price=9000,
        assessment_price=1000,
    )


def test_after_a_return_the_plan_follows_the_restarted_aim() -> None:
    fields = _fields(after_break_and_return())

    # 2027-03-31 - 2026-01-31 = 424 days still planned, from the return.
    assert fields.planned_end_date == date(2027, 5, 30)
    assert (fields.start_date, fields.original_start_date) == (date(2026, 4, 1), date(2025, 9, 1))
    assert (fields.training_price, fields.assessment_price) == (9000, 1000)


def test_the_employer_is_the_current_enrolments() -> None:
    moved = ENROLMENT.model_copy(update={"employer": EmployerRef(ern="987654321", name="Bolt plc")})
    learner = LEARNER.model_copy(update={"enrolments": [moved]})

    assert (_fields(learner=learner).employer_name, _fields(learner=learner).employer_ern) == (
        "Bolt plc",
        "987654321",
    )


def test_no_plan_before_an_enrolment() -> None:
    assert document_fields(LEARNER.model_copy(update={"enrolments": []}), RECORD) is None


def test_the_first_version_is_v1_with_nothing_changed() -> None:
    first = LearnerDocuments(learner_id="L1").next_version(_fields(), None, AT)

    assert first is not None
    assert (first.id, first.version, first.changed_fields, first.caused_by_tracker) == (
        "v1",
        1,
        [],
        None,
    )


def test_a_new_version_only_when_a_field_changes_naming_what_changed() -> None:
    documents = _issued(LearnerDocuments(learner_id="L1"), _fields())

    assert documents.next_version(_fields(), "T1", AT) is None
    second = documents.next_version(_fields(after_break_and_return()), "T2", AT)
    assert second is not None
    assert (second.id, second.caused_by_tracker) == ("v2", "T2")
    assert second.changed_fields == ["start_date", "original_start_date", "planned_end_date"]


def test_a_newer_ilr_record_replaces_the_one_held_and_an_older_one_is_ignored() -> None:
    documents = LearnerDocuments(learner_id="L1").with_ilr(2, RECORD)

    assert documents.with_ilr(2, {}) is documents
    assert documents.with_ilr(1, {}) is documents
    assert documents.with_ilr(3, {}).ilr_version == 3


def test_a_version_awaits_both_parties_until_superseded() -> None:
    documents = _issued(LearnerDocuments(learner_id="L1"), _fields())
    signed, v1 = documents.acknowledged("v1", _acknowledgement("learner"))

    assert v1.awaiting() == ["employer"]
    assert signed.needs_signature(v1)
    both, v1 = signed.acknowledged("v1", _acknowledgement("employer"))
    assert not both.needs_signature(v1)
    later = _issued(signed, _fields(after_break_and_return()))
    assert not later.needs_signature(later.versions[0])
    assert later.needs_signature(later.versions[1])


def test_only_the_latest_version_is_acknowledged_once_by_each_party() -> None:
    documents = _issued(LearnerDocuments(learner_id="L1"), _fields())
    signed, _ = documents.acknowledged("v1", _acknowledgement("learner"))
    later = _issued(signed, _fields(after_break_and_return()))

    again, v1 = signed.acknowledged("v1", _acknowledgement("learner", signatory="Else"))
    with pytest.raises(Conflict) as superseded:
        later.acknowledged("v1", _acknowledgement("employer"))
    with pytest.raises(NotFound):
        later.acknowledged("v9", _acknowledgement("employer"))
    assert again == signed
    assert [a.signatory for a in v1.acknowledgements] == ["Someone"]
    assert superseded.value.code == "document_superseded"


def _issued(documents: LearnerDocuments, fields: DocumentFields) -> LearnerDocuments:
    version = documents.next_version(fields, None, AT)
    assert version is not None
    return documents.issued(version)


def _acknowledgement(party: Any, signatory: str = "Someone") -> Acknowledgement:
    return Acknowledgement(party=party, signatory=signatory, recorded_by="someone", at=AT)
