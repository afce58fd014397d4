"""A learner's audit timeline read a page at a time on the running stack: 230 lines (more than
two stored pages) walked with ``cursor`` and ``limit`` show every line once, oldest first; a
forged cursor and a limit above the stated maximum are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ilrflow.audit.domain.timeline import MAX_LIMIT
from ilrflow.contracts.events import TrackerRaised, new_event, partition_key, to_wire
from tests.conftest import Stack, eventually, new_tenant
from tests.e2e.helpers import produce, run

pytestmark = pytest.mark.e2e
LINES = 230
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def raised(tenant: str, learner_id: str, n: int) -> tuple[str, bytes, dict[str, Any], bytes]:
    data = TrackerRaised(
        tracker_id=f"T{n:03d}",
        learner_id=learner_id,
        tracker_type="change_of_address",
        changes={"address": {"lines": [f"{n} High Street"], "postcode": "LS1 4AP"}},
        raised_by=learner_id,
        raised_by_roles=["learner"],
    )
    event = new_event(data, tenant=tenant, subject=learner_id, actor=learner_id)
    event = event.model_copy(update={"time": T0 + timedelta(minutes=n)})
    key, headers, value = to_wire(event)
    # A dead-letter topic: only the audit service reads it, so no other service acts on these.
    return "tracker-raised.dlt", key, {k: v.encode() for k, v in headers.items()}, value


def walk(http: httpx.Client, learner_id: str, limit: int) -> list[list[dict[str, Any]]]:
    pages, params = [], {"limit": limit}
    while True:
        response = http.get(f"/v1/audit/learners/{learner_id}/timeline", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        if body["next_cursor"] is None:
            return pages
        params = {"limit": limit, "cursor": body["next_cursor"]}


def lines_of(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [line for page in pages for line in page]


def test_a_long_timeline_is_read_a_page_at_a_time_every_line_once_in_order(stack: Stack) -> None:
    tenant, learner_id = new_tenant(), "L-pages"
    key = partition_key(tenant, learner_id).encode()
    records = [
        (t, key, h, v) for t, _, h, v in (raised(tenant, learner_id, n) for n in range(LINES))
    ]
    run(produce(stack.settings.kafka_bootstrap, records))
    support = stack.client("audit", tenant, "support-1", "support")

    def stored() -> list[dict[str, Any]] | None:
        everything = lines_of(walk(support, learner_id, MAX_LIMIT))
        return everything if len(everything) == LINES else None

    everything = eventually(stored)
    pages = walk(support, learner_id, 40)

    assert [len(page) for page in pages] == [40] * 5 + [30]
    assert lines_of(pages) == everything
    times = [datetime.fromisoformat(line["time"]) for line in everything]
    assert times == [T0 + timedelta(minutes=n) for n in range(LINES)]
    assert len({line["entry_id"] for line in everything}) == LINES


def test_a_forged_cursor_and_a_limit_past_the_maximum_are_refused(stack: Stack) -> None:
    support = stack.client("audit", new_tenant(), "support-1", "support")
    timeline = "/v1/audit/learners/L1/timeline"

    assert support.get(timeline, params={"cursor": "bm90IGEgY3Vyc29y"}).status_code == 422
    assert support.get(timeline, params={"limit": MAX_LIMIT + 1}).status_code == 422
    assert support.get(timeline, params={"limit": MAX_LIMIT}).json() == {
        "items": [],
        "next_cursor": None,
    }
