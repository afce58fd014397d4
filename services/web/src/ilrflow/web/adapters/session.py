"""The session cookie's content, signed (itsdangerous) so that it cannot be forged or altered.

The cookie itself is set HTTP-only, SameSite=Lax and, over HTTPS, Secure (``entrypoints``): it
holds a bearer token, a credential that must never reach JavaScript.
"""

from __future__ import annotations

from dataclasses import asdict

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ilrflow.web.domain.session import PendingSignIn, Session, SignedIn

COOKIE = "ilrflow_console"
MAX_AGE_SECONDS = 8 * 3600  # the development token's lifetime


class SessionCodec:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="ilrflow-console-session")

    def dumps(self, session: Session) -> str:
        return self._serializer.dumps(asdict(session))

    def loads(self, cookie: str | None) -> Session:
        """The session in the cookie; a fresh one when there is none, or it is forged or old."""
        if not cookie:
            return Session()
        try:
            data = self._serializer.loads(cookie, max_age=MAX_AGE_SECONDS)
        except BadSignature:
            return Session()
        user, pending = data.get("user"), data.get("pending")
        return Session(
            csrf=str(data["csrf"]),
            user=SignedIn(**user) if user else None,
            pending=PendingSignIn(**pending) if pending else None,
        )
