"""Employment changes: change of employer, change of working hours, out of paid employment.

domain.md §3.4 (LearnerEmploymentStatus, one record per date, EII, LOU, OET), §3.6 (ACT, TNP3/TNP4
residual prices), §3.7 (employer: a new status record, a new ACT only if the contract type
changes, no change to the aims, a residual price; redundancy: EmpStat 11/12 with OET 1, the aims
stay open; hours: PHours never changes, a new status record only when an ESM value such as the
EII band changes), §4.4 (material impact, shown by the preview), §4.7 (12 weeks without an
employer).
"""

from __future__ import annotations

from datetime import date, timedelta

from ilrflow.contracts.trackers import (
    ChangeOfEmployer,
    ChangeOfEmploymentStatus,
    ChangeOfWorkingHours,
    ResidualPrice,
)
from ilrflow.ilr_engine import normalise
from ilrflow.ilr_engine.enrolment import employment_status
from ilrflow.ilr_engine.policy import (
    ChangeRejectedError,
    IlrPolicy,
    Outcome,
    changed,
    unchanged,
)
from ilrflow.ilr_engine.programme import restart_after_break
from ilrflow.ilr_engine.records import (
    PROGRAMME_AIM_TYPE,
    Aim,
    EmploymentStatus,
    Esm,
    Fam,
    FinRecord,
    Learner,
)
from ilrflow.ilr_engine.unemployment import MADE_REDUNDANT, months_before, unemployment_on

IN_PAID_EMPLOYMENT = 10
# LOE 1 "up to 3 months": on its first day the learner has just joined the new employer. Every
# in-paid-employment status up to a later programme start (a return from a break) needs an LOE
# (ESMType_09); the code list is domain.md §3.4's, still to be checked against the 2025/26 spec.
NEW_EMPLOYMENT_LOE = 1
NOT_COPIED_TO_LATER_STATUS = frozenset({"EII", "OET"})  # OET 3 only on the change itself [D12]
RESIDUAL_TRAINING_PRICE, RESIDUAL_ASSESSMENT_PRICE = 3, 4  # TNP3, TNP4 [D29][D30]
EMP_STAT_TEXT = {
    11: "not in paid employment, looking for work and available",
    12: "not in paid employment, not looking for work and/or not available",
}
# LOU bands (ESM length of unemployment): 1 under 6 months, 2 6-11, 3 12-23, 4 24-35, 5 36 or
# more. domain.md §3.4 lists them as unverified; the same codes are in providers' MIS code lists.
LOU_BAND_FROM_MONTHS = ((36, 5), (24, 4), (12, 3), (6, 2), (0, 1))


def change_of_employer(record: Learner, changes: ChangeOfEmployer, policy: IlrPolicy) -> Outcome:
    effective, ern = changes.effective_date, changes.employer.ern
    if changes.employment_status != IN_PAID_EMPLOYMENT:
        return unchanged(
            f"learner not in paid employment (EmpStat {changes.employment_status}): the change "
            "of employer is "
            "kept on the tracker but the ILR is not changed"
        )
    new = _new_employer_status(changes)
    if not record.open_aims() and record.aims_on_break():
        return _return_with_new_employer(record, changes, new, policy)
    current = _current_status(record, effective)
    if current.DateEmpStatApp == effective and current == new:
        return unchanged(f"the ILR already records this employer from {effective}")
    _one_status_per_date(current, effective)
    _not_the_current_employer(current, new, ern)
    _add_status(record, new)
    terms = _new_employer_terms(record.open_aims(), changes)
    return changed(f"{_new_status_text(new, changes)}; the learning aims stay open{terms}")


def _return_with_new_employer(
    record: Learner, changes: ChangeOfEmployer, new: EmploymentStatus, policy: IlrPolicy
) -> Outcome:
    """A new employer while on a break: the learner returns to learning with them on the
    change date (the funding rules' return with a new employer after a break for a gap in
    employment [D49]); see docs/ilr-rules.md for the choice over withdraw-and-restart."""
    effective = changes.effective_date
    latest = record.latest_status()
    if latest is not None:
        _one_status_per_date(latest, effective)
        if latest.DateEmpStatApp > effective:
            raise ChangeRejectedError(
                f"an employment status from {latest.DateEmpStatApp} is later than {effective}"
            )
        if latest.EmpStat == IN_PAID_EMPLOYMENT:
            _not_the_current_employer(latest, new, changes.employer.ern)
    try:
        new_aims, planned_end = restart_after_break(record, effective, None, policy)
    except ChangeRejectedError as error:
        raise ChangeRejectedError(
            f"the learner is on a break, and a new employer returns them to learning on "
            f"{effective}: {error} (raise a return to learning first)"
        ) from error
    _add_status(record, new)
    terms = _new_employer_terms(new_aims, changes)
    restarted = ", ".join(str(aim.AimSeqNumber) for aim in new_aims)
    return changed(
        f"the learner returns from the break with the new employer: aims {restarted} "
        f"restarted from {effective} (RES=1, OrigLearnStartDate, programme LearnPlanEndDate "
        f"{planned_end.value}: {planned_end.working}); {_new_status_text(new, changes)}{terms}"
    )


def _new_employer_status(changes: ChangeOfEmployer) -> EmploymentStatus:
    return employment_status(
        changes.effective_date,
        normalise.emp_id(changes.employer.ern),
        changes.weekly_hours,
        employer_changed=True,
        length_of_employment=NEW_EMPLOYMENT_LOE,
    )


def _new_status_text(new: EmploymentStatus, changes: ChangeOfEmployer) -> str:
    band = normalise.eii_band(changes.weekly_hours)
    return (
        f"new employment status from {changes.effective_date}: EmpStat 10, EmpId {new.EmpId}, "
        f"EII {band} ({normalise.EII_BAND_TEXT[band]}), LOE 1, OET 3 (employer has changed); "
        "the previous status is kept"
    )


def _not_the_current_employer(current: EmploymentStatus, new: EmploymentStatus, ern: str) -> None:
    if new.EmpId == current.EmpId and new.EmpId != normalise.EMPLOYER_NOT_ON_EDS:
        raise ChangeRejectedError(
            f"employer {ern} is the current employer: use a change of working hours"
        )


def _new_employer_terms(aims: list[Aim], changes: ChangeOfEmployer) -> str:
    """The residual price and the contract type agreed with the new employer, on ``aims`` (the
    open aims, or those restarted on the change date); what the reason says of them."""
    programme = next((aim for aim in aims if aim.AimType == PROGRAMME_AIM_TYPE), None)
    effective = changes.effective_date
    if programme is None:
        return ""
    price = (
        _record_residual_price(programme, changes.price, effective)
        if changes.price is not None
        else "; no residual price given: record TNP3/TNP4 once the new employer's price is agreed"
    )
    contract = (
        _record_contract_type(aims, changes.contract_type, effective)
        if changes.contract_type is not None
        else ""
    )
    return f"{price}{contract}"


def _record_residual_price(programme: Aim, price: ResidualPrice, effective: date) -> str:
    """TNP3/TNP4 from the change date [D31][P3]. A programme aim starting that day (restarted
    with the new employer) carries the residual price alone, dated its start (AFinType_13); once
    residual, every later price stays residual [C34]."""
    if programme.LearnStartDate == effective:
        programme.AppFinRecord = [r for r in programme.AppFinRecord if r.AFinType != "TNP"]
    programme.AppFinRecord.extend(
        FinRecord(AFinType="TNP", AFinCode=code, AFinDate=effective, AFinAmount=amount)
        for code, amount in (
            (RESIDUAL_TRAINING_PRICE, price.training),
            (RESIDUAL_ASSESSMENT_PRICE, price.assessment),
        )
    )
    return (
        f"; residual price TNP3 {price.training} (training) and TNP4 {price.assessment} "
        f"(assessment) from {effective} on aim {programme.AimSeqNumber}"
    )


def _record_contract_type(aims: list[Aim], contract_type: int, effective: date) -> str:
    """A new ACT only if the contract type changes: the current one ends the day before, the new
    one starts on the change date, no gap and no overlap [P3]. An aim starting that day (restarted
    with the new employer) simply starts with the new contract type. No ACT can start after the
    change date: the change is never dated before the aim's start or the latest status."""
    code, changes = str(contract_type), []
    for aim in aims:
        current = max(
            (f for f in aim.fams("ACT") if f.LearnDelFAMDateTo is None),
            key=lambda f: f.LearnDelFAMDateFrom or date.min,
            default=None,
        )
        if current is None or current.LearnDelFAMCode == code:
            continue
        changes.append(f"aim {aim.AimSeqNumber}: ACT {current.LearnDelFAMCode} -> {code}")
        if current.LearnDelFAMDateFrom == effective:
            current.LearnDelFAMCode = code
            continue
        current.LearnDelFAMDateTo = effective - timedelta(days=1)
        aim.LearningDeliveryFAM.append(
            Fam(LearnDelFAMType="ACT", LearnDelFAMCode=code, LearnDelFAMDateFrom=effective)
        )
    if not changes:
        return f"; the contract type stays ACT {code}"
    return (
        f"; contract type from {effective} ({', '.join(changes)}; the old ACT ends the day before)"
    )


def change_of_employment_status(
    record: Learner, changes: ChangeOfEmploymentStatus, _: IlrPolicy
) -> Outcome:
    """Out of paid employment: EmpStat 11/12, no EmpId, LOU and (redundancy) OET 1 [D31]."""
    effective, emp_stat = changes.effective_date, changes.employment_status
    current = _current_status(record, effective, on_break_allowed=True)
    if current.EmpStat == emp_stat:
        return unchanged(
            f"the ILR already records EmpStat {emp_stat} from {current.DateEmpStatApp}"
        )
    _one_status_per_date(current, effective)
    new = _out_of_work_status(record, changes)
    _add_status(record, new)
    unemployment = unemployment_on(record, effective)
    assert unemployment is not None  # the status just added is not in paid employment
    redundancy = "; OET 1 (made redundant)" if changes.made_redundant else ""
    return changed(
        f"new employment status from {effective}: EmpStat {emp_stat} ({EMP_STAT_TEXT[emp_stat]}), "
        f"no employer, LOU {new.esm_code('LOU')}{redundancy}; the previous status is kept and "
        f"the learning aims stay open: without an employer since {unemployment.since}, a new "
        f"employer is needed by {unemployment.deadline} (12 weeks), else record a break in "
        "learning or a withdrawal"
    )


def _out_of_work_status(record: Learner, changes: ChangeOfEmploymentStatus) -> EmploymentStatus:
    effective = changes.effective_date
    already = unemployment_on(record, effective)
    since = already.since if already is not None else effective
    monitoring = [Esm(ESMType="LOU", ESMCode=_length_of_unemployment(since, effective))]
    if changes.made_redundant:
        monitoring.append(Esm(ESMType="OET", ESMCode=MADE_REDUNDANT))
    return EmploymentStatus(
        EmpStat=changes.employment_status,
        DateEmpStatApp=effective,
        EmploymentStatusMonitoring=monitoring,
    )


def _length_of_unemployment(since: date, day: date) -> int:
    return next(
        band
        for months, band in LOU_BAND_FROM_MONTHS
        if months == 0 or since <= months_before(day, months)
    )


def change_of_working_hours(
    record: Learner, changes: ChangeOfWorkingHours, _: IlrPolicy
) -> Outcome:
    effective, hours = changes.effective_date, changes.weekly_hours
    current = _current_status(record, effective)
    if current.EmpStat != IN_PAID_EMPLOYMENT:
        return unchanged(f"learner not in paid employment (EmpStat {current.EmpStat})")
    band, old_band = normalise.eii_band(hours), current.esm_code("EII")
    if band == old_band:
        return unchanged(
            f"{hours:g} h/week keeps EII band {band} ({normalise.EII_BAND_TEXT[band]}); PHours "
            "never changes for a change of hours, so the ILR is not changed"
        )
    _one_status_per_date(current, effective)
    _add_status(record, _with_new_band(current, effective, band))
    return changed(
        f"new employment status from {effective}: same employer, EII {old_band} -> {band} "
        f"({normalise.EII_BAND_TEXT[band]}); PHours unchanged"
    )


def _current_status(
    record: Learner, effective: date, *, on_break_allowed: bool = False
) -> EmploymentStatus:
    """The status the change replaces; refuses dates before the programme or a later record."""
    aims = record.open_aims() or (record.aims_on_break() if on_break_allowed else [])
    if not aims:
        finished = "finished" if on_break_allowed else "on a break or finished"
        raise ChangeRejectedError(f"the learner is not in learning ({finished})")
    start = min(aim.LearnStartDate for aim in aims)
    if effective < start:
        raise ChangeRejectedError(
            f"effective_date {effective} is before the programme start {start}"
        )
    latest = record.latest_status()
    if latest is None:
        raise ChangeRejectedError("the ILR has no employment status record to change")
    if latest.DateEmpStatApp > effective:
        raise ChangeRejectedError(
            f"an employment status from {latest.DateEmpStatApp} is later than {effective}"
        )
    return latest


def _one_status_per_date(current: EmploymentStatus, effective: date) -> None:
    if current.DateEmpStatApp == effective:
        raise ChangeRejectedError(
            f"an employment status is already recorded on {effective}: the ILR allows one per date"
        )


def _with_new_band(current: EmploymentStatus, effective: date, band: int) -> EmploymentStatus:
    kept = [
        m.model_copy()
        for m in current.EmploymentStatusMonitoring
        if m.ESMType not in NOT_COPIED_TO_LATER_STATUS
    ]
    return current.model_copy(
        update={
            "DateEmpStatApp": effective,
            "EmploymentStatusMonitoring": [Esm(ESMType="EII", ESMCode=band), *kept],
        }
    )


def _add_status(record: Learner, status: EmploymentStatus) -> None:
    record.LearnerEmploymentStatus.append(status)
    record.LearnerEmploymentStatus.sort(key=lambda s: s.DateEmpStatApp)
