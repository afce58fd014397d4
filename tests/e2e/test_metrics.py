"""Every service's /metrics after a small flow: the names operators and the dashboard rely on,
with sensible labels (consumer lag per partition, handler and HTTP latency, outbox depth and age,
dead letters per topic)."""

from __future__ import annotations

from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ilrflow.contracts.events import partition_key
from tests.conftest import Stack, eventually
from tests.e2e.helpers import enrolled_learner, produce, run, tenant_with_staff

pytestmark = pytest.mark.e2e

Samples = dict[str, list[dict[str, str]]]


def scrape(stack: Stack, service: str) -> Samples:
    with stack.anonymous(service) as http:
        response = http.get("/metrics")
    assert response.status_code == 200
    samples: Samples = defaultdict(list)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name].append({**sample.labels, "_value": str(sample.value)})
    return samples


def test_metrics_after_a_small_flow(stack: Stack) -> None:
    tenant = tenant_with_staff(stack)
    learner_id = enrolled_learner(tenant)
    key = partition_key(tenant.name, learner_id).encode()
    run(produce(stack.settings.kafka_bootstrap, [("tracker-processed", key, {}, b"poison")]))
    prefix = stack.settings.db_prefix

    def ilr_metrics() -> Samples:
        samples = scrape(stack, "ilr")
        dead = [
            s
            for s in samples["ilrflow_dead_letters_total"]
            if s["topic"] == "tracker-processed" and s["group"] == f"{prefix}.ilr.tracker-processed"
        ]
        lag = [s for s in samples["ilrflow_consumer_lag"] if s["topic"] == "learner-updated"]
        return samples if dead and lag else {}

    samples = eventually(ilr_metrics)

    lag = [s for s in samples["ilrflow_consumer_lag"] if s["topic"] == "learner-updated"]
    assert {s["group"] for s in lag} == {f"{prefix}.ilr.learner-updated"}
    assert all(s["partition"].isdigit() and 0 <= int(s["partition"]) < 6 for s in lag)
    assert all(float(s["_value"]) >= 0 for s in lag)

    handled = samples["ilrflow_handler_seconds_bucket"]
    assert {"topic", "group", "outcome", "le"} <= set(handled[0])
    assert any(s["topic"] == "learner-updated" and s["outcome"] == "done" for s in handled)
    assert any(s["outcome"] == "dead-lettered" for s in handled)

    http = samples["ilrflow_http_request_seconds_bucket"]
    assert any(
        s["method"] == "GET"
        and s["route"] == "/v1/learners/{learner_id}/ilr"
        and s["status"] == "200"
        for s in http
    )
    assert samples["ilrflow_events_published_total"]
    [depth] = samples["ilrflow_outbox_depth"]
    [oldest] = samples["ilrflow_outbox_oldest_age_seconds"]
    assert float(depth["_value"]) >= 0
    assert float(oldest["_value"]) >= 0

    # The audit service's own batch consumer (aiokafka, by pattern) reports its lag the same way.
    def audit_lag() -> list[dict[str, str]]:
        lag = scrape(stack, "audit")["ilrflow_consumer_lag"]
        return [s for s in lag if s["topic"] == "learner-updated"]

    audit = eventually(audit_lag)
    assert {s["group"] for s in audit} == {f"{prefix}.audit.all-topics"}
    assert all(s["partition"].isdigit() and 0 <= int(s["partition"]) < 6 for s in audit)
    assert all(float(s["_value"]) >= 0 for s in audit)

    # The other services expose the same families.
    for service in ("learner", "tracker", "notify", "audit"):
        names = set(scrape(stack, service))
        assert "ilrflow_http_request_seconds_bucket" in names, service
        assert {"ilrflow_outbox_depth", "ilrflow_outbox_oldest_age_seconds"} <= names, service
