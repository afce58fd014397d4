"""The local lane runbook (docs/operations.md#lanes, "On this machine"): `make lane LANE=<lane>`
(deploy/local/lane.py) starts a dedicated lane's five processes beside the running services; a
tenant is promoted to it, served by it, demoted, and the lane stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from devstack import SERVICES
from typer.testing import CliRunner

from ilrflow.ops import app
from tests.conftest import PORT_BASE, REPO, Stack, eventually
from tests.e2e.helpers import GROUP, tenant_with_staff

pytestmark = pytest.mark.e2e

LANE = "runbook"
FIRST_PORT = PORT_BASE + 200  # test_lanes.py uses +100
runner = CliRunner()


def ilrflow(stack: Stack, *args: str) -> str:
    result = runner.invoke(app, list(args), env=stack.env)
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result.stdout


def test_make_lane_serves_a_promoted_tenant_and_stops_on_ctrl_c(
    stack: Stack, tmp_path: Path
) -> None:
    env = {**os.environ, **stack.env, "ILRFLOW_ROUTES_REFRESH_SECONDS": "0.5"}
    command = [sys.executable, str(REPO / "deploy" / "local" / "lane.py"), LANE]
    options = ["--port-base", str(FIRST_PORT), "--log-dir", str(tmp_path)]
    lane = subprocess.Popen([*command, *options], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert lane.stdout is not None
        banner = [lane.stdout.readline() for _ in range(len(SERVICES) + 2)]
        assert f"lane {LANE!r} is running" in "".join(banner), banner

        def lane_relays() -> set[str]:
            listed = json.loads(ilrflow(stack, "lanes", "list", "--json"))
            return {r["service"] for r in listed["relays"] if LANE in r["lanes"]}

        eventually(lambda: lane_relays() >= {"learner", "tracker", "ilr"}, timeout=60)
        tenant = tenant_with_staff(stack)
        ilrflow(stack, "lanes", "promote", tenant.name, LANE, "--json")
        token = stack.token(tenant.name, "admin-1", "admin", groups=[GROUP])
        learner_api = f"http://127.0.0.1:{FIRST_PORT}"
        me = httpx.get(
            f"{learner_api}/v1/me", headers={"authorization": f"Bearer {token}"}, timeout=15
        )
        assert me.status_code == 200, me.text
        assert "admin-1" in me.text
        ilrflow(stack, "lanes", "demote", tenant.name, "--json")
        lane.send_signal(signal.SIGINT)
        assert lane.wait(timeout=60) == 0
    finally:
        if lane.poll() is None:
            lane.kill()
            lane.wait()
