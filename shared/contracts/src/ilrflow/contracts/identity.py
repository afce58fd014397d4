"""Who is calling: the roles ilrflow knows and the principal a verified token yields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ilrflow.contracts.events import TenantId

Role = Literal["learner", "tutor", "admin", "ilr_qa", "support", "operator"]
ROLES: tuple[str, ...] = ("learner", "tutor", "admin", "ilr_qa", "support", "operator")
STAFF_ROLES = frozenset({"tutor", "admin", "ilr_qa", "support", "operator"})


class Principal(BaseModel):
    """Who is calling: the tenant always comes from here, never from the request body or path."""

    sub: str
    tenant: TenantId
    roles: list[Role]
    groups: list[str] = []

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_staff(self) -> bool:
        return any(role in STAFF_ROLES for role in self.roles)
