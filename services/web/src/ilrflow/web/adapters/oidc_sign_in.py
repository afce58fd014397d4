"""Single sign-on at the configured OpenID Connect issuer: the authorization code flow with PKCE
(S256), ``state`` and ``nonce`` checked. The code is redeemed at the issuer's token endpoint (with
the client secret of a confidential client); the ID token must be the issuer's, for this client,
with this sign-in's nonce; the access token must be one the APIs accept (the platform's OIDC
settings: audience, tenant, roles and groups claims). It ends, like development sign-in, in a
:class:`~ilrflow.web.domain.session.SignedIn` whose bearer token is the access token."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from ilrflow.platform.auth import TokenVerifier
from ilrflow.platform.http_errors import ApiError
from ilrflow.platform.oidc import (
    InvalidTokenError,
    OidcConfig,
    OidcVerifier,
    SignInUnavailableError,
)
from ilrflow.platform.settings import Settings
from ilrflow.web.domain.session import PendingSignIn, SignedIn

SCOPE = "openid profile"


class SignInFailedError(Exception):
    """The provider's answer does not sign anyone in; the message says why, for the page."""


class OidcSignIn:
    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.client_id = settings.web_oidc_client_id
        self._client_secret = settings.web_oidc_client_secret
        self._http = http or httpx.AsyncClient(timeout=10.0)
        platform = OidcConfig.from_settings(settings)
        self._discovery_url = platform.discovery_url
        self._discovery: dict[str, Any] | None = None
        # The ID token is for this client; the access token for the APIs (their audience).
        id_config = OidcConfig(
            issuer=platform.issuer,
            audience=self.client_id,
            leeway_seconds=platform.leeway_seconds,
            jwks_ttl_seconds=platform.jwks_ttl_seconds,
            jwks_min_refresh_seconds=platform.jwks_min_refresh_seconds,
        )
        self._id_tokens = OidcVerifier(id_config, fetch=self._json)
        self._access_tokens = TokenVerifier(settings, oidc=OidcVerifier(platform, fetch=self._json))

    async def close(self) -> None:
        await self._http.aclose()

    async def authorization_url(self, pending: PendingSignIn, redirect_uri: str) -> str:
        endpoint = await self._endpoint("authorization_endpoint")
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{endpoint}?{urlencode(query)}"

    async def finish(
        self, pending: PendingSignIn | None, answer: dict[str, str], redirect_uri: str
    ) -> SignedIn:
        """The person the provider's answer (the callback's query) signs in."""
        if pending is None or not pending.state_matches(answer.get("state", "")):
            raise SignInFailedError("the answer is not for a sign-in started in this browser")
        if "error" in answer:
            reason = answer.get("error_description") or answer["error"]
            raise SignInFailedError(f"the identity provider said: {reason}")
        tokens = await self._redeem(pending, answer.get("code", ""), redirect_uri)
        id_claims = await self._verified(self._id_tokens, str(tokens.get("id_token", "")))
        if not pending.nonce_matches(str(id_claims.get("nonce", ""))):
            raise SignInFailedError("the ID token is not for this sign-in (nonce)")
        access_token = str(tokens.get("access_token", ""))
        try:
            caller = await self._access_tokens.principal(access_token)
        except ApiError as error:
            raise SignInFailedError(f"the APIs would not accept the token: {error}") from error
        if caller.sub != id_claims["sub"]:
            raise SignInFailedError("the access token is for someone else")
        return SignedIn(
            token=access_token,
            sub=caller.sub,
            name=str(id_claims.get("name") or id_claims.get("preferred_username") or caller.sub),
            tenant=caller.tenant,
            roles=list(caller.roles),
            method="oidc",
        )

    async def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """Where the browser goes to end its session at the provider too (RP-initiated logout),
        or None if the provider names no such endpoint."""
        try:
            endpoint = await self._endpoint("end_session_endpoint")
        except SignInFailedError:
            return None
        query = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        return f"{endpoint}?{urlencode(query)}"

    async def _redeem(self, pending: PendingSignIn, code: str, redirect_uri: str) -> Any:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": pending.code_verifier,
        }
        if self._client_secret:  # a confidential client (client_secret_post)
            form["client_secret"] = self._client_secret
        try:
            response = await self._http.post(await self._endpoint("token_endpoint"), data=form)
        except httpx.HTTPError as error:
            raise SignInFailedError(f"the identity provider is unreachable: {error}") from error
        if response.status_code != 200:
            raise SignInFailedError(f"the identity provider refused the code: {response.text}")
        return response.json()

    async def _verified(self, verifier: OidcVerifier, token: str) -> dict[str, Any]:
        try:
            return await verifier.claims(token)
        except (InvalidTokenError, SignInUnavailableError) as error:
            raise SignInFailedError(f"the ID token is not valid: {error}") from error

    async def _endpoint(self, name: str) -> str:
        if self._discovery is None:
            try:
                self._discovery = dict(await self._json(self._discovery_url))
            except (httpx.HTTPError, ValueError) as error:
                raise SignInFailedError(f"the identity provider is unreachable: {error}") from error
        endpoint = self._discovery.get(name)
        if not endpoint:
            raise SignInFailedError(f"the identity provider names no {name}")
        return str(endpoint)

    async def _json(self, url: str) -> Any:
        response = await self._http.get(url, headers={"accept": "application/json"})
        response.raise_for_status()
        return response.json()
