"""The ILR use cases through in-memory repositories: the stored record, its history, the
events in the outbox and the refusals, in milliseconds. The end-to-end tests prove the wiring."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from ilr_fakes import FakeIlrSettingsStore, FakeIlrStore, ilr_service

from ilrflow.contracts.errors import TransientError
from ilrflow.contracts.events import (
    Address,
    EmployerRef,
    Enrolment,
    EventType,
    LearnerSnapshot,
    LearnerUpdated,
    TrackerProcessed,
    new_event,
)
from ilrflow.contracts.identity import Principal
from ilrflow.ilr.service.use_cases import IlrService

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
TENANT = "acme"
LEARNER_ID = "learner-0001"
ADMIN = Principal(sub="admin-1", tenant=TENANT, roles=["admin"])
QA = Principal(sub="qa-1", tenant=TENANT, roles=["ilr_qa"])
TUTOR_B = Principal(sub="tutor-b", tenant=TENANT, roles=["tutor"], groups=["cohort-b"])
NEW_ADDRESS = {"address": {"lines": ["2 Park Row", "Leeds"], "postcode": "LS1 5AB"}}
BREAK = {
    "last_day_of_learning": "2025-01-31",
    "expected_return_date": "2025-06-01",
    "reason": "Illness",
}


@pytest.fixture
def records() -> FakeIlrStore:
    return FakeIlrStore()


@pytest.fixture
def service(records: FakeIlrStore) -> IlrService:
    return ilr_service(records, FakeIlrSettingsStore())


def _enrolled() -> Any:
    enrolment = Enrolment(
        id="enrolment-0001",
        standard_code=123,
        start_date=date(2024, 9, 2),
        planned_end_date=date(2025, 9, 30),
        employer=EmployerRef(ern="123456789", name="Acme Ltd"),
        weekly_hours=37.5,
        planned_otj_hours=300,
    )
    learner = LearnerSnapshot(
        id=LEARNER_ID,
        given_names="Ann",
        family_name="Smith",
        email="ann@example.org",
        date_of_birth=date(2000, 1, 31),
        uln="9276308686",
        address=Address(lines=["1 High Street", "Leeds"], postcode="LS1 4AP"),
        group="cohort-a",
        enrolments=[enrolment],
    )
    payload = LearnerUpdated(change="enrolled", learner=learner, enrolment_id=enrolment.id)
    return new_event(payload, tenant=TENANT, subject=LEARNER_ID, actor="admin-1")


def _processed(
    tracker_type: str,
    changes: dict[str, Any],
    roles: list[str] | None = None,
    tracker_id: str = "T1",
) -> Any:
    tracker = TrackerProcessed(
        tracker_id=tracker_id,
        learner_id=LEARNER_ID,
        tracker_type=tracker_type,
        changes=changes,
        processed_by="admin-1",
        processor_roles=roles or ["admin"],
        raised_by=LEARNER_ID,
        learner_led=tracker_type == "change_of_address",
    )
    return new_event(tracker, tenant=TENANT, subject=LEARNER_ID, actor="admin-1")


def _outcomes(records: FakeIlrStore) -> list[tuple[str, str]]:
    return [
        (e.data.cause, e.data.outcome) for e in records.outbox if e.type == EventType.ILR_UPDATED
    ]


# --- the record from an enrolment --------------------------------------------------------------


async def test_an_enrolment_creates_the_ilr_and_publishes_state_before_the_update(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_enrolled())

    stored = await service.get(ADMIN, LEARNER_ID)
    assert (stored.version, stored.group) == (1, "cohort-a")
    assert [e.type for e in records.outbox] == [EventType.ILR_STATE, EventType.ILR_UPDATED]
    assert records.outbox[0].data.version == 1
    assert _outcomes(records) == [("enrolment", "applied")]


async def test_other_learner_changes_leave_the_ilr_alone(
    service: IlrService, records: FakeIlrStore
) -> None:
    event = _enrolled()
    changed = event.data.model_copy(update={"change": "changed", "enrolment_id": None})

    await service.on_learner_updated(event.model_copy(update={"data": changed}))

    assert await records.get(TENANT, LEARNER_ID) is None
    assert records.outbox == []


# --- applying a processed tracker --------------------------------------------------------------


async def test_a_processed_tracker_makes_a_new_version_with_its_patch_and_history(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_enrolled())

    await service.on_tracker_processed(_processed("change_of_address", NEW_ADDRESS))

    stored = await service.get(ADMIN, LEARNER_ID)
    assert stored.version == 2
    update = records.outbox[-1].data
    assert (update.outcome, update.tracker_id, update.version) == ("applied", "T1", 2)
    assert "LS1 5AB" in {op.value for op in update.patch}  # what changed, with the outcome
    history = await service.history(ADMIN, LEARNER_ID)
    assert [(h["version"], h["cause"]) for h in history] == [(1, "enrolment"), (2, "tracker")]
    states = [e.data for e in records.outbox if e.type == EventType.ILR_STATE]
    assert [(s.version, s.tracker_id) for s in states] == [(1, None), (2, "T1")]


async def test_a_duplicate_delivery_changes_nothing_and_publishes_nothing(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_enrolled())
    event = _processed("change_of_address", NEW_ADDRESS)
    await service.on_tracker_processed(event)
    published = len(records.outbox)

    await service.on_tracker_processed(event)

    assert (await service.get(ADMIN, LEARNER_ID)).version == 2
    assert len(records.outbox) == published


async def test_a_tracker_for_a_learner_without_an_ilr_changes_nothing_and_says_why(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_tracker_processed(_processed("change_of_address", NEW_ADDRESS))

    stored = await records.get(TENANT, LEARNER_ID)
    assert stored is not None
    assert (stored.version, stored.learner) == (0, None)
    assert _outcomes(records) == [("tracker", "no_ilr_change")]
    assert "not enrolled" in records.outbox[-1].data.reason


async def test_the_qa_lock_rejects_a_programme_change_without_the_ilr_qa_role(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_enrolled())
    await service.qa_verify(QA, LEARNER_ID)

    await service.on_tracker_processed(_processed("break_in_learning", BREAK, ["admin"]))
    await service.on_tracker_processed(
        _processed("break_in_learning", BREAK, ["admin", "ilr_qa"], tracker_id="T2")
    )

    outcomes = _outcomes(records)
    assert outcomes[-2:] == [("tracker", "rejected"), ("tracker", "applied")]
    assert "QA role" in _reasons(records)[-2]
    assert (await service.get(ADMIN, LEARNER_ID)).version == 2


def _reasons(records: FakeIlrStore) -> list[str]:
    return [e.data.reason for e in records.outbox if e.type == EventType.ILR_UPDATED]


async def test_a_write_that_loses_the_race_is_retried_later(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_enrolled())
    records.race_next_write()

    with pytest.raises(TransientError):
        await service.on_tracker_processed(_processed("change_of_address", NEW_ADDRESS))

    assert _outcomes(records) == [("enrolment", "applied")]


# --- QA verification, visibility, settings -----------------------------------------------------


async def test_qa_verification_is_published_once(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_enrolled())

    verified = await service.qa_verify(QA, LEARNER_ID)
    await service.qa_verify(QA, LEARNER_ID)

    assert (verified.qa_verified, verified.qa_verified_by, verified.version) == (True, "qa-1", 1)
    assert _outcomes(records) == [("enrolment", "applied"), ("qa_verification", "no_ilr_change")]
    state = [e for e in records.outbox if e.type == EventType.ILR_STATE][-1]
    assert state.data.qa_verified is True


async def test_a_tutor_of_another_group_does_not_see_the_ilr(
    service: IlrService, refusal_of: RefusalOf
) -> None:
    await service.on_learner_updated(_enrolled())

    refusal = await refusal_of(service.get(TUTOR_B, LEARNER_ID))

    assert refusal.code == "not_found"


def _moved_to(group: str) -> Any:
    enrolled = _enrolled()
    learner = enrolled.data.learner.model_copy(update={"group": group})
    payload = LearnerUpdated(change="changed", learner=learner, changed_fields=["group"])
    return new_event(payload, tenant=TENANT, subject=LEARNER_ID, actor="admin-1")


async def test_a_learner_moved_to_another_group_is_read_by_that_groups_tutors(
    service: IlrService, records: FakeIlrStore, refusal_of: RefusalOf
) -> None:
    await service.on_learner_updated(_enrolled())
    published = len(records.outbox)
    tutor_a = Principal(sub="tutor-a", tenant=TENANT, roles=["tutor"], groups=["cohort-a"])
    moved = _moved_to("cohort-b")

    await service.on_learner_updated(moved)
    await service.on_learner_updated(moved)  # a redelivery

    seen = await service.get(TUTOR_B, LEARNER_ID)
    assert (seen.group, seen.version) == ("cohort-b", 1)  # no ILR data changed
    assert (await refusal_of(service.get(tutor_a, LEARNER_ID))).code == "not_found"
    assert len(records.outbox) == published


async def test_a_move_before_any_enrolment_leaves_it_to_the_enrolment(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_moved_to("cohort-b"))

    assert await records.get(TENANT, LEARNER_ID) is None


CORRECTION = {"uln": "1000000043", "date_of_birth": "2001-02-03", "reason": "Typed wrongly"}


async def test_a_correction_changes_the_learner_entity_of_the_ilr(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_enrolled())

    await service.on_tracker_processed(_processed("correction", CORRECTION))

    stored = await service.get(ADMIN, LEARNER_ID)
    assert stored.learner is not None
    assert (stored.learner["ULN"], stored.learner["DateOfBirth"]) == (1000000043, "2001-02-03")
    update = records.outbox[-1].data
    assert {(op.path, op.value) for op in update.patch} == {
        ("/ULN", 1000000043),
        ("/DateOfBirth", "2001-02-03"),
    }


async def test_the_qa_lock_rejects_an_ilr_correction_but_not_a_move_of_group(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_enrolled())
    await service.qa_verify(QA, LEARNER_ID)

    await service.on_tracker_processed(_processed("correction", CORRECTION, ["admin"]))
    move = {"group": "cohort-b", "reason": "Moved cohort"}
    await service.on_tracker_processed(_processed("correction", move, ["admin"], tracker_id="T2"))
    await service.on_tracker_processed(
        _processed("correction", CORRECTION, ["admin", "ilr_qa"], tracker_id="T3")
    )

    assert _outcomes(records)[-3:] == [
        ("tracker", "rejected"),
        ("tracker", "no_ilr_change"),
        ("tracker", "applied"),
    ]
    assert "QA role" in _reasons(records)[-3]


async def test_invalid_ilr_settings_are_refused_and_not_stored(
    service: IlrService, refusal_of: RefusalOf
) -> None:
    refusal = await refusal_of(service.update_tenant_settings(ADMIN, {"ukprn": 12}))

    assert refusal.code == "validation_failed"
    assert "ILR settings" in refusal.message
    assert (await service.tenant_settings(ADMIN)).ukprn is None


async def test_a_settings_change_is_told_with_each_setting_before_and_after(
    records: FakeIlrStore,
) -> None:
    settings = FakeIlrSettingsStore()
    service = ilr_service(records, settings)
    await service.update_tenant_settings(ADMIN, {"ukprn": 10012345})
    await service.update_tenant_settings(ADMIN, {"ukprn": 10012345})  # nothing changes

    [event] = settings.outbox
    assert (event.type, event.actor, event.subject) == (
        "ilrflow.ilr.settings_changed.v1",
        ADMIN.sub,
        "ilr-settings",
    )
    assert [(c.path, c.before, c.after) for c in event.data.changes] == [("ukprn", None, 10012345)]


async def test_the_export_names_the_file_by_ukprn_and_year(service: IlrService) -> None:
    await service.on_learner_updated(_enrolled())
    await service.update_tenant_settings(ADMIN, {"ukprn": 10012345})

    export = await service.export(ADMIN, "2425")

    assert export.filename == "ILR-10012345-2425.xml"
    assert b"9276308686" in export.body


# --- the ESFA rule check --------------------------------------------------------------------

WITHDRAWN_AS_OLASS = {"last_day_of_learning": "2025-01-31", "reason": "28"}


def _rules(found: Any) -> set[str]:
    return {finding.rule for finding in found.errors}


async def test_every_ilr_updated_carries_the_check_of_the_record_after_it(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_learner_updated(_enrolled())
    await service.on_tracker_processed(_processed("withdrawal", WITHDRAWN_AS_OLASS))

    enrolled, withdrawn = [e.data for e in records.outbox if e.type == EventType.ILR_UPDATED]
    assert enrolled.validation is not None
    assert withdrawn.validation is not None
    assert "WithdrawReason_05" not in _rules(enrolled.validation)
    assert "WithdrawReason_05" in _rules(withdrawn.validation)
    assert not withdrawn.validation.valid
    current = await service.validation(ADMIN, LEARNER_ID)
    assert withdrawn.validation.model_dump() == current.as_json()


async def test_an_update_for_a_learner_without_an_ilr_carries_no_check(
    service: IlrService, records: FakeIlrStore
) -> None:
    await service.on_tracker_processed(_processed("change_of_address", NEW_ADDRESS))

    assert records.outbox[-1].data.validation is None


async def test_the_learner_check_follows_who_may_see_the_ilr(
    service: IlrService, refusal_of: RefusalOf
) -> None:
    await service.on_learner_updated(_enrolled())

    refusal = await refusal_of(service.validation(TUTOR_B, LEARNER_ID))

    assert refusal.code == "not_found"


async def test_the_export_check_sees_each_learner_as_the_file_holds_them(
    service: IlrService,
) -> None:
    await service.on_learner_updated(_enrolled())

    checked = (await service.export_validation(ADMIN, "2425")).as_json()

    [learner] = checked["learners"]
    assert learner["learner_id"] == LEARNER_ID
    sex = [e for e in learner["errors"] if e["rule"] == "Sex_01"]
    assert sex == [{"rule": "Sex_01", "message": "Sex 'U' is not F or M", "path": "/Sex"}]
    assert "Ethnicity_01" not in {e["rule"] for e in learner["errors"]}  # placeholder 99 is valid
    assert checked["totals"] == {
        "learners": 1,
        "valid": 0,
        "invalid": 1,
        "errors": len(learner["errors"]),
        "warnings": 0,
    }
