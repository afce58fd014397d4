"""API clients' access tokens (OAuth2 client credentials, RFC 6749 §4.4).

The learner service, which owns API clients, signs each token with an ES256 key and publishes the
public half as a JWKS behind an OpenID-style discovery document at its base URL (the issuer). Every
service verifies these tokens like an OpenID Connect provider's (``ilrflow.platform.oidc``), as a
second trusted issuer: the token names the tenant, the client as subject, the ``integrator`` role
and the scopes granted, and each route states the scope it needs (``ilrflow.platform.auth``).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ilrflow.contracts.identity import INTEGRATOR_ROLE
from ilrflow.platform.logging import get_logger
from ilrflow.platform.settings import Settings

AUDIENCE = "ilrflow-api"
ALGORITHM = "ES256"
TOKEN_PATH = "/v1/oauth/token"
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"

log = get_logger(__name__)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    scopes: tuple[str, ...]
    expires_at: datetime
    expires_in: int


class ClientTokenSigner:
    """Signs API clients' tokens and describes its public key (JWKS, discovery)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, issuer: str, ttl_seconds: int) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("the API client token key must be an EC P-256 key (ES256)")
        self._key = key
        self.issuer = issuer.rstrip("/")
        self.ttl = timedelta(seconds=ttl_seconds)
        public_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = hashlib.sha256(public_der).hexdigest()[:16]

    def issue(
        self, *, tenant: str, client_id: str, scopes: list[str], now: datetime
    ) -> IssuedToken:
        expires_at = now + self.ttl
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": client_id,
            "client_id": client_id,
            "tenant": tenant,
            "roles": [INTEGRATOR_ROLE],
            "scope": " ".join(scopes),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": str(uuid.uuid4()),
        }
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.key_id})
        return IssuedToken(token, tuple(scopes), expires_at, int(self.ttl.total_seconds()))

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.key_id, "use": "sig", "alg": ALGORITHM}]}


def discovery_document(issuer: str) -> dict[str, Any]:
    """What a verifier reads first (``ilrflow.platform.oidc``): the issuer and its keys' URL."""
    issuer = issuer.rstrip("/")
    return {
        "issuer": issuer,
        "jwks_uri": issuer + JWKS_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
    }


def client_token_signer(settings: Settings) -> ClientTokenSigner | None:
    """The configured key; in development mode without one, a key made now (loudly: tokens
    signed with it stop verifying when this process restarts); in production without one, None:
    no API client tokens are issued."""
    if settings.client_token_key:
        key = serialization.load_pem_private_key(settings.client_token_key.encode(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("ILRFLOW_CLIENT_TOKEN_KEY must be an EC P-256 private key (PEM)")
    elif settings.development:
        log.warning(
            "ILRFLOW_CLIENT_TOKEN_KEY is not set: API client tokens are signed with a key "
            "generated at start, valid until this process stops."
        )
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        log.warning(
            "ILRFLOW_CLIENT_TOKEN_KEY is not set: no API client tokens are issued (set an EC "
            "P-256 private key, PEM, to issue them)."
        )
        return None
    return ClientTokenSigner(key, settings.client_token_issuer, settings.client_token_ttl_seconds)


def integrator_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """The principal an API client's verified token names: its tenant, the client as subject,
    the integrator role and its scopes (space-separated, as OAuth2 writes them)."""
    scope = claims.get("scope")
    return {
        "sub": claims.get("sub"),
        "tenant": claims.get("tenant"),
        "roles": [INTEGRATOR_ROLE],
        "scopes": scope.split() if isinstance(scope, str) else [],
    }
