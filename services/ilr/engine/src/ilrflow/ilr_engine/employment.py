"""Employment changes: change of employer, change of working hours.

domain.md §3.4 (LearnerEmploymentStatus, one record per date, EII, OET 3), §3.7 (employer: a new
status record and no change to the aims; hours: PHours never changes, a new status record only
when an ESM value such as the EII band changes), §4.4 (material impact, shown by the preview).
"""

from __future__ import annotations

from datetime import date

from ilrflow.contracts.trackers import ChangeOfEmployer, ChangeOfWorkingHours
from ilrflow.ilr_engine import normalise
from ilrflow.ilr_engine.enrolment import employment_status
from ilrflow.ilr_engine.policy import (
    ChangeRejectedError,
    IlrPolicy,
    Outcome,
    changed,
    unchanged,
)
from ilrflow.ilr_engine.records import EmploymentStatus, Esm, Learner

IN_PAID_EMPLOYMENT = 10
# LOE 1 "up to 3 months": on its first day the learner has just joined the new employer. Every
# in-paid-employment status up to a later programme start (a return from a break) needs an LOE
# (ESMType_09); the code list is domain.md §3.4's, still to be checked against the 2025/26 spec.
NEW_EMPLOYMENT_LOE = 1
NOT_COPIED_TO_LATER_STATUS = frozenset({"EII", "OET"})  # OET 3 only on the change itself [D12]


def change_of_employer(record: Learner, changes: ChangeOfEmployer, _: IlrPolicy) -> Outcome:
    effective, ern, hours = changes.effective_date, changes.employer.ern, changes.weekly_hours
    if changes.employment_status != IN_PAID_EMPLOYMENT:
        return unchanged(
            f"learner not in paid employment (EmpStat {changes.employment_status}): the change "
            "of employer is "
            "kept on the tracker but the ILR is not changed"
        )
    current = _current_status(record, effective)
    new = employment_status(
        effective,
        normalise.emp_id(ern),
        hours,
        employer_changed=True,
        length_of_employment=NEW_EMPLOYMENT_LOE,
    )
    if current.DateEmpStatApp == effective and current == new:
        return unchanged(f"the ILR already records this employer from {effective}")
    _one_status_per_date(current, effective)
    if new.EmpId == current.EmpId and new.EmpId != normalise.EMPLOYER_NOT_ON_EDS:
        raise ChangeRejectedError(
            f"employer {ern} is the current employer: use a change of working hours"
        )
    _add_status(record, new)
    band = normalise.eii_band(hours)
    return changed(
        f"new employment status from {effective}: EmpStat 10, EmpId {new.EmpId}, EII {band} "
        f"({normalise.EII_BAND_TEXT[band]}), LOE 1, OET 3 (employer has changed); the previous status "
        "is kept and the learning aims are unchanged; record TNP3/TNP4 residual prices once the "
        "new employer's price is agreed"
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


def _current_status(record: Learner, effective: date) -> EmploymentStatus:
    """The status the change replaces; refuses dates before the programme or a later record."""
    open_aims = record.open_aims()
    if not open_aims:
        raise ChangeRejectedError("the learner is not in learning (on a break or finished)")
    start = min(aim.LearnStartDate for aim in open_aims)
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
