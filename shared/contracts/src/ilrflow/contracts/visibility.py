"""Who may read what: the one rule for a learner, their trackers, their ILR and the audit log.

Every service decides reading with these functions, so whoever may read a learner may read that
learner's trackers and ILR in every service (``tests/e2e/test_security_matrix.py`` checks the
five services against one table, and writes ``docs/security-matrix.md`` from it).

- A learner reads only themselves.
- Tutors read the learners of their groups.
- Admins read the whole tenant; a tenant may narrow admins to their groups with the tracker
  setting ``admins_see_all_groups`` (off), which the tracker service passes in. The learner and
  ILR services hold no such setting and use the default.
- Support, operators and ILR QA read the whole tenant: they answer "who changed what" and check
  returns, whichever group the learner is in.
- Whoever raised a tracker reads it.
- An API client (role ``integrator``) reads the whole tenant, but only through the routes its
  token's scopes open (``ilr:read``: the ILR); every other route refuses it.
- The audit log is read by support, admins and operators, and verified by support and operators.

Reading is wider than acting: :func:`in_scope` is the narrower scope in which staff may act
(raise, edit, process), which each service applies with its own rules.
"""

from __future__ import annotations

from collections.abc import Collection

from ilrflow.contracts.identity import STAFF_ROLES

WHOLE_TENANT_READERS = frozenset({"support", "operator", "ilr_qa", "integrator"})
AUDIT_READERS: tuple[str, ...] = ("support", "admin", "operator")
AUDIT_VERIFIERS: tuple[str, ...] = ("support", "operator")
AUDIT_CHECKPOINT_SIGNERS: tuple[str, ...] = ("operator",)


def is_staff(roles: Collection[str]) -> bool:
    return not STAFF_ROLES.isdisjoint(roles)


def admin_reads_all(roles: Collection[str], admins_see_all_groups: bool) -> bool:
    return "admin" in roles and admins_see_all_groups


def reads_whole_tenant(roles: Collection[str], *, admins_see_all_groups: bool = True) -> bool:
    """May someone with ``roles`` read every learner, tracker and ILR of the tenant?"""
    return admin_reads_all(roles, admins_see_all_groups) or not WHOLE_TENANT_READERS.isdisjoint(
        roles
    )


def visible_groups(
    roles: Collection[str], groups: Collection[str], *, admins_see_all_groups: bool = True
) -> frozenset[str] | None:
    """The groups a member of staff reads; None means every group."""
    if reads_whole_tenant(roles, admins_see_all_groups=admins_see_all_groups):
        return None
    return frozenset(groups)


def in_scope(
    reader_id: str,
    roles: Collection[str],
    groups: Collection[str],
    learner_id: str,
    learner_group: str | None,
    *,
    admins_see_all_groups: bool = True,
) -> bool:
    """Is the learner in the scope someone acts in: themselves, or (staff) a learner of their
    groups, or (admins, unless narrowed) any learner."""
    if reader_id == learner_id:
        return True
    if not is_staff(roles):
        return False
    if admin_reads_all(roles, admins_see_all_groups):
        return True
    return learner_group is not None and learner_group in groups


def may_read_learner(
    reader_id: str,
    roles: Collection[str],
    groups: Collection[str],
    learner_id: str,
    learner_group: str | None,
    *,
    admins_see_all_groups: bool = True,
) -> bool:
    """May the reader see this learner's record (and so their ILR and trackers)?"""
    if reads_whole_tenant(roles, admins_see_all_groups=admins_see_all_groups):
        return True
    return in_scope(
        reader_id,
        roles,
        groups,
        learner_id,
        learner_group,
        admins_see_all_groups=admins_see_all_groups,
    )


def may_read_tracker(
    reader_id: str,
    roles: Collection[str],
    groups: Collection[str],
    learner_id: str,
    learner_group: str | None,
    raised_by: str,
    *,
    admins_see_all_groups: bool = True,
) -> bool:
    """A tracker is read by whoever may read its learner, and by whoever raised it."""
    if reader_id == raised_by:
        return True
    return may_read_learner(
        reader_id,
        roles,
        groups,
        learner_id,
        learner_group,
        admins_see_all_groups=admins_see_all_groups,
    )


def may_read_audit(roles: Collection[str]) -> bool:
    return not set(AUDIT_READERS).isdisjoint(roles)
