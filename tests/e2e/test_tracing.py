"""One trace from an HTTP call to every consumer: the caller's traceparent on
``POST /v1/trackers/{id}/process`` reaches the tracker's HTTP span, the learner, ILR, notify and
audit consumers of ``tracker-processed``, and, through the ILR service's ``ilr-updated``, the
tracker again; log lines inside those spans carry the trace id. The stack runs with the file
exporter (``ILRFLOW_OTEL_EXPORTER=file``, tests/conftest.py)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.conftest import Stack, eventually
from tests.e2e.helpers import enrolled_learner, tenant_with_staff

pytestmark = pytest.mark.e2e


def spans_of(stack: Stack, service: str, trace_id: str) -> list[dict[str, Any]]:
    assert stack.log_dir is not None
    path = stack.log_dir / f"spans-{service}.jsonl"
    if not path.exists():
        return []
    spans = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return [s for s in spans if s["trace_id"] == trace_id]


def log_lines_of(stack: Stack, service: str, trace_id: str) -> list[dict[str, Any]]:
    assert stack.log_dir is not None
    lines = []
    for line in (stack.log_dir / f"{service}.log").read_text().splitlines():
        if trace_id in line and line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_one_trace_spans_the_http_call_and_every_consumer(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    with tenant.admin("tracker") as tracker:
        assert (
            tracker.put(
                "/v1/tracker-types/change_of_contact_details", json={"enabled": True}
            ).status_code
            == 200
        )
        raised = eventually(
            lambda: tracker.post(
                "/v1/trackers",
                json={
                    "type": "change_of_contact_details",
                    "learner_id": learner_id,
                    "changes": {"email": "traced@example.org"},
                },
            )
        )
        assert raised.status_code == 201, raised.text
        trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
        processed = tracker.post(
            f"/v1/trackers/{raised.json()['id']}/process",
            headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
        )
        assert processed.status_code == 200, processed.text

    def served() -> list[dict[str, Any]]:
        return [s for s in spans_of(stack, "tracker", trace_id) if s["kind"] == "SERVER"]

    [http] = eventually(served)
    assert http["name"] == "POST /v1/trackers/{tracker_id}/process"
    assert http["parent_id"] == caller_span

    def consumed(service: str, topic: str) -> list[dict[str, Any]]:
        return [
            s
            for s in spans_of(stack, service, trace_id)
            if s["name"] == f"{topic} process" and s["kind"] == "CONSUMER"
        ]

    for service in ("learner", "ilr", "notify", "audit"):
        [span] = eventually(lambda service=service: consumed(service, "tracker-processed"))
        assert span["service"] == f"ilrflow-{service}"
        # Its parent is the tracker's endpoint span, inside the HTTP span.
        [writer] = [
            s for s in spans_of(stack, "tracker", trace_id) if s["span_id"] == span["parent_id"]
        ]
        assert writer["name"] == "fastapi.endpoint"
        assert writer["parent_id"] == http["span_id"]
        if service != "audit":
            assert span["attributes"]["ilrflow.outcome"] == "done"

    # The ILR service's ilr-updated continues from its consumer span back into the tracker.
    [ilr_consumer] = consumed("ilr", "tracker-processed")
    [outcome] = eventually(lambda: consumed("tracker", "ilr-updated"))
    assert outcome["parent_id"] == ilr_consumer["span_id"]
    eventually(lambda: consumed("audit", "ilr-updated"))

    # Log lines written inside those spans carry the trace and span ids.
    [handled] = [
        line
        for line in eventually(lambda: log_lines_of(stack, "ilr", trace_id))
        if line["event"] == "record handled" and line["topic"] == "tracker-processed"
    ]
    assert handled["span_id"] == ilr_consumer["span_id"]
