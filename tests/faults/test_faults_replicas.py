"""Two of everything inside ``make test``: every service runs as two replicas side by side (one
consumer group rebalancing, two outbox relays, two email senders, two webhook senders) while one
replica of each is ``kill -9``-ed mid-flight; then no event is lost, none applied twice, one
notification per (event, recipient, channel), every email and webhook received by its id, the
audit log complete and verifying (``tests/faults/harness.py``)."""

from __future__ import annotations

import os

import pytest
from workload import service_stack

from tests.faults.harness import outbound, run_faults

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TRACKERS = int(os.environ.get("ILRFLOW_REPLICA_TRACKERS", "36"))


def test_two_replicas_of_each_one_killed_lose_nothing_and_send_nothing_twice() -> None:
    with (
        outbound() as sent_to,
        service_stack(
            os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
            label="replicas",
            replicas=2,
            settings_env=sent_to.settings_env(),
        ) as stack,
    ):
        report = run_faults(
            stack, trackers=TRACKERS, learners=6, workers=4, kills_per_service=1, sent_to=sent_to
        )
    print("\n" + "\n".join(report.lines()))
    assert sorted({name for name, _ in report.kills}) == sorted(stack.replicas)
    assert report.emails > 0
    assert report.webhooks > 0
    assert report.problems == []
