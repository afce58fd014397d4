"""Who is signed in to the console, the session's CSRF token, and a sign-in under way."""

from __future__ import annotations

import base64
import hashlib
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
    # "oidc": signed in at the identity provider, so signing out ends its session there too.
    method: str = "development"

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


def _random() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class PendingSignIn:
    """An OpenID Connect sign-in sent to the identity provider and not back yet: ``state`` ties
    the answer to this browser's session, ``nonce`` ties the ID token to this request, and the
    PKCE ``code_verifier`` proves to the provider that whoever redeems the code asked for it."""

    state: str = field(default_factory=_random)
    nonce: str = field(default_factory=_random)
    code_verifier: str = field(default_factory=lambda: secrets.token_urlsafe(64))

    @property
    def code_challenge(self) -> str:
        """PKCE S256 (RFC 7636): base64url of the verifier's SHA-256, without padding."""
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def state_matches(self, returned: str) -> bool:
        return secrets.compare_digest(self.state.encode(), returned.encode())

    def nonce_matches(self, returned: str) -> bool:
        return secrets.compare_digest(self.nonce.encode(), returned.encode())


@dataclass
class Session:
    csrf: str = field(default_factory=_random)
    user: SignedIn | None = None
    pending: PendingSignIn | None = None

    def csrf_matches(self, submitted: str) -> bool:
        return secrets.compare_digest(self.csrf.encode(), submitted.encode())
