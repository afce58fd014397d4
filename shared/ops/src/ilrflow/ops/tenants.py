"""``ilrflow tenants``: list tenants; show, or create/update, a tenant's tracker settings,
enabled types, permission policy and ILR settings.

There is no tenant registry: a tenant is whatever its owning services hold for it (see
``directory``). The tracker service owns tracker settings and the permission policy, the ILR
service the UKPRN and restart rule; the CLI changes them through their APIs, so the services' own
validation decides what is valid (a 422 is shown field by field). It signs a five-minute admin
token for the tenant (subject ``ilrflow-cli``) with ILRFLOW_JWT_SECRET, because both APIs allow
settings to admins only. Before storing allocation rules it checks each one names an admin of the
learner service's staff directory: a tracker allocated to nobody would wait unseen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import typer
import yaml

from ilrflow.ops.common import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    call_service,
    emit_json,
    every_item,
    fail,
    operator_token,
    run,
    settings,
    tenant_id,
)
from ilrflow.ops.directory import Directory, StaffMember
from ilrflow.platform.settings import SERVICE_PORTS

app = typer.Typer(help="Tenants.", no_args_is_help=True)

VERBS = ("raise", "edit", "process")
CUSTOM_PREFIX = "custom:"

TRACKER_URL = typer.Option(
    f"http://127.0.0.1:{SERVICE_PORTS['tracker']}", help="The tracker service's base URL."
)
ILR_URL = typer.Option(
    f"http://127.0.0.1:{SERVICE_PORTS['ilr']}", help="The ILR service's base URL."
)
AS_JSON = typer.Option(False, "--json", help="Machine-readable output.")


class TenantApi:
    """The tracker and ILR APIs as one admin of the tenant sees them."""

    def __init__(self, tenant: str, tracker_url: str, ilr_url: str | None) -> None:
        token = operator_token(settings(), tenant, ["admin", "operator"])
        headers = {"authorization": f"Bearer {token}"}
        self.tenant = tenant
        self.urls = {"tracker": tracker_url, "ilr": ilr_url}
        self._http = httpx.Client(headers=headers, timeout=30)

    def __enter__(self) -> TenantApi:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def call(self, service: str, method: str, path: str, body: Any = None) -> Any:
        return call_service(self._http, service, self.urls[service] or "", method, path, body)

    def report(self) -> dict[str, Any]:
        types: list[dict[str, Any]] = every_item(
            self._http, "tracker", self.urls["tracker"] or "", "/v1/tracker-types"
        )
        report = {
            "tenant": self.tenant,
            "settings": self.call("tracker", "GET", "/v1/tracker-settings"),
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
        if self.urls["ilr"] is not None:
            report["ilr"] = self.call("ilr", "GET", "/v1/ilr/settings")
        return report


@app.command("list")
def list_(as_json: bool = AS_JSON) -> None:
    """Every tenant the services hold: staff count, whether it has tracker and ILR settings, its
    lane."""
    s = settings()

    async def listing() -> list[dict[str, Any]]:
        async with Directory(s) as directory:
            return [facts.as_json() for facts in await directory.tenants()]

    tenants = run(listing)
    if as_json:
        emit_json(tenants)
        return
    for item in tenants:
        settings_held = [name for name in ("tracker", "ilr") if item[f"{name}_settings"]]
        typer.echo(
            f"{item['tenant']}  staff={item['staff']}  "
            f"settings={','.join(settings_held) or '-'}  lane={item['lane']}"
            + ("  PAUSED" if item["paused"] else "")
        )
    typer.echo(f"{len(tenants)} tenant(s)")


@app.command("show")
def show(
    tenant: str = typer.Argument(..., help="Tenant id."),
    tracker_url: str = TRACKER_URL,
    ilr_url: str | None = typer.Option(
        None, help="The ILR service's base URL: also show the tenant's ILR settings."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Show settings and every tracker type's switch and roles (raise/edit/process).

    A tenant no service holds anything for is not found (exit 4), rather than shown with the
    defaults every service would answer for it."""
    tenant_id(tenant)
    with TenantApi(tenant, tracker_url, ilr_url) as api:
        report = api.report()
    if not run(lambda: _exists(tenant)):
        fail(f"no tenant {tenant!r} (see `ilrflow tenants list`)", EXIT_NOT_FOUND)
    _print(report, as_json)


async def _exists(tenant: str) -> bool:
    async with Directory(settings()) as directory:
        return await directory.exists(tenant)


@app.command("create")
def create(
    tenant: str = typer.Argument(..., help="Tenant id (created, or updated if it has settings)."),
    file: Path | None = typer.Option(
        None,
        "--file",
        "-f",
        exists=True,
        dir_okay=False,
        help="YAML or JSON with any of: settings (tracker-settings fields), types "
        "({type: {enabled, raise_roles, edit_roles, process_roles}}), custom_types "
        "({name: {title, description, fields, enabled, ...roles}}), ilr ({ukprn, "
        "restart_planned_hours}). Options given as well win over the file.",
    ),
    enable: list[str] = typer.Option([], help="Enable a tracker type (repeat)."),
    disable: list[str] = typer.Option([], help="Disable a tracker type (repeat)."),
    roles: list[str] = typer.Option(
        [], help="Who may raise/edit/process a type: TYPE:VERB=role,role (repeat)."
    ),
    allocate: list[str] = typer.Option(
        [], help="Allocation rule GROUP=ADMIN_ID (repeat; replaces the tenant's rules)."
    ),
    two_person_control: bool | None = typer.Option(
        None, "--two-person-control/--no-two-person-control", help="Raiser may not process."
    ),
    material_impact_threshold: int | None = typer.Option(None, help="Percent, 1-100."),
    ukprn: int | None = typer.Option(None, help="The provider's UKPRN (ILR exports)."),
    tracker_url: str = TRACKER_URL,
    ilr_url: str = ILR_URL,
    as_json: bool = AS_JSON,
) -> None:
    """Create or update a tenant: tracker settings, types and roles, ILR settings.

    Types are merged: a type named here keeps whatever it does not set (``--roles`` alone
    leaves the switch as it was). Tenant settings not named keep their value.
    """
    tenant_id(tenant)
    wanted = _wanted(file)
    _apply_options(
        wanted, enable, disable, roles, allocate, two_person_control,
        material_impact_threshold, ukprn,
    )  # fmt: skip
    _check_allocation_rules(tenant, wanted["settings"].get("allocation_rules") or [])
    with TenantApi(tenant, tracker_url, ilr_url) as api:
        _store(api, wanted)
        report = api.report()
    _print(report, as_json)


def _wanted(file: Path | None) -> dict[str, Any]:
    sections = {"settings", "types", "custom_types", "ilr"}
    if file is None:
        return {name: {} for name in sections}
    try:
        loaded = (
            json.loads(file.read_text())
            if file.suffix == ".json"
            else yaml.safe_load(file.read_text())
        )
    except (ValueError, yaml.YAMLError) as error:
        fail(f"{file}: not valid YAML/JSON: {error}", EXIT_USAGE)
    loaded = loaded or {}
    if not isinstance(loaded, dict) or set(loaded) - sections:
        unknown = sorted(set(loaded) - sections) if isinstance(loaded, dict) else [loaded]
        fail(f"{file}: unknown sections {unknown}; expected {sorted(sections)}", EXIT_USAGE)
    for name in sections:
        if not isinstance(loaded.setdefault(name, {}) or {}, dict):
            fail(f"{file}: section {name!r} must be a mapping", EXIT_USAGE)
        loaded[name] = loaded[name] or {}
    return loaded


def _apply_options(
    wanted: dict[str, Any],
    enable: list[str],
    disable: list[str],
    roles: list[str],
    allocate: list[str],
    two_person_control: bool | None,
    material_impact_threshold: int | None,
    ukprn: int | None,
) -> None:
    types: dict[str, dict[str, Any]] = wanted["types"]
    for name in enable:
        types.setdefault(name, {})["enabled"] = True
    for name in disable:
        types.setdefault(name, {})["enabled"] = False
    for spec in roles:
        target, _, role_list = spec.partition("=")
        type_name, _, verb = target.rpartition(":")
        if not type_name or verb not in VERBS or not role_list:
            fail(f"--roles {spec!r}: expected TYPE:VERB=role,role with VERB in {VERBS}", EXIT_USAGE)
        types.setdefault(type_name, {})[f"{verb}_roles"] = role_list.split(",")
    if allocate:
        rules = []
        for spec in allocate:
            group, _, admin = spec.partition("=")
            if not group or not admin:
                fail(f"--allocate {spec!r}: expected GROUP=ADMIN_ID", EXIT_USAGE)
            rules.append({"learner_group": group, "admin_id": admin})
        wanted["settings"]["allocation_rules"] = rules
    if two_person_control is not None:
        wanted["settings"]["two_person_control"] = two_person_control
    if material_impact_threshold is not None:
        wanted["settings"]["material_impact_threshold"] = material_impact_threshold
    if ukprn is not None:
        wanted["ilr"]["ukprn"] = ukprn


def _check_allocation_rules(tenant: str, rules: list[Any]) -> None:
    admins = sorted({str(rule.get("admin_id")) for rule in rules if isinstance(rule, dict)})
    if not admins:
        return

    async def look_up() -> dict[str, StaffMember | None]:
        async with Directory(settings()) as directory:
            return {admin: await directory.staff_member(tenant, admin) for admin in admins}

    problem = allocation_problem(tenant, run(look_up))
    if problem is not None:
        fail(*problem)


def allocation_problem(tenant: str, staff: dict[str, StaffMember | None]) -> tuple[str, int] | None:
    """Why allocation rules naming these staff ids cannot stand (message, exit code), or None.

    Trackers are allocated to the rule's admin; one who is not in the staff directory, or is
    staff but may not process trackers, would never see them."""
    missing = sorted(admin for admin, member in staff.items() if member is None)
    if missing:
        return (
            f"allocation rule names {', '.join(missing)}, not in tenant {tenant!r}'s staff "
            "directory (add staff with POST /v1/staff on the learner service first)",
            EXIT_NOT_FOUND,
        )
    for admin, member in sorted(staff.items()):
        if member is not None and "admin" not in member.roles:
            return (
                f"allocation rule names {admin}, but {admin} is not an admin "
                f"(roles: {', '.join(member.roles) or 'none'})",
                EXIT_USAGE,
            )
    return None


def _store(api: TenantApi, wanted: dict[str, Any]) -> None:
    """Custom types first (a type setting may name one), then settings, types, ILR."""
    for name, definition in wanted["custom_types"].items():
        api.call("tracker", "PUT", f"/v1/tracker-types/{CUSTOM_PREFIX}{name}", definition)
    if wanted["settings"]:
        api.call("tracker", "PUT", "/v1/tracker-settings", wanted["settings"])
    if wanted["types"]:
        current = api.call("tracker", "GET", "/v1/tracker-settings").get("types", {})
        for name, changes in wanted["types"].items():
            merged = {**current.get(name, {}), **changes}
            api.call("tracker", "PUT", f"/v1/tracker-types/{name}", merged)
    if wanted["ilr"]:
        api.call("ilr", "PUT", "/v1/ilr/settings", wanted["ilr"])


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    typer.secho(f"tenant {report['tenant']}", bold=True)
    for name, value in report["settings"].items():
        if name not in {"types", "custom_types"}:
            typer.echo(f"  {name}: {value}")
    for name, value in report.get("ilr", {}).items():
        typer.echo(f"  ilr.{name}: {value}")
    typer.echo("  types:")
    for name, policy in report["policy"].items():
        flag = "on " if policy["enabled"] else "off"
        typer.echo(
            f"    [{flag}] {name}: raise={','.join(policy['raise'])} "
            f"edit={','.join(policy['edit'])} process={','.join(policy['process'])}"
        )
