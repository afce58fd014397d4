"""Every list pages the same way: ``?cursor=&limit=`` (at most MAX_PAGE_SIZE a page) in,
``{items, next_cursor}`` out. Walked one item a page, each list gives what one full page gives,
in the same order, each item once; a cursor the API did not issue and a limit over the maximum
are 422 problems. (The audit log's lists page the same way and are tested with the audit.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from ilrflow.platform.paging import MAX_PAGE_SIZE
from tests.conftest import Stack, eventually
from tests.e2e.helpers import GROUP, Tenant, known_learner
from tests.e2e.test_tracker_steps import OTHER_GROUP, process, raise_with_preview, tracker_tenant

pytestmark = pytest.mark.e2e

HOOK = {"url": "http://127.0.0.1:9/hooks", "event_types": ["tracker-raised"]}
NAMES = (("Alicia", "Walker"), ("Alice", "Walkers"))


@dataclass(frozen=True)
class World:
    tenant: Tenant
    learner_id: str
    webhook_id: str
    bulk_job_id: str

    def lists(self) -> dict[str, tuple[str, str]]:
        """Each list (service, path) by name, as admin-1 of the tenant reads it."""
        return {
            "learners": ("learner", "/v1/learners"),
            "staff": ("learner", "/v1/staff"),
            "groups": ("learner", "/v1/groups"),
            "training plan versions": ("learner", f"/v1/learners/{self.learner_id}/documents"),
            "trackers": ("tracker", "/v1/trackers"),
            "tracker types": ("tracker", "/v1/tracker-types"),
            "ILR versions": ("ilr", f"/v1/learners/{self.learner_id}/ilr/history"),
            "notifications": ("notify", "/v1/notifications"),
            "email deliveries": ("notify", "/v1/notifications/deliveries"),
            "notifications about a learner": (
                "notify",
                f"/v1/learners/{self.learner_id}/notifications",
            ),
            "webhooks": ("notify", "/v1/webhooks"),
            "webhook deliveries": ("notify", f"/v1/webhooks/{self.webhook_id}/deliveries"),
            "bulk job items": ("tracker", f"/v1/trackers/bulk-jobs/{self.bulk_job_id}"),
        }


LISTS = tuple(World(None, "", "", "").lists())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    """Two or more items in every list: two learners in two groups, two trackers raised (so two
    in-app notifications and two emails for the allocated admin-1, two webhook deliveries), one
    of them processed (a second ILR version), two webhooks, a bulk job of two items."""
    tenant = tracker_tenant(stack)
    with tenant.admin("notify") as notify:
        assert notify.put("/v1/notify-settings", json={"email_admins": True}).status_code == 200
        hooks = [notify.post("/v1/webhooks", json=HOOK) for _ in range(2)]
        assert [hook.status_code for hook in hooks] == [201, 201]
    learner_id = known_learner(tenant)
    known_learner(tenant, group=OTHER_GROUP, uln="1000000019")
    # Raised by a tutor, so that admin-1, to whom cohort-a is allocated, is told; the first is
    # processed, so that the learner's ILR has a second version.
    with tenant.as_("tracker", "tutor-1", "tutor", groups=[GROUP]) as http:
        raised = [
            raise_with_preview(
                http, "change_of_name", learner_id, {"given_names": given, "family_name": family}
            )
            for given, family in NAMES
        ]
    with tenant.admin("tracker") as http:
        process(http, raised[0]["id"])
        # A job of two items (trackers that do not exist: both are refused).
        bulk = http.post("/v1/trackers/bulk-process", json={"ids": ["T000000000000", "T1"]})
        assert bulk.status_code == 202, bulk.text
    world = World(tenant, learner_id, hooks[0].json()["id"], bulk.json()["id"])
    for name in ("notifications", "email deliveries", "webhook deliveries", "ILR versions"):
        eventually(lambda name=name: _at_least(world, name, len(NAMES)))  # type: ignore[misc]
    return world


def _at_least(world: World, name: str, count: int) -> bool:
    found = _whole(world, name)
    assert len(found) >= count, f"{name}: {found}"
    return True


def _client(world: World, name: str) -> httpx.Client:
    return world.tenant.admin(world.lists()[name][0])


def _whole(world: World, name: str) -> list[Any]:
    with _client(world, name) as http:
        response = http.get(world.lists()[name][1], params={"limit": MAX_PAGE_SIZE})
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[Any] = response.json()["items"]
    return items


def _identity(item: Any) -> Any:
    """What names an item (a delivery's tries, a job item's state change while it is walked)."""
    if isinstance(item, str):
        return item
    return next(item[name] for name in ("id", "type", "version", "index") if name in item)


@pytest.mark.parametrize("name", LISTS)
def test_a_list_walked_one_item_a_page_gives_every_item_once_in_order(
    world: World, name: str
) -> None:
    whole = [_identity(item) for item in _whole(world, name)]
    walked: list[Any] = []
    params: dict[str, Any] = {"limit": 1}
    with _client(world, name) as http:
        while True:
            response = http.get(world.lists()[name][1], params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 1
            walked += [_identity(item) for item in page["items"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
    assert len(whole) >= 1
    assert walked == whole
    if name != "training plan versions":  # one version until the plan changes
        assert len(walked) >= 2, walked


@pytest.mark.parametrize("name", LISTS)
def test_a_foreign_cursor_or_a_limit_over_the_maximum_is_a_422(world: World, name: str) -> None:
    path = world.lists()[name][1]
    with _client(world, name) as http:
        foreign = http.get(path, params={"cursor": "eyJpZCI6ICJ4In0"})
        too_many = http.get(path, params={"limit": MAX_PAGE_SIZE + 1})
    assert (foreign.status_code, foreign.json()["code"]) == (422, "bad_cursor"), foreign.text
    assert foreign.headers["content-type"] == "application/problem+json"
    assert too_many.status_code == 422, too_many.text
