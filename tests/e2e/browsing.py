"""What the console's browser tests share besides the ``browser`` fixture (tests/e2e/conftest.py)."""

from __future__ import annotations

from browser import serious_violations
from playwright.sync_api import Page


def accessible(page: Page) -> Page:
    """The page, once axe-core finds no serious or critical violation on it."""
    assert serious_violations(page) == [], page.url
    return page
