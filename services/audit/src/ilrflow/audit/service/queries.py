"""Support queries over the audit log, always within the caller's tenant, each one audited.

Every read (search, one entry, a timeline, an export, a verification) is written to the audit
service's own outbox as an ``AuditAccessed`` event before its result is returned, so the audit
log records who read it, and a read that cannot be recorded is not served.

Searches and exports walk the lookup documents (``domain.lookup``) of the query's most selective
filter, bucket by bucket in the order served (the tenant's ingest sequence), filter the refs, and
fetch only the entries served. They serve only the sequences below the tenant's visible mark
(``domain.sequence``), so what a page shows is never changed later by a batch still being
written: a client following ``next_cursor`` from the start sees every entry once, oldest first
including those stored while it walks, newest first the log as it was at the first page.
This is the one read path on FerretDB and on MongoDB alike: MongoDB could answer from secondary
indexes, but two paths would be two behaviours to test, and on FerretDB 1.24 only ``_id``
lookups are pushed down to the database at all.

Staff appear by name as well as id in timelines and exports: the names are read, by ``_id``, from
the staff names the ingest keeps (``domain.staff``) when the answer is built, so they are current.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Literal, NamedTuple

from ilrflow.audit.domain.export import export_csv, export_xlsx
from ilrflow.audit.domain.lookup import Ref, buckets_to_read, key_for, paginate, select
from ilrflow.audit.domain.query import AuditPage, AuditQuery
from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.summary import people_of
from ilrflow.audit.domain.timeline import (
    DEFAULT_LIMIT as DEFAULT_TIMELINE_LIMIT,
)
from ilrflow.audit.domain.timeline import (
    TimelineCursor,
    TimelineLine,
    after,
    cursor_at,
    in_window,
    learner_timeline,
    merged,
)
from ilrflow.audit.domain.verify import (
    AuditVerification,
    ChainLink,
    PartitionKey,
    in_offset_order,
    verify_all,
)
from ilrflow.audit.service.checkpoints import TrustedCheckpoints
from ilrflow.audit.service.ports import AuditLogReader
from ilrflow.contracts.errors import NotFound
from ilrflow.contracts.events import AuditAccessed, EventType, new_event
from ilrflow.contracts.identity import Principal

EXPORT_MAX_ROWS = 100_000
ExportFormat = Literal["csv", "xlsx"]
PROGRESS_EVERY = 1_000
VerifyProgress = Callable[[int, int], None]  # entries read, entries the recorded tails expect
AccessAction = Literal["search", "get", "timeline", "export_csv", "export_xlsx", "verify"]


class TimelinePage(NamedTuple):
    lines: list[TimelineLine]
    next_cursor: str | None


class AuditQueries:
    def __init__(
        self,
        repository: AuditLogReader,
        reads_recorded: Callable[[], None],
        checkpoints: TrustedCheckpoints | None = None,
    ) -> None:
        """Without ``checkpoints``, verification checks the chains and their recorded tails only
        (benchmarks and tests that read a database no service signs checkpoints for)."""
        self.repository = repository
        self._reads_recorded = reads_recorded
        self._checkpoints = checkpoints

    async def search(self, principal: Principal, query: AuditQuery) -> AuditPage:
        refs = paginate(await self.select(principal.tenant, query, query.limit + 1), query.limit)
        entries = await self.repository.entries_by_id(
            principal.tenant, [ref.entry_id for ref in refs.refs]
        )
        await self._audit(principal, "search", len(entries), query=query)
        return AuditPage(entries, refs.next_cursor)

    async def select(self, tenant: str, query: AuditQuery, wanted: int) -> list[Ref]:
        """Up to ``wanted`` refs of what ``query`` selects in ``tenant``, in the order served.

        A ``type`` naming a topic of several event types walks each type's key; the walks are
        each in order, so merging them and cutting at ``wanted`` keeps the keyset order."""
        below = await self.repository.visible_sequence(tenant)
        walks = [await self._walk(tenant, q, wanted, below) for q in query.one_query_per_type()]
        if len(walks) == 1:
            return walks[0]
        newest_first = query.order == "newest"
        every = sorted(
            (r for w in walks for r in w), key=lambda r: r.sequence, reverse=newest_first
        )
        return every[:wanted]

    async def _walk(self, tenant: str, query: AuditQuery, wanted: int, below: int) -> list[Ref]:
        """Buckets are disjoint ranges of the sequence, so the refs of each (sorted by
        ``select``) simply follow those of the one before; the walk stops at the first bucket
        that fills the request."""
        key = key_for(query, tenant)
        buckets = await self.repository.lookup_buckets(key)
        chosen: list[Ref] = []
        for bucket, pages in buckets_to_read(key.field, buckets, query, below):
            refs = await self.repository.lookup_refs(key, bucket, pages)
            chosen += [ref for ref in select(refs, query, below) if query.shows(ref.event_type)]
            if len(chosen) >= wanted:
                break
        return chosen[:wanted]

    async def get(self, principal: Principal, entry_id: str) -> AuditEntry:
        entry = await self.repository.get(principal.tenant, entry_id)
        learner_id = entry.learner_id if entry else None
        await self._audit(
            principal, "get", int(entry is not None), entry_id=entry_id, learner_id=learner_id
        )
        if entry is None:
            raise NotFound.of("audit entry", entry_id)
        return entry

    async def timeline(
        self,
        principal: Principal,
        learner_id: str,
        *,
        cursor: TimelineCursor | None = None,
        limit: int = DEFAULT_TIMELINE_LIMIT,
        include_access: bool = False,
    ) -> TimelinePage:
        """A page of the learner's lines after ``cursor``, read page by stored page
        (``domain.timeline``): a page costs the same at any depth, and a stored page is read
        only for lines it serves (a cursor at a page's end starts at the next). With ``include_access``, the
        audit log's reads about the learner that fall between the cursor and the page's last
        line (to the end, on the last page) are merged in, so a walk shows each read once. The
        staff the lines mention are named."""
        tenant = principal.tenant
        head = await self.repository.timeline_head(tenant, learner_id)
        served: list[tuple[int, TimelineLine]] = []
        page_ends: set[int] = set()  # where in ``served`` a sealed page's last line is
        for page in range(cursor.first_page if cursor else 0, head.sealed + 1):
            stored = (
                head.lines
                if page == head.sealed
                else await self.repository.timeline_page(tenant, learner_id, page)
            )
            shown = after(page, stored, cursor)
            served += [(page, line) for line in shown]
            if shown and page < head.sealed:
                page_ends.add(len(served) - 1)
            if len(served) >= limit:
                break
        # A sealed page is followed by pages that hold lines: the open page is never empty.
        more = len(served) > limit or (len(served) == limit and served[-1][0] < head.sealed)
        end = cursor_at(*served[limit - 1], page_done=limit - 1 in page_ends) if more else None
        lines = [line for _, line in served[:limit]]
        if include_access:
            lines = merged(lines, await self._reads_about(tenant, learner_id, cursor, end))
        names = await self.repository.staff_names(tenant, set().union(*(x.staff for x in lines)))
        named = [line.named(names) for line in lines]
        await self._audit(principal, "timeline", len(named), learner_id=learner_id)
        return TimelinePage(named, end.encode() if end else None)

    async def _reads_about(
        self,
        tenant: str,
        learner_id: str,
        start: TimelineCursor | None,
        end: TimelineCursor | None,
    ) -> list[TimelineLine]:
        reads = AuditQuery.model_validate(
            {"learner_id": learner_id, "type": EventType.AUDIT_ACCESSED, "order": "oldest"}
        )
        refs = await self.select(tenant, reads, EXPORT_MAX_ROWS)
        shown = [r.entry_id for r in refs if in_window(r.time, r.entry_id, start, end)]
        entries = await self.repository.entries_by_id(tenant, shown)
        return learner_timeline(entries, include_access=True)

    async def export(
        self, principal: Principal, query: AuditQuery, export_format: ExportFormat
    ) -> bytes:
        """Every entry the query selects, in its order: no pages, up to EXPORT_MAX_ROWS."""
        selection = query.model_copy(update={"cursor": None})
        refs = await self.select(principal.tenant, selection, EXPORT_MAX_ROWS)
        entries = await self.repository.entries_by_id(principal.tenant, [r.entry_id for r in refs])
        action: AccessAction = "export_csv" if export_format == "csv" else "export_xlsx"
        names = await self.repository.staff_names(principal.tenant, people_of(entries))
        await self._audit(principal, action, len(entries), query=query)
        return export_csv(entries, names) if export_format == "csv" else export_xlsx(entries, names)

    async def verify(self, principal: Principal) -> AuditVerification:
        verification = await self.verify_log()
        await self._audit(principal, "verify", verification.entries)
        return verification

    async def verify_log(self, progress: VerifyProgress | None = None) -> AuditVerification:
        """Recompute every partition's chain (the whole log: chains span tenants), and check
        that each recorded tail and each chain's latest signed checkpoint is still there.
        The log is read once, each entry hashed as it
        arrives; ``progress`` hears (entries read, entries expected by the recorded tails)
        every ``PROGRESS_EVERY`` entries and at the end."""
        tails = await self.repository.all_recorded_tails()
        trusted = self._checkpoints
        # Read before the log: a checkpoint signed while the log is read is checked next time.
        signed = await asyncio.to_thread(trusted.latest) if trusted else {}
        expected = sum(tail.offset + 1 for tail in tails.values())
        partitions: dict[PartitionKey, list[ChainLink]] = defaultdict(list)
        read = 0
        async for link in self.repository.chain_links():
            partitions[(link.topic, link.partition)].append(link)
            read += 1
            if progress is not None and read % PROGRESS_EVERY == 0:
                progress(read, expected)
        if progress is not None:
            progress(read, expected)
        ordered = {key: in_offset_order(links) for key, links in partitions.items()}
        return verify_all(
            ordered,
            recorded_tails=tails,
            checkpoints=signed,
            public_key=trusted.public_key if trusted else None,
        )

    async def _audit(
        self,
        principal: Principal,
        action: AccessAction,
        results: int,
        *,
        query: AuditQuery | None = None,
        entry_id: str | None = None,
        learner_id: str | None = None,
    ) -> None:
        filters = _filters_of(query) if query else {}
        learner_id = learner_id or (query.learner_id if query else None)
        accessed = AuditAccessed(
            action=action,
            accessed_by=principal.sub,
            accessed_by_roles=list(principal.roles),
            learner_id=learner_id,
            filters=filters,
            entry_id=entry_id,
            results=results,
        )
        event = new_event(
            accessed,
            tenant=principal.tenant,
            subject=learner_id or principal.sub,
            actor=principal.sub,
        )
        await self.repository.record_read(event)
        self._reads_recorded()


def _filters_of(query: AuditQuery) -> dict[str, str]:
    given = query.model_dump(by_alias=True, exclude={"cursor", "limit"}, exclude_none=True)
    if not query.include_access:
        given.pop("include_access")
    return {
        name: value.isoformat() if hasattr(value, "isoformat") else str(value)
        for name, value in given.items()
    }
