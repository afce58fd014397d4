"""The ``ilrflow`` operator command: tokens, topics, dead letters, audit verification, tenants,
lanes, projection rebuilds, reference data.

Every command reads the ``ILRFLOW_*`` settings (bootstrap servers, topic and database prefixes,
JWT secret); every command takes ``--json`` for machine-readable output, errors included; exit
codes are in ``ilrflow.ops.common`` and docs/operations.md.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import typer

from ilrflow.ops import audit, clients, dlt, lanes, projections, reference, tenants, topics
from ilrflow.ops.common import (
    EXIT_USAGE,
    JsonErrorsGroup,
    emit_json,
    fail,
    settings,
    tenant_id,
)
from ilrflow.platform.auth import ROLES, mint_token

app = typer.Typer(
    cls=JsonErrorsGroup, help="ilrflow operator and developer commands.", no_args_is_help=True
)
app.add_typer(topics.app, name="topics")
app.add_typer(dlt.app, name="dlt")
app.add_typer(audit.app, name="audit")
app.add_typer(tenants.app, name="tenants")
app.add_typer(lanes.app, name="lanes")
app.add_typer(projections.app, name="projections")
app.add_typer(reference.app, name="reference")
app.add_typer(clients.app, name="clients")


@app.command()
def token(
    tenant: str = typer.Option(..., help="Tenant id the token is for."),
    sub: str = typer.Option(..., help="Subject: the staff or learner id."),
    role: list[str] = typer.Option(..., help="Role (repeat for several)."),
    group: list[str] = typer.Option([], help="Group (repeat for several)."),
    ttl: int = typer.Option(8 * 3600, min=1, help="Lifetime in seconds."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Print a development bearer token (HS256, signed with ILRFLOW_JWT_SECRET)."""
    unknown = [r for r in role if r not in ROLES]
    if unknown:
        fail(f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLES)}", EXIT_USAGE)
    expires_at = datetime.fromtimestamp(int(time.time()) + ttl, UTC)
    signed = mint_token(
        settings(), tenant=tenant_id(tenant), sub=sub, roles=role, groups=group, ttl_seconds=ttl
    )
    if as_json:
        emit_json(
            {"token": signed, "tenant": tenant, "sub": sub, "roles": role, "groups": group,
             "expires_at": expires_at.isoformat()}
        )  # fmt: skip
    else:
        typer.echo(signed)


def main() -> None:
    app()
