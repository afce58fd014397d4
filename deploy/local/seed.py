"""The demo tenant `make run` creates: staff, settings, learners with enrolments; and a demo
2025/26 minimum OTJ table, so previews show figures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from ilrflow.ops.reference import read_otj_minimums
from ilrflow.platform.auth import mint_token
from ilrflow.platform.settings import Settings

TENANT = "demo"
GROUP = "cohort-a"
STAFF = [
    {
        "id": "admin-1",
        "name": "Ada Admin",
        "email": "ada@demo.example",
        "roles": ["admin"],
        "groups": [GROUP],
    },
    {
        "id": "tutor-1",
        "name": "Tom Tutor",
        "email": "tom@demo.example",
        "roles": ["tutor"],
        "groups": [GROUP],
    },
    {
        "id": "qa-1",
        "name": "Quinn QA",
        "email": "quinn@demo.example",
        "roles": ["ilr_qa", "admin"],
        "groups": [GROUP],
    },
    {
        "id": "support-1",
        "name": "Sam Support",
        "email": "sam@demo.example",
        "roles": ["support"],
        "groups": [],
    },
]
# DEMO figures, not the DfE's published minimums: an operator loads the real list with
# `./ilrflow reference load-otj-minimums FILE.csv` (docs/operations.md#reference-data).
DEMO_OTJ_MINIMUMS = Path(__file__).with_name("demo-otj-minimums.csv")
DEMO_OTJ_SOURCE = "DEMO data, not the DfE's figures (deploy/local/demo-otj-minimums.csv)"
LEARNERS = [
    ("Alice", "Walker", "9276308686", "1 High Street", "LS1 4AP"),
    ("Bilal", "Khan", "5123456782", "22 Mill Lane", "M1 2AB"),
]


def seed_demo_tenant(settings: Settings, urls: dict[str, str]) -> dict[str, str]:
    admin = mint_token(settings, tenant=TENANT, sub="admin-1", roles=["admin"], groups=[GROUP])
    headers = {"authorization": f"Bearer {admin}"}
    tokens = {"ADMIN": admin}
    _load_demo_otj_minimums(settings, urls)
    with httpx.Client(headers=headers, timeout=15) as http:
        for staff in STAFF:
            _ok(http.post(f"{urls['learner']}/v1/staff", json=staff), also=(409,))
        types = _ok(http.get(f"{urls['tracker']}/v1/tracker-types"))
        for tracker_type in types:
            if not tracker_type["type"].startswith("custom:"):
                _ok(
                    http.put(
                        f"{urls['tracker']}/v1/tracker-types/{tracker_type['type']}",
                        json={"enabled": True},
                    )
                )
        _ok(
            http.put(
                f"{urls['tracker']}/v1/tracker-settings",
                json={"allocation_rules": [{"learner_group": GROUP, "admin_id": "admin-1"}]},
            )
        )
        existing = _ok(http.get(f"{urls['learner']}/v1/learners"))
        learners = existing or [_create_learner(http, urls, *row) for row in LEARNERS]
    for learner in learners:
        tokens[f"LEARNER_{learner['given_names'].upper()}"] = mint_token(
            settings, tenant=TENANT, sub=learner["id"], roles=["learner"]
        )
    tokens["TUTOR"] = mint_token(
        settings, tenant=TENANT, sub="tutor-1", roles=["tutor"], groups=[GROUP]
    )
    tokens["SUPPORT"] = mint_token(settings, tenant=TENANT, sub="support-1", roles=["support"])
    _wait_for_ilr(urls, headers, [learner["id"] for learner in learners])
    return tokens


def _load_demo_otj_minimums(settings: Settings, urls: dict[str, str]) -> None:
    """The demo table, unless an operator has loaded one (a real list is never replaced)."""
    operator = mint_token(settings, tenant=TENANT, sub="seed", roles=["operator"])
    with httpx.Client(headers={"authorization": f"Bearer {operator}"}, timeout=15) as http:
        path = f"{urls['ilr']}/v1/ilr/reference/otj-minimums"
        if http.get(path).status_code == 200:
            return
        rows = read_otj_minimums(DEMO_OTJ_MINIMUMS.read_text())
        _ok(http.put(path, json={"source": DEMO_OTJ_SOURCE, "minimums": rows}))


def _create_learner(
    http: httpx.Client,
    urls: dict[str, str],
    given: str,
    family: str,
    uln: str,
    line: str,
    postcode: str,
) -> dict[str, Any]:
    learner = _ok(
        http.post(
            f"{urls['learner']}/v1/learners",
            json={
                "given_names": given,
                "family_name": family,
                "email": f"{given.lower()}@learner.example",
                "phone": "07700900123",
                "date_of_birth": "2004-05-17",
                "uln": uln,
                "address": {"lines": [line, "Leeds"], "postcode": postcode},
                "group": GROUP,
                "primary_tutor_id": "tutor-1",
            },
        )
    )
    _ok(
        http.post(
            f"{urls['learner']}/v1/learners/{learner['id']}/enrolments",
            json={
                "standard_code": 91,
                "start_date": "2025-09-01",
                "planned_end_date": "2027-03-31",
                "employer": {"ern": "123456789", "name": "Acme Engineering Ltd"},
                "weekly_hours": 37.5,
                "planned_otj_hours": 400,
            },
        )
    )
    return dict(learner)


def _wait_for_ilr(urls: dict[str, str], headers: dict[str, str], learner_ids: list[str]) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(headers=headers, timeout=5) as http:
        for learner_id in learner_ids:
            while http.get(f"{urls['ilr']}/v1/learners/{learner_id}/ilr").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the ILR of {learner_id} did not appear within 60 s")
                time.sleep(0.2)  # poll until the ILR service has consumed the enrolment


def _ok(response: httpx.Response, also: tuple[int, ...] = ()) -> Any:
    if response.status_code >= 400 and response.status_code not in also:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response.json() if response.content else None
