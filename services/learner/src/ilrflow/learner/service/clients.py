"""API client use cases: a tenant admin (or the operator CLI) creates, lists, rotates and revokes
clients; a client trades its id and secret for an access token. Each change, each token issued
and each refusal of a known client is an event on ``api-clients``, which the audit log keeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ilrflow.contracts.errors import FieldProblem, InvalidInput, NotFound
from ilrflow.contracts.events import (
    ApiClientChanged,
    ApiClientTokenIssued,
    ApiClientTokenRefused,
    Envelope,
    new_event,
)
from ilrflow.contracts.identity import SCOPES, Principal
from ilrflow.learner.domain.clients import (
    ApiClient,
    Granted,
    Refused,
    decide_token,
    hash_secret,
    new_client_id,
    new_secret,
    unknown_scopes,
)
from ilrflow.learner.service.ports import ApiClientStore
from ilrflow.platform.client_tokens import ClientTokenSigner, IssuedToken


@dataclass(frozen=True)
class ClientWithSecret:
    """A client and its secret in clear: answered once, at creation or rotation."""

    client: ApiClient
    secret: str


@dataclass(frozen=True)
class TokenRefused:
    reason: str
    """``unknown_client`` too: a client id nobody created (logged, but no client to audit)."""


class ApiClientService:
    """What a tenant admin (over HTTP) or an operator (the CLI) does with API clients."""

    def __init__(
        self,
        store: ApiClientStore,
        events_written: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._events_written = events_written
        self._clock = clock

    async def create(
        self, principal: Principal, tenant: str, name: str, scopes: list[str]
    ) -> ClientWithSecret:
        _check_scopes(scopes)
        secret = new_secret()
        client = ApiClient(
            id=new_client_id(),
            tenant=tenant,
            name=name,
            scopes=tuple(scope for scope in SCOPES if scope in scopes),
            secret_hash=await _hash(secret),
            created_at=self._clock(),
            created_by=principal.sub,
        )
        await self.store.add(client, [self._changed(client, "created", principal.sub)])
        self._events_written()
        return ClientWithSecret(client, secret)

    async def list_clients(self, tenant: str, after: str | None, limit: int) -> list[ApiClient]:
        return await self.store.list_for_tenant(tenant, after, limit)

    async def rotate(self, principal: Principal, tenant: str, client_id: str) -> ClientWithSecret:
        """A new secret; the old one stops working at once."""
        client = await self._of_tenant(tenant, client_id)
        secret = new_secret()
        rotated = client.rotated(await _hash(secret), self._clock())
        changes = {"secret_hash": rotated.secret_hash, "rotated_at": rotated.rotated_at}
        await self.store.update(
            client.id, changes, [self._changed(rotated, "rotated", principal.sub)]
        )
        self._events_written()
        return ClientWithSecret(rotated, secret)

    async def revoke(self, principal: Principal, tenant: str, client_id: str) -> ApiClient:
        client = await self._of_tenant(tenant, client_id)
        if client.revoked:
            return client
        revoked = client.revoked_now(self._clock())
        await self.store.update(
            client.id,
            {"revoked_at": revoked.revoked_at},
            [self._changed(revoked, "revoked", principal.sub)],
        )
        self._events_written()
        return revoked

    async def _of_tenant(self, tenant: str, client_id: str) -> ApiClient:
        client = await self.store.get(client_id)
        if client is None or client.tenant != tenant:
            raise NotFound.of("API client", client_id)
        return client

    def _changed(
        self, client: ApiClient, change: Literal["created", "rotated", "revoked"], actor: str
    ) -> Envelope[Any]:
        payload = ApiClientChanged(
            client_id=client.id, name=client.name, scopes=list(client.scopes), change=change
        )
        return new_event(payload, tenant=client.tenant, subject=client.id, actor=actor)


class ClientCredentials:
    """The OAuth2 client credentials grant: a client's id and secret for an access token."""

    def __init__(
        self,
        store: ApiClientStore,
        signer: ClientTokenSigner,
        events_written: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.signer = signer
        self._events_written = events_written
        self._clock = clock

    async def token(
        self, client_id: str, secret: str, scopes: list[str] | None
    ) -> IssuedToken | TokenRefused:
        client = await self.store.get(client_id)
        if client is None:
            await _hash(secret)  # as slow as a known client's check: existence stays hidden
            return TokenRefused("unknown_client")
        decision = await asyncio.to_thread(decide_token, client, secret, scopes)
        if isinstance(decision, Refused):
            refused = ApiClientTokenRefused(client_id=client.id, reason=decision.reason)
            await self.store.update(client.id, {}, [_used(client, refused)])
            self._events_written()
            return TokenRefused(decision.reason)
        return await self._issue(client, decision)

    async def _issue(self, client: ApiClient, granted: Granted) -> IssuedToken:
        now = self._clock()
        issued = self.signer.issue(
            tenant=client.tenant, client_id=client.id, scopes=list(granted.scopes), now=now
        )
        event = ApiClientTokenIssued(
            client_id=client.id, scopes=list(granted.scopes), expires_at=issued.expires_at
        )
        await self.store.update(client.id, {"last_token_at": now}, [_used(client, event)])
        self._events_written()
        return issued


def _used(
    client: ApiClient, payload: ApiClientTokenIssued | ApiClientTokenRefused
) -> Envelope[Any]:
    # The client is the actor: "who used client X when" is a search by actor.
    return new_event(payload, tenant=client.tenant, subject=client.id, actor=client.id)


def _check_scopes(scopes: list[str]) -> None:
    unknown = unknown_scopes(scopes)
    if not scopes or unknown:
        reason = f"one or more of {', '.join(SCOPES)}" + (
            f"; unknown: {', '.join(unknown)}" if unknown else ""
        )
        raise InvalidInput(f"scopes: {reason}", [FieldProblem(field="scopes", reason=reason)])


async def _hash(secret: str) -> str:
    """scrypt takes tens of milliseconds: off the event loop."""
    return await asyncio.to_thread(hash_secret, secret)
