"""Issue #4 end to end: every tracker type, raised and processed over HTTP on the tracker
service, changes the learner's ILR as the engine specifies, and the tracker shows the outcome.
The same tenant then exports its ILR (valid against the ESFA schemas) and a downstream consumer
started after the fact rebuilds every learner's ILR from Kafka alone."""

from __future__ import annotations

import asyncio
from datetime import date
from io import BytesIO
from typing import Any

import httpx
import pytest
import xmlschema
from lxml import etree

from tests.conftest import REPO, Stack, eventually
from tests.e2e.helpers import (
    ENROLMENT,
    GROUP,
    LEARNER,
    Tenant,
    configure_trackers,
    downstream_example,
    every_learner,
    run,
    tenant_with_staff,
)

pytestmark = pytest.mark.e2e

CUSTOM_TYPE = "custom:laptop_loan"
TENANT_REASON = "Moved abroad"
SCHEMAS = REPO / "services" / "ilr" / "engine" / "schemas"
SCHEMA_FILE = {"2425": "ILR-2024-25.xsd", "2526": "ILR-2025-26.xsd"}
START = date.fromisoformat(ENROLMENT["start_date"])  # type: ignore[arg-type]
PLANNED_END = date.fromisoformat(ENROLMENT["planned_end_date"])  # type: ignore[arg-type]
EMPLOYED_FROM = ENROLMENT["employment"]["date_from"]  # type: ignore[index]
LAST_DAY = date(2025, 12, 19)


# --- steps ---------------------------------------------------------------------------------------


def tenant_ready_for_every_type(stack: Stack) -> Tenant:
    """Staff, every type on, cohort-a allocated to admin-1, a custom type, a withdrawal reason."""
    tenant = tenant_with_staff(stack)
    custom = {
        "enabled": True,
        "title": "Laptop loan",
        "fields": [{"name": "asset_tag", "type": "string", "required": True}],
    }
    settings = {
        "allocation_rules": [{"learner_group": GROUP, "admin_id": "admin-1"}],
        "withdrawal_reason_map": {TENANT_REASON: 44},
    }
    configure_trackers(tenant, custom={CUSTOM_TYPE: custom}, settings=settings)
    return tenant


def enrol(tenant: Tenant, **enrolment: Any) -> str:
    """A new learner enrolled on ENROLMENT (with overrides); returns once its ILR exists."""
    with tenant.admin("learner") as http:
        created = http.post("/v1/learners", json=LEARNER)
        assert created.status_code == 201, created.text
        learner_id: str = created.json()["id"]
        enrolled = http.post(
            f"/v1/learners/{learner_id}/enrolments", json={**ENROLMENT, **enrolment}
        )
        assert enrolled.status_code == 201, enrolled.text
    eventually(lambda: ilr_of(tenant, learner_id))
    return learner_id


def ilr_of(tenant: Tenant, learner_id: str) -> dict[str, Any]:
    with tenant.admin("ilr") as http:
        response = http.get(f"/v1/learners/{learner_id}/ilr")
    return response.json() if response.status_code == 200 else {}


def raise_tracker(
    tenant: Tenant, learner_id: str, tracker_type: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Raise as admin-1, once the tracker service's projections know what they need: the learner
    (404 before), the learner's ILR (the preview is null before; such a tracker is cancelled) and
    the ILR's last change (422 before, when a return needs the break to have arrived)."""
    request = {"type": tracker_type, "learner_id": learner_id, "changes": changes}

    def raised() -> dict[str, Any]:
        with tenant.admin("tracker") as http:
            response = http.post("/v1/trackers", json=request)
            assert response.status_code in (201, 404, 422), response.text
            assert response.status_code != 422 or "break" in response.text, response.text
            return previewed_or_cancelled(http, response)

    created = eventually(raised, timeout=15)
    assert created["allocated_to"] == "admin-1"
    return created


def previewed_or_cancelled(http: httpx.Client, response: httpx.Response) -> dict[str, Any]:
    """The raised tracker if it has its preview; {} (so ``eventually`` raises again) if the raise
    was refused or came before the learner's ILR reached the tracker service, in which case the
    preview-less tracker is cancelled so the learner has one open tracker of the kind."""
    if response.status_code != 201:
        return {}
    tracker: dict[str, Any] = response.json()
    if tracker["preview"] is not None:
        return tracker
    cancelled = http.post(f"/v1/trackers/{tracker['id']}/cancel", json={"reason": "test retry"})
    assert cancelled.status_code == 200, cancelled.text
    return {}


def process(tenant: Tenant, tracker_id: str, *roles: str) -> httpx.Response:
    with tenant.as_("tracker", "admin-1", *(roles or ("admin",)), groups=[GROUP]) as http:
        return http.post(f"/v1/trackers/{tracker_id}/process")


def ilr_outcome(tenant: Tenant, tracker_id: str) -> dict[str, Any]:
    def recorded() -> dict[str, Any]:
        with tenant.admin("tracker") as http:
            return http.get(f"/v1/trackers/{tracker_id}").json().get("ilr_outcome") or {}

    outcome: dict[str, Any] = eventually(recorded)
    return outcome


def change(
    tenant: Tenant, learner_id: str, tracker_type: str, changes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Raise, process and wait for the ILR outcome; return (outcome, the ILR afterwards)."""
    tracker = raise_tracker(tenant, learner_id, tracker_type, changes)
    processed = process(tenant, tracker["id"])
    assert processed.status_code == 200, processed.text
    outcome = ilr_outcome(tenant, tracker["id"])
    current = ilr_of(tenant, learner_id)
    if outcome["status"] == "applied":
        assert current["version"] == outcome["ilr_version"]
    return outcome, current


def aims(ilr: dict[str, Any]) -> list[dict[str, Any]]:
    aim_list: list[dict[str, Any]] = ilr["learner"]["LearningDelivery"]
    return aim_list


def esm(status: dict[str, Any]) -> dict[str, int]:
    return {m["ESMType"]: m["ESMCode"] for m in status.get("EmploymentStatusMonitoring", [])}


@pytest.fixture(scope="module")
def tenant(stack: Stack) -> Tenant:
    return tenant_ready_for_every_type(stack)


# --- learner details -------------------------------------------------------------------------


def test_change_of_name_sets_given_and_family_names(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    changes = {"given_names": "Alice Marie", "family_name": "Walker-Smith"}

    outcome, ilr = change(tenant, learner_id, "change_of_name", changes)

    assert outcome["status"] == "applied", outcome
    assert (ilr["learner"]["GivenNames"], ilr["learner"]["FamilyName"]) == (
        "Alice Marie",
        "Walker-Smith",
    )
    assert {"op": "replace", "path": "/FamilyName", "value": "Walker-Smith"} in outcome["patch"]
    assert ilr["version"] == 2
    assert "_applied_trackers" not in ilr["learner"]


def test_change_of_address_keeps_postcode_prior(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    address = {"lines": ["22 Mill Lane", "", "Bradford"], "postcode": "bd1 1aa"}

    outcome, ilr = change(tenant, learner_id, "change_of_address", {"address": address})

    assert outcome["status"] == "applied", outcome
    learner = ilr["learner"]
    assert (learner["AddLine1"], learner["AddLine2"]) == ("22 Mill Lane", "Bradford")
    assert "AddLine3" not in learner
    assert (learner["Postcode"], learner["PostcodePrior"]) == ("BD1 1AA", "LS1 4AP")


def test_change_of_contact_details_sets_email_and_digits_only_phone(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    changes = {"email": "alice.walker@example.com", "phone": "+44 113 496 0000"}

    outcome, ilr = change(tenant, learner_id, "change_of_contact_details", changes)

    assert outcome["status"] == "applied", outcome
    assert ilr["learner"]["Email"] == "alice.walker@example.com"
    assert ilr["learner"]["TelNo"] == "01134960000"


# --- the programme -----------------------------------------------------------------------------


def test_break_in_learning_closes_open_aims_with_comp_status_6(tenant: Tenant) -> None:
    learner_id = enrol(tenant)

    outcome, ilr = change(tenant, learner_id, "break_in_learning", _break())

    assert outcome["status"] == "applied", outcome
    [programme] = aims(ilr)
    assert (programme["CompStatus"], programme["LearnActEndDate"], programme["Outcome"]) == (
        6,
        LAST_DAY.isoformat(),
        3,
    )
    assert "CompStatus 6" in outcome["reason"]


def test_return_to_learning_adds_restarted_aims(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    change(tenant, learner_id, "break_in_learning", _break())
    return_date = date(2026, 2, 2)

    outcome, ilr = change(
        tenant, learner_id, "return_to_learning", {"return_date": return_date.isoformat()}
    )

    assert outcome["status"] == "applied", outcome
    old, new = aims(ilr)
    assert old["CompStatus"] == 6  # the aims on the break are never reopened
    expected_end = return_date + (PLANNED_END - LAST_DAY)  # domain.md §4.5
    assert new["AimSeqNumber"] == 2
    assert new["LearnStartDate"] == return_date.isoformat()
    assert new["OrigLearnStartDate"] == START.isoformat()
    assert new["LearnPlanEndDate"] == expected_end.isoformat()
    assert new["CompStatus"] == 1
    assert {"LearnDelFAMType": "RES", "LearnDelFAMCode": "1"} in new["LearningDeliveryFAM"]
    assert new["PHours"] == ENROLMENT["planned_otj_hours"]
    assert "original planned hours" in outcome["reason"]


def test_change_of_programme_withdraws_with_reason_40(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    changes = {"last_day_of_learning": "2026-01-30", "new_standard_code": 244}

    outcome, ilr = change(tenant, learner_id, "change_of_programme", changes)

    assert outcome["status"] == "applied", outcome
    [programme] = aims(ilr)
    assert (programme["CompStatus"], programme["WithdrawReason"], programme["Outcome"]) == (
        3,
        40,
        3,
    )
    assert programme["LearnActEndDate"] == "2026-01-30"
    assert "standard 244" in outcome["reason"]


def test_withdrawal_maps_the_tenant_reason_to_its_esfa_code(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    changes = {"last_day_of_learning": "2026-01-30", "reason": TENANT_REASON}

    outcome, ilr = change(tenant, learner_id, "withdrawal", changes)

    assert outcome["status"] == "applied", outcome
    [programme] = aims(ilr)
    assert (programme["CompStatus"], programme["WithdrawReason"], programme["Outcome"]) == (
        3,
        44,
        3,
    )
    assert programme["LearnActEndDate"] == "2026-01-30"


def test_withdrawal_from_a_break_turns_6_into_3_keeping_the_last_day(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    change(tenant, learner_id, "break_in_learning", _break())
    changes = {"last_day_of_learning": LAST_DAY.isoformat(), "reason": "44"}

    outcome, ilr = change(tenant, learner_id, "withdrawal", changes)

    assert outcome["status"] == "applied", outcome
    [programme] = aims(ilr)
    assert (programme["CompStatus"], programme["WithdrawReason"]) == (3, 44)
    assert programme["LearnActEndDate"] == LAST_DAY.isoformat()
    assert "6 -> 3" in outcome["reason"]


# --- employment ----------------------------------------------------------------------------------


def test_change_of_employer_adds_a_status_and_keeps_the_old_one(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    changes = {
        "effective_date": "2026-01-05",
        "employer": {"ern": "987654321", "name": "Beta Builders Ltd"},
        "weekly_hours": 25,
    }

    outcome, ilr = change(tenant, learner_id, "change_of_employer", changes)

    assert outcome["status"] == "applied", outcome
    old, new = ilr["learner"]["LearnerEmploymentStatus"]
    assert (old["EmpId"], old["DateEmpStatApp"]) == (123456789, EMPLOYED_FROM)
    assert esm(old) == {"EII": 8, "LOE": 4}
    assert (new["EmpStat"], new["EmpId"], new["DateEmpStatApp"]) == (10, 987654321, "2026-01-05")
    assert esm(new) == {"EII": 7, "LOE": 1, "OET": 3}
    assert "TNP3" in outcome["reason"]


def test_change_of_employer_out_of_paid_employment_changes_no_ilr(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    changes = {
        "effective_date": "2026-01-05",
        "employer": {"ern": "987654321", "name": "Beta Builders Ltd"},
        "weekly_hours": 10,
        "employment_status": 11,
    }

    outcome, ilr = change(tenant, learner_id, "change_of_employer", changes)

    assert outcome["status"] == "no_ilr_change", outcome
    assert "paid employment" in outcome["reason"]
    assert ilr["version"] == 1
    assert len(ilr["learner"]["LearnerEmploymentStatus"]) == 1


def test_change_of_working_hours_adds_a_status_only_when_the_band_changes(tenant: Tenant) -> None:
    learner_id = enrol(tenant)

    same_band, unchanged = change(
        tenant,
        learner_id,
        "change_of_working_hours",
        {"effective_date": "2026-01-05", "weekly_hours": 35},
    )
    new_band, changed = change(
        tenant,
        learner_id,
        "change_of_working_hours",
        {"effective_date": "2026-02-02", "weekly_hours": 16},
    )

    assert same_band["status"] == "no_ilr_change", same_band
    assert unchanged["version"] == 1
    assert new_band["status"] == "applied", new_band
    old, new = changed["learner"]["LearnerEmploymentStatus"]
    assert esm(old)["EII"] == 8
    # Same employer: the length of employment carries over, the band is the new one.
    assert (new["EmpId"], new["DateEmpStatApp"], esm(new)) == (
        123456789,
        "2026-02-02",
        {"EII": 6, "LOE": 4},
    )
    assert aims(changed)[0]["PHours"] == ENROLMENT["planned_otj_hours"]  # never changed


def test_custom_type_changes_no_ilr(tenant: Tenant) -> None:
    learner_id = enrol(tenant)

    outcome, ilr = change(tenant, learner_id, CUSTOM_TYPE, {"asset_tag": "LAP-0042"})

    assert (outcome["status"], outcome["ilr_version"]) == ("no_ilr_change", 1)
    assert "custom" in outcome["reason"]
    assert ilr["version"] == 1


# --- history, settings -------------------------------------------------------------------------


def test_history_lists_every_version_with_actor_tracker_time_and_patch(tenant: Tenant) -> None:
    learner_id = enrol(tenant)
    _, _ = change(tenant, learner_id, "break_in_learning", _break())
    outcome, _ = change(
        tenant, learner_id, "change_of_name", {"given_names": "Al", "family_name": "Walker"}
    )

    with tenant.admin("ilr") as http:
        history = http.get(f"/v1/learners/{learner_id}/ilr/history").json()["items"]

    assert [(h["version"], h["cause"]) for h in history] == [
        (1, "enrolment"),
        (2, "tracker"),
        (3, "tracker"),
    ]
    assert all(h["actor"] == "admin-1" and h["at"] for h in history)
    assert history[2]["patch"] == outcome["patch"]
    assert {"op": "replace", "path": "/LearningDelivery/0/CompStatus", "value": 6} in history[1][
        "patch"
    ]
    assert not any("_applied_trackers" in op["path"] for h in history for op in h["patch"])


def test_ilr_settings_are_per_tenant_and_admin_only(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    with tenant.admin("ilr") as admin:
        assert admin.get("/v1/ilr/settings").json() == {
            "ukprn": None,
            "restart_planned_hours": "original",
        }
        put = admin.put(
            "/v1/ilr/settings", json={"ukprn": 10012345, "restart_planned_hours": "remaining"}
        )
        assert put.status_code == 200, put.text
        assert admin.put("/v1/ilr/settings", json={"ukprn": 123}).status_code == 422
        assert admin.get("/v1/ilr/settings").json() == {
            "ukprn": 10012345,
            "restart_planned_hours": "remaining",
        }
    with tenant.as_("ilr", "tutor-1", "tutor", groups=[GROUP]) as tutor:
        assert tutor.put("/v1/ilr/settings", json={"ukprn": 10012346}).status_code == 403
    other = tenant_with_staff(stack)
    with other.admin("ilr") as admin:
        assert admin.get("/v1/ilr/settings").json()["ukprn"] is None


def test_restart_planned_hours_setting_reaches_the_engine(stack: Stack) -> None:
    tenant = tenant_ready_for_every_type(stack)
    with tenant.admin("ilr") as admin:
        put = admin.put("/v1/ilr/settings", json={"restart_planned_hours": "remaining"})
        assert put.status_code == 200, put.text
    learner_id = enrol(tenant)
    change(tenant, learner_id, "break_in_learning", _break())

    outcome, _ = change(tenant, learner_id, "return_to_learning", {"return_date": "2026-02-02"})

    assert outcome["status"] == "applied", outcome
    assert "PHours remaining planned hours" in outcome["reason"]


# --- what the tenant's learners add up to ------------------------------------------------------


def test_export_of_every_learner_is_valid_against_the_esfa_schemas(tenant: Tenant) -> None:
    enrol(tenant, start_date="2024-09-02", planned_end_date="2026-03-31")  # also in 2024/25
    with tenant.admin("ilr") as admin:
        put = admin.put("/v1/ilr/settings", json={"ukprn": 10054321})
        assert put.status_code == 200, put.text
        for year in ("2425", "2526"):
            response = admin.get("/v1/ilr/export.xml", params={"year": year})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith("application/xml")
            assert f"ILR-10054321-{year}.xml" in response.headers["content-disposition"]
            document = response.content
            _valid_against_schema(document, year)
            tree = etree.fromstring(document)
            ns = {"ilr": tree.nsmap[None]}
            assert tree.findtext("ilr:LearningProvider/ilr:UKPRN", namespaces=ns) == "10054321"
            assert tree.findall("ilr:Learner", namespaces=ns)
        learners = etree.fromstring(
            admin.get("/v1/ilr/export.xml", params={"year": "2526"}).content
        ).findall("{ESFA/ILR/2025-26}Learner")
    assert len(learners) >= 2


def test_downstream_consumer_rebuilds_every_ilr_from_ilr_state(tenant: Tenant) -> None:
    # Every learner the tests above changed, and one more of its own (so it also runs alone).
    on_break = enrol(tenant)
    change(tenant, on_break, "break_in_learning", _break())
    learner_ids = _tenant_learners(tenant)
    expected = {learner_id: ilr_of(tenant, learner_id) for learner_id in learner_ids}
    example = downstream_example()
    settings = tenant.stack.settings
    mirror = example.IlrMirror(settings.kafka_bootstrap, tenant.name, settings.topic_prefix)

    run(mirror.bootstrap())

    rebuilt = {key[1]: record for key, record in mirror.records.items()}
    assert sorted(rebuilt) == sorted(expected)
    for learner_id, current in expected.items():
        record = rebuilt[learner_id]
        assert (record.version, record.qa_verified) == (current["version"], current["qa_verified"])
        assert record.learner == current["learner"], learner_id

    # ... and then follows ilr-updated, applying the next patch.
    learner_id = learner_ids[0]
    version = expected[learner_id]["version"]
    change(tenant, learner_id, "change_of_name", {"given_names": "Follow", "family_name": "Patch"})
    run(_follow_until(mirror, (tenant.name, learner_id), version + 1))
    followed = mirror.records[(tenant.name, learner_id)]
    assert followed.learner == ilr_of(tenant, learner_id)["learner"]
    assert followed.learner["GivenNames"] == "Follow"
    assert mirror.refetches == 0


# --- helpers -----------------------------------------------------------------------------------


def _break() -> dict[str, Any]:
    return {
        "last_day_of_learning": LAST_DAY.isoformat(),
        "expected_return_date": "2026-01-12",
        "reason": "Agreed leave",
    }


def _valid_against_schema(document: bytes, year: str) -> None:
    schema_path = SCHEMAS / SCHEMA_FILE[year]
    lxml_schema = etree.XMLSchema(etree.parse(str(schema_path)))
    parsed = etree.parse(BytesIO(document))
    assert lxml_schema.validate(parsed), lxml_schema.error_log
    xmlschema.XMLSchema(str(schema_path)).validate(BytesIO(document))


def _tenant_learners(tenant: Tenant) -> list[str]:
    with tenant.admin("learner") as http:
        learners = every_learner(http)
    return [item["id"] for item in learners if ilr_of(tenant, item["id"])]


async def _follow_until(mirror: Any, key: tuple[str, str], version: int) -> None:
    def reached(m: Any) -> bool:
        return key in m.records and m.records[key].version >= version

    async with asyncio.timeout(30):
        await mirror.follow(until=reached)
