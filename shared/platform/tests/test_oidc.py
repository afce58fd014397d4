"""OpenID Connect tokens at the unit level: keys made here and served by an in-test JWKS (the
real provider, Keycloak, is in tests/e2e/test_oidc_sign_in.py)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ilrflow.platform.auth import TokenVerifier, mint_token, sign_in_problems
from ilrflow.platform.http_errors import ApiError
from ilrflow.platform.oidc import (
    ExpiredTokenError,
    InvalidTokenError,
    OidcConfig,
    OidcVerifier,
    SignInUnavailableError,
    claim_at,
)
from ilrflow.platform.service import refuse_unsafe_sign_in
from ilrflow.platform.settings import Settings

ISSUER = "https://sso.example.test/realms/ilrflow"
JWKS_URI = ISSUER + "/certs"
AUDIENCE = "ilrflow-api"


class Provider:
    """The issuer's discovery document and JWKS, and the fetches made of them."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}  # kid -> private key
        self.fetches: list[str] = []
        self.down = False
        self.issuer_in_discovery = ISSUER

    def add_key(self, kid: str, key: Any = None) -> None:
        self.keys[kid] = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)

    async def fetch(self, url: str) -> Any:
        self.fetches.append(url)
        await asyncio.sleep(0)  # a network round trip: other requests run meanwhile
        if self.down:
            raise httpx.ConnectError("connection refused")
        if url == ISSUER + "/.well-known/openid-configuration":
            return {"issuer": self.issuer_in_discovery, "jwks_uri": JWKS_URI}
        assert url == JWKS_URI
        return {"keys": [self.public_jwk(kid) for kid in self.keys]}

    def public_jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid]
        if isinstance(key, rsa.RSAPrivateKey):
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        else:
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        return {**jwk, "kid": kid, "use": "sig"}

    def token(self, kid: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            "ilrflow_tenant": "acme",
            "realm_access": {"roles": ["tutor", "offline_access"]},
            "groups": ["cohort-a"],
            **overrides,
        }
        key = self.keys[kid]
        algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})

    def jwk_fetches(self) -> int:
        return self.fetches.count(JWKS_URI)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider() -> Provider:
    provider = Provider()
    provider.add_key("k1")
    return provider


@pytest.fixture
def clock() -> Clock:
    return Clock()


def verifier(provider: Provider, clock: Clock, **config: Any) -> OidcVerifier:
    return OidcVerifier(
        OidcConfig(issuer=ISSUER, audience=AUDIENCE, **config), fetch=provider.fetch, clock=clock
    )


async def test_a_token_of_the_issuer_is_verified(provider: Provider, clock: Clock) -> None:
    claims = await verifier(provider, clock).claims(provider.token("k1"))
    assert (claims["sub"], claims["ilrflow_tenant"]) == ("user-1", "acme")


async def test_an_es256_token_is_verified(provider: Provider, clock: Clock) -> None:
    provider.add_key("ec", ec.generate_private_key(ec.SECP256R1()))
    claims = await verifier(provider, clock).claims(provider.token("ec"))
    assert claims["sub"] == "user-1"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "another-app"}, "(?i)audience"),
        ({"iss": "https://evil.example.test/"}, "issuer"),
        ({"nbf": int(time.time()) + 600}, "not yet valid"),
    ],
)
async def test_a_token_for_another_audience_issuer_or_time_is_refused(
    provider: Provider, clock: Clock, claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidTokenError, match=reason):
        await verifier(provider, clock).claims(provider.token("k1", **claims))


async def test_a_token_without_a_subject_is_refused(provider: Provider, clock: Clock) -> None:
    claims = jwt.decode(provider.token("k1"), options={"verify_signature": False})
    del claims["sub"]
    token = jwt.encode(claims, provider.keys["k1"], algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(InvalidTokenError, match="sub"):
        await verifier(provider, clock).claims(token)


async def test_expiry_allows_the_configured_clock_skew(provider: Provider, clock: Clock) -> None:
    expired_20s_ago = provider.token("k1", exp=int(time.time()) - 20)
    assert await verifier(provider, clock, leeway_seconds=30).claims(expired_20s_ago)
    with pytest.raises(ExpiredTokenError):
        await verifier(provider, clock, leeway_seconds=5).claims(expired_20s_ago)


async def test_a_tampered_token_is_refused(provider: Provider, clock: Clock) -> None:
    header, payload, signature = provider.token("k1").split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    forged = jwt.utils.base64url_encode(json.dumps({**claims, "ilrflow_tenant": "other"}).encode())
    with pytest.raises(InvalidTokenError, match="Signature"):
        await verifier(provider, clock).claims(f"{header}.{forged.decode()}.{signature}")


async def test_none_and_hmac_with_the_public_key_are_refused(
    provider: Provider, clock: Clock
) -> None:
    claims = jwt.decode(provider.token("k1"), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    public_pem = (
        provider.keys["k1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # The classic confusion: an HMAC "signed" with the public key, which anyone has.
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    body = jwt.utils.base64url_encode(json.dumps(claims).encode())
    signing_input = header + b"." + body
    mac = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256).sign(
        signing_input, public_pem
    )
    confused = (signing_input + b"." + jwt.utils.base64url_encode(mac)).decode()
    for token in (unsigned, confused):
        with pytest.raises(InvalidTokenError, match="not accepted"):
            await verifier(provider, clock).claims(token)


async def test_a_key_the_token_does_not_match_is_refused(provider: Provider, clock: Clock) -> None:
    provider.add_key("ec", ec.generate_private_key(ec.SECP256R1()))
    es256 = provider.token("ec")
    _, payload, signature = es256.split(".")
    claimed_rsa = jwt.utils.base64url_encode(json.dumps({"alg": "RS256", "kid": "ec"}).encode())
    with pytest.raises(InvalidTokenError, match="the key is for ES256"):
        await verifier(provider, clock).claims(f"{claimed_rsa.decode()}.{payload}.{signature}")


async def test_keys_are_cached_and_fetched_again_after_their_ttl(
    provider: Provider, clock: Clock
) -> None:
    oidc = verifier(provider, clock, jwks_ttl_seconds=300)
    token = provider.token("k1")
    for _ in range(3):
        await oidc.claims(token)
    assert provider.jwk_fetches() == 1
    clock.now += 301
    await oidc.claims(token)
    assert provider.jwk_fetches() == 2


async def test_requests_arriving_while_the_keys_are_fetched_wait_for_them(
    provider: Provider, clock: Clock
) -> None:
    oidc = verifier(provider, clock)
    token = provider.token("k1")
    first, second = await asyncio.gather(oidc.claims(token), oidc.claims(token))
    assert first["sub"] == second["sub"] == "user-1"
    assert provider.jwk_fetches() == 1


async def test_a_rotated_key_is_fetched_when_a_token_names_it(
    provider: Provider, clock: Clock
) -> None:
    oidc = verifier(provider, clock, jwks_min_refresh_seconds=10)
    await oidc.claims(provider.token("k1"))
    clock.now += 11
    provider.add_key("k2")
    claims = await oidc.claims(provider.token("k2"))
    assert claims["sub"] == "user-1"
    assert provider.jwk_fetches() == 2


async def test_unknown_keys_fetch_at_most_once_per_interval(
    provider: Provider, clock: Clock
) -> None:
    oidc = verifier(provider, clock, jwks_min_refresh_seconds=10)
    await oidc.claims(provider.token("k1"))
    provider.add_key("k2")
    for _ in range(5):  # a flood of tokens naming a key not seen: no flood of fetches
        with pytest.raises(InvalidTokenError, match="no signing key 'k2'"):
            await oidc.claims(provider.token("k2"))
    assert provider.jwk_fetches() == 1
    clock.now += 10
    assert await oidc.claims(provider.token("k2"))
    assert provider.jwk_fetches() == 2


async def test_cached_keys_outlive_an_unreachable_issuer(provider: Provider, clock: Clock) -> None:
    oidc = verifier(provider, clock, jwks_ttl_seconds=60)
    await oidc.claims(provider.token("k1"))
    provider.down = True
    clock.now += 61
    assert await oidc.claims(provider.token("k1"))


async def test_an_unreachable_issuer_without_cached_keys_is_unavailable(
    provider: Provider, clock: Clock
) -> None:
    provider.down = True
    with pytest.raises(SignInUnavailableError, match="ConnectError"):
        await verifier(provider, clock).claims(provider.token("k1"))


async def test_a_discovery_document_of_another_issuer_is_not_trusted(
    provider: Provider, clock: Clock
) -> None:
    provider.issuer_in_discovery = "https://evil.example.test/"
    with pytest.raises(SignInUnavailableError, match="evil"):
        await verifier(provider, clock).claims(provider.token("k1"))


def oidc_settings(**values: Any) -> Settings:
    defaults = {
        "env": "production",
        "jwt_secret": "a-secret-of-our-own-at-least-32-bytes-long",
        "oidc_issuer": ISSUER,
        "oidc_audience": AUDIENCE,
        "oidc_tenant_claim": "ilrflow_tenant",
        "oidc_roles_claim": "realm_access.roles",
    }
    return Settings.model_validate({**defaults, **values})


async def test_tenant_roles_and_groups_come_from_the_configured_claims(
    provider: Provider, clock: Clock
) -> None:
    tokens = TokenVerifier(oidc_settings(), verifier(provider, clock))
    principal = await tokens.principal(provider.token("k1"))
    # offline_access is the provider's role, not ilrflow's: left out rather than refused.
    assert principal.model_dump() == {
        "sub": "user-1",
        "tenant": "acme",
        "roles": ["tutor"],
        "groups": ["cohort-a"],
        "scopes": [],
    }


async def test_a_token_without_the_tenant_claim_is_refused(
    provider: Provider, clock: Clock
) -> None:
    tokens = TokenVerifier(oidc_settings(oidc_tenant_claim="org"), verifier(provider, clock))
    with pytest.raises(ApiError) as refused:
        await tokens.principal(provider.token("k1"))
    assert (refused.value.status, refused.value.code) == (401, "invalid_token")
    assert "tenant" in refused.value.message


async def test_hs256_tokens_are_accepted_in_development_mode_only(
    provider: Provider, clock: Clock
) -> None:
    development = oidc_settings(env="development")
    hs256 = mint_token(development, tenant="acme", sub="dev-1", roles=["admin"])
    principal = await TokenVerifier(development, verifier(provider, clock)).principal(hs256)
    assert principal.sub == "dev-1"
    with pytest.raises(ApiError) as refused:
        await TokenVerifier(oidc_settings(), verifier(provider, clock)).principal(hs256)
    assert "development mode only" in refused.value.message


async def test_an_issuer_down_is_503_not_401(provider: Provider, clock: Clock) -> None:
    provider.down = True
    with pytest.raises(ApiError) as refused:
        await TokenVerifier(oidc_settings(), verifier(provider, clock)).principal(
            provider.token("k1")
        )
    assert (refused.value.status, refused.value.code) == (503, "sign_in_unavailable")


def test_production_without_an_issuer_or_with_the_public_secret_may_not_start() -> None:
    assert sign_in_problems(oidc_settings()) == []
    assert sign_in_problems(Settings(env="development")) == []
    [no_issuer] = sign_in_problems(oidc_settings(oidc_issuer="", oidc_audience=""))
    assert "ILRFLOW_OIDC_ISSUER" in no_issuer
    [public_secret] = sign_in_problems(Settings(env="production", **_issuer()))
    assert "ILRFLOW_JWT_SECRET" in public_secret
    [no_audience] = sign_in_problems(oidc_settings(oidc_audience=""))
    assert "ILRFLOW_OIDC_AUDIENCE" in no_audience


def test_the_consoles_development_sign_in_may_start_in_development_mode_only() -> None:
    assert sign_in_problems(Settings(env="development", web_dev_sign_in=True)) == []
    [anyone_as_anyone] = sign_in_problems(oidc_settings(web_dev_sign_in=True))
    assert "ILRFLOW_WEB_DEV_SIGN_IN" in anyone_as_anyone


def _issuer() -> dict[str, str]:
    return {"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE}


def test_claims_are_read_by_name_then_by_dotted_path() -> None:
    claims = {"https://example.org/tenant": "acme", "realm_access": {"roles": ["tutor"]}}
    assert claim_at(claims, "https://example.org/tenant") == "acme"
    assert claim_at(claims, "realm_access.roles") == ["tutor"]
    assert claim_at(claims, "realm_access.missing.deeper") is None


def test_an_unsafe_configuration_stops_the_process_with_the_reason() -> None:
    with pytest.raises(SystemExit, match=r"refusing to start: .*ILRFLOW_OIDC_ISSUER"):
        refuse_unsafe_sign_in(Settings(env="production"))
    refuse_unsafe_sign_in(Settings(env="development"))
    refuse_unsafe_sign_in(oidc_settings())
