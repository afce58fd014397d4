"""API clients: secrets kept only as hashes, the client-credentials decision, and the use cases
(each change and each token issued or refused recorded as an event) through an in-memory store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ilrflow.contracts.errors import InvalidInput, NotFound
from ilrflow.contracts.events import Envelope, EventType
from ilrflow.contracts.identity import Principal
from ilrflow.learner.domain.clients import (
    ApiClient,
    Granted,
    Refused,
    decide_token,
    hash_secret,
    secret_matches,
)
from ilrflow.learner.service.clients import ApiClientService, ClientCredentials, TokenRefused
from ilrflow.platform.client_tokens import ClientTokenSigner, IssuedToken

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ADMIN = Principal(sub="admin-1", tenant="acme", roles=["admin"])


def test_a_secret_is_stored_as_a_salted_hash_that_only_it_matches() -> None:
    stored = hash_secret("s3cret")
    assert "s3cret" not in stored
    assert stored != hash_secret("s3cret")
    assert secret_matches("s3cret", stored)
    assert not secret_matches("s3creT", stored)


def _client(**changes: Any) -> ApiClient:
    client = ApiClient(
        id="cli_1",
        tenant="acme",
        name="MIS",
        scopes=("ilr:read", "audit:read"),
        secret_hash=hash_secret("right"),
        created_at=NOW,
        created_by="admin-1",
    )
    return replace(client, **changes)


@pytest.mark.parametrize(
    ("client", "secret", "requested", "decision"),
    [
        (_client(), "right", None, Granted(("ilr:read", "audit:read"))),
        (_client(), "right", ["audit:read"], Granted(("audit:read",))),
        (_client(), "wrong", None, Refused("bad_secret")),
        (_client(revoked_at=NOW), "wrong", None, Refused("bad_secret")),
        (_client(revoked_at=NOW), "right", None, Refused("revoked")),
        (_client(), "right", ["webhooks:manage"], Refused("scope_not_granted")),
    ],
)
def test_the_client_credentials_decision(
    client: ApiClient, secret: str, requested: list[str] | None, decision: object
) -> None:
    assert decide_token(client, secret, requested) == decision


class FakeClients:
    def __init__(self) -> None:
        self.clients: dict[str, ApiClient] = {}
        self.events: list[Envelope[Any]] = []

    async def add(self, client: ApiClient, events: Sequence[Envelope[Any]]) -> None:
        self.clients[client.id] = client
        self.events.extend(events)

    async def get(self, client_id: str) -> ApiClient | None:
        return self.clients.get(client_id)

    async def list_for_tenant(self, tenant: str, after: str | None, limit: int) -> list[ApiClient]:
        found = sorted(
            (c for c in self.clients.values() if c.tenant == tenant and (after or "") < c.id),
            key=lambda c: c.id,
        )
        return found[:limit]

    async def update(
        self, client_id: str, changes: Mapping[str, Any], events: Sequence[Envelope[Any]]
    ) -> None:
        self.clients[client_id] = replace(self.clients[client_id], **changes)
        self.events.extend(events)

    def types(self) -> list[str]:
        return [event.type for event in self.events]


@pytest.fixture
def store() -> FakeClients:
    return FakeClients()


@pytest.fixture
def service(store: FakeClients) -> ApiClientService:
    return ApiClientService(store, lambda: None, clock=lambda: NOW)


@pytest.fixture
def grant(store: FakeClients) -> ClientCredentials:
    signer = ClientTokenSigner(ec.generate_private_key(ec.SECP256R1()), "http://issuer", 600)
    return ClientCredentials(store, signer, lambda: None, clock=lambda: NOW)


async def test_a_token_is_issued_for_the_right_secret_and_audited(
    service: ApiClientService, grant: ClientCredentials, store: FakeClients
) -> None:
    created = await service.create(ADMIN, "acme", "MIS", ["ilr:read"])
    issued = await grant.token(created.client.id, created.secret, None)
    assert isinstance(issued, IssuedToken)
    assert (issued.scopes, issued.expires_in) == (("ilr:read",), 600)
    assert store.types() == [EventType.API_CLIENT_CHANGED, EventType.API_CLIENT_TOKEN_ISSUED]
    assert store.events[-1].actor == created.client.id
    assert store.clients[created.client.id].last_token_at == NOW


async def test_rotation_makes_the_old_secret_fail_at_once(
    service: ApiClientService, grant: ClientCredentials, store: FakeClients
) -> None:
    created = await service.create(ADMIN, "acme", "MIS", ["ilr:read"])
    rotated = await service.rotate(ADMIN, "acme", created.client.id)
    assert await grant.token(created.client.id, created.secret, None) == TokenRefused("bad_secret")
    assert isinstance(await grant.token(created.client.id, rotated.secret, None), IssuedToken)
    assert store.types()[-2] == EventType.API_CLIENT_TOKEN_REFUSED


async def test_a_revoked_client_gets_no_token(
    service: ApiClientService, grant: ClientCredentials
) -> None:
    created = await service.create(ADMIN, "acme", "MIS", ["ilr:read"])
    await service.revoke(ADMIN, "acme", created.client.id)
    assert await grant.token(created.client.id, created.secret, None) == TokenRefused("revoked")


async def test_an_unknown_client_is_refused_without_an_event(
    grant: ClientCredentials, store: FakeClients
) -> None:
    assert await grant.token("cli_nobody", "x", None) == TokenRefused("unknown_client")
    assert store.events == []


async def test_another_tenants_client_is_not_found(service: ApiClientService) -> None:
    created = await service.create(ADMIN, "acme", "MIS", ["ilr:read"])
    with pytest.raises(NotFound):
        await service.rotate(ADMIN, "globex", created.client.id)
    assert await service.list_clients("globex", None, 10) == []


async def test_scopes_must_be_known(service: ApiClientService) -> None:
    with pytest.raises(InvalidInput):
        await service.create(ADMIN, "acme", "MIS", ["ilr:write"])
