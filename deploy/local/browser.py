"""The console in a real browser: Debian's Chromium (installed by deploy/local/bootstrap.sh),
driven by Playwright without any browser download, and axe-core's accessibility check run inside
the page. Used by the browser test (tests/e2e/test_console.py) and the screenshots
(deploy/local/console_screenshots.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = ROOT / "services" / "web" / "assets" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
RUN_AXE = """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
  .map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target)}))"""


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@cache
def _axe_source() -> str:
    return AXE.read_text()


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    page.add_script_tag(content=_axe_source())
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['targets']}"
        for v in violations
        if v["impact"] in BLOCKING_IMPACTS
    ]


def sign_in(page: Page, console_url: str, tenant: str, name: str) -> None:
    """Development sign-in as the person of ``tenant`` labelled ``name``."""
    page.goto(f"{console_url}/sign-in?{urlencode({'tenant': tenant})}")
    page.get_by_label(name, exact=True).check()
    page.get_by_role("button", name="Sign in").click()
