"""The programme status on the learner record: kept from ``ilr-state`` (ordered by ILR version,
idempotent), shown on the learner, filtered on, and the learner list walked page by page."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
from learner_fakes import FakeLearnerStore, learner_service

from ilrflow.contracts.errors import PermanentError
from ilrflow.contracts.events import Envelope, IlrState, new_event
from ilrflow.contracts.identity import Principal
from ilrflow.ilr_engine import learner_from_enrolment
from ilrflow.ilr_engine.status import Status, WithdrawalKind
from ilrflow.learner.domain.listing import LearnerFilter, LearnerView
from ilrflow.learner.domain.model import EnrolmentIn, LearnerIn
from ilrflow.learner.service.use_cases import LearnerService

TENANT = "acme"
ADMIN = Principal(sub="admin-1", tenant=TENANT, roles=["admin"])
TUTOR_A = Principal(sub="tutor-a", tenant=TENANT, roles=["tutor"], groups=["cohort-a"])
LEARNER = {
    "given_names": "Alice",
    "family_name": "Walker",
    "email": "alice@example.org",
    "date_of_birth": "2004-05-17",
    "uln": "9276308686",
    "address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 4AP"},
    "group": "cohort-a",
    "sex": "F",
}
ENROLMENT = EnrolmentIn.model_validate(
    {
        "standard_code": 91,
        "start_date": "2025-09-01",
        "planned_end_date": "2027-03-01",
        "employer": {"ern": "123456789", "name": "Acme Ltd"},
        "weekly_hours": 30,
        "planned_otj_hours": 300,
        "price": {"training": 9000, "assessment": 1000},
        "employment": {"length_of_employment": 4},
    }
)
START = date(2025, 9, 1)


@pytest.fixture
def store() -> FakeLearnerStore:
    return FakeLearnerStore()


@pytest.fixture
def service(store: FakeLearnerStore) -> LearnerService:
    return learner_service(store)


async def _enrolled(service: LearnerService, **fields: Any) -> tuple[str, dict[str, Any]]:
    """A learner enrolled from 2025-09-01, and their ILR as the ILR service builds it."""
    created = await service.create_learner(ADMIN, LearnerIn.model_validate(LEARNER | fields))
    learner = await service.enrol(ADMIN, created.id, ENROLMENT)
    return created.id, learner_from_enrolment(learner, learner.enrolments[0], None)


def _ended(record: dict[str, Any], comp_status: int, last_day: str, **fields: Any) -> Any:
    ended = copy.deepcopy(record)
    ended["LearningDelivery"][0].update(CompStatus=comp_status, LearnActEndDate=last_day, **fields)
    return ended


def _withdrawn(record: dict[str, Any], last_day: str) -> Any:
    return _ended(record, 3, last_day, WithdrawReason=44, Outcome=3)


def _state(learner_id: str, version: int, record: dict[str, Any]) -> Envelope[IlrState]:
    state = IlrState(learner_id=learner_id, version=version, qa_verified=False, learner=record)
    return new_event(state, tenant=TENANT, subject=learner_id, actor="ilr")


async def _view(service: LearnerService, learner_id: str) -> LearnerView:
    return await service.get_learner(ADMIN, learner_id)


def _status(view: LearnerView) -> tuple[Status | None, WithdrawalKind | None, date | None]:
    return view.programme_status, view.withdrawal_kind, view.status_since


# --- kept from ilr-state -------------------------------------------------------------------------


async def test_no_status_before_the_ilr_exists(service: LearnerService) -> None:
    learner_id, _ = await _enrolled(service)
    assert _status(await _view(service, learner_id)) == (None, None, None)


async def test_the_current_ilr_gives_the_status(service: LearnerService) -> None:
    learner_id, record = await _enrolled(service)

    await service.on_ilr_state(_state(learner_id, 1, record))
    assert _status(await _view(service, learner_id)) == (Status.ACTIVE, None, START)

    await service.on_ilr_state(_state(learner_id, 2, _ended(record, 6, "2025-12-19", Outcome=3)))
    assert _status(await _view(service, learner_id)) == (
        Status.ON_BREAK,
        None,
        date(2025, 12, 19),
    )

    await service.on_ilr_state(_state(learner_id, 3, _withdrawn(record, "2025-10-01")))
    assert _status(await _view(service, learner_id)) == (
        Status.WITHDRAWN,
        WithdrawalKind.NON_STARTER,
        date(2025, 10, 1),
    )


async def test_an_older_ilr_version_arriving_late_changes_nothing(
    service: LearnerService,
) -> None:
    learner_id, record = await _enrolled(service)
    await service.on_ilr_state(_state(learner_id, 3, _withdrawn(record, "2026-06-30")))

    await service.on_ilr_state(_state(learner_id, 2, record))

    assert _status(await _view(service, learner_id)) == (
        Status.WITHDRAWN,
        WithdrawalKind.EARLY_LEAVER,
        date(2026, 6, 30),
    )


async def test_a_redelivered_ilr_state_stores_the_same_status(service: LearnerService) -> None:
    learner_id, record = await _enrolled(service)
    event = _state(learner_id, 1, record)

    await service.on_ilr_state(event)
    await service.on_ilr_state(event)

    assert _status(await _view(service, learner_id)) == (Status.ACTIVE, None, START)


async def test_the_status_event_publishes_nothing(
    service: LearnerService, store: FakeLearnerStore
) -> None:
    learner_id, record = await _enrolled(service)
    published = list(store.outbox)

    await service.on_ilr_state(_state(learner_id, 1, record))

    assert store.outbox == published
    assert store.version_of(TENANT, learner_id) == 2  # created, enrolled: the record is as it was


async def test_an_empty_record_or_an_unknown_learner_is_no_error(service: LearnerService) -> None:
    learner_id, _ = await _enrolled(service)

    await service.on_ilr_state(_state(learner_id, 0, {}))  # what the poison suite sends
    await service.on_ilr_state(_state("nobody", 1, {}))

    assert _status(await _view(service, learner_id)) == (None, None, None)


async def test_an_unreadable_record_is_dead_lettered(service: LearnerService) -> None:
    learner_id, record = await _enrolled(service)
    with pytest.raises(PermanentError, match="CompStatus 4"):
        await service.on_ilr_state(_state(learner_id, 1, _ended(record, 4, "2025-10-01")))


# --- the list: filters and pages -----------------------------------------------------------------


async def _learners_by_status(service: LearnerService) -> dict[str, str]:
    """Four learners: active, on a break, a non-starter and an early leaver."""
    ids = {}
    for name, shape in (
        ("active", lambda r: r),
        ("on_break", lambda r: _ended(r, 6, "2025-12-19", Outcome=3)),
        ("non_starter", lambda r: _withdrawn(r, "2025-10-01")),
        ("early_leaver", lambda r: _withdrawn(r, "2026-06-30")),
    ):
        learner_id, record = await _enrolled(service, given_names=name.replace("_", " "))
        await service.on_ilr_state(_state(learner_id, 1, shape(record)))
        ids[name] = learner_id
    return ids


async def _listed(service: LearnerService, where: LearnerFilter) -> set[str]:
    return {learner.id for learner in await service.list_learners(ADMIN, where, None, 200)}


async def test_filter_by_status_and_withdrawal_kind(service: LearnerService) -> None:
    ids = await _learners_by_status(service)
    not_enrolled = await service.create_learner(ADMIN, LearnerIn.model_validate(LEARNER))

    withdrawn = LearnerFilter(statuses=frozenset({Status.WITHDRAWN}))
    in_learning = LearnerFilter(statuses=frozenset({Status.ACTIVE, Status.ON_BREAK}))
    non_starters = LearnerFilter(withdrawal_kind=WithdrawalKind.NON_STARTER)

    assert await _listed(service, withdrawn) == {ids["non_starter"], ids["early_leaver"]}
    assert await _listed(service, in_learning) == {ids["active"], ids["on_break"]}
    assert await _listed(service, non_starters) == {ids["non_starter"]}
    assert await _listed(service, LearnerFilter()) == {*ids.values(), not_enrolled.id}


async def test_filters_stay_within_what_the_caller_sees(service: LearnerService) -> None:
    ids = await _learners_by_status(service)
    other_group, record = await _enrolled(service, group="cohort-b")
    await service.on_ilr_state(_state(other_group, 1, record))
    learner = Principal(sub=ids["on_break"], tenant=TENANT, roles=["learner"])
    active = LearnerFilter(statuses=frozenset({Status.ACTIVE}))
    on_break = LearnerFilter(statuses=frozenset({Status.ON_BREAK}))

    tutor_sees = await service.list_learners(TUTOR_A, active, None, 200)
    assert [x.id for x in tutor_sees] == [ids["active"]]
    assert await service.list_learners(learner, active, None, 200) == []
    assert [x.id for x in await service.list_learners(learner, on_break, None, 200)] == [
        ids["on_break"]
    ]


async def test_pages_walk_every_learner_once_in_id_order(service: LearnerService) -> None:
    created = [(await _enrolled(service))[0] for _ in range(7)]

    seen: list[str] = []
    after: str | None = None
    while True:
        page = await service.list_learners(ADMIN, LearnerFilter(), after, 3)
        seen.extend(x.id for x in page)
        if len(page) < 3:
            break
        after = page[-1].id

    assert seen == sorted(created)


async def test_a_text_search_past_the_first_matches_is_not_capped(
    service: LearnerService,
) -> None:
    """More learners than a page, only some matching: the list goes on to the last match."""
    wanted = []
    for n in range(12):
        learner_id, _ = await _enrolled(service, given_names="Zed" if n % 4 == 3 else "Amy")
        if n % 4 == 3:
            wanted.append(learner_id)

    first = await service.list_learners(ADMIN, LearnerFilter(text="zed"), None, 2)
    rest = await service.list_learners(ADMIN, LearnerFilter(text="zed"), first[-1].id, 2)

    assert [x.id for x in first + rest] == sorted(wanted)
