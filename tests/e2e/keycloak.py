"""Keycloak as the OpenID Connect provider of the sign-in tests (deploy/local/keycloak.sh, the
realm deploy/local/keycloak/realm-ilrflow.json), and API-only service processes that trust it."""

from __future__ import annotations

import secrets
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from devstack import ServiceProcess, start_services, stop_services, wait_ready

from tests.conftest import REPO, Stack

KEYCLOAK_SCRIPT = REPO / "deploy" / "local" / "keycloak.sh"
AUDIENCE = "ilrflow-api"
TUTOR = ("tess.tutor", "tess.tutor-password")
ADMIN = ("ada.admin", "ada.admin-password")
TENANT = "oidc-acme"  # the realm's users' tenant attribute
CONSOLE_CLIENT = ("ilrflow-console", "ilrflow-console-development-secret")


@dataclass
class Keycloak:
    issuer: str

    @property
    def base_url(self) -> str:
        return self.issuer.rsplit("/realms/", 1)[0]

    def token(self, client_id: str = "ilrflow", user: tuple[str, str] = TUTOR) -> str:
        """An access token by the password grant (direct access grants, enabled for tests)."""
        username, password = user
        response = httpx.post(
            f"{self.issuer}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": client_id,
                "username": username,
                "password": password,
            },
            timeout=15,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def admin(self) -> httpx.Client:
        response = httpx.post(
            f"{self.base_url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": "admin",
                "password": "admin-password",
            },
            timeout=15,
        )
        response.raise_for_status()
        token = response.json()["access_token"]
        return httpx.Client(
            base_url=f"{self.base_url}/admin/realms/ilrflow",
            headers={"authorization": f"Bearer {token}"},
            timeout=15,
        )

    def trusted_by(self) -> dict[str, str]:
        """The settings of a process in production mode that accepts this realm's tokens, as
        docs/operations.md#sign-in sets them."""
        return {
            "ILRFLOW_ENV": "production",
            "ILRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
            "ILRFLOW_OIDC_ISSUER": self.issuer,
            "ILRFLOW_OIDC_AUDIENCE": AUDIENCE,
            "ILRFLOW_OIDC_TENANT_CLAIM": "ilrflow_tenant",
            "ILRFLOW_OIDC_ROLES_CLAIM": "realm_access.roles",
            "ILRFLOW_OIDC_GROUPS_CLAIM": "ilrflow_groups",
        }


def keycloak_script(command: str) -> str:
    done = subprocess.run(
        [str(KEYCLOAK_SCRIPT), command], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"keycloak.sh {command} failed:\n{done.stderr}"
    return done.stdout.strip()


@contextmanager
def api_only(
    stack: Stack, service: str, log_dir: Path, variables: dict[str, str]
) -> Iterator[ServiceProcess]:
    """One more process of ``service`` on the stack's databases, serving its API only."""
    env = {**stack.env, "ILRFLOW_RUN_CONSUMERS": "false", "ILRFLOW_RUN_RELAY": "false"}
    [process] = start_services({service: free_port()}, {**env, **variables}, log_dir, (service,))
    try:
        wait_ready([process])
        yield process
    finally:
        stop_services([process])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
