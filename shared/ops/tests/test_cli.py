"""The operator CLI's rules without a stack: tenant ids, allocation rules against the staff
directory, which topics belong to the deployment, and the one shape of a ``--json`` error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from ilrflow.contracts.events import is_tenant_id, partition_key
from ilrflow.ops import app
from ilrflow.ops.common import EXIT_NOT_FOUND, EXIT_USAGE, Record, deployment_topics
from ilrflow.ops.directory import StaffMember
from ilrflow.ops.dlt import _groups_by_original
from ilrflow.ops.tenants import allocation_problem
from ilrflow.platform.auth import Principal, mint_token
from ilrflow.platform.settings import Settings

runner = CliRunner()


@pytest.mark.parametrize("tenant", ["demo", "acme", "t1", "tenant-1a2b", "big_co", "a" * 63])
def test_good_tenant_ids(tenant: str) -> None:
    assert is_tenant_id(tenant)


@pytest.mark.parametrize(
    "tenant", ["", "Bad Tenant!", "acme:learner", "Acme", "-acme", "_acme", "a" * 64, "é"]
)
def test_bad_tenant_ids(tenant: str) -> None:
    assert not is_tenant_id(tenant)


@given(st.text(max_size=70))
def test_a_valid_tenant_id_keeps_the_partition_key_unambiguous(text: str) -> None:
    if is_tenant_id(text):
        assert partition_key(text, "L:1").split(":", 1) == [text, "L:1"]


def test_tokens_and_principals_refuse_a_bad_tenant() -> None:
    with pytest.raises(ValueError, match="bad tenant id"):
        mint_token(Settings(), tenant="a:b", sub="admin-1", roles=["admin"])
    with pytest.raises(ValueError, match="tenant"):
        Principal(sub="admin-1", tenant="Bad Tenant!", roles=["admin"])


def test_allocation_rules_need_admins_of_the_staff_directory() -> None:
    admin = StaffMember("admin-1", ["admin"])
    tutor = StaffMember("tutor-1", ["tutor"])
    assert allocation_problem("acme", {"admin-1": admin}) is None
    missing = allocation_problem("acme", {"admin-1": admin, "ghost": None})
    assert missing is not None
    assert missing[1] == EXIT_NOT_FOUND
    assert "ghost" in missing[0]
    not_admin = allocation_problem("acme", {"tutor-1": tutor})
    assert not_admin == ("allocation rule names tutor-1, but tutor-1 is not an admin "
                         "(roles: tutor)", EXIT_USAGE)  # fmt: skip


def test_deployment_topics_are_the_pooled_ones_and_every_lane_on_the_broker() -> None:
    on_broker = {
        "p.tracker-raised",
        "p.lane-acme.tracker-raised",
        "p.lane-acme.tracker-raised.dlt",
        "lane-other.tracker-raised",  # another deployment's (no prefix)
        "p.lane-acme.not-ours",
    }
    topics = deployment_topics("p.", on_broker)
    assert topics[:2] == ["tracker-raised", "tracker-raised.dlt"]
    assert topics[-2:] == ["lane-acme.tracker-raised", "lane-acme.tracker-raised.dlt"]
    assert not [t for t in topics if "other" in t or "not-ours" in t]


@pytest.mark.parametrize(
    ("args", "code", "kind"),
    [
        (["token", "--tenant", "a:b", "--sub", "s", "--role", "admin"], 2, "usage"),
        (["token", "--tenant", "acme", "--sub", "s", "--role", "wizard"], 2, "usage"),
        (["token", "--tenant", "acme"], 2, "usage"),  # the parser's own error
        (["no-such-command"], 2, "usage"),
    ],
)
def test_a_json_error_is_one_object_on_stdout(args: list[str], code: int, kind: str) -> None:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == code
    assert result.stderr == ""
    error = json.loads(result.stdout)["error"]
    assert error["exit_code"] == code
    assert error["kind"] == kind
    assert error["message"]


def test_without_json_an_error_is_a_line_on_stderr() -> None:
    result = runner.invoke(app, ["token", "--tenant", "a:b", "--sub", "s", "--role", "admin"])
    assert result.exit_code == EXIT_USAGE
    assert result.stdout == ""
    assert result.stderr.startswith("error: bad tenant id 'a:b'")


def test_token_json() -> None:
    result = runner.invoke(app, ["token", "--tenant", "acme", "--sub", "s", "--role", "admin",
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0
    minted = json.loads(result.stdout)
    assert set(minted) == {"token", "tenant", "sub", "roles", "groups", "expires_at"}


def _dead_letter(offset: int, group: str | None, original_offset: int = 42) -> Record:
    headers = {"dlt_original_partition": b"3", "dlt_original_offset": str(original_offset)}
    if group is not None:
        headers["dlt_consumer_group"] = group
    encoded = {k: v.encode() if isinstance(v, str) else v for k, v in headers.items()}
    return Record("tracker-processed.dlt", 0, offset, 0, b"k", b"{}", encoded)


def test_a_redrive_is_for_the_groups_whose_dead_letters_of_the_record_are_selected() -> None:
    groups = _groups_by_original(
        [
            _dead_letter(0, "p.ilr.tracker-processed"),
            _dead_letter(1, "p.notify.tracker-processed"),
            _dead_letter(2, "p.ilr.tracker-processed", original_offset=43),
            _dead_letter(3, None, original_offset=44),
            _dead_letter(4, "p.ilr.tracker-processed", original_offset=44),
        ]
    )
    assert groups == {
        ("original", 3, 42): ["p.ilr.tracker-processed", "p.notify.tracker-processed"],
        ("original", 3, 43): ["p.ilr.tracker-processed"],
        ("original", 3, 44): None,  # a dead letter that names no group: every group
    }
