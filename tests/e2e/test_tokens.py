"""Bearer tokens on every service: every bad token is a 401, and no token reaches a log.

test_bad_input.py checks the error codes of a missing, expired, forged and unsigned token on one
endpoint per service; here every kind of bad token meets one endpoint of every service."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from tests.conftest import Stack, eventually

pytestmark = pytest.mark.e2e

PATHS = {
    "learner": "/v1/learners",
    "tracker": "/v1/trackers",
    "ilr": "/v1/ilr/settings",
    "notify": "/v1/notifications",
    "audit": "/v1/audit/events",
}


def _claims(stack: Stack, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "admin-1",
        "tenant": "token-tests",
        "roles": ["admin"],
        "groups": [],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "iss": stack.settings.jwt_issuer,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def bad_tokens(stack: Stack) -> dict[str, str]:
    secret = stack.settings.jwt_secret
    now = int(time.time())

    def signed(**changes: Any) -> str:
        return jwt.encode(_claims(stack, **changes), secret, algorithm="HS256")

    return {
        "expired": signed(iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not yet valid": signed(nbf=now + 3600),
        "wrong signature": jwt.encode(_claims(stack), "not-the-secret", algorithm="HS256"),
        "alg none": jwt.encode(_claims(stack), None, algorithm="none"),
        "no sub": signed(sub=None),
        "no tenant": signed(tenant=None),
        "no roles": signed(roles=None),
        "no exp": signed(exp=None),
        "unknown role": signed(roles=["superuser"]),
        "wrong issuer": signed(iss="someone-else"),
        "not a jwt": "not.a.jwt",
    }


def test_every_bad_token_is_refused_by_every_service_and_never_logged(stack: Stack) -> None:
    tokens = bad_tokens(stack)
    answers = {}
    for service, path in PATHS.items():
        with stack.anonymous(service) as http:
            for name, token in tokens.items():
                response = http.get(path, headers={"authorization": f"Bearer {token}"})
                answers[(service, name)] = response.status_code
                assert token not in response.text, (service, name)
    assert answers == {key: 401 for key in answers}

    # A good token still works, so the refusals were the tokens' fault.
    good = stack.token("token-tests", "admin-1", "admin")
    for service, path in PATHS.items():
        with stack.anonymous(service) as http:
            ok = http.get(path, headers={"authorization": f"Bearer {good}"})
            assert ok.status_code == 200, (service, ok.text)

    def logs_hold_no_token() -> bool:
        for process in stack.processes:
            text = process.log_path.read_text(errors="replace")
            for name, token in {**tokens, "good": good}.items():
                assert token not in text, (process.name, name)
                # Nor its signature, which with the (public) claims is the whole token.
                signature = token.rsplit(".", 1)[-1]
                assert len(signature) < 20 or signature not in text, (process.name, name)
        return True

    eventually(logs_hold_no_token)
