"""apply_tracker: one processed tracker -> applied / no_ilr_change / rejected, with a JSON Patch.

Order of the checks: custom trackers change nothing; a QA-verified ILR refuses programme changes
unless the processor has the ILR QA role [A1]; then the type's rule runs (:func:`change`, which
the tracker preview's dry run calls too). Bad input never raises: it comes back as ``rejected``
with the reason. A tracker delivered twice is the caller's to notice, by the event id (the ILR
service's idempotency); the engine keeps no record of what it applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError

from ilrflow.contracts.trackers import ChangesInvalid, read_changes
from ilrflow.contracts.trackers.catalogue import CUSTOM_PREFIX, TRACKER_TYPES
from ilrflow.ilr_engine import completion, correction, details, employment, programme, restart
from ilrflow.ilr_engine.normalise import InvalidFieldError
from ilrflow.ilr_engine.policy import (
    ApplyResult,
    ChangeRejectedError,
    IlrPolicy,
    Outcome,
    TrackerApplication,
)
from ilrflow.ilr_engine.records import IlrLearner, Learner, dump, load, published_patch

# Each rule takes its type's changes model (ilrflow.contracts.trackers), loaded by _run_rule().
Rule = Callable[[Learner, Any, IlrPolicy], Outcome]

RULES: dict[str, Rule] = {
    "change_of_name": details.change_of_name,
    "change_of_address": details.change_of_address,
    "change_of_contact_details": details.change_of_contact_details,
    "break_in_learning": programme.break_in_learning,
    "return_to_learning": programme.return_to_learning,
    "change_of_programme": programme.change_of_programme,
    "withdrawal": programme.withdrawal,
    "change_of_employer": employment.change_of_employer,
    "change_of_working_hours": employment.change_of_working_hours,
    "correction": correction.correction,
    "completion": completion.completion,
    "epa_result": completion.epa_result,
    "restart_after_withdrawal": restart.restart_after_withdrawal,
    "change_of_employment_status": employment.change_of_employment_status,
}

ILR_QA_ROLE = "ilr_qa"


def apply_tracker(record: IlrLearner, application: TrackerApplication) -> ApplyResult:
    """The record after ``application`` and its published patch; ``record`` is never modified."""
    try:
        learner = load(record)
    except ValidationError as error:
        return _unchanged(
            record, Outcome("rejected", f"the stored ILR record is not valid: {error}")
        )
    refused = _gate(application)
    if refused is not None:
        return _unchanged(record, refused)
    changes, policy = application.changes, application.policy
    return change(
        record, learner, application.tracker_type, changes, policy, today=application.today
    )


def change(
    record: IlrLearner,
    learner: Learner,
    tracker_type: str,
    changes: Mapping[str, Any],
    policy: IlrPolicy,
    *,
    today: date,
) -> ApplyResult:
    """Run the type's rule on a copy of ``learner`` (loaded from ``record``): the outcome, the new
    record and the patch between the published forms (:func:`published_patch`), or the record
    as it was and no patch. What apply_tracker applies and what the tracker preview shows."""
    after = learner.model_copy(deep=True)  # the one copy: ``learner`` stays as it was
    outcome = _run_rule(after, tracker_type, changes, policy)
    if outcome.status == "applied":
        outcome = _no_end_in_the_future(learner, after, today) or outcome
    if outcome.status == "applied" and after == learner:
        outcome = Outcome("no_ilr_change", f"nothing to change in the ILR: {outcome.reason}")
    if outcome.status != "applied":
        return _unchanged(record, outcome)
    new_record = dump(after)
    return ApplyResult("applied", outcome.reason, new_record, published_patch(record, new_record))


def _run_rule(
    learner: Learner, tracker_type: str, changes: Mapping[str, Any], policy: IlrPolicy
) -> Outcome:
    """Run a type's rule on ``learner`` (which it edits in place) and never raise. ``changes`` is
    the published form; it is loaded with the model the tracker service validated it with."""
    rule = RULES.get(tracker_type)
    if rule is None:
        return Outcome("rejected", f"unknown tracker type {tracker_type!r}")
    try:
        outcome = rule(learner, load_changes(tracker_type, changes, policy), policy)
    except (ChangesInvalid, ChangeRejectedError, InvalidFieldError) as error:
        return Outcome("rejected", str(error))
    except (KeyError, TypeError, ValueError) as error:
        return Outcome("rejected", f"the change is malformed: {error!r}")
    return outcome


def load_changes(tracker_type: str, changes: Mapping[str, Any], policy: IlrPolicy) -> Any:
    """The type's changes model; a tenant reason for a withdrawal is read through the policy's
    map when it has one (a published payload carries the ESFA code, so the ILR service has none)."""
    reasons = policy.withdrawal_reason_map or None
    return read_changes(tracker_type, changes, withdrawal_reasons=reasons)


def _no_end_in_the_future(before: Learner, after: Learner, today: date) -> Outcome | None:
    """LearnActEndDate_04: an aim cannot have ended after the day it is recorded. A break or
    withdrawal agreed in advance is processed on (or after) the learner's last day."""
    already = {(a.AimSeqNumber, a.LearnActEndDate) for a in before.LearningDelivery}
    for aim in after.LearningDelivery:
        end = aim.LearnActEndDate
        if end is not None and end > today and (aim.AimSeqNumber, end) not in already:
            return Outcome(
                "rejected",
                f"LearnActEndDate_04: the last day of learning {end} is after today ({today}); "
                "process the tracker on or after that day",
            )
    return _no_achievement_in_the_future(before, after, today)


def _no_achievement_in_the_future(before: Learner, after: Learner, today: date) -> Outcome | None:
    """An achievement is recorded once the end-point assessment has happened, as an end date."""
    already = {(a.AimSeqNumber, a.AchDate) for a in before.LearningDelivery}
    for aim in after.LearningDelivery:
        achieved = aim.AchDate
        if (
            achieved is not None
            and achieved > today
            and (aim.AimSeqNumber, achieved) not in already
        ):
            return Outcome(
                "rejected",
                f"the achievement date {achieved} is after today ({today}); process the tracker "
                "on or after that day",
            )
    return None


def _gate(application: TrackerApplication) -> Outcome | None:
    kind = application.tracker_type
    if application.custom or kind.startswith(CUSTOM_PREFIX):
        return Outcome("no_ilr_change", "custom trackers change no ILR data")
    if (
        application.qa_verified
        and ILR_QA_ROLE not in application.processor_roles
        and _qa_locked(kind, application.changes)
    ):
        return Outcome(
            "rejected",
            f"the ILR is QA-verified: only a processor with the ILR QA role may process this "
            f"{kind}",
        )
    return None


def _qa_locked(tracker_type: str, changes: Mapping[str, Any]) -> bool:
    """The catalogue's rule, the one the tracker service refuses processing by: programme
    changes, and corrections of ILR fields (``TrackerTypeInfo.qa_locked``)."""
    info = TRACKER_TYPES.get(tracker_type)
    return info is not None and info.qa_locked(changes)


def _unchanged(record: IlrLearner, outcome: Outcome) -> ApplyResult:
    return ApplyResult(outcome.status, outcome.reason, record, [])
