"""``ilrflow clients create|list|rotate|revoke --tenant T``: a tenant's API clients, straight on
the learner service's database (the service that owns them), for an operator who has no tenant
admin's token. The change events wait in the outbox for a running learner service's relay to
publish to ``api-clients``, so the audit log hears of them as of a tenant admin's. A secret is
printed once (create, rotate) and never stored in clear."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from ilrflow.contracts.errors import InvalidInput, NotFound
from ilrflow.contracts.identity import SCOPES, Principal
from ilrflow.learner.bootstrap import offline_api_clients
from ilrflow.learner.domain.clients import ApiClient
from ilrflow.learner.service.clients import ApiClientService
from ilrflow.ops.common import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    emit_json,
    fail,
    run,
    settings,
    tenant_id,
)

app = typer.Typer(help="A tenant's API clients (OAuth2 client credentials).", no_args_is_help=True)

OPERATOR = "ilrflow-cli"  # the actor of the change events
TENANT = typer.Option(..., help="The tenant whose clients these are.")
JSON = typer.Option(False, "--json", help="Machine-readable output.")


T = TypeVar("T")


def _operator(tenant: str) -> Principal:
    return Principal(sub=OPERATOR, tenant=tenant, roles=["operator"])


def _view(client: ApiClient, secret: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": client.id,
        "name": client.name,
        "scopes": list(client.scopes),
        "created_at": client.created_at,
        "created_by": client.created_by,
        "revoked_at": client.revoked_at,
        "last_token_at": client.last_token_at,
    }
    if secret is not None:
        view["secret"] = secret
    return view


def _show(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(view)
        return
    for name, value in view.items():
        typer.echo(f"{name}: {', '.join(value) if isinstance(value, list) else value}")
    if "secret" in view:
        typer.echo("The secret is shown this once: hand it to the integration now.", err=True)


@app.command("create")
def create(
    tenant: str = TENANT,
    name: str = typer.Option(..., help="What the integration is."),
    scope: list[str] = typer.Option(..., help=f"A scope to grant (repeat): {', '.join(SCOPES)}."),
    as_json: bool = JSON,
) -> None:
    """Create a client; its id and secret are printed once."""
    tenant = tenant_id(tenant)
    service = offline_api_clients(settings())
    try:
        created = run(lambda: service.create(_operator(tenant), tenant, name, scope))
    except InvalidInput as error:
        fail(error.detail, EXIT_USAGE)
    _show(_view(created.client, created.secret), as_json)


@app.command("list")
def list_clients(tenant: str = TENANT, as_json: bool = JSON) -> None:
    """Every client of the tenant, revoked ones too (never a secret)."""
    tenant = tenant_id(tenant)
    service = offline_api_clients(settings())
    clients: list[ApiClient] = []

    async def every_client() -> None:
        while page := await service.list_clients(tenant, clients[-1].id if clients else None, 200):
            clients.extend(page)

    run(every_client)
    views = [_view(client) for client in clients]
    if as_json:
        emit_json(views)
        return
    for view in views:
        state = "revoked" if view["revoked_at"] else "active"
        typer.echo(f"{view['id']}  {state:7}  {' '.join(view['scopes']):40}  {view['name']}")


@app.command("rotate")
def rotate(
    client_id: str = typer.Argument(..., help="The client id (cli_...)."),
    tenant: str = TENANT,
    as_json: bool = JSON,
) -> None:
    """A new secret, printed once; the old one stops working at once."""
    tenant = tenant_id(tenant)
    rotated = _on_client(lambda service: service.rotate(_operator(tenant), tenant, client_id))
    _show(_view(rotated.client, rotated.secret), as_json)


@app.command("revoke")
def revoke(
    client_id: str = typer.Argument(..., help="The client id (cli_...)."),
    tenant: str = TENANT,
    as_json: bool = JSON,
) -> None:
    """Revoke the client: no more tokens (those issued expire within their lifetime)."""
    tenant = tenant_id(tenant)
    _show(
        _view(_on_client(lambda service: service.revoke(_operator(tenant), tenant, client_id))),
        as_json,
    )


def _on_client(change: Callable[[ApiClientService], Awaitable[T]]) -> T:
    """Run ``change`` on the learner database's clients; an unknown client (or another
    tenant's) exits with EXIT_NOT_FOUND."""
    service = offline_api_clients(settings())
    try:
        return run(lambda: change(service))
    except NotFound as error:
        fail(error.detail, EXIT_NOT_FOUND)
