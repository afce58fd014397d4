"""Service logs on the real stack, as docs/operations.md#logs says: every line JSON without
colour codes, a consumer's lines about a record naming its tenant, story and event, one access
line per HTTP request, and a warning for an ``ILRFLOW_*`` variable that no setting reads."""

from __future__ import annotations

import json
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack import (
    ServiceProcess,
    start_services,
    stop_services,
    tail,
    wait_ready,
)

from ilrflow.contracts.events import Topics
from tests.conftest import Stack, eventually
from tests.e2e.helpers import STAFF, read_topic, run, tenant_with_staff

ANSI_ESCAPE = re.compile(r"\x1b\[")


def log_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if line.strip()]


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_lines(path) if line.startswith("{")]


def only(lines: list[dict[str, Any]], what: str) -> dict[str, Any]:
    assert len(lines) == 1, f"{len(lines)} lines of {what}"
    return lines[0]


def test_every_line_of_every_service_log_is_json_without_colour_codes(stack: Stack) -> None:
    tenant_with_staff(stack)  # every service has consumed and logged something by now
    for process in stack.processes:
        lines = log_lines(process.log_path)
        assert lines, f"{process.name} wrote no log"
        for line in lines:
            assert not ANSI_ESCAPE.search(line), f"{process.name}: colour codes in {line!r}"
            try:
                parsed = json.loads(line)
            except ValueError:
                raise AssertionError(f"{process.name}: not a JSON line: {line!r}") from None
            assert {"event", "level", "timestamp", "service"} <= parsed.keys(), line


def test_a_consumed_record_is_logged_with_its_tenant_correlation_and_event_ids(
    stack: Stack,
) -> None:
    tenant = tenant_with_staff(stack)
    staff_id = STAFF[0]["id"]
    key = f"{tenant.name}:{staff_id}".encode()
    [record] = eventually(
        lambda: run(read_topic(stack.settings.kafka_bootstrap, Topics.LEARNER_UPDATED, key))
    )
    headers = {name: value.decode() for name, value in record.headers}

    def handled_line() -> dict[str, Any]:
        tracker_log = stack.process("tracker").log_path
        return only(
            [
                line
                for line in json_lines(tracker_log)
                if line["event"] == "record handled" and line.get("event_id") == headers["ce_id"]
            ],
            "the line looked for",
        )

    line = eventually(handled_line, timeout=30)
    assert line["tenant"] == tenant.name
    assert line["correlation_id"] == headers["ce_correlationid"]
    assert line["outcome"] == "done"
    assert line["topic"] == Topics.LEARNER_UPDATED


def test_an_http_request_writes_one_access_line(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    correlation_id = f"access-{secrets.token_hex(4)}"
    with tenant.admin("tracker") as http:
        response = http.get("/v1/tracker-types", headers={"x-correlation-id": correlation_id})
    assert response.status_code == 200

    line = access_line(stack, "tracker", correlation_id)
    assert line["method"] == "GET"
    assert line["path"] == "/v1/tracker-types"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float | int)
    assert line["duration_ms"] >= 0
    assert line["tenant"] == tenant.name
    assert line["level"] == "info"


def test_a_refused_request_is_logged_without_a_tenant(stack: Stack) -> None:
    correlation_id = f"refused-{secrets.token_hex(4)}"
    with stack.anonymous("tracker") as http:
        response = http.get("/v1/trackers", headers={"x-correlation-id": correlation_id})
    assert response.status_code == 401

    line = access_line(stack, "tracker", correlation_id)
    assert line["status"] == 401
    assert "tenant" not in line


def access_line(stack: Stack, service: str, correlation_id: str) -> dict[str, Any]:
    """The one access line the service wrote for the request with this correlation id."""

    def the_line() -> dict[str, Any]:
        return only(
            [
                line
                for line in json_lines(stack.process(service).log_path)
                if line["event"] == "http request" and line.get("correlation_id") == correlation_id
            ],
            "the line looked for",
        )

    return eventually(the_line, timeout=30)


@contextmanager
def api_only_learner(stack: Stack, log_dir: Path, **variables: str) -> Iterator[ServiceProcess]:
    """One more learner process with these variables, started and ready; an API-only copy that
    joins no consumer group and publishes nothing, so the shared stack does not notice it."""
    env = {**stack.env, "ILRFLOW_RUN_CONSUMERS": "false", "ILRFLOW_RUN_RELAY": "false"}
    [process] = start_services(
        {"learner": _free_port()}, {**env, **variables}, log_dir, ("learner",)
    )
    try:
        wait_ready([process])
        yield process
    finally:
        stop_services([process])


def test_a_misspelt_ilrflow_variable_is_warned_about_at_start_up(
    stack: Stack, tmp_path: Path
) -> None:
    variables = {"ILRFLOW_LOG_LEVLE": "DEBUG", "ILRFLOW_KEEP_STACK": "1"}
    with api_only_learner(stack, tmp_path, **variables) as process:
        warnings = [
            line
            for line in json_lines(process.log_path)
            if line["event"] == "unknown ILRFLOW_* variable ignored"
        ]
    # Only the typo: the variables of the tooling around the services (ILRFLOW_KEEP_STACK, the
    # test stack's own ILRFLOW_STACK_DIR ...) are not settings, but no mistake either.
    assert [w["variable"] for w in warnings] == ["ILRFLOW_LOG_LEVLE"], tail(process.log_path)
    [warning] = warnings
    assert warning["level"] == "warning"
    assert warning["did_you_mean"] == "ILRFLOW_LOG_LEVEL"


def test_console_logs_carry_no_colour_codes_when_not_a_terminal(
    stack: Stack, tmp_path: Path
) -> None:
    with api_only_learner(stack, tmp_path, ILRFLOW_LOG_JSON="false") as process:
        lines = log_lines(process.log_path)
    assert any("service started" in line for line in lines), lines
    assert not [line for line in lines if ANSI_ESCAPE.search(line)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
