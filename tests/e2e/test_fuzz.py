"""Schemathesis against every service's OpenAPI document, with a token of every role and of a
second tenant: no request is answered with a 5xx, every response's status is one the document
declares for that operation, with the declared media type and schema (schemathesis's status-code,
content-type and response-schema conformance checks: an error is the ``Problem`` of
``application/problem+json``), and requests that break the document (negative cases) are all
refused and change nothing: the services' databases and the topics hold what they
held before (audit reads excepted: reading audit data is itself audited).

ILRFLOW_FUZZ_EXAMPLES caps the examples per (operation, caller, mode); the default keeps the
module within a couple of minutes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from aiokafka import AIOKafkaConsumer, TopicPartition
from devstack import SERVICES
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from pymongo import MongoClient
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ilrflow.contracts.events import Topics
from ilrflow.platform.kafka import all_topics
from tests.conftest import Stack, new_tenant, settled
from tests.e2e.helpers import GROUP, Tenant, known_learner
from tests.e2e.test_tracker_steps import raise_tracker, tracker_tenant

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

EXAMPLES = int(os.environ.get("ILRFLOW_FUZZ_EXAMPLES", "3"))
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS_PATHS = ("/healthz", "/readyz", "/metrics")  # not the product's API
# Records the audit writes of itself, not because a request changed something: an entry per
# audited read, and a signed checkpoint of its chains on its own clock (every few seconds while
# entries arrive, so their count depends on how long the test takes).
AUDIT_READS = {
    Topics.AUDIT_ACCESS,
    f"{Topics.AUDIT_ACCESS}.dlt",
    Topics.AUDIT_CHECKPOINTS,
    f"{Topics.AUDIT_CHECKPOINTS}.dlt",
}
# Collections that change on every audited read or checkpoint (its outbox, chain tails, event-id
# claims, timelines, the lookup documents and sequence counters of the entries ingested, the
# checkpoints); the audit log itself is counted without those topics' entries, so a change to it
# still shows.
AUDIT_READ_BOOKKEEPING = {
    "audit_reads",
    "audit_checkpoints",
    "audit_chain_tails",
    "audit_event_ids",
    "audit_learner_timelines",
    "audit_lookup_heads",
    "audit_lookup_pages",
    "audit_sequences",
}


@dataclass(frozen=True)
class Caller:
    name: str
    tenant: str
    sub: str
    roles: tuple[str, ...]
    groups: tuple[str, ...] = (GROUP,)


@dataclass
class Sent:
    operation: str
    caller: str
    mode: str
    method: str
    status: int
    body: str
    curl: str
    nonconforming: str | None = None


@dataclass
class World:
    stack: Stack
    tenant: Tenant
    callers: list[Caller]
    path_parameters: dict[str, str]
    schemas: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    tenant = tracker_tenant(stack)
    learner_id = known_learner(tenant)
    with tenant.admin("tracker") as http:
        tracker = raise_tracker(
            http, "change_of_name", learner_id, {"given_names": "Alicia", "family_name": "Walker"}
        )
    other = new_tenant()
    callers = [
        Caller("learner", tenant.name, learner_id, ("learner",), ()),
        Caller("tutor", tenant.name, "tutor-1", ("tutor",)),
        Caller("admin", tenant.name, "admin-1", ("admin",)),
        Caller("ilr_qa", tenant.name, "qa-1", ("admin", "ilr_qa")),
        Caller("support", tenant.name, "support-1", ("support",)),
        Caller("operator", tenant.name, "operator-1", ("operator",)),
        Caller("other-tenant admin", other, "admin-1", ("admin",)),
    ]
    # Positive cases use real objects of the first tenant, so that they reach the use cases.
    path_parameters = {
        "learner_id": learner_id,
        "tracker_id": tracker["id"],
        "tracker_type": "change_of_name",
        "name": "laptop_request",
    }
    schemas = {
        service: schemathesis.openapi.from_dict(
            httpx.get(f"{stack.urls[service]}/openapi.json", timeout=30).json()
        )
        for service in SERVICES
    }
    return World(stack, tenant, callers, path_parameters, schemas)


def fuzz(world: World, mode: GenerationMode) -> list[Sent]:
    """Every operation of every service: up to EXAMPLES cases each, each sent by every caller."""
    sent: list[Sent] = []
    for service, schema in world.schemas.items():
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path in OPERATIONS_PATHS:
                continue
            if mode is GenerationMode.NEGATIVE and not _declares_inputs(operation):
                continue  # nothing in the document to break (e.g. POST /v1/audit/checkpoints)
            _send_cases(world, service, operation, mode, sent)
    return sent


def _declares_inputs(operation: Any) -> bool:
    """Whether the document gives the operation any parameter or body a request could break;
    without one, a "negative" case only adds what HTTP allows anyway (an unknown header). The
    bearer token (schemathesis lists it as the header ``Authorization``) is every caller's own."""
    headers = [h for h in operation.headers if h.name.lower() != "authorization"]
    parameters = (operation.path_parameters, operation.query, headers, operation.cookies)
    return any(len(group) for group in parameters) or bool(len(operation.body))


def _send_cases(
    world: World, service: str, operation: Any, mode: GenerationMode, sent: list[Sent]
) -> None:
    names = {p.name for p in operation.path_parameters}
    known = {k: v for k, v in world.path_parameters.items() if k in names}
    fixed = known if mode is GenerationMode.POSITIVE and len(known) == len(names) else None
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
    tokens = {
        caller.name: world.stack.token(
            caller.tenant, caller.sub, *caller.roles, groups=list(caller.groups)
        )
        for caller in world.callers
    }

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case: Any) -> None:
        for caller, token in tokens.items():
            response = case.call(
                base_url=world.stack.urls[service],
                headers={"authorization": f"Bearer {token}"},
                timeout=60,
            )
            sent.append(
                Sent(
                    operation=f"{service} {operation.label}",
                    caller=caller,
                    mode=mode.value,
                    method=case.method.upper(),
                    status=response.status_code,
                    body=response.content[:300].decode(errors="replace"),
                    curl=case.as_curl_command(headers={"authorization": "Bearer <token>"}),
                    nonconforming=_nonconformance(case, response),
                )
            )

    # Unsatisfiable: nothing of this mode to generate here (e.g. no inputs that could break).
    with suppress(Unsatisfiable):
        send()


def _nonconformance(case: Any, response: Any) -> str | None:
    """What the response breaks of the document (media type, schema), or None."""
    try:
        case.validate_response(response, checks=CONFORMANCE)
    except FailureGroup as failures:
        return "; ".join(failure.title for failure in failures.exceptions)
    return None


# --- what the services hold --------------------------------------------------------------------


@pytest.fixture(scope="module")
def mongo(stack: Stack) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(stack.settings.mongo_url)
    try:
        yield client
    finally:
        client.close()


def state(stack: Stack, mongo: MongoClient[dict[str, Any]]) -> dict[str, int]:
    """Documents per collection of every service database, and records per topic."""
    counts: dict[str, int] = {}
    for service in SERVICES:
        database = mongo[stack.settings.database_name(service)]
        for name in database.list_collection_names():
            if service == "audit" and name in AUDIT_READ_BOOKKEEPING:
                continue
            query = {"topic": {"$nin": sorted(AUDIT_READS)}} if name == "audit_entries" else {}
            counts[f"{service}.{name}"] = database[name].count_documents(query)
    topics = [t for t in all_topics() if t not in AUDIT_READS]
    counts.update(asyncio.run(_records_per_topic(stack, topics)))
    return counts


async def _records_per_topic(stack: Stack, topics: list[str]) -> dict[str, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.settings.kafka_bootstrap)
    await consumer.start()
    try:
        prefix = stack.settings.topic_prefix
        partitions = [
            TopicPartition(prefix + topic, p)
            for topic in topics
            for p in range(stack.settings.topic_partitions)
        ]
        ends = await consumer.end_offsets(partitions)
        totals: dict[str, int] = {}
        for tp, end in ends.items():
            key = f"topic {tp.topic.removeprefix(prefix)}"
            totals[key] = totals.get(key, 0) + end
        return totals
    finally:
        await consumer.stop()


def settled_state(stack: Stack, mongo: MongoClient[dict[str, Any]]) -> dict[str, int]:
    """The state once it has stopped changing (what earlier requests set off has arrived); the
    pipeline's hops take a second or two each."""
    return settled(lambda: state(stack, mongo), quiet=3, interval=1)


# --- the tests ---------------------------------------------------------------------------------


def test_requests_that_break_the_documents_are_refused_and_change_nothing(
    world: World, mongo: MongoClient[dict[str, Any]]
) -> None:
    before = settled_state(world.stack, mongo)
    sent = fuzz(world, GenerationMode.NEGATIVE)
    after = settled_state(world.stack, mongo)

    assert sent, "schemathesis generated nothing"
    assert [s for s in sent if s.status >= 500] == []
    assert _nonconforming(sent) == {}
    accepted = [s for s in sent if s.method in MUTATING and s.status < 400]
    assert accepted == [], "a request that breaks the document was accepted"
    changed = {k: (before.get(k), after.get(k)) for k in before.keys() | after.keys()}
    assert {k: v for k, v in changed.items() if v[0] != v[1]} == {}
    print(f"\n{len(sent)} negative requests, statuses {_statuses(sent)}")


def test_valid_requests_of_every_role_and_tenant_get_no_server_error(world: World) -> None:
    sent = fuzz(world, GenerationMode.POSITIVE)
    assert sent, "schemathesis generated nothing"
    assert [s for s in sent if s.status >= 500] == []
    assert _nonconforming(sent) == {}
    print(f"\n{len(sent)} positive requests, statuses {_statuses(sent)}")


def _nonconforming(sent: list[Sent]) -> dict[str, str]:
    """Each way a response broke the document, once, with a request that showed it."""
    found: dict[str, str] = {}
    for s in sent:
        if s.nonconforming:
            found.setdefault(f"{s.operation} {s.status}: {s.nonconforming}", s.curl)
    return found


def _statuses(sent: list[Sent]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for s in sent:
        counts[s.status] = counts.get(s.status, 0) + 1
    return dict(sorted(counts.items()))
