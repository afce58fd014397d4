"""Who is signed in to the console, and the session's CSRF token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass
class SignedIn:
    """A signed-in person: the bearer token every API call carries, and what the pages show."""

    token: str
    sub: str
    name: str
    tenant: str
    roles: list[str]

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user: SignedIn | None = None

    def csrf_matches(self, submitted: str) -> bool:
        return secrets.compare_digest(self.csrf.encode(), submitted.encode())
