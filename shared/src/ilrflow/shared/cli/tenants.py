"""``ilrflow tenants show``: a tenant's tracker settings, enabled types and permission policy."""

from __future__ import annotations

from typing import Any

import httpx
import typer

from ilrflow.shared.cli.common import (
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    emit_json,
    fail,
    operator_token,
    settings,
)
from ilrflow.shared.settings import SERVICE_PORTS

app = typer.Typer(help="Tenants.", no_args_is_help=True)


@app.command("show")
def show(
    tenant: str = typer.Argument(..., help="Tenant id."),
    tracker_url: str = typer.Option(
        f"http://127.0.0.1:{SERVICE_PORTS['tracker']}", help="The tracker service's base URL."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show settings and every tracker type's switch and roles (raise/edit/process).

    The tracker API allows tenant settings to admins only, so the CLI signs a five-minute admin
    token for the tenant (subject ``ilrflow-cli``) with ILRFLOW_JWT_SECRET.
    """
    s = settings()
    token = operator_token(s, tenant, ["admin", "operator"])
    headers = {"authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=tracker_url, headers=headers, timeout=30) as http:
            settings_response = http.get("/v1/tracker-settings")
            types_response = http.get("/v1/tracker-types")
    except httpx.TransportError as error:
        fail(f"cannot reach the tracker service at {tracker_url}: {error}", EXIT_UNAVAILABLE)
    for response in (settings_response, types_response):
        if response.status_code == 404:
            fail(f"tenant {tenant!r} not found", EXIT_NOT_FOUND)
        if response.status_code != 200:
            fail(f"tracker service answered {response.status_code}: {response.text[:500]}")
    types: list[dict[str, Any]] = types_response.json()
    report = {
        "tenant": tenant,
        "settings": settings_response.json(),
        "enabled_types": [t["type"] for t in types if t["enabled"]],
        "policy": {
            t["type"]: {
                "enabled": t["enabled"],
                "raise": t["raise_roles"],
                "edit": t["edit_roles"],
                "process": t["process_roles"],
            }
            for t in types
        },
    }
    if as_json:
        emit_json(report)
        return
    typer.secho(f"tenant {tenant}", bold=True)
    for name, value in report["settings"].items():
        if name not in {"types", "custom_types"}:
            typer.echo(f"  {name}: {value}")
    typer.echo("  types:")
    for name, policy in report["policy"].items():
        flag = "on " if policy["enabled"] else "off"
        typer.echo(
            f"    [{flag}] {name}: raise={','.join(policy['raise'])} "
            f"edit={','.join(policy['edit'])} process={','.join(policy['process'])}"
        )
