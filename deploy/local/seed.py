"""The demo tenant `make run` creates: staff, settings, learners with enrolments; and a demo
2025/26 minimum OTJ table, so previews show figures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from ilrflow.ops.reference import read_otj_minimums
from ilrflow.platform.auth import mint_token
from ilrflow.platform.paging import MAX_PAGE_SIZE
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
# A provider's cohort: apprentices of different sexes, ethnic groups (ILR codes: 31 White British,
# 40 Pakistani, 44 African, 35 White and Black Caribbean, 99 not provided), with and without a
# learning difficulty, on standards priced like real ones (training + end-point assessment).
LEARNERS: list[dict[str, Any]] = [
    {
        "given_names": "Alice",
        "family_name": "Walker",
        "uln": "9276308686",
        "address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 4AP"},
        "sex": "F",
        "ethnicity": 31,
        "lldd_health_problem": 2,
        "ni_number": "JG103759A",
        "prior_attainment": 3,
    },
    {
        "given_names": "Bilal",
        "family_name": "Khan",
        "uln": "5123456782",
        "address": {"lines": ["22 Mill Lane", "Manchester"], "postcode": "M1 2AB"},
        "sex": "M",
        "ethnicity": 40,
        "lldd_health_problem": 1,
        "lldd_categories": [12, 13],
        "primary_lldd": 12,
        "prior_attainment": 2,
    },
    {
        "given_names": "Grace",
        "family_name": "Okafor",
        "uln": "5423232219",
        "address": {"lines": ["7 Kirkgate", "Bradford"], "postcode": "BD1 1AA"},
        "sex": "F",
        "ethnicity": 44,
        "lldd_health_problem": 2,
        "prior_attainment": 10,
    },
    {
        "given_names": "Liam",
        "family_name": "Murphy",
        "uln": "9340629042",
        "address": {"lines": ["15 Park Row", "Leeds"], "postcode": "LS1 5AB"},
        "sex": "M",
        "ethnicity": 35,
        "lldd_health_problem": 1,
        "lldd_categories": [9],
        "primary_lldd": 9,
        "prior_attainment": 3,
    },
    {
        "given_names": "Sophie",
        "family_name": "Evans",
        "uln": "3147624535",
        "address": {"lines": ["3 Bridge Street", "Leeds"], "postcode": "LS2 7EW"},
        "sex": "F",
    },  # ethnicity and LLDD not given: the ILR's "not provided" (99 and 9)
]
# Standards (code, months, OTJ hours, training price, assessment price), one per learner in turn.
STANDARDS = [
    (91, 19, 400, 9000, 1000),
    (244, 24, 462, 12000, 1500),
    (123, 15, 300, 5000, 500),
]
EMPLOYERS = [
    ({"ern": "123456789", "name": "Acme Engineering Ltd"}, False, "A1B2C3"),
    ({"ern": "234567891", "name": "Pennine Care Homes"}, True, None),
]
START = "2025-09-01"


def seed_demo_tenant(settings: Settings, urls: dict[str, str]) -> dict[str, str]:
    admin = mint_token(settings, tenant=TENANT, sub="admin-1", roles=["admin"], groups=[GROUP])
    headers = {"authorization": f"Bearer {admin}"}
    tokens = {"ADMIN": admin}
    _load_demo_otj_minimums(settings, urls)
    with httpx.Client(headers=headers, timeout=15) as http:
        for staff in STAFF:
            _ok(http.post(f"{urls['learner']}/v1/staff", json=staff), also=(409,))
        types = _every_item(http, f"{urls['tracker']}/v1/tracker-types")
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
        existing = _every_item(http, f"{urls['learner']}/v1/learners")
        learners = existing or [
            _create_learner(http, urls, n, row) for n, row in enumerate(LEARNERS)
        ]
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


def _every_item(http: httpx.Client, url: str) -> list[dict[str, Any]]:
    """Every item of a list, page after page (``{items, next_cursor}``)."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": MAX_PAGE_SIZE}
    while True:
        page = _ok(http.get(url, params=params))
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


def _create_learner(
    http: httpx.Client, urls: dict[str, str], n: int, row: dict[str, Any]
) -> dict[str, Any]:
    given = row["given_names"]
    learner = _ok(
        http.post(
            f"{urls['learner']}/v1/learners",
            json={
                **row,
                "email": f"{given.lower()}@learner.example",
                "phone": "07700900123",
                "date_of_birth": f"{2003 + n % 4}-05-17",
                "group": GROUP,
                "primary_tutor_id": "tutor-1",
            },
        )
    )
    _ok(http.post(f"{urls['learner']}/v1/learners/{learner['id']}/enrolments", json=_enrolment(n)))
    return dict(learner)


def _enrolment(n: int) -> dict[str, Any]:
    """Learner ``n``'s enrolment: the standards and employers in turn, employed for a while."""
    code, months, otj_hours, training, assessment = STANDARDS[n % len(STANDARDS)]
    employer, small, agreement_id = EMPLOYERS[n % len(EMPLOYERS)]
    end_year, end_month = divmod(8 + months, 12)  # the month the planned end falls in
    return {
        "standard_code": code,
        "start_date": START,
        "planned_end_date": f"{2025 + end_year}-{end_month + 1:02d}-28",
        "employer": employer,
        "weekly_hours": 37.5 if n % 3 else 30,
        "planned_otj_hours": otj_hours,
        "price": {"training": training, "assessment": assessment},
        "employment": {"length_of_employment": 1 + n % 4, "small_employer": small},
        **({"agreement_id": agreement_id} if agreement_id else {}),
        "delivery_postcode": "LS1 4AP",
    }


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
