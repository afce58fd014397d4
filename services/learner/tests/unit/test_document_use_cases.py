"""The training plan use cases through in-memory stores: the versions stored, the events in the
outbox, the PDFs kept and the refusals, in milliseconds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from document_fixtures import LEARNER, RECORD, after_break_and_return
from learner_fakes import FakeDocumentStore, FakeLearnerStore, document_service, learner_service

from ilrflow.contracts.errors import TransientError
from ilrflow.contracts.events import (
    EventType,
    IlrState,
    TrackerProcessed,
    new_event,
)
from ilrflow.contracts.identity import Principal
from ilrflow.learner.service.documents import AcknowledgementIn, DocumentService

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
TENANT = "acme"
NOW = datetime(2026, 4, 2, 10, tzinfo=UTC)
ADMIN = Principal(sub="admin-1", tenant=TENANT, roles=["admin"])
TUTOR_B = Principal(sub="tutor-b", tenant=TENANT, roles=["tutor"], groups=["cohort-b"])
SUPPORT = Principal(sub="support-1", tenant=TENANT, roles=["support"])
THE_LEARNER = Principal(sub="L1", tenant=TENANT, roles=["learner"])
NEW_EMPLOYER = {
    "employer": {"ern": "987654321", "name": "Bolt plc"},
    "effective_date": "2026-03-01",
    "weekly_hours": 37.5,
}


@pytest.fixture
def learners() -> FakeLearnerStore:
    return FakeLearnerStore()


@pytest.fixture
def documents() -> FakeDocumentStore:
    return FakeDocumentStore()


@pytest.fixture
async def service(learners: FakeLearnerStore, documents: FakeDocumentStore) -> DocumentService:
    await learners.add_learner(TENANT, LEARNER, [])
    return document_service(documents, learners, clock=lambda: NOW)


def _state(version: int, record: dict[str, Any], tracker_id: str | None = None) -> Any:
    state = IlrState(
        learner_id="L1",
        tenant=TENANT,
        version=version,
        qa_verified=False,
        learner=record,
        tracker_id=tracker_id,
    )
    return new_event(state, tenant=TENANT, subject="L1", actor="admin-1")


def _processed(tracker_type: str, changes: dict[str, Any], tracker_id: str) -> Any:
    tracker = TrackerProcessed(
        tracker_id=tracker_id,
        learner_id="L1",
        tracker_type=tracker_type,
        changes=changes,
        processed_by="admin-1",
        processor_roles=["admin"],
        raised_by="admin-1",
        learner_led=False,
    )
    return new_event(tracker, tenant=TENANT, subject="L1", actor="admin-1")


def _issued(documents: FakeDocumentStore) -> list[Any]:
    return [e.data for e in documents.outbox if e.type == EventType.DOCUMENT_ISSUED]


async def test_the_first_ilr_state_issues_v1_with_its_pdf(
    service: DocumentService, documents: FakeDocumentStore
) -> None:
    await service.on_ilr_state(_state(1, RECORD))

    [v1] = await service.list_documents(ADMIN, "L1")
    assert (v1.id, v1.caused_by_tracker, v1.needs_signature) == ("v1", None, True)
    assert v1.awaiting == ["learner", "employer"]
    assert b"Priya Shah" in await service.pdf(THE_LEARNER, "L1", "v1")
    assert [(i.document_id, i.tracker_id) for i in _issued(documents)] == [("v1", None)]


async def test_a_return_issues_v2_caused_by_its_tracker_and_a_replay_issues_nothing(
    service: DocumentService, documents: FakeDocumentStore
) -> None:
    await service.on_ilr_state(_state(1, RECORD))
    returned = _state(3, after_break_and_return(), tracker_id="T-return")

    await service.on_ilr_state(returned)
    await service.on_ilr_state(returned)
    await service.on_ilr_state(_state(1, RECORD))  # the compacted topic read again

    v2, v1 = await service.list_documents(ADMIN, "L1")
    assert (v2.id, v2.caused_by_tracker, v2.needs_signature) == ("v2", "T-return", True)
    assert v2.fields.planned_end_date == date(2027, 5, 30)
    assert "planned_end_date" in v2.changed_fields
    assert (v1.superseded, v1.needs_signature) == (True, False)
    assert len(_issued(documents)) == 2


async def test_an_ilr_change_outside_the_plan_issues_nothing(
    service: DocumentService, documents: FakeDocumentStore
) -> None:
    await service.on_ilr_state(_state(1, RECORD))
    moved = RECORD | {"Postcode": "LS1 5AB"}

    await service.on_ilr_state(_state(2, moved, tracker_id="T-address"))

    assert [v.id for v in await service.list_documents(ADMIN, "L1")] == ["v1"]
    stored = await documents.get_documents(TENANT, "L1")
    assert stored is not None
    assert stored[0].ilr_version == 2  # the newer record is kept for the next refresh


async def test_a_change_of_employer_issues_a_version_once_the_master_record_has_it(
    service: DocumentService, learners: FakeLearnerStore, documents: FakeDocumentStore
) -> None:
    await service.on_ilr_state(_state(1, RECORD))
    event = _processed("change_of_employer", NEW_EMPLOYER, "T-employer")

    await learner_service(learners).on_tracker_processed(event)
    await service.on_tracker_processed(event)

    latest = (await service.list_documents(ADMIN, "L1"))[0]
    assert (latest.id, latest.caused_by_tracker) == ("v2", "T-employer")
    assert latest.changed_fields == ["employer_name", "employer_ern"]
    assert _issued(documents)[-1].tracker_id == "T-employer"


async def test_nothing_is_issued_before_the_ilr_exists(
    service: DocumentService, documents: FakeDocumentStore
) -> None:
    await service.on_tracker_processed(_processed("change_of_name", {}, "T-name"))

    assert await service.list_documents(ADMIN, "L1") == []
    assert documents.outbox == []


async def test_a_refresh_that_loses_the_race_is_retried(
    service: DocumentService, documents: FakeDocumentStore
) -> None:
    documents.race_next_save()

    with pytest.raises(TransientError):
        await service.on_ilr_state(_state(1, RECORD))

    await service.on_ilr_state(_state(1, RECORD))
    assert [v.id for v in await service.list_documents(ADMIN, "L1")] == ["v1"]


async def test_the_learner_and_staff_for_the_employer_acknowledge_into_the_outbox(
    service: DocumentService, documents: FakeDocumentStore
) -> None:
    await service.on_ilr_state(_state(1, RECORD))

    await service.acknowledge(THE_LEARNER, "L1", "v1", AcknowledgementIn(party="learner"))
    signed = await service.acknowledge(
        ADMIN, "L1", "v1", AcknowledgementIn(party="employer", signatory="Jo Bloggs, HR")
    )

    await service.acknowledge(  # a retry records nothing more
        ADMIN, "L1", "v1", AcknowledgementIn(party="employer", signatory="Jo Bloggs, HR")
    )

    assert (signed.needs_signature, signed.awaiting) == (False, [])
    acknowledged = [e for e in documents.outbox if e.type == EventType.DOCUMENT_ACKNOWLEDGED]
    assert [(e.actor, e.data.party, e.data.signatory) for e in acknowledged] == [
        ("L1", "learner", "Priya Shah"),
        ("admin-1", "employer", "Jo Bloggs, HR"),
    ]
    assert acknowledged[0].data.pdf_sha256 == signed.pdf_sha256


@pytest.mark.parametrize(
    ("principal", "body", "code"),
    [
        (ADMIN, {"party": "learner"}, "forbidden"),
        (THE_LEARNER, {"party": "employer", "signatory": "Me"}, "forbidden"),
        (SUPPORT, {"party": "employer", "signatory": "Jo"}, "forbidden"),
        (ADMIN, {"party": "employer"}, "validation_failed"),
        (TUTOR_B, {"party": "employer", "signatory": "Jo"}, "not_found"),
    ],
)
async def test_who_may_acknowledge_for_whom(
    service: DocumentService,
    refusal_of: RefusalOf,
    principal: Principal,
    body: dict[str, Any],
    code: str,
) -> None:
    await service.on_ilr_state(_state(1, RECORD))

    refusal = await refusal_of(
        service.acknowledge(principal, "L1", "v1", AcknowledgementIn.model_validate(body))
    )

    assert refusal.code == code


async def test_another_learners_documents_are_not_found(
    service: DocumentService, refusal_of: RefusalOf
) -> None:
    await service.on_ilr_state(_state(1, RECORD))
    someone_else = Principal(sub="L2", tenant=TENANT, roles=["learner"])

    refusal = await refusal_of(service.pdf(someone_else, "L1", "v1"))

    assert refusal.code == "not_found"
