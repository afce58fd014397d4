"""The records on the real broker against docs/asyncapi.yaml: every header a record carries is
documented (FastStream's ``correlation_id`` equal to ``ce_correlationid``), and each message's
key description says what its key holds (staff events and audit-access events included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ilrflow.contracts.events import Topics
from tests.conftest import REPO, Stack, eventually
from tests.e2e.helpers import STAFF, read_topic, run, tenant_with_staff

ASYNCAPI = REPO / "docs" / "asyncapi.yaml"


def asyncapi() -> dict[str, Any]:
    return yaml.safe_load(Path(ASYNCAPI).read_text())


def documented_headers() -> set[str]:
    return set(asyncapi()["components"]["schemas"]["CloudEventHeaders"]["properties"])


def key_description(message: str) -> str:
    return str(
        asyncapi()["components"]["messages"][message]["bindings"]["kafka"]["key"]["description"]
    )


def records(stack: Stack, topic: str, key: str) -> list[Any]:
    return list(
        eventually(lambda: run(read_topic(stack.settings.kafka_bootstrap, topic, key.encode())))
    )


def test_a_staff_event_carries_only_documented_headers_and_one_correlation_id(
    stack: Stack,
) -> None:
    tenant = tenant_with_staff(stack)
    staff_id = STAFF[1]["id"]
    [record] = records(stack, Topics.LEARNER_UPDATED, f"{tenant.name}:{staff_id}")
    headers = {name: value.decode() for name, value in record.headers}
    assert headers["ce_type"] == "ilrflow.staff.updated.v1"
    assert set(headers) <= documented_headers(), set(headers) - documented_headers()
    assert headers["correlation_id"] == headers["ce_correlationid"]
    assert headers["ce_subject"] == staff_id
    assert key_description("StaffUpdated") == "<tenant>:<staff id>"


def test_an_audit_access_event_is_keyed_as_documented(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    with tenant.admin("audit") as http:
        assert http.get("/v1/audit/events").status_code == 200
    reader = STAFF[0]["id"]
    [record] = records(stack, Topics.AUDIT_ACCESS, f"{tenant.name}:{reader}")
    headers = {name: value.decode() for name, value in record.headers}
    assert headers["ce_type"] == "ilrflow.audit.accessed.v1"
    assert set(headers) <= documented_headers(), set(headers) - documented_headers()
    assert headers["correlation_id"] == headers["ce_correlationid"]
    assert key_description("AuditAccessed") == (
        "<tenant>:<learner id when the query named one, else the reader's token subject>"
    )
