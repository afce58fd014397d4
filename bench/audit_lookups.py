"""Checks shared by the audit search measurements and tests (``bench/audit_scale.py``,
``tests/e2e/test_audit_queries.py``): what a query should select (a plain sort of the entries),
every page the service serves for it, and what the database says about each read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.lookup import paginate
from ilrflow.audit.domain.query import AuditQuery
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.service.queries import AuditQueries

Read = tuple[str, str]  # collection, _id


def expected_ids(entries: Iterable[AuditEntry], tenant: str, query: AuditQuery) -> list[str]:
    """What the query selects, by brute force over the entries (stored: numbered in their
    tenants' ingest sequence, which is the order served)."""
    wanted = {
        "learner_id": query.learner_id,
        "tracker_id": query.tracker_id,
        "event_type": query.event_type,
        "actor": query.actor,
        "correlation_id": query.correlation_id,
    }
    chosen = [
        e
        for e in entries
        if e.tenant == tenant
        and all(v is None or getattr(e, f) == v for f, v in wanted.items())
        and (query.from_time is None or e.time >= query.from_time)
        and (query.to_time is None or e.time < query.to_time)
    ]
    chosen.sort(key=lambda e: e.sequence, reverse=query.order == "newest")
    return [e.id for e in chosen]


async def served_ids(
    queries: AuditQueries, tenant: str, query: AuditQuery, max_pages: int = 1_000
) -> list[str]:
    """Every page of the query's refs, following the cursors (the selection ``search`` serves)."""
    ids: list[str] = []
    for _ in range(max_pages):
        page = paginate(await queries.select(tenant, query, query.limit + 1), query.limit)
        ids += [ref.entry_id for ref in page.refs]
        if page.next_cursor is None:
            break
        query = query.model_copy(update={"cursor": page.next_cursor})
    return ids


def record_reads(repository: AuditRepository) -> list[Read]:
    reads: list[Read] = []
    repository.on_read = lambda collection, query: reads.append((collection, query["_id"]))
    return reads


async def explain_reads(repository: AuditRepository, reads: Iterable[Read]) -> dict[str, Any]:
    """One explain per collection the query path read (every read has the same shape: a single
    ``_id`` equality), keyed by collection."""
    first: dict[str, str] = {}
    for collection, key in reads:
        first.setdefault(collection, key)
    return {c: await repository.explain_by_id(c, {"_id": key}) for c, key in first.items()}


def is_id_lookup(explain: dict[str, Any]) -> bool:
    """FerretDB: the filter is pushed down to the backend. MongoDB: an ``_id`` plan (IDHACK,
    EXPRESS_IXSCAN) or an index scan, never a collection scan."""
    if "filterPushdown" in explain:
        return explain["filterPushdown"] is True
    used = plan_stages(explain.get("queryPlanner", {}).get("winningPlan", {}))
    return bool(used) and "COLLSCAN" not in used


def plan_stages(plan: dict[str, Any]) -> list[str]:
    found = [str(plan.get("stage"))] if plan.get("stage") else []
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if isinstance(child, dict):
            found += plan_stages(child)
    return found
