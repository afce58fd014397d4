"""Who may do what to which tracker, and who gets it: the tenant policy applied to an actor.

Every check returns a :class:`Decision`; a refusal carries a ``code`` and a ``reason`` a person
can read. :func:`refusal` turns a refused decision into the domain error it is: ``not_visible``
is "not found" (a caller never learns the learner exists), ``unknown_type`` is invalid input, the
rest are :class:`Refused` (forbidden).

Who may read a tracker is the one rule every service uses (``ilrflow.contracts.visibility``): a
learner reads their own, staff the learners of their groups, admins the whole tenant (unless the
tenant's ``admins_see_all_groups`` is off), support, operators and ILR QA the whole tenant, and
whoever raised a tracker reads it. Acting (raise, edit, process) needs the learner in the actor's
narrower scope (``visibility.in_scope``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ilrflow.contracts.errors import DomainError, FieldProblem, Forbidden, InvalidInput, NotFound
from ilrflow.contracts.visibility import in_scope, may_read_tracker
from ilrflow.contracts.visibility import reads_whole_tenant as visibility_reads_whole_tenant
from ilrflow.tracker.domain.actors import Actor, StaffLike
from ilrflow.tracker.domain.policy import TenantTrackerSettings, Verb

RefusalCode = Literal[
    "not_visible",
    "unknown_type",
    "type_disabled",
    "forbidden",
    "two_person_control",
    "qa_locked",
    "closed",
]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    code: RefusalCode | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def raise_if_refused(self) -> None:
        if not self.allowed:
            raise refusal(self)


class Refused(Forbidden):
    """The actor may not do this; ``code`` says which rule said no."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.reason = decision.reason
        super().__init__(decision.reason, code=decision.code or "forbidden")


def refusal(decision: Decision) -> DomainError:
    """The error a refused decision raises."""
    if decision.code == "not_visible":
        return NotFound("Not found here.")
    if decision.code == "unknown_type":
        # An unknown type is a fault in the request, so it names the field like any other.
        problem = FieldProblem(field="type", reason=decision.reason)
        return InvalidInput(decision.reason, [problem], code="unknown_type")
    return Refused(decision)


ALLOWED = Decision(True)


def refuse(code: RefusalCode, reason: str) -> Decision:
    return Decision(False, reason, code)


class TrackerFacts(Protocol):
    """What the checks need of a tracker (the aggregate has all of it)."""

    @property
    def tracker_type(self) -> str: ...

    @property
    def learner_id(self) -> str: ...

    @property
    def learner_group(self) -> str | None: ...

    @property
    def raised_by(self) -> str: ...

    @property
    def changes(self) -> Mapping[str, Any]: ...


# --- visibility ------------------------------------------------------------------------------


def may_see_learner(
    settings: TenantTrackerSettings, actor: Actor, learner_id: str, learner_group: str | None
) -> Decision:
    """Is the learner in the scope the actor acts in (``visibility.in_scope``)?"""
    narrowed = settings.admins_see_all_groups
    if in_scope(
        actor.id,
        actor.roles,
        actor.groups,
        learner_id,
        learner_group,
        admins_see_all_groups=narrowed,
    ):
        return ALLOWED
    return refuse("not_visible", "the learner is not in any of your groups")


def reads_whole_tenant(settings: TenantTrackerSettings, actor: Actor) -> bool:
    """May the actor read every tracker of the tenant (listings, and each one)?"""
    return visibility_reads_whole_tenant(
        actor.roles, admins_see_all_groups=settings.admins_see_all_groups
    )


def may_see_tracker(
    settings: TenantTrackerSettings, actor: Actor, tracker: TrackerFacts
) -> Decision:
    if may_read_tracker(
        actor.id,
        actor.roles,
        actor.groups,
        tracker.learner_id,
        tracker.learner_group,
        tracker.raised_by,
        admins_see_all_groups=settings.admins_see_all_groups,
    ):
        return ALLOWED
    return refuse("not_visible", "the learner is not in any of your groups")


# --- the three verbs ---------------------------------------------------------------------------


def may_raise(
    settings: TenantTrackerSettings,
    actor: Actor,
    tracker_type: str,
    learner_group: str | None,
    on_behalf: bool,
    *,
    learner_id: str | None = None,
) -> Decision:
    """May ``actor`` raise this type for the learner? ``learner_id`` defaults to the actor
    (a learner raising their own request); staff calls should pass it."""
    type_check = _type_available(settings, tracker_type)
    if not type_check:
        return type_check
    seen = _may_act_for(settings, actor, learner_id or actor.id, learner_group, "raise")
    if not seen:
        return seen
    if on_behalf and not actor.is_staff:
        return refuse("forbidden", "only staff may raise a request on a learner's behalf")
    return _has_role_for(settings, actor, tracker_type, "raise")


def may_raise_type(settings: TenantTrackerSettings, actor: Actor, tracker_type: str) -> Decision:
    """May ``actor`` raise this type for anybody at all (it is on, and their role may)? A bulk
    raise asks this of the whole request; each learner is checked with :func:`may_raise`."""
    type_check = _type_available(settings, tracker_type)
    return type_check if not type_check else _has_role_for(settings, actor, tracker_type, "raise")


def may_edit(settings: TenantTrackerSettings, actor: Actor, tracker: TrackerFacts) -> Decision:
    return _may_act(settings, actor, tracker, "edit")


def may_process(settings: TenantTrackerSettings, actor: Actor, tracker: TrackerFacts) -> Decision:
    """Process permission, group scope and, if the tenant asks for it, two-person control.

    The ILR QA lock needs the learner's ILR state; check it with :func:`check_qa_lock`.
    """
    decision = _may_act(settings, actor, tracker, "process")
    if decision and settings.two_person_control and actor.id == tracker.raised_by:
        return refuse(
            "two_person_control",
            "this tenant requires two people: whoever raised a tracker may not process it",
        )
    return decision


def may_reject(settings: TenantTrackerSettings, actor: Actor, tracker: TrackerFacts) -> Decision:
    """Rejecting needs process permission; two-person control does not apply, because turning
    down one's own request changes nothing."""
    return _may_act(settings, actor, tracker, "process")


def may_cancel(settings: TenantTrackerSettings, actor: Actor, tracker: TrackerFacts) -> Decision:
    if actor.id == tracker.raised_by:
        return ALLOWED
    seen = may_see_tracker(settings, actor, tracker)
    if not seen:
        return seen
    if actor.has_role("admin"):
        return ALLOWED
    return refuse("forbidden", "only whoever raised the tracker or an admin may cancel it")


def may_allocate(settings: TenantTrackerSettings, actor: Actor, tracker: TrackerFacts) -> Decision:
    """Admins and anyone who may process the type may (re-)allocate it."""
    seen = may_see_tracker(settings, actor, tracker)
    if not seen or actor.has_role("admin"):
        return seen
    return _has_role_for(settings, actor, tracker.tracker_type, "process")


def check_qa_lock(
    settings: TenantTrackerSettings,
    tracker_type: str,
    processor: Actor,
    ilr_qa_verified: bool,
    *,
    changes: Mapping[str, Any],
) -> Decision:
    """Once the ILR is QA-verified, programme changes and corrections of ILR fields need the
    ``ilr_qa`` role (the catalogue's ``qa_locked``, which the ILR engine applies too)."""
    info = settings.type_info(tracker_type)
    if not ilr_qa_verified or info is None or not info.qa_locked(changes):
        return ALLOWED
    if processor.has_role("ilr_qa"):
        return ALLOWED
    return refuse(
        "qa_locked",
        f"the learner's ILR is QA-verified: processing a {tracker_type} needs the ilr_qa role",
    )


# --- allocation ------------------------------------------------------------------------------


def allocate(
    settings: TenantTrackerSettings, learner_group: str | None, tracker_type: str | None = None
) -> str | None:
    """The admin the tenant's rules name for this learner group, or None for the shared pool."""
    for rule in settings.allocation_rules:
        if rule.matches(learner_group, tracker_type):
            return rule.admin_id
    return None


def may_be_allocated(
    settings: TenantTrackerSettings,
    staff: Actor,
    tracker: TrackerFacts,
    *,
    ilr_qa_verified: bool = False,
) -> Decision:
    """Could this staff member process the tracker (the test for an allocation target)?"""
    decision = may_process(settings, staff, tracker)
    if not decision:
        return decision
    return check_qa_lock(
        settings, tracker.tracker_type, staff, ilr_qa_verified, changes=tracker.changes
    )


def candidate_processors(
    settings: TenantTrackerSettings,
    staff_directory: Iterable[StaffLike],
    tracker_type: str,
    learner_group: str | None,
    *,
    changes: Mapping[str, Any],
    learner_id: str = "",
    raised_by: str = "",
    ilr_qa_verified: bool = False,
) -> list[str]:
    """Ids of the staff who may process such a tracker, sorted: the people to tell when a
    tracker lands in the unallocated pool."""
    facts = _Facts(tracker_type, learner_id, learner_group, raised_by, dict(changes))
    return sorted(
        {
            staff.id
            for staff in staff_directory
            if may_be_allocated(
                settings, Actor.from_staff(staff), facts, ilr_qa_verified=ilr_qa_verified
            )
        }
    )


# --- helpers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    tracker_type: str
    learner_id: str
    learner_group: str | None
    raised_by: str
    changes: dict[str, Any]


def _type_available(settings: TenantTrackerSettings, tracker_type: str) -> Decision:
    if settings.type_info(tracker_type) is None:
        return refuse("unknown_type", f"there is no tracker type {tracker_type!r}")
    if not settings.is_enabled(tracker_type):
        return refuse("type_disabled", f"{tracker_type} is not enabled for this organisation")
    return ALLOWED


def _has_role_for(
    settings: TenantTrackerSettings, actor: Actor, tracker_type: str, verb: Verb
) -> Decision:
    roles = settings.roles_for(tracker_type, verb)
    if actor.has_any(roles):
        return ALLOWED
    needed = ", ".join(sorted(roles)) or "nobody"
    return refuse("forbidden", f"to {verb} a {tracker_type} tracker you need one of: {needed}")


def _may_act(
    settings: TenantTrackerSettings, actor: Actor, tracker: TrackerFacts, verb: Verb
) -> Decision:
    """Edit and process: the actor must see the learner and hold a role for the verb.

    Turning a type off stops new requests only; trackers already raised can still be finished.
    """
    seen = _may_act_for(settings, actor, tracker.learner_id, tracker.learner_group, verb)
    if not seen:
        return seen
    return _has_role_for(settings, actor, tracker.tracker_type, verb)


def _may_act_for(
    settings: TenantTrackerSettings,
    actor: Actor,
    learner_id: str,
    learner_group: str | None,
    verb: Verb,
) -> Decision:
    """Acting needs the learner in the actor's scope. Someone who reads the whole tenant but
    acts only in their groups is refused (403), not told the learner is not there (404)."""
    seen = may_see_learner(settings, actor, learner_id, learner_group)
    if not seen and reads_whole_tenant(settings, actor):
        return refuse("forbidden", f"the learner is not in any of your groups: you may not {verb}")
    return seen
