"""Who is calling: the roles ilrflow knows and the principal a verified token yields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel

from ilrflow.contracts.events import TenantId

Role = Literal["learner", "tutor", "admin", "ilr_qa", "support", "operator", "integrator"]
ROLES: tuple[str, ...] = ("learner", "tutor", "admin", "ilr_qa", "support", "operator")
"""The roles a person may hold (an identity provider's token names them)."""
INTEGRATOR_ROLE = "integrator"
"""The role of an API client's token: what it may call is decided by its scopes alone."""
Scope = Literal["ilr:read", "audit:read", "webhooks:manage"]
SCOPES: tuple[str, ...] = ("ilr:read", "audit:read", "webhooks:manage")
STAFF_ROLES = frozenset({"tutor", "admin", "ilr_qa", "support", "operator"})
PRIMARY_TUTOR_ROLE = "tutor"


def may_be_primary_tutor(staff_roles: Iterable[str]) -> bool:
    """A learner's primary tutor is a member of the tenant's staff with the tutor role."""
    return PRIMARY_TUTOR_ROLE in staff_roles


class Principal(BaseModel):
    """Who is calling: the tenant always comes from here, never from the request body or path."""

    sub: str
    tenant: TenantId
    roles: list[Role]
    groups: list[str] = []
    scopes: list[Scope] = []

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_staff(self) -> bool:
        return any(role in STAFF_ROLES for role in self.roles)

    @property
    def is_integrator(self) -> bool:
        return INTEGRATOR_ROLE in self.roles

    def has_scope(self, scope: str) -> bool:
        return self.is_integrator and scope in self.scopes
