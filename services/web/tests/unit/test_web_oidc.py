"""Single sign-on through the console's pages against a fake OpenID Connect provider (discovery,
JWKS, token endpoint) that signs its tokens with a real RSA key."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from web_fakes import FakeApis, one_page

from ilrflow.platform.settings import Settings
from ilrflow.web.adapters.oidc_sign_in import OidcSignIn
from ilrflow.web.bootstrap import create_app

ISSUER = "https://sso.test/realms/acme"
SETTINGS = Settings(
    web_session_secret="test-secret",
    oidc_issuer=ISSUER,
    oidc_audience="ilrflow-api",
    oidc_tenant_claim="ilrflow_tenant",
    oidc_roles_claim="realm_access.roles",
    web_oidc_client_id="ilrflow-console",
    web_oidc_client_secret="console-secret",
)


class Provider:
    """The identity provider: it hands out one code, and answers it with the tokens it mints."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.redeemed: list[dict[str, str]] = []
        self.nonce = ""  # the nonce the browser brought to the authorization endpoint

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/auth",
                    "token_endpoint": f"{ISSUER}/token",
                    "end_session_endpoint": f"{ISSUER}/logout",
                    "jwks_uri": f"{ISSUER}/certs",
                },
            )
        if path.endswith("/certs"):
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            return httpx.Response(200, json={"keys": [{**public, "kid": "k1", "alg": "RS256"}]})
        if path.endswith("/token"):
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.redeemed.append(form)
            if form["code"] != "the-code":
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(
                200, json={"access_token": self.access_token(), "id_token": self.id_token()}
            )
        return httpx.Response(404)

    def sign(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "sub": "u-ada", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": "k1"})

    def id_token(self) -> str:
        return self.sign({"aud": "ilrflow-console", "nonce": self.nonce, "name": "Ada Admin"})

    def access_token(self) -> str:
        return self.sign(
            {
                "aud": ["ilrflow-api", "account"],
                "ilrflow_tenant": "acme",
                "realm_access": {"roles": ["admin", "offline_access"]},
            }
        )


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def apis() -> FakeApis:
    fake = FakeApis()
    fake.answer("tracker", "GET", "/v1/trackers", one_page([]))
    fake.answer("tracker", "GET", "/v1/tracker-types", one_page([]))
    return fake


def console(provider: Provider, apis: FakeApis) -> httpx.AsyncClient:
    oidc = OidcSignIn(SETTINGS, httpx.AsyncClient(transport=httpx.MockTransport(provider.handle)))
    app = create_app(SETTINGS, apis, oidc)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")


async def start(browser: httpx.AsyncClient, provider: Provider) -> dict[str, str]:
    """Press "Sign in with single sign-on": the query the provider's authorization endpoint gets."""
    page = await browser.get("/sign-in")
    assert 'href="/sign-in/oidc"' in page.text
    sent = await browser.get("/sign-in/oidc")
    assert sent.status_code == 303
    location = urlsplit(sent.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/auth"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    provider.nonce = query["nonce"]
    return query


async def test_single_sign_on_uses_pkce_and_signs_in_with_the_providers_access_token(
    provider: Provider, apis: FakeApis
) -> None:
    browser = console(provider, apis)
    query = await start(browser, provider)
    assert query["response_type"] == "code"
    assert query["client_id"] == "ilrflow-console"
    assert query["redirect_uri"] == "http://console.test/sign-in/callback"
    assert query["code_challenge_method"] == "S256"

    back = await browser.get(
        "/sign-in/callback", params={"code": "the-code", "state": query["state"]}
    )
    assert (back.status_code, back.headers["location"]) == (303, "/trackers")
    [redeemed] = provider.redeemed
    verifier = redeemed["code_verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert challenge.decode() == query["code_challenge"]
    assert redeemed["client_secret"] == "console-secret"
    assert redeemed["redirect_uri"] == query["redirect_uri"]

    trackers = await browser.get("/trackers")
    assert trackers.status_code == 200
    assert "Signed in as Ada Admin (admin, acme)" in trackers.text  # offline_access left out
    sent = jwt.decode(apis.calls[-1].token, options={"verify_signature": False})
    assert (sent["sub"], sent["aud"][0]) == ("u-ada", "ilrflow-api")  # the access token


async def test_an_answer_with_another_state_signs_nobody_in_and_redeems_no_code(
    provider: Provider, apis: FakeApis
) -> None:
    browser = console(provider, apis)
    await start(browser, provider)
    back = await browser.get("/sign-in/callback", params={"code": "the-code", "state": "forged"})
    assert back.status_code == 400
    assert "not for a sign-in started in this browser" in back.text
    assert provider.redeemed == []
    assert (await browser.get("/trackers")).headers["location"] == "/sign-in"


async def test_an_id_token_for_another_sign_in_is_refused(
    provider: Provider, apis: FakeApis
) -> None:
    browser = console(provider, apis)
    query = await start(browser, provider)
    provider.nonce = "a-nonce-of-another-sign-in"
    back = await browser.get(
        "/sign-in/callback", params={"code": "the-code", "state": query["state"]}
    )
    assert back.status_code == 400
    assert "nonce" in back.text
    assert (await browser.get("/trackers")).headers["location"] == "/sign-in"


async def test_a_sign_in_can_be_answered_once(provider: Provider, apis: FakeApis) -> None:
    browser = console(provider, apis)
    query = await start(browser, provider)
    await browser.get("/sign-in/callback", params={"code": "bad", "state": query["state"]})
    again = await browser.get(
        "/sign-in/callback", params={"code": "the-code", "state": query["state"]}
    )
    assert again.status_code == 400
    assert len(provider.redeemed) == 1


async def test_signing_out_ends_the_providers_session_too(
    provider: Provider, apis: FakeApis
) -> None:
    browser = console(provider, apis)
    query = await start(browser, provider)
    await browser.get("/sign-in/callback", params={"code": "the-code", "state": query["state"]})
    page = (await browser.get("/trackers")).text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    out = await browser.post("/sign-out", data={"csrf": csrf})
    assert out.status_code == 303
    location = urlsplit(out.headers["location"])
    assert location.path == "/realms/acme/logout"
    assert parse_qs(location.query) == {
        "client_id": ["ilrflow-console"],
        "post_logout_redirect_uri": ["http://console.test/sign-in"],
    }
    assert (await browser.get("/trackers")).headers["location"] == "/sign-in"
