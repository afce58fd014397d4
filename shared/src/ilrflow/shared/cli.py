"""The ``ilrflow`` command: development tokens and topic management."""

from __future__ import annotations

import asyncio
import json

import typer

from ilrflow.shared.auth import ROLES, mint_token
from ilrflow.shared.kafka import all_topics, ensure_topics
from ilrflow.shared.settings import get_settings

app = typer.Typer(help="ilrflow operator and developer commands.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


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
        raise typer.Exit(2)
    typer.echo(
        mint_token(
            get_settings(), tenant=tenant, sub=sub, roles=role, groups=group, ttl_seconds=ttl
        )
    )


@topics_app.command("ensure")
def topics_ensure(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Create every ilrflow topic (and its dead-letter topic) that does not exist yet."""
    settings = get_settings()
    created = asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap, settings.topic_partitions, prefix=settings.topic_prefix
        )
    )
    if as_json:
        typer.echo(json.dumps({"created": created, "topics": all_topics(settings.topic_prefix)}))
    else:
        typer.echo(
            f"created {len(created)} topic(s); {len(all_topics(settings.topic_prefix))} wanted in all"
        )


def main() -> None:
    app()
