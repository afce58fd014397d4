"""Single sign-on in the console, in a real browser: a console in production mode (no development
sign-in) sends the person to Keycloak's login form (authorization code + PKCE), lands them signed
in, and calls the tracker API with their Keycloak access token; signing out ends Keycloak's
session too, so the next sign-in asks for the password again."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from devstack import CONSOLE, ServiceProcess, console_env, start_services, stop_services, wait_ready
from playwright.sync_api import Browser, expect

from tests.conftest import Stack
from tests.e2e.browsing import accessible
from tests.e2e.keycloak import ADMIN, CONSOLE_CLIENT, TENANT, Keycloak, api_only, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sso_tracker(
    stack: Stack, keycloak: Keycloak, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """A tracker API that accepts only the realm's tokens (production mode)."""
    with api_only(stack, "tracker", tmp_path_factory.mktemp("sso"), keycloak.trusted_by()) as p:
        yield p


@pytest.fixture(scope="module")
def sso_console(
    stack: Stack,
    keycloak: Keycloak,
    sso_tracker: ServiceProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The console in production mode, signing people in at Keycloak: its base URL."""
    client_id, secret = CONSOLE_CLIENT
    env = {
        **stack.env,
        **console_env({**stack.urls, "tracker": sso_tracker.url}, dev_sign_in="0"),
        **keycloak.trusted_by(),
        "ILRFLOW_WEB_OIDC_CLIENT_ID": client_id,
        "ILRFLOW_WEB_OIDC_CLIENT_SECRET": secret,
    }
    log_dir = tmp_path_factory.mktemp("sso-console")
    [process] = start_services({CONSOLE: free_port()}, env, log_dir, (CONSOLE,))
    try:
        wait_ready([process])
        yield process.url
    finally:
        stop_services([process])


def test_a_person_signs_in_at_keycloak_uses_the_apis_and_signs_out_there_too(
    browser: Browser, sso_console: str
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{sso_console}/trackers")  # nobody signed in: to the sign-in page
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Development sign-in")).to_have_count(0)
    accessible(page).get_by_role("button", name="Sign in with single sign-on").click()

    username, password = ADMIN
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("#kc-login").click()

    # Back on the console, signed in: the tracker API (Keycloak tokens only) answered the list.
    expect(page).to_have_url(re.compile(re.escape(f"{sso_console}/trackers")))
    expect(page.get_by_text(f"Signed in as Ada Admin (admin, {TENANT})")).to_be_visible()
    expect(page.get_by_role("heading", name="Trackers")).to_be_visible()
    expect(page.get_by_text("No trackers match these filters.")).to_be_visible()
    accessible(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "ilrflow_console")
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Lax")

    page.get_by_role("button", name="Sign out").click()
    page.locator("#kc-logout").click()  # Keycloak asks before it ends its session
    expect(page).to_have_url(f"{sso_console}/sign-in")
    page.goto(f"{sso_console}/trackers")
    expect(page).to_have_url(f"{sso_console}/sign-in")
    page.get_by_role("button", name="Sign in with single sign-on").click()
    expect(page.locator("#password")).to_be_visible()  # no silent sign-in: the session ended


def test_a_forged_answer_from_the_provider_signs_nobody_in(
    browser: Browser, sso_console: str
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{sso_console}/sign-in")
    page.get_by_role("button", name="Sign in with single sign-on").click()
    expect(page.locator("#username")).to_be_visible()
    answer = page.goto(f"{sso_console}/sign-in/callback?code=stolen&state=forged")
    assert answer is not None
    assert answer.status == 400
    expect(page.get_by_text("not for a sign-in started in this browser")).to_be_visible()
    accessible(page)
    page.goto(f"{sso_console}/trackers")
    expect(page).to_have_url(f"{sso_console}/sign-in")
