"""Restart after a withdrawal (no agreed break in learning).

domain.md §3.7 ("Restart after withdrawal"), §3.6 (RES, ACT, prices): a new programme aim with
RES=1 and **no** OrigLearnStartDate, a new planned end date and a new price as TNP1/TNP2 dated the
restart; duration and minimums count again from the new start, and the funding rules are those of
the new start [C32][C17]. The withdrawn aims are kept as they are.
"""

from __future__ import annotations

from ilrflow.contracts.trackers import RestartAfterWithdrawal
from ilrflow.ilr_engine import funding
from ilrflow.ilr_engine.enrolment import (
    TOTAL_ASSESSMENT_PRICE,
    TOTAL_TRAINING_PRICE,
    restarted_aim_id,
)
from ilrflow.ilr_engine.policy import ChangeRejectedError, IlrPolicy, Outcome, changed
from ilrflow.ilr_engine.programme import (
    MAX_AIM_SEQ_NUMBER,
    TRANSFERRED_TO_NEW_AIM,
    WITHDRAWN,
    best_case_hours,
    restarted_fams,
)
from ilrflow.ilr_engine.records import PROGRAMME_AIM_TYPE, Aim, FinRecord, Learner


def restart_after_withdrawal(
    record: Learner, changes: RestartAfterWithdrawal, _: IlrPolicy
) -> Outcome:
    withdrawn = withdrawn_programme(record)
    start = changes.restart_date
    if start <= (withdrawn.LearnActEndDate or withdrawn.LearnStartDate):
        raise ChangeRejectedError(
            f"restart_date {start} must be after the last day of learning "
            f"{withdrawn.LearnActEndDate}"
        )
    seq = record.next_aim_seq_number()
    if seq > MAX_AIM_SEQ_NUMBER:
        raise ChangeRejectedError("the ILR allows at most 98 aims per learner")
    _check_minimums(record, changes)
    aim = _restarted_programme(record.LearnRefNumber, withdrawn, seq, changes)
    record.LearningDelivery.append(aim)
    return changed(
        f"restarted as aim {seq} from {start} on standard {aim.StdCode} with RES=1 and no "
        f"OrigLearnStartDate (a restart after a withdrawal, funded by the rules of the new "
        f"start), LearnPlanEndDate {aim.LearnPlanEndDate}, PHours {aim.PHours}, TNP1 "
        f"{changes.price.training} and TNP2 {changes.price.assessment} from {start}, ACT from "
        f"{start}; the withdrawn aim {withdrawn.AimSeqNumber} is unchanged"
    )


def withdrawn_programme(record: Learner) -> Aim:
    """The programme aim the learner was withdrawn from, when that is where they are now (nothing
    in learning or on a break); a change of programme (WithdrawReason 40) is no withdrawal to
    restart from: the new programme is a new start [C22]."""
    programmes = [a for a in record.LearningDelivery if a.AimType == PROGRAMME_AIM_TYPE]
    latest = max(programmes, key=lambda aim: aim.AimSeqNumber, default=None)
    still_learning = record.open_aims() or record.aims_on_break()
    if latest is None or latest.CompStatus != WITHDRAWN or still_learning:
        raise ChangeRejectedError("the learner is not withdrawn from a programme")
    if latest.WithdrawReason == TRANSFERRED_TO_NEW_AIM:
        raise ChangeRejectedError(
            "the learner left to change programme (WithdrawReason 40): enrol them on the new "
            "programme as a new start, which is not a restart"
        )
    return latest


def _check_minimums(record: Learner, changes: RestartAfterWithdrawal) -> None:
    """The minimum duration and the 2025/26 PHours floor (PHours_08), both from the new start:
    ESFA's rules leave restarts out, the funding rules do not."""
    planned = planned_duration(changes)
    minimum = restart_minimum_duration(record, changes)
    if int(str(planned.value)) < int(str(minimum.value)):
        raise ChangeRejectedError(
            f"planned_end_date {changes.planned_end_date}: {planned.working}, fewer than the "
            f"minimum duration ({minimum.working})"
        )
    rules = funding.RuleSet.for_start(changes.restart_date)
    floor = funding.PHOURS_FLOOR_FROM_2025
    if rules is funding.RuleSet.FROM_2025 and changes.planned_otj_hours < floor:
        raise ChangeRejectedError(
            f"PHours_08: planned_otj_hours {changes.planned_otj_hours} is under {floor} for a "
            f"start from 1 Aug 2025"
        )


def planned_duration(changes: RestartAfterWithdrawal) -> funding.Computed:
    start, end = changes.restart_date, changes.planned_end_date
    days = (end - start).days
    return funding.Computed(days, f"planned {end} - {start} = {days} days")


def restart_minimum_duration(record: Learner, changes: RestartAfterWithdrawal) -> funding.Computed:
    """The new start's minimum duration, at the most hours the EII band allows (refused only when
    surely too short, as an overridden planned end date after a break)."""
    start = changes.restart_date
    rules = funding.RuleSet.for_start(start)
    return funding.minimum_duration_days(rules, best_case_hours(record, start))


def _restarted_programme(
    learn_ref_number: str, old: Aim, seq: int, changes: RestartAfterWithdrawal
) -> Aim:
    start = changes.restart_date
    standard = changes.standard_code or old.StdCode
    return Aim(
        LearnAimRef=old.LearnAimRef,
        AimType=PROGRAMME_AIM_TYPE,
        AimSeqNumber=seq,
        LearnStartDate=start,
        LearnPlanEndDate=changes.planned_end_date,
        FundModel=old.FundModel,
        PHours=changes.planned_otj_hours,
        ProgType=old.ProgType,
        StdCode=standard,
        DelLocPostCode=old.DelLocPostCode,
        ConRefNumber=old.ConRefNumber,
        EPAOrgID=old.EPAOrgID if standard == old.StdCode else None,
        CompStatus=1,
        SWSupAimId=restarted_aim_id(learn_ref_number, old, seq),
        LearningDeliveryFAM=restarted_fams(old, start),
        AppFinRecord=[
            FinRecord(AFinType="TNP", AFinCode=code, AFinDate=start, AFinAmount=amount)
            for code, amount in (
                (TOTAL_TRAINING_PRICE, changes.price.training),
                (TOTAL_ASSESSMENT_PRICE, changes.price.assessment),
            )
        ],
    )
