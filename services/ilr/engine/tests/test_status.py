"""The programme status read off the ILR: one test per status, the qualifying period's edges
(42 days in learning, counted over every spell of a programme) and the records with no status.
The enrolled learner starts on 2024-09-02 (conftest.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from ilrflow.ilr_engine import ApplyResult, IlrLearner
from ilrflow.ilr_engine.status import ProgrammeStatus, Status, WithdrawalKind, programme_status

Apply = Callable[..., ApplyResult]
START = date(2024, 9, 2)


def _applied(apply: Apply, record: IlrLearner, tracker_type: str, **changes: Any) -> IlrLearner:
    result = apply(record, tracker_type, changes)
    assert result.status == "applied", result.reason
    return result.record


def _break(apply: Apply, record: IlrLearner, last_day: str) -> IlrLearner:
    changes = {"last_day_of_learning": last_day, "expected_return_date": "2025-06-02"}
    return _applied(apply, record, "break_in_learning", **changes, reason="illness")


def _withdraw(apply: Apply, record: IlrLearner, last_day: str) -> IlrLearner:
    return _applied(apply, record, "withdrawal", last_day_of_learning=last_day, reason=44)


def _programme_aim(record: IlrLearner) -> dict[str, Any]:
    return max(
        (aim for aim in record["LearningDelivery"] if aim["AimType"] == 1),
        key=lambda aim: aim["AimSeqNumber"],
    )


def _completed(record: IlrLearner, outcome: int | None, ach_date: str | None) -> IlrLearner:
    """The programme aim as a completion (CompStatus 2) and an EPA result leave it."""
    record = copy.deepcopy(record)
    aim = _programme_aim(record)
    aim.update(CompStatus=2, LearnActEndDate="2025-09-26")
    if outcome is not None:
        aim["Outcome"] = outcome
    if ach_date is not None:
        aim["AchDate"] = ach_date
    return record


def test_an_open_programme_is_active_since_its_start(enrolled: IlrLearner) -> None:
    assert programme_status(enrolled) == ProgrammeStatus(Status.ACTIVE, START)


def test_a_break_is_on_break_since_the_last_day_of_learning(
    enrolled: IlrLearner, apply: Apply
) -> None:
    on_break = _break(apply, enrolled, "2025-01-31")
    assert programme_status(on_break) == ProgrammeStatus(Status.ON_BREAK, date(2025, 1, 31))


def test_a_return_is_active_again_since_the_restart(enrolled: IlrLearner, apply: Apply) -> None:
    on_break = _break(apply, enrolled, "2025-01-31")
    returned = _applied(apply, on_break, "return_to_learning", return_date="2025-04-01")
    assert programme_status(returned) == ProgrammeStatus(Status.ACTIVE, date(2025, 4, 1))


def test_a_second_break_is_on_break_again(enrolled: IlrLearner, apply: Apply) -> None:
    record = _break(apply, enrolled, "2025-01-31")
    record = _applied(apply, record, "return_to_learning", return_date="2025-04-01")
    record = _break(apply, record, "2025-05-30")
    assert programme_status(record) == ProgrammeStatus(Status.ON_BREAK, date(2025, 5, 30))


@pytest.mark.parametrize(
    ("last_day", "kind"),
    [
        ("2024-09-02", WithdrawalKind.NON_STARTER),  # the first day only: 1 day in learning
        ("2024-10-12", WithdrawalKind.NON_STARTER),  # 41 days
        ("2024-10-13", WithdrawalKind.EARLY_LEAVER),  # 42 days: the qualifying period is met
        ("2025-03-14", WithdrawalKind.EARLY_LEAVER),
    ],
)
def test_a_withdrawal_is_a_non_starter_within_the_qualifying_period(
    enrolled: IlrLearner, apply: Apply, last_day: str, kind: WithdrawalKind
) -> None:
    withdrawn = _withdraw(apply, enrolled, last_day)
    assert programme_status(withdrawn) == ProgrammeStatus(
        Status.WITHDRAWN, date.fromisoformat(last_day), kind
    )


def test_the_qualifying_period_counts_every_spell_but_not_the_break(
    enrolled: IlrLearner, apply: Apply
) -> None:
    # 2024-09-02..2024-09-21 (20 days), a break, then 2025-01-06..2025-01-26 (21 days): 41.
    record = _break(apply, enrolled, "2024-09-21")
    record = _applied(apply, record, "return_to_learning", return_date="2025-01-06")
    short = _withdraw(apply, record, "2025-01-26")
    long_enough = _withdraw(apply, record, "2025-01-27")

    assert programme_status(short) == ProgrammeStatus(
        Status.WITHDRAWN, date(2025, 1, 26), WithdrawalKind.NON_STARTER
    )
    assert programme_status(long_enough) == ProgrammeStatus(
        Status.WITHDRAWN, date(2025, 1, 27), WithdrawalKind.EARLY_LEAVER
    )


def test_a_withdrawal_during_a_break_counts_the_days_before_it(
    enrolled: IlrLearner, apply: Apply
) -> None:
    on_break = _break(apply, enrolled, "2024-09-30")
    withdrawn = _withdraw(apply, on_break, "2024-09-30")
    assert programme_status(withdrawn) == ProgrammeStatus(
        Status.WITHDRAWN, date(2024, 9, 30), WithdrawalKind.NON_STARTER
    )


def test_a_restart_after_a_withdrawal_is_never_a_non_starter(enrolled: IlrLearner) -> None:
    """RES without OrigLearnStartDate: the learner started this apprenticeship once before."""
    record = copy.deepcopy(enrolled)
    aim = _programme_aim(record)
    aim["LearningDeliveryFAM"] = [
        *aim.get("LearningDeliveryFAM", []),
        {"LearnDelFAMType": "RES", "LearnDelFAMCode": "1"},
    ]
    aim.update(CompStatus=3, LearnActEndDate="2024-09-10", WithdrawReason=44, Outcome=3)
    assert programme_status(record) == ProgrammeStatus(
        Status.WITHDRAWN, date(2024, 9, 10), WithdrawalKind.EARLY_LEAVER
    )


@pytest.mark.parametrize("outcome", [8, None])
def test_a_completion_awaiting_the_epa_is_completed_practical_period(
    enrolled: IlrLearner, outcome: int | None
) -> None:
    completed = _completed(enrolled, outcome, None)
    assert programme_status(completed) == ProgrammeStatus(
        Status.COMPLETED_PRACTICAL_PERIOD, date(2025, 9, 26)
    )


def test_an_epa_pass_is_achieved_since_the_achievement_date(enrolled: IlrLearner) -> None:
    achieved = _completed(enrolled, 1, "2025-11-14")
    assert programme_status(achieved) == ProgrammeStatus(Status.ACHIEVED, date(2025, 11, 14))


def test_an_epa_fail_is_not_achieved_since_the_end_of_the_epa(enrolled: IlrLearner) -> None:
    failed = _completed(enrolled, 3, "2025-11-14")
    assert programme_status(failed) == ProgrammeStatus(Status.NOT_ACHIEVED, date(2025, 11, 14))


def test_the_latest_programme_aim_decides(enrolled: IlrLearner, apply: Apply) -> None:
    """A later programme (e.g. after a change of programme) is the current one."""
    record = _withdraw(apply, enrolled, "2025-03-14")
    later = copy.deepcopy(_programme_aim(record))
    later.update(AimSeqNumber=9, LearnStartDate="2025-04-01", CompStatus=1)
    for ended in ("LearnActEndDate", "WithdrawReason", "Outcome"):
        later.pop(ended, None)
    record["LearningDelivery"].append(later)
    assert programme_status(record) == ProgrammeStatus(Status.ACTIVE, date(2025, 4, 1))


def test_no_record_or_no_programme_aim_has_no_status(enrolled: IlrLearner) -> None:
    without_programme = copy.deepcopy(enrolled)
    without_programme["LearningDelivery"] = []
    assert programme_status({}) is None
    assert programme_status(without_programme) is None


def test_a_record_that_is_no_ilr_learner_is_refused(enrolled: IlrLearner) -> None:
    unknown_status = copy.deepcopy(enrolled)
    _programme_aim(unknown_status)["CompStatus"] = 4
    with pytest.raises(ValueError, match="CompStatus 4"):
        programme_status(unknown_status)
    with pytest.raises(ValueError, match="LearnRefNumber"):
        programme_status({"ULN": 1})
