"""Issue #18 item 2 end to end: an applied ILR patch holds only real changes.

The ILR service loads the learner's record back from FerretDB, where the ULN (ten digits) comes
back as a BSON Int64; a patch between that and the new record must not "replace" the ULN with
itself, and the patch the tracker records after processing is the one its preview showed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ilrflow.contracts.events import Topics, partition_key
from ilrflow.ilr_engine import apply_patch
from tests.conftest import Stack
from tests.e2e.helpers import Tenant, read_topic, run
from tests.e2e.test_ilr_trackers import (
    enrol,
    ilr_of,
    ilr_outcome,
    process,
    raise_tracker,
    tenant_ready_for_every_type,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> Tenant:
    return tenant_ready_for_every_type(stack)


def test_applied_patches_hold_only_real_changes_and_match_the_preview(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    versions = {1: ilr_of(tenant, learner_id)["learner"]}

    changes: list[tuple[str, dict[str, Any]]] = [
        ("change_of_contact_details", {"email": "patch-check@example.org"}),
        ("change_of_name", {"given_names": "Alicia", "family_name": "Walker-Smith"}),
        (
            "change_of_address",
            {"address": {"lines": ["2 Low Street", "Leeds"], "postcode": "LS2 7AA"}},
        ),
    ]
    for tracker_type, change in changes:
        tracker = raise_tracker(tenant, learner_id, tracker_type, change)
        assert process(tenant, tracker["id"]).status_code == 200
        outcome = ilr_outcome(tenant, tracker["id"])
        assert outcome["status"] == "applied", outcome
        before = versions[outcome["ilr_version"] - 1]
        after = ilr_of(tenant, learner_id)["learner"]
        versions[outcome["ilr_version"]] = after

        assert _equal_replacements(before, outcome["patch"]) == [], tracker_type
        assert apply_patch(before, outcome["patch"]) == after, tracker_type
        assert outcome["patch"] == tracker["preview"]["ilr_patch"], tracker_type

    assert max(versions) == 4
    # The events themselves, as any consumer of ilr-updated reads them.
    key = partition_key(tenant.name, learner_id).encode()
    updates = [
        json.loads(record.value)
        for record in run(
            read_topic(tenant.stack.settings.kafka_bootstrap, Topics.ILR_UPDATED, key)
        )
    ]
    applied = [u for u in updates if u["outcome"] == "applied" and u["version"] >= 2]
    assert sorted(u["version"] for u in applied) == [2, 3, 4]
    for update in applied:
        before = versions[update["version"] - 1]
        assert _equal_replacements(before, update["patch"]) == [], update
        assert apply_patch(before, update["patch"]) == versions[update["version"]]


def _equal_replacements(document: Any, patch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operations of ``patch`` that replace a value of ``document`` with an equal one."""
    equal = []
    for operation in patch:
        if operation["op"] == "replace" and _at(document, operation["path"]) == operation["value"]:
            equal.append(operation)
    return equal


def _at(document: Any, path: str) -> Any:
    for token in path.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        document = document[int(token)] if isinstance(document, list) else document[token]
    return document
