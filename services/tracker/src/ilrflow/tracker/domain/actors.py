"""Who acts on a tracker: the caller's id, roles and groups, independent of how they logged in.

A caller (any object with ``sub``, ``roles`` and ``groups``, such as the contracts' ``Principal``)
converts with :meth:`Actor.of`, and a staff record with ``id``, ``roles`` and ``groups`` (e.g.
``StaffUpdated``) with :meth:`Actor.from_staff`: the rules ask the same of both.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Protocol

from ilrflow.contracts.identity import STAFF_ROLES


class PrincipalLike(Protocol):
    @property
    def sub(self) -> str: ...

    @property
    def roles(self) -> Collection[str]: ...

    @property
    def groups(self) -> Collection[str]: ...


class StaffLike(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def roles(self) -> Collection[str]: ...

    @property
    def groups(self) -> Collection[str]: ...


@dataclass(frozen=True)
class Actor:
    id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, principal: PrincipalLike) -> Actor:
        return cls(principal.sub, frozenset(principal.roles), frozenset(principal.groups))

    @classmethod
    def from_staff(cls, staff: StaffLike) -> Actor:
        return cls(staff.id, frozenset(staff.roles), frozenset(staff.groups))

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def has_any(self, roles: Collection[str]) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_staff(self) -> bool:
        return not self.roles.isdisjoint(STAFF_ROLES)


ILR_SERVICE = Actor("system:ilr")
"""Records the ILR outcome on a tracker; it acts for the ilr service, not for a person."""


def as_actor(who: Actor | PrincipalLike) -> Actor:
    return who if isinstance(who, Actor) else Actor.of(who)
