"""An email the SMTP server refuses for good is recorded as failed, once, and operators see it."""

from __future__ import annotations

import pytest

from tests.conftest import REFUSED_MAIL_DOMAIN, Stack, eventually
from tests.e2e.helpers import enrolled_learner, tenant_with_staff
from tests.e2e.test_notify_story import enable_types_allocated_to_admin, raise_and_process

pytestmark = pytest.mark.e2e


def test_a_refused_email_is_failed_and_visible_to_operators(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    address = f"alice{REFUSED_MAIL_DOMAIN}"
    learner_id = enrolled_learner(tenant, email=address)
    enable_types_allocated_to_admin(tenant, "change_of_address")
    learner = tenant.as_("tracker", learner_id, "learner")
    tracker_id = raise_and_process(tenant, learner, "change_of_address", learner_id)

    operator = tenant.as_("notify", "operator-1", "operator")

    def failed() -> list[dict]:  # type: ignore[type-arg]
        rows = operator.get("/v1/notifications/deliveries", params={"status": "failed"}).json()[
            "items"
        ]
        return [r for r in rows if r["tracker_id"] == tracker_id]

    [row] = eventually(failed)
    assert row["email_to"] == address
    assert row["delivery"]["attempts"] == 1
    assert "mailbox unavailable" in row["delivery"]["last_error"]
    sent = operator.get("/v1/notifications/deliveries", params={"status": "sent"}).json()["items"]
    assert [r["email_to"] for r in sent if r["tracker_id"] == tracker_id] == ["tom@example.org"]
    assert stack.mail is not None
    assert stack.mail.to(address) == []
