"""preview: what processing a tracker would do, with the working, before anyone processes it.

domain.md §7.3 items 3-4 ("show your working", dry-run diff). Each entry is
``{"value": ..., "working": "..."}``; ``ilr_outcome`` and ``ilr_patch`` are the dry run of the
same code :func:`apply_tracker` runs (:func:`ilrflow.ilr_engine.apply.change`), so the patch shown
is the patch the ILR service will publish (the QA-verification gate is the processor's, not shown).
``ilr_validation`` is the ESFA rule check of the record as processing would leave it, with the
errors it would introduce (``new_errors``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError

from ilrflow.contracts.trackers import (
    BreakInLearning,
    ChangeOfEmployer,
    ChangeOfEmploymentStatus,
    ChangeOfWorkingHours,
    Completion,
    Correction,
    EpaResult,
    RestartAfterWithdrawal,
    ReturnToLearning,
    Withdrawal,
)
from ilrflow.contracts.trackers.catalogue import CUSTOM_PREFIX
from ilrflow.contracts.trackers.programme import EPA_DAYS_AFTER_PRACTICAL_PERIOD
from ilrflow.ilr_engine import correction, funding, normalise, restart
from ilrflow.ilr_engine.apply import change, load_changes
from ilrflow.ilr_engine.completion import (
    awaiting_epa,
    days_in_learning_at_end,
    minimum_duration_at_end,
)
from ilrflow.ilr_engine.esfa_rules import validate
from ilrflow.ilr_engine.policy import ChangeRejectedError, IlrPolicy
from ilrflow.ilr_engine.programme import (
    days_in_learning_after_return,
    learning_spells,
    restart_planned_end,
    withdraw_reason_of,
)
from ilrflow.ilr_engine.records import Aim, IlrLearner, Learner, load
from ilrflow.ilr_engine.unemployment import Unemployment, funded_to_completion, unemployment_on

Entries = dict[str, Any]
EII_BAND_MOST_HOURS = {5: 10.0, 6: 20.0, 7: 30.0, 8: funding.FULL_TIME_HOURS}


def preview(
    record: IlrLearner,
    tracker_type: str,
    changes: Mapping[str, Any],
    policy: IlrPolicy,
    *,
    today: date,
    previous_weekly_hours: float | None = None,
) -> dict[str, Any]:
    """Computed values with their working, and the ILR change processing would make.

    ``changes`` is the tracker's canonical form; ``previous_weekly_hours`` (from the enrolment,
    not the request) lets a change of hours show its material impact and the OTJ before it;
    ``today`` is the day the preview is for (processing refuses an end date after it)."""
    try:
        learner = load(record)
    except ValidationError as error:
        return {"ilr_outcome": {"status": "rejected", "reason": f"invalid ILR record: {error}"}}
    entries, after = _dry_run(record, learner, tracker_type, changes, policy, today)
    entries["ilr_validation"] = _validation_change(record, after, policy, today)
    explain = _EXPLAINERS.get(tracker_type)
    if explain is not None:
        try:
            parsed = load_changes(tracker_type, changes, policy)
            entries.update(explain(learner, parsed, policy, previous_weekly_hours))
        except (ChangeRejectedError, KeyError, TypeError, ValueError) as error:
            entries["calculation_error"] = str(error)
    return entries


def _dry_run(
    record: IlrLearner,
    learner: Learner,
    tracker_type: str,
    changes: Mapping[str, Any],
    policy: IlrPolicy,
    today: date,
) -> tuple[Entries, IlrLearner]:
    """The dry run's outcome and patch, and the record as processing would leave it."""
    if tracker_type.startswith(CUSTOM_PREFIX):
        outcome = {"status": "no_ilr_change", "reason": "custom trackers change no ILR data"}
        return {"ilr_outcome": outcome, "ilr_patch": []}, record
    result = change(record, learner, tracker_type, changes, policy, today=today)
    outcome = {"status": result.status, "reason": result.reason}
    return {"ilr_outcome": outcome, "ilr_patch": result.patch}, result.record


def _validation_change(
    before: IlrLearner, after: IlrLearner, policy: IlrPolicy, today: date
) -> dict[str, Any]:
    """The check of ``after``, plus ``new_errors``: its errors ``before`` did not have (the same
    rule at the same place; processing only appends aims and statuses, so places are stable)."""
    table = policy.otj_minimum_by_standard
    known = {(f.rule, f.path) for f in validate(before, today=today, otj_minimums=table).errors}
    checked = validate(after, today=today, otj_minimums=table)
    new_errors = [f.as_json() for f in checked.errors if (f.rule, f.path) not in known]
    return {**checked.as_json(), "new_errors": new_errors}


def _current_programme(learner: Learner) -> Aim:
    aims = learner.open_aims() or learner.aims_on_break() or learner.LearningDelivery
    programme = learner.programme_aim(aims)
    if programme is None:
        raise ChangeRejectedError("the learner has no programme aim")
    return programme


def _rules(programme: Aim) -> tuple[funding.RuleSet, Entries]:
    start = programme.original_start
    rules = funding.RuleSet.for_start(start)
    source = "OrigLearnStartDate" if programme.OrigLearnStartDate else "LearnStartDate"
    working = f"{source} {start} (funding year {funding.funding_year(start)}) -> {rules.value}"
    return rules, {"funding_rules": {"value": rules.value, "working": working}}


def _hours_on(learner: Learner, day: date, given: float | None) -> tuple[float | None, str]:
    """Weekly hours: as given on the tracker, else the most the EII band on ``day`` allows."""
    if given is not None:
        return float(given), f"{given:g} h/week as given on the tracker"
    status = learner.status_on(day)
    band = status.esm_code("EII") if status else None
    if band not in EII_BAND_MOST_HOURS:
        return None, "weekly hours unknown (no EII band)"
    hours = EII_BAND_MOST_HOURS[band]
    return hours, f"EII band {band} ({normalise.EII_BAND_TEXT[band]}), taken as {hours:g} h/week"


def _break(learner: Learner, changes: BreakInLearning, _: IlrPolicy, __: float | None) -> Entries:
    programme = _current_programme(learner)
    last_day = changes.last_day_of_learning
    before = funding.days_in_learning(learning_spells(learner, programme, last_day))
    remaining = (programme.LearnPlanEndDate - last_day).days
    entries: Entries = {
        "days_in_learning_before_break": before.as_json(),
        "days_remaining": {
            "value": remaining,
            "working": f"{programme.LearnPlanEndDate} - {last_day} = {remaining} days",
        },
    }
    expected = changes.expected_return_date
    estimate = funding.default_planned_end_date(expected, last_day, programme.LearnPlanEndDate)
    entries["expected_new_planned_end_date"] = estimate.as_json()
    return entries


def _return(
    learner: Learner, changes: ReturnToLearning, policy: IlrPolicy, previous: float | None
) -> Entries:
    programme = _current_programme(learner)
    rules, entries = _rules(programme)
    return_date, override = changes.return_date, changes.planned_end_date
    new_end = restart_planned_end(learner, programme, return_date, override)
    entries["new_planned_end_date"] = new_end.as_json()
    end = date.fromisoformat(str(new_end.value))
    in_learning = days_in_learning_after_return(learner, programme, return_date, end)
    days = int(str(in_learning.value))
    entries["days_in_learning"] = in_learning.as_json()
    hours, hours_text = _hours_on(learner, return_date, previous)
    entries["minimum_duration_days"] = funding.minimum_duration_days(rules, hours).as_json()
    periods = [funding.HoursPeriod(days, hours or funding.FULL_TIME_HOURS)]
    entries.update(_otj_against_plan(programme, rules, periods, hours_text, policy))
    return entries


def _otj_against_plan(
    programme: Aim,
    rules: funding.RuleSet,
    periods: list[funding.HoursPeriod],
    hours_text: str,
    policy: IlrPolicy,
) -> Entries:
    minimum = funding.minimum_otj_hours(
        periods, rules, programme.StdCode, policy.otj_minimum_by_standard
    )
    return {
        "minimum_otj_hours": {
            "value": minimum.value,
            "working": f"{hours_text}; {minimum.working}",
        },
        "planned_otj_meets_minimum": _meets_minimum(programme.PHours, minimum),
    }


def _meets_minimum(planned: int | None, minimum: funding.Computed) -> dict[str, Any]:
    """True or False against a known minimum; None (unknown) when the minimum is unknown."""
    if minimum.value is None:
        return {"value": None, "working": f"PHours {planned}; {minimum.working}"}
    enough = planned is not None and planned >= int(str(minimum.value))
    return {"value": enough, "working": f"PHours {planned} vs minimum {minimum.value}"}


def _hours_change(
    learner: Learner,
    changes: ChangeOfEmployer | ChangeOfWorkingHours,
    policy: IlrPolicy,
    previous: float | None,
) -> Entries:
    programme = _current_programme(learner)
    rules, entries = _rules(programme)
    effective, new_hours = changes.effective_date, changes.weekly_hours
    old_hours, old_text = _hours_on(learner, effective, previous)
    entries["eii_band"] = _eii_change(learner, effective, new_hours)
    entries["material_impact"] = _material_impact(previous or None, new_hours, policy)
    entries.update(
        _otj_by_period(programme, rules, effective, old_hours, new_hours, old_text, policy)
    )
    return entries


def _eii_change(learner: Learner, effective: date, new_hours: float) -> dict[str, Any]:
    status = learner.status_on(effective)
    old = status.esm_code("EII") if status else None
    new = normalise.eii_band(new_hours)
    return {
        "value": {"from": old, "to": new, "changes": old != new},
        "working": f"{new_hours:g} h/week is EII {new} ({normalise.EII_BAND_TEXT[new]}); "
        f"the current record has EII {old}",
    }


def _material_impact(old: float | None, new: float, policy: IlrPolicy) -> dict[str, Any]:
    threshold = policy.material_impact_threshold_percent
    if not old:
        return {
            "value": None,
            "working": "previous weekly hours unknown: give previous_weekly_hours",
        }
    percent = abs(new - old) / old * 100
    material = percent >= threshold
    verdict = ">=" if material else "<"
    return {
        "value": material,
        "working": f"|{new:g} - {old:g}| / {old:g} = {percent:.1f}% {verdict} threshold {threshold}%",
    }


def _otj_by_period(
    programme: Aim,
    rules: funding.RuleSet,
    effective: date,
    old_hours: float | None,
    new_hours: float,
    old_text: str,
    policy: IlrPolicy,
) -> Entries:
    """Minimum OTJ before and after: the first period on the old hours, the rest on the new (§4.4)."""
    if old_hours is None:
        return {}
    start, end = programme.LearnStartDate, programme.LearnPlanEndDate
    before = max((effective - start).days, 0)
    after = max((end - effective).days, 0)
    unchanged_plan = [funding.HoursPeriod(before + after, old_hours)]
    split = [
        p
        for p in (funding.HoursPeriod(before, old_hours), funding.HoursPeriod(after, new_hours))
        if p.days
    ]
    table = policy.otj_minimum_by_standard
    old_minimum = funding.minimum_otj_hours(unchanged_plan, rules, programme.StdCode, table)
    new_minimum = funding.minimum_otj_hours(split, rules, programme.StdCode, table)
    return {
        "minimum_otj_hours_before_change": {
            "value": old_minimum.value,
            "working": f"{old_text}; {old_minimum.working}",
        },
        "minimum_otj_hours": new_minimum.as_json(),
    }


def _withdrawal(
    learner: Learner, changes: Withdrawal, policy: IlrPolicy, _: float | None
) -> Entries:
    reason = changes.reason
    code = withdraw_reason_of(changes, policy)
    mapped = reason in policy.withdrawal_reason_map
    how = f"tenant reason {reason!r} maps to" if mapped else "ESFA code"
    return {"withdraw_reason": {"value": code, "working": f"{how} WithdrawReason {code}"}}


def _correction(learner: Learner, changes: Correction, _: IlrPolicy, __: float | None) -> Entries:
    """Before -> after of each ILR field corrected; the ESFA rules the new values would break
    are in ``ilr_validation.new_errors``."""
    corrected = correction.before_and_after(learner, changes)
    working = "; ".join(f"{f} {v['before']} -> {v['after']}" for f, v in corrected.items())
    return {
        "corrected_ilr_fields": {
            "value": {
                f: {k: _json(v) for k, v in values.items()} for f, values in corrected.items()
            },
            "working": working or "no ILR field changes",
        }
    }


def _completion(
    learner: Learner, changes: Completion, policy: IlrPolicy, _: float | None
) -> Entries:
    """Days in learning against the minimum duration (DateOfBirth_58 checks the actual duration at
    CompStatus 2), and the actual OTJ hours against PHours and the minimum for the time in
    training (2023/24 P69)."""
    programme = _current_programme(learner)
    rules, entries = _rules(programme)
    end, actual = changes.practical_period_end, changes.otj_actual_hours
    in_learning = days_in_learning_at_end(learner, programme, end)
    days = int(str(in_learning.value))
    entries["days_in_learning"] = in_learning.as_json()
    entries["minimum_duration_days"] = minimum_duration_at_end(programme).as_json()
    entries["otj_actual_meets_planned"] = _actual_against_planned(actual, programme.PHours)
    hours, hours_text = _hours_on(learner, end, None)
    periods = [funding.HoursPeriod(days, hours or funding.FULL_TIME_HOURS)]
    minimum = funding.minimum_otj_hours(
        periods, rules, programme.StdCode, policy.otj_minimum_by_standard
    )
    entries["minimum_otj_hours"] = {
        "value": minimum.value,
        "working": f"{hours_text}; {minimum.working}",
    }
    entries["otj_actual_meets_minimum"] = _actual_against_minimum(actual, minimum)
    return entries


def _actual_against_planned(actual: int, planned: int | None) -> dict[str, Any]:
    if planned is None:
        return {"value": None, "working": f"OTJActHours {actual}; no PHours recorded"}
    if actual >= planned:
        return {"value": True, "working": f"OTJActHours {actual} >= PHours {planned}"}
    return {
        "value": False,
        "working": f"warning: OTJActHours {actual} < PHours {planned}: the funding rules (P56) "
        "want a statement signed by the employer and the apprentice saying why",
    }


def _actual_against_minimum(actual: int, minimum: funding.Computed) -> dict[str, Any]:
    if minimum.value is None:
        return {"value": None, "working": f"OTJActHours {actual}; {minimum.working}"}
    enough = actual >= int(str(minimum.value))
    return {"value": enough, "working": f"OTJActHours {actual} vs minimum {minimum.value}"}


def _epa_result(learner: Learner, _: EpaResult, __: IlrPolicy, ___: float | None) -> Entries:
    programme = awaiting_epa(learner)
    ended = programme.LearnActEndDate or programme.LearnStartDate
    earliest = ended + timedelta(days=EPA_DAYS_AFTER_PRACTICAL_PERIOD)
    return {
        "earliest_achievement_date": {
            "value": earliest.isoformat(),
            "working": f"AchDate_11: the end of the practical period {ended} + "
            f"{EPA_DAYS_AFTER_PRACTICAL_PERIOD} days",
        }
    }


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _restart(
    learner: Learner, changes: RestartAfterWithdrawal, policy: IlrPolicy, _: float | None
) -> Entries:
    """The new start's rules, its planned duration against their minimum, and PHours against the
    minimum OTJ: a restart after a withdrawal counts from the new start."""
    withdrawn = restart.withdrawn_programme(learner)
    start = changes.restart_date
    rules = funding.RuleSet.for_start(start)
    planned = restart.planned_duration(changes)
    hours, hours_text = _hours_on(learner, start, None)
    periods = [funding.HoursPeriod(int(str(planned.value)), hours or funding.FULL_TIME_HOURS)]
    standard = changes.standard_code or withdrawn.StdCode
    table = policy.otj_minimum_by_standard
    minimum = funding.minimum_otj_hours(periods, rules, standard, table)
    return {
        "funding_rules": {
            "value": rules.value,
            "working": f"restart_date {start} (funding year {funding.funding_year(start)}) -> "
            f"{rules.value}: a restart after a withdrawal has no OrigLearnStartDate",
        },
        "planned_duration_days": planned.as_json(),
        "minimum_duration_days": restart.restart_minimum_duration(learner, changes).as_json(),
        "minimum_otj_hours": {
            "value": minimum.value,
            "working": f"{hours_text}; {minimum.working}",
        },
        "planned_otj_meets_minimum": _meets_minimum(changes.planned_otj_hours, minimum),
    }


def _out_of_work(
    learner: Learner, changes: ChangeOfEmploymentStatus, _: IlrPolicy, __: float | None
) -> Entries:
    """The 12 weeks allowed to find a new employer, counted from the start of the time without
    one (an earlier EmpStat 11/12 status continues it), and whether a redundancy is funded to
    completion instead. On the day they end, the ILR check's NoEmployer_12_weeks warns."""
    effective = changes.effective_date
    already = unemployment_on(learner, effective)
    unemployment = Unemployment(
        already.since if already else effective,
        changes.made_redundant or (already is not None and already.redundancy),
    )
    entries: Entries = {
        "twelve_week_deadline": {
            "value": unemployment.deadline.isoformat(),
            "working": f"without an employer from {unemployment.since} + 12 weeks = "
            f"{unemployment.deadline}; still without one after that, record a break in learning "
            "or a withdrawal",
        }
    }
    if unemployment.redundancy:
        funded = funded_to_completion(learner, _current_programme(learner), unemployment)
        entries["funded_to_completion"] = funded.as_json()
    return entries


_EXPLAINERS: dict[str, Callable[[Learner, Any, IlrPolicy, float | None], Entries]] = {
    "break_in_learning": _break,
    "return_to_learning": _return,
    "change_of_employer": _hours_change,
    "change_of_working_hours": _hours_change,
    "withdrawal": _withdrawal,
    "correction": _correction,
    "completion": _completion,
    "epa_result": _epa_result,
    "restart_after_withdrawal": _restart,
    "change_of_employment_status": _out_of_work,
}
