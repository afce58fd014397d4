"""How fast does the console answer with 1,000 trackers in the tenant? (Issue #15: page responses
p95 under 300 ms on the dev stack.)

    make run                                  # in one shell: the dev stack and its demo tenant
    uv run python -m bench.console_pages [--trackers 1000] [--rounds 30] [--console URL]

Raises ``--trackers`` change-of-address trackers for the demo tenant's learners with one bulk
request (``POST /v1/trackers/bulk`` as the demo admin), waits until the job is finished, then
signs in to the console (development sign-in) as the admin, a learner and support, and requests
each page ``--rounds`` times in turn, one request at a time, as one person clicking would. Prints
p50, p95 and the slowest response per page; exits 1 when a page's p95 is over ``--budget-ms``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from dataclasses import dataclass

import httpx

from ilrflow.platform.auth import mint_token
from ilrflow.platform.settings import CONSOLE_PORT, Settings

TENANT = "demo"


@dataclass(frozen=True)
class Timing:
    page: str
    seconds: list[float]

    def percentile(self, share: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.page:<34} p50 {statistics.median(self.seconds) * 1000:6.1f} ms   "
            f"p95 {self.percentile(0.95) * 1000:6.1f} ms   max {max(self.seconds) * 1000:6.1f} ms"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--console", default=f"http://127.0.0.1:{CONSOLE_PORT}")
    parser.add_argument("--trackers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--budget-ms", type=float, default=300.0)
    args = parser.parse_args(argv)
    settings = Settings()
    urls = settings.web_service_urls
    admin = mint_token(settings, tenant=TENANT, sub="admin-1", roles=["admin"], groups=["cohort-a"])
    with httpx.Client(headers={"authorization": f"Bearer {admin}"}, timeout=60) as api:
        learners = api.get(f"{urls['learner']}/v1/learners", params={"limit": 200}).json()["items"]
        raise_trackers(api, urls["tracker"], learners, args.trackers)
        tracker_id = api.get(f"{urls['tracker']}/v1/trackers", params={"limit": 1}).json()["items"][
            0
        ]["id"]
    learner = learners[0]
    name = f"{learner['given_names']} {learner['family_name']}"
    pages = {
        "Ada Admin": [
            "/trackers",
            "/trackers?allocated=me&status=allocated",
            f"/trackers/{tracker_id}",
            f"/learners/{learner['id']}",
        ],
        name: ["/about-you"],
        "Sam Support": [f"/audit?learner={learner['uln']}"],
    }
    timings = [
        timing
        for person, paths in pages.items()
        for timing in time_pages(args.console, person, paths, args.rounds)
    ]
    print(f"\n{args.rounds} requests per page, {args.trackers} more trackers in tenant {TENANT}:")
    for timing in timings:
        print("  " + timing.line())
    over = [t.page for t in timings if t.percentile(0.95) * 1000 > args.budget_ms]
    if over:
        print(f"p95 over {args.budget_ms:.0f} ms: {', '.join(over)}")
    return 1 if over else 0


def raise_trackers(
    api: httpx.Client, tracker_url: str, learners: list[dict[str, object]], count: int
) -> None:
    items = [
        {
            "learner_id": learners[n % len(learners)]["id"],
            "changes": {
                "address": {"lines": [f"{n + 1} Bench Street", "Leeds"], "postcode": "LS1 4AP"}
            },
        }
        for n in range(count)
    ]
    started = time.monotonic()
    for first in range(0, count, 1000):  # the bulk endpoint's limit
        job = api.post(
            f"{tracker_url}/v1/trackers/bulk",
            json={"type": "change_of_address", "items": items[first : first + 1000]},
        )
        job.raise_for_status()
        job_url = f"{tracker_url}/v1/trackers/bulk-jobs/{job.json()['id']}"
        while api.get(job_url).json()["status"] != "finished":
            time.sleep(1)  # poll interval
    print(f"raised {count} trackers in {time.monotonic() - started:.0f} s")


def time_pages(console: str, person: str, paths: list[str], rounds: int) -> list[Timing]:
    with httpx.Client(base_url=console, timeout=30) as browser:
        sign_in = browser.get("/sign-in", params={"tenant": TENANT})
        csrf = re.search(r'name="csrf" value="([^"]+)"', sign_in.text)
        person_id = re.search(
            rf'value="([^"]+)"[^>]*>\s*<label[^>]*>{re.escape(person)}<', sign_in.text
        )
        assert csrf, "the sign-in page has no form"
        assert person_id, f"{person} is not on the sign-in page"
        browser.post(
            "/sign-in",
            data={"csrf": csrf.group(1), "tenant": TENANT, "person": person_id.group(1)},
        )
        seconds: dict[str, list[float]] = {path: [] for path in paths}
        for _ in range(rounds):
            for path in paths:
                started = time.perf_counter()
                answer = browser.get(path)
                seconds[path].append(time.perf_counter() - started)
                answer.raise_for_status()
    return [Timing(re.sub(r"[A-Z0-9]{10,}", "{id}", p), s) for p, s in seconds.items()]


if __name__ == "__main__":
    sys.exit(main())
