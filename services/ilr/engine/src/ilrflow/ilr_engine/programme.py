"""Programme changes: break in learning, return to learning, change of programme, withdrawal.

domain.md §3.7 (how each is recorded), §3.6 (ACT, RES, LSF, prices), §4.5 (planned end date
after a break). Aims are never reopened: a break closes them with CompStatus 6, a return adds
new aims, a withdrawal or change of programme closes them with CompStatus 3.
"""

from __future__ import annotations

from datetime import date, timedelta

from ilrflow.contracts.trackers import (
    BreakInLearning,
    ChangeOfProgramme,
    ReturnToLearning,
    Withdrawal,
)
from ilrflow.contracts.trackers.withdrawal_reasons import ESFA_WITHDRAW_REASONS
from ilrflow.ilr_engine import funding
from ilrflow.ilr_engine.enrolment import restarted_aim_id
from ilrflow.ilr_engine.policy import (
    ChangeRejectedError,
    IlrPolicy,
    Outcome,
    changed,
    unchanged,
)
from ilrflow.ilr_engine.records import PROGRAMME_AIM_TYPE, Aim, Fam, FinRecord, Learner

BREAK = 6
WITHDRAWN = 3
NO_ACHIEVEMENT = 3
TRANSFERRED_TO_NEW_AIM = 40
MAX_AIM_SEQ_NUMBER = 98
QAR_NEW_START_WINDOW_DAYS = 120
FAMS_NOT_COPIED_ON_RESTART = frozenset({"ACT", "RES", "LSF"})


def break_in_learning(record: Learner, changes: BreakInLearning, _: IlrPolicy) -> Outcome:
    last_day = changes.last_day_of_learning
    aims = record.open_aims()
    if not aims:
        if record.aims_on_break():
            raise ChangeRejectedError("the learner is already on a break in learning")
        raise ChangeRejectedError("the learner has no open learning aim to put on a break")
    not_before_start(aims, last_day, "last_day_of_learning")
    for aim in aims:
        end_aim(aim, last_day, BREAK)
    hours = _record_otj_actual_hours(aims, changes.otj_actual_hours, due=False)
    return changed(
        f"{_aim_list(aims)} set to CompStatus 6 (agreed break in learning) with LearnActEndDate "
        f"{last_day} and Outcome 3; ACT and LSF end on {last_day}{hours}"
    )


def return_to_learning(record: Learner, changes: ReturnToLearning, policy: IlrPolicy) -> Outcome:
    new_aims, programme_end = restart_after_break(
        record, changes.return_date, changes.planned_end_date, policy
    )
    return changed(_return_reason(new_aims, programme_end, policy))


def restart_after_break(
    record: Learner, return_date: date, override: date | None, policy: IlrPolicy
) -> tuple[list[Aim], funding.Computed]:
    """Restart every aim on the break from ``return_date`` (added to ``record``): the new aims and
    the programme aim's planned end date. A return to learning, and a change of employer on a
    break (the learner returns with the new employer)."""
    on_break = record.aims_on_break()
    if not on_break:
        raise ChangeRejectedError("the learner is not on a break in learning")
    last_day = max(aim.LearnActEndDate or aim.LearnStartDate for aim in on_break)
    if return_date <= last_day:
        raise ChangeRejectedError(
            f"return_date {return_date} must be after the last day of learning {last_day}"
        )
    first_seq = record.next_aim_seq_number()
    if first_seq + len(on_break) - 1 > MAX_AIM_SEQ_NUMBER:
        raise ChangeRejectedError("the ILR allows at most 98 aims per learner")
    programme = record.programme_aim(on_break)
    assert programme is not None  # on_break is not empty
    programme_end = restart_planned_end(record, programme, return_date, override)
    new_aims = [
        _restarted_aim(
            record.LearnRefNumber,
            aim,
            first_seq + offset,
            return_date,
            programme_end,
            programme,
            _restart_planned_hours(record, aim, policy),
        )
        for offset, aim in enumerate(on_break)
    ]
    record.LearningDelivery.extend(new_aims)
    return new_aims, programme_end


def restart_planned_end(
    record: Learner, programme: Aim, return_date: date, override: date | None
) -> funding.Computed:
    """The restarted programme aim's PED: the default of §4.5, or a checked override."""
    last_day = programme.LearnActEndDate or programme.LearnStartDate
    default = funding.default_planned_end_date(return_date, last_day, programme.LearnPlanEndDate)
    if override is None:
        if date.fromisoformat(str(default.value)) <= return_date:
            raise ChangeRejectedError(
                f"the planned end date {programme.LearnPlanEndDate} had passed by the last day of "
                f"learning {last_day}: give a planned_end_date with an override_reason"
            )
        return default
    return _checked_override(record, programme, return_date, override, default)


def _checked_override(
    record: Learner, programme: Aim, return_date: date, override: date, default: funding.Computed
) -> funding.Computed:
    if override <= return_date:
        raise ChangeRejectedError(
            f"planned_end_date {override} must be after return_date {return_date}"
        )
    in_learning = days_in_learning_after_return(record, programme, return_date, override)
    days = int(str(in_learning.value))
    rules = funding.RuleSet.for_start(programme.original_start)
    minimum = funding.minimum_duration_days(rules, best_case_hours(record, return_date))
    if days < int(str(minimum.value)):
        raise ChangeRejectedError(
            f"planned_end_date {override} leaves {days} days in learning "
            f"({in_learning.working}), fewer than the minimum duration ({minimum.working})"
        )
    return funding.Computed(
        override.isoformat(),
        f"override {override} (the default would be {default.value}: {default.working}); "
        f"{days} days in learning ({in_learning.working}) >= minimum ({minimum.working})",
    )


def days_in_learning_after_return(
    record: Learner, programme: Aim, return_date: date, new_end: date
) -> funding.Computed:
    """The programme's time in learning if it restarts on ``return_date`` and ends ``new_end``:
    every spell so far (each break left out), then the new one."""
    last_day = programme.LearnActEndDate or programme.LearnStartDate
    spells = learning_spells(record, programme, last_day)
    return funding.days_in_learning([*spells, (return_date, new_end)])


def learning_spells(record: Learner, aim: Aim, last_day: date) -> list[tuple[date, date]]:
    """(start, last day of learning) of each aim ``aim`` restarts after a break, then of ``aim``
    itself, ending on ``last_day``."""
    *earlier, _ = record.aim_history(aim)
    spells = [(a.LearnStartDate, a.LearnActEndDate or a.LearnStartDate) for a in earlier]
    return [*spells, (aim.LearnStartDate, last_day)]


def best_case_hours(record: Learner, day: date) -> float | None:
    """The most hours the EII band allows: an override is refused only when surely too short."""
    status = record.status_on(day)
    band = status.esm_code("EII") if status else None
    return {5: 10.0, 6: 20.0, 7: 30.0}.get(band) if band is not None else None


def _restarted_aim(
    learn_ref_number: str,
    old: Aim,
    seq: int,
    return_date: date,
    programme_end: funding.Computed,
    programme: Aim,
    planned_hours: int | None,
) -> Aim:
    end = _aim_planned_end(old, return_date, programme_end, programme)
    return Aim(
        LearnAimRef=old.LearnAimRef,
        AimType=old.AimType,
        AimSeqNumber=seq,
        LearnStartDate=return_date,
        OrigLearnStartDate=old.original_start,
        LearnPlanEndDate=end,
        FundModel=old.FundModel,
        PHours=planned_hours,
        ProgType=old.ProgType,
        StdCode=old.StdCode,
        DelLocPostCode=old.DelLocPostCode,
        ConRefNumber=old.ConRefNumber,
        EPAOrgID=old.EPAOrgID,
        CompStatus=1,
        SWSupAimId=restarted_aim_id(learn_ref_number, old, seq),
        LearningDeliveryFAM=restarted_fams(old, return_date),
        AppFinRecord=_restarted_prices(old, return_date),
    )


def _aim_planned_end(
    old: Aim, return_date: date, programme_end: funding.Computed, programme: Aim
) -> date:
    if old is programme:
        return date.fromisoformat(str(programme_end.value))
    last_day = old.LearnActEndDate or old.LearnStartDate
    default = funding.default_planned_end_date(return_date, last_day, old.LearnPlanEndDate)
    return max(date.fromisoformat(str(default.value)), return_date)


def _restart_planned_hours(record: Learner, old: Aim, policy: IlrPolicy) -> int | None:
    """The original planned total, or ("remaining") that total less the actual hours so far:
    OTJActHours counts the whole apprenticeship, so it comes off the first aim's PHours."""
    if old.PHours is None or policy.restart_planned_hours == "original":
        return old.PHours
    first = record.aim_history(old)[0]
    planned_total = first.PHours if first.PHours is not None else old.PHours
    return max(planned_total - (old.OTJActHours or 0), 0)


def restarted_fams(old: Aim, return_date: date) -> list[Fam]:
    kept = [
        f.model_copy()
        for f in old.LearningDeliveryFAM
        if f.LearnDelFAMType not in FAMS_NOT_COPIED_ON_RESTART
    ]
    restart = [Fam(LearnDelFAMType="RES", LearnDelFAMCode="1")]
    act = _latest_act_code(old)
    contract = (
        [Fam(LearnDelFAMType="ACT", LearnDelFAMCode=act, LearnDelFAMDateFrom=return_date)]
        if act
        else []
    )
    return [*restart, *kept, *contract]


def _latest_act_code(aim: Aim) -> str | None:
    acts = sorted(aim.fams("ACT"), key=lambda f: f.LearnDelFAMDateFrom or date.min)
    return acts[-1].LearnDelFAMCode if acts else None


def _restarted_prices(old: Aim, return_date: date) -> list[FinRecord]:
    """The same price as before the break [D33]: the latest TNP of each code, dated the return.

    Once residual prices (TNP3/4) exist, later prices stay residual [C34].
    """
    tnps = [r for r in old.AppFinRecord if r.AFinType == "TNP"]
    codes = (3, 4) if any(r.AFinCode in (3, 4) for r in tnps) else (1, 2)
    prices: list[FinRecord] = []
    for code in codes:
        of_code = [r for r in tnps if r.AFinCode == code]
        if of_code:
            latest = max(of_code, key=lambda r: r.AFinDate)
            prices.append(latest.model_copy(update={"AFinDate": return_date}))
    return prices


def _return_reason(new_aims: list[Aim], programme_end: funding.Computed, policy: IlrPolicy) -> str:
    first = new_aims[0]
    return (
        f"restarted as {_aim_list(new_aims)} from {first.LearnStartDate} with RES=1, "
        f"OrigLearnStartDate {first.OrigLearnStartDate}, ACT from the return date; programme "
        f"LearnPlanEndDate {programme_end.value} ({programme_end.working}); PHours "
        f"{policy.restart_planned_hours} planned hours; the aims on the break are unchanged"
    )


def change_of_programme(record: Learner, changes: ChangeOfProgramme, _: IlrPolicy) -> Outcome:
    last_day, new_standard = changes.last_day_of_learning, changes.new_standard_code
    open_aims, on_break = record.open_aims(), record.aims_on_break()
    if not open_aims and not on_break:
        raise ChangeRejectedError(
            "the learner has no programme to change from: every aim has ended"
        )
    current = record.programme_aim(open_aims or on_break)
    if current is not None and current.StdCode == new_standard:
        return unchanged(
            f"standard {new_standard} is the current standard: a new version of the same "
            "standard does not change the ILR"
        )
    _close_all(open_aims, on_break, last_day, TRANSFERRED_TO_NEW_AIM)
    hours = _record_otj_actual_hours([*open_aims, *on_break], changes.otj_actual_hours, due=True)
    ended = max(a.LearnActEndDate or last_day for a in [*open_aims, *on_break])
    deadline = ended + timedelta(days=QAR_NEW_START_WINDOW_DAYS)
    return changed(
        f"{_aim_list([*open_aims, *on_break])} withdrawn (CompStatus 3, WithdrawReason 40, "
        f"Outcome 3){hours}. Suggested new programme: standard {new_standard}, to be enrolled by staff "
        f"as a new start (no RES, no OrigLearnStartDate) after checking planned OTJ hours and "
        f"duration; start it by {deadline} (120 days) so the QAR excludes the old programme"
    )


def withdrawal(record: Learner, changes: Withdrawal, policy: IlrPolicy) -> Outcome:
    last_day = changes.last_day_of_learning
    code = withdraw_reason_of(changes, policy)
    open_aims, on_break = record.open_aims(), record.aims_on_break()
    if not open_aims and not on_break:
        raise ChangeRejectedError("the learner has no open or on-break aims to withdraw from")
    _close_all(open_aims, on_break, last_day, code)
    hours = _record_otj_actual_hours([*open_aims, *on_break], changes.otj_actual_hours, due=True)
    from_break = (
        f"; aims on a break keep LearnActEndDate {on_break[0].LearnActEndDate} (6 -> 3)"
        if on_break
        else ""
    )
    return changed(
        f"{_aim_list([*open_aims, *on_break])} withdrawn: CompStatus 3, WithdrawReason {code}, "
        f"Outcome 3, LearnActEndDate {last_day if open_aims else on_break[0].LearnActEndDate}"
        f"{from_break}{hours}"
    )


def withdraw_reason_of(changes: Withdrawal, policy: IlrPolicy) -> int:
    """The ESFA code of a withdrawal: ``withdraw_reason_code`` when the tracker service already
    mapped the tenant's reason (so the ILR service needs no copy of that mapping), else ``reason``.
    """
    if changes.withdraw_reason_code is not None:
        return changes.withdraw_reason_code
    return withdraw_reason_code(changes.reason, policy)


def withdraw_reason_code(reason: object, policy: IlrPolicy) -> int:
    """A tenant reason through the policy's map, or an ESFA WithdrawReason code itself."""
    if isinstance(reason, str) and reason in policy.withdrawal_reason_map:
        return policy.withdrawal_reason_map[reason]
    text = (
        str(reason).strip()
        if isinstance(reason, str | int) and not isinstance(reason, bool)
        else ""
    )
    if text.isdigit() and int(text) in ESFA_WITHDRAW_REASONS:
        return int(text)
    raise ChangeRejectedError(
        f"withdrawal reason {reason!r} is neither one of the tenant's reasons nor an ESFA code"
    )


def _close_all(open_aims: list[Aim], on_break: list[Aim], last_day: date, reason: int) -> None:
    not_before_start(open_aims, last_day, "last_day_of_learning")
    for aim in open_aims:
        end_aim(aim, last_day, WITHDRAWN, reason)
    for aim in on_break:  # withdrawn while on a break: 6 -> 3, the last day stays [C20][C21]
        end_aim(aim, aim.LearnActEndDate or last_day, WITHDRAWN, reason)


def _record_otj_actual_hours(closed: list[Aim], hours: int | None, *, due: bool) -> str:
    """OTJActHours on the closed programme aim (a programme-aim field: OTJActHours_01), and what
    the reason says of it. ``due``: a non-completer leaving, for whom P49 of the funding rules
    (from 2022/23) wants the actual hours wherever planned hours were recorded [C-P49]."""
    programmes = [aim for aim in closed if aim.AimType == PROGRAMME_AIM_TYPE]
    if hours is not None:
        for aim in programmes:
            aim.OTJActHours = hours
        return f"; OTJActHours {hours} on {_aim_list(programmes)}" if programmes else ""
    if due and any(a.PHours is not None and a.OTJActHours is None for a in programmes):
        return (
            "; no otj_actual_hours given: the funding rules (P49, from 2022/23) want OTJActHours "
            "for a learner who leaves early wherever PHours was recorded"
        )
    return ""


def end_aim(
    aim: Aim,
    last_day: date,
    comp_status: int,
    reason: int | None = None,
    *,
    outcome: int = NO_ACHIEVEMENT,  # community practice for breaks too [C36]; see README
) -> None:
    aim.CompStatus = comp_status
    aim.LearnActEndDate = aim.LearnActEndDate or last_day
    aim.Outcome = outcome
    aim.WithdrawReason = reason
    for fam in aim.LearningDeliveryFAM:
        _end_dated_fam(fam, aim.LearnActEndDate)


def _end_dated_fam(fam: Fam, end: date) -> None:
    """ACT gets a DateTo once the aim has an end [T1]; LSF is clamped to it [A11][A18]."""
    open_contract = fam.LearnDelFAMType == "ACT" and fam.LearnDelFAMDateTo is None
    support_beyond_end = fam.LearnDelFAMType == "LSF" and (fam.LearnDelFAMDateTo or end) > end
    if open_contract or support_beyond_end:
        fam.LearnDelFAMDateTo = end


def not_before_start(aims: list[Aim], day: date, label: str) -> None:
    for aim in aims:
        if day < aim.LearnStartDate:
            raise ChangeRejectedError(
                f"{label} {day} is before aim {aim.AimSeqNumber}'s start {aim.LearnStartDate}"
            )


def _aim_list(aims: list[Aim]) -> str:
    numbers = ", ".join(str(a.AimSeqNumber) for a in aims)
    return f"aim{'s' if len(aims) > 1 else ''} {numbers}"
