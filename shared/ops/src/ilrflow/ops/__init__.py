"""The ``ilrflow`` operator command: tokens, topics, dead letters, audit verification, tenants,
lanes, projection rebuilds.

Every command reads the ``ILRFLOW_*`` settings (bootstrap servers, topic and database prefixes,
JWT secret); ``--json`` prints machine-readable output; exit codes are in
``ilrflow.ops.common`` and docs/operations.md.
"""

from __future__ import annotations

import typer

from ilrflow.ops import audit, dlt, lanes, projections, tenants, topics
from ilrflow.ops.common import EXIT_USAGE, settings
from ilrflow.platform.auth import ROLES, mint_token

app = typer.Typer(help="ilrflow operator and developer commands.", no_args_is_help=True)
app.add_typer(topics.app, name="topics")
app.add_typer(dlt.app, name="dlt")
app.add_typer(audit.app, name="audit")
app.add_typer(tenants.app, name="tenants")
app.add_typer(lanes.app, name="lanes")
app.add_typer(projections.app, name="projections")


@app.command()
def token(
    tenant: str = typer.Option(..., help="Tenant id the token is for."),
    sub: str = typer.Option(..., help="Subject: the staff or learner id."),
    role: list[str] = typer.Option(..., help="Role (repeat for several)."),
    group: list[str] = typer.Option([], help="Group (repeat for several)."),
    ttl: int = typer.Option(8 * 3600, help="Lifetime in seconds."),
) -> None:
    """Print a development bearer token (HS256, signed with ILRFLOW_JWT_SECRET)."""
    unknown = [r for r in role if r not in ROLES]
    if unknown:
        typer.echo(f"unknown role(s): {', '.join(unknown)}; known: {', '.join(ROLES)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    typer.echo(
        mint_token(settings(), tenant=tenant, sub=sub, roles=role, groups=group, ttl_seconds=ttl)
    )


def main() -> None:
    app()
