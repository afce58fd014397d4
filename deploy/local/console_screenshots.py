"""Screenshots of every console page into docs/console/, taken in the browser the browser test
uses, against a running `make run` (its demo tenant). Each page is checked with axe-core too.

    make run                                       # in one shell
    uv run python deploy/local/console_screenshots.py   # in another

It raises a change of address for the demo learner Alice Walker, looks at it as Sam Support (who
may not act on it: the reasons instead of the buttons), and processes it as Ada Admin, as a
person trying the console would; then Ada's notifications and tenant settings, and Sam's audit
search with the chains checked. `--console URL` for a console elsewhere (`run.py --port-base N`:
the console on the port before N).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from browser import chromium, serious_violations, sign_in
from playwright.sync_api import Browser, Page

from ilrflow.platform.settings import CONSOLE_PORT

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1100, 800
NEW_ADDRESSES = {False: ("12 Oak Avenue", "LS6 2BB"), True: ("7 Elm Road", "LS7 3AB")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--console", default=f"http://127.0.0.1:{CONSOLE_PORT}")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        problems = Journey(browser, args.console, args.tenant, args.out).run()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


class Journey:
    def __init__(self, browser: Browser, console: str, tenant: str, out: Path) -> None:
        self.browser, self.console, self.tenant, self.out = browser, console, tenant, out
        self.problems: list[str] = []

    def as_person(self, name: str) -> Page:
        page = self.browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}).new_page()
        sign_in(page, self.console, self.tenant, name)
        return page

    def shoot(self, page: Page, name: str) -> None:
        self.problems += [f"{name}: {v}" for v in serious_violations(page)]
        page.screenshot(path=str(self.out / f"{name}.png"), full_page=True)
        print(f"{name}.png  {page.url}")

    def run(self) -> list[str]:
        page = self.browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}).new_page()
        page.goto(f"{self.console}/sign-in?tenant={self.tenant}")
        self.shoot(page, "sign-in")

        learner = self.as_person("Alice Walker")
        # A move to an address the learner does not live at yet, however often this runs.
        line, postcode = NEW_ADDRESSES["12 Oak Avenue" in learner.inner_text("main")]
        learner.get_by_label("Postcode").fill("LS6")
        learner.get_by_role("button", name="Request the change of address").click()
        self.shoot(learner, "about-you-errors")
        learner.get_by_label("Address line 1").fill(line)
        learner.get_by_label("Address line 2 (optional)").fill("Leeds")
        learner.get_by_label("Postcode").fill(postcode)
        learner.get_by_role("button", name="Request the change of address").click()
        found = re.search(r"Your request (T\w+)", learner.inner_text("main"))
        assert found, "the change of address was not raised"
        tracker_id = found.group(1)
        self.shoot(learner, "about-you")

        support = self.as_person("Sam Support")
        support.goto(f"{self.console}/trackers/{tracker_id}")
        self.shoot(support, "tracker-not-allowed")

        admin = self.as_person("Ada Admin")
        admin.goto(f"{self.console}/trackers?allocated=me")
        self.shoot(admin, "trackers")
        admin.goto(f"{self.console}/trackers/new?type=change_of_address")
        self.shoot(admin, "raise")
        admin.goto(f"{self.console}/trackers/{tracker_id}")
        self.shoot(admin, "tracker")
        admin.get_by_text("Edit the proposed values").click()
        self.shoot(admin, "tracker-edit")
        admin.get_by_role("button", name="Process").click()
        learner_link = admin.locator("dd a").first.get_attribute("href")
        for _ in range(60):  # until the ILR service's outcome is on the tracker
            if "ILR version" in admin.inner_text("main"):
                break
            time.sleep(0.5)  # poll interval
            admin.reload()
        self.shoot(admin, "tracker-processed")
        admin.goto(f"{self.console}{learner_link}")
        self.shoot(admin, "learner-record")
        admin.goto(f"{self.console}/notifications")
        self.shoot(admin, "notifications")
        admin.goto(f"{self.console}/settings")
        self.shoot(admin, "settings")

        uln = re.search(r"Unique learner number\s+(\d{10})", learner.inner_text("main"))
        assert uln, "the learner's ULN is not on About you"
        support.goto(f"{self.console}/audit?learner={uln.group(1)}&verify=1")
        self.shoot(support, "audit-search")

        tutor = self.as_person("Tom Tutor")
        tutor.goto(f"{self.console}/trackers/T-NOT-YOURS")
        self.shoot(tutor, "not-found")
        return self.problems


if __name__ == "__main__":
    sys.exit(main())
