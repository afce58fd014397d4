"""The 2025/26 minimum OTJ table end to end: an operator loads it into the ILR service (the CLI,
as an operator would), the ILR service announces it on ``reference-data``, and the tracker
service's return-to-learning preview takes the standard's minimum from it; a standard missing
from the loaded table is "minimum unknown", never "meets the minimum"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ilrflow.ops import app
from tests.conftest import Stack, eventually
from tests.e2e.helpers import Tenant, known_learner
from tests.e2e.test_tracker_steps import ilr_outcome, process, raise_tracker, tracker_tenant

pytestmark = pytest.mark.e2e

BREAK = {
    "last_day_of_learning": "2025-12-19",
    "expected_return_date": "2026-01-12",
    "reason": "Agreed leave",
}
RETURN = {"return_date": "2026-01-12"}


def _load(stack: Stack, tmp_path: Path, name: str, rows: str) -> dict[str, Any]:
    """``ilrflow reference load-otj-minimums`` against the test stack's ILR service."""
    file = tmp_path / name
    file.write_text(f"std_code,minimum_otj_hours\n{rows}")
    result = CliRunner().invoke(
        app,
        ["reference", "load-otj-minimums", str(file), "--ilr-url", stack.urls["ilr"], "--json"],
    )
    assert result.exit_code == 0, result.stdout
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def _on_break(tenant: Tenant) -> str:
    """A learner on standard 91 (start 2025-09-01, 2025/26 rules, PHours 400), on a break."""
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as http:
        tracker = raise_tracker(http, "break_in_learning", learner_id, BREAK)
        process(http, tracker["id"])
        assert ilr_outcome(http, tracker["id"])["status"] == "applied"
    return learner_id


def _return_preview(http: httpx.Client, learner_id: str, minimum: int | None) -> dict[str, Any]:
    """Raise a return until its preview shows ``minimum`` (the projections catch up by events);
    each earlier attempt is cancelled."""

    def attempt() -> dict[str, Any] | None:
        response = http.post(
            "/v1/trackers",
            json={"type": "return_to_learning", "learner_id": learner_id, "changes": RETURN},
        )
        if response.status_code != 201:  # the break has not reached the ILR projection yet
            return None
        tracker: dict[str, Any] = response.json()
        http.post(f"/v1/trackers/{tracker['id']}/cancel", json={"reason": "test retry"})
        preview = tracker["preview"] or {}
        shown = preview.get("minimum_otj_hours", {})
        return preview if shown and shown["value"] == minimum else None

    found: dict[str, Any] = eventually(attempt)
    return found


def test_the_loaded_table_decides_the_minimum_and_a_missing_standard_is_unknown(
    stack: Stack, tmp_path: Path
) -> None:
    tenant = tracker_tenant(stack)
    learner_id = _on_break(tenant)

    loaded = _load(stack, tmp_path, "with-91.csv", "91,450\n244,370\n")
    with tenant.admin("tracker") as http:
        known = _return_preview(http, learner_id, 450)
    _load(stack, tmp_path, "without-91.csv", "244,370\n")
    with tenant.admin("tracker") as http:
        unknown = _return_preview(http, learner_id, None)

    assert (loaded["source"], len(loaded["minimums"])) == ("with-91.csv", 2)
    assert known["planned_otj_meets_minimum"]["value"] is False  # PHours 400 < 450
    assert unknown["planned_otj_meets_minimum"]["value"] is None
    assert (
        "minimum unknown: standard 91 is not in the loaded table"
        in (unknown["minimum_otj_hours"]["working"])
    )


def test_the_ilr_service_shows_the_loaded_table_and_refuses_a_bad_one(
    stack: Stack, tmp_path: Path
) -> None:
    _load(stack, tmp_path, "table.csv", "91,278\n")
    with stack.client("ilr", "acme", "operator-1", "operator") as operator:
        duplicate = operator.put(
            "/v1/ilr/reference/otj-minimums",
            json={
                "source": "bad",
                "minimums": [
                    {"std_code": 91, "minimum_otj_hours": 278},
                    {"std_code": 91, "minimum_otj_hours": 300},
                ],
            },
        )
        shown = operator.get("/v1/ilr/reference/otj-minimums")

    assert duplicate.status_code == 422, duplicate.text
    assert shown.json()["source"] == "table.csv"
    assert shown.json()["loaded_by"] == "ilrflow-cli"
