"""Fixtures of the end-to-end tests that only some modules use (the stack's are in tests/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser import chromium
from playwright.sync_api import Browser

from tests.e2e.keycloak import Keycloak, keycloak_script


@pytest.fixture(scope="module")
def keycloak() -> Iterator[Keycloak]:
    """Keycloak from the project's script; stopped afterwards unless it was already running."""
    was_running = keycloak_script("status").startswith("keycloak: running")
    keycloak_script("up")
    try:
        yield Keycloak(issuer=keycloak_script("issuer"))
    finally:
        if not was_running:
            keycloak_script("down")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium for a module's browser tests (module-scoped, so it starts after the
    session's stack: Playwright's sync API holds an event loop on the thread while it runs)."""
    with chromium() as launched:
        yield launched
