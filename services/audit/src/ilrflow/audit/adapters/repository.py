"""MongoDB persistence of the audit log: insert-only. This module has no update or delete path
for audit entries.

Entries are keyed by ``<topic>:<partition>:<offset>``, so storing a redelivered record is a no-op.
Beside the log it keeps three small collections, each read only by ``_id`` (FerretDB 1.24 on
SQLite pushes nothing else down to the backend, so any other filter reads the whole collection):

- ``audit_chain_tails``: per partition, the offset and hash of the newest stored entry. It is the
  chain head for the next batch and the tail that verification expects to find.
- ``audit_event_ids``: per (topic, event id), the entry that first carried it; inserting a claim
  that exists already is how a duplicate delivery is recognised without a query.
- ``audit_learner_timelines`` and ``audit_timeline_pages``: per (tenant, learner), the head of
  the learner's timeline (its open page, how many pages were sealed, how far each source
  partition's lines are stored), and the sealed pages (``domain.timeline``).
- ``audit_lookup_heads`` and ``audit_lookup_pages``: the lookup documents that searches walk
  instead of the log (``domain.lookup``): per key, its buckets, how full they are and the event
  times they span; per bucket, pages of refs.
- ``audit_sequences``: per tenant, the ingest sequence's counter and the marks of the batches
  still being written (``domain.sequence``), read by every search to know how far it may serve.
  Pages, heads and timelines new to the writer are inserted, unread (one ``insert_many`` per
  batch and collection), and updated otherwise, so a batch that starts keys or buckets (and the
  whole of a bulk load) costs inserts, not updates, which FerretDB applies by reading the
  collection; a known key costs one ``$push`` per batch (``add_lookups``).

Every read on the query path goes through ``_by_id``, one ``_id`` equality, the only filter
FerretDB 1.24 pushes down (its SQLite backend still reads the table to find the row: the ``_id``
index is built on another expression than the one the query uses, so the cost of a lookup grows
with the size of the collection, but no document is decoded except the one found).

``audit_staff_names``: per (tenant, staff id), the newest name the staff events gave, read by
``_id`` when a timeline or an export names someone.

And ``audit_reads``: one document per audited read, carrying its ``AuditAccessed`` event in an
outbox until the relay has published it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from ilrflow.audit.domain.chain import stored_hash_holds
from ilrflow.audit.domain.lookup import (
    BucketFill,
    BucketHead,
    BucketInfo,
    LookupKey,
    Ref,
    bucket_after,
    group_refs,
    head_moved,
    place,
    ref_from_text,
    ref_to_text,
)
from ilrflow.audit.domain.records import EPOCH, AuditEntry, RecordCoordinates, normalise_time
from ilrflow.audit.domain.sequence import next_of, visible_below
from ilrflow.audit.domain.staff import StaffKey, StaffName, is_newer
from ilrflow.audit.domain.summary import Part, StaffMention
from ilrflow.audit.domain.timeline import (
    PAGE_LINES,
    TimelineAppend,
    TimelineHead,
    TimelineLine,
    appended,
    line_of,
)
from ilrflow.audit.domain.verify import ChainLink, ChainTail, link_of
from ilrflow.contracts.events import Envelope
from ilrflow.platform.ferretdb import serialised_writes
from ilrflow.platform.mongo import Document
from ilrflow.platform.outbox import new_document_outbox

DUPLICATE_KEY = 11000
PartitionKey = tuple[str, int]
ReadListener = Callable[[str, Document], None]
# The chain's own reads (the newest entry of a partition, a partition in offset order) on MongoDB;
# searches do not use the log's fields at all (see ``domain.lookup``).
LOG_INDEXES: list[list[tuple[str, int]]] = [
    [("topic", 1), ("event_id", 1)],
    [("topic", 1), ("partition", 1), ("offset", 1)],
]
# Heads of recently written keys, kept by the one process that writes them (the audit consumer)
# so that a batch need not read them back; dropped whenever a write fails, and when it grows.
HEAD_CACHE_SIZE = 50_000
HEAD_READS_AT_ONCE = 32


# Documents per round trip of the verification scan: FerretDB's cost per round trip is high
# (a 10,000-entry scan took 26 s in batches of 1,000, 10 s in one of 10,000, on a loaded box).
VERIFY_BATCH = 10_000


class AlreadyStoredError(Exception):
    """An entry of the batch is stored already: the recorded chain head was behind."""


class AuditRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.entries: AsyncCollection[Document] = db["audit_entries"]
        self.tails: AsyncCollection[Document] = db["audit_chain_tails"]
        self.event_ids: AsyncCollection[Document] = db["audit_event_ids"]
        self.timelines: AsyncCollection[Document] = db["audit_learner_timelines"]
        self.timeline_pages: AsyncCollection[Document] = db["audit_timeline_pages"]
        self.staff: AsyncCollection[Document] = db["audit_staff_names"]
        # Wrapped so that the outbox relay hears of each read instead of scanning for them.
        self.reads: AsyncCollection[Document] = serialised_writes(db["audit_reads"])
        # Updated per key and per batch (atomically per document by the server: see
        # ilrflow.platform.ferretdb), through ``serialised_writes`` like every aggregate, so an
        # unpatched FerretDB is refused here too.
        self.lookup_heads: AsyncCollection[Document] = serialised_writes(db["audit_lookup_heads"])
        self.lookup_pages: AsyncCollection[Document] = serialised_writes(db["audit_lookup_pages"])
        self.sequences: AsyncCollection[Document] = serialised_writes(db["audit_sequences"])
        self.checkpoints: AsyncCollection[Document] = serialised_writes(db["audit_checkpoints"])
        self.on_read: ReadListener | None = None  # tests see every query-path read through it
        self._heads: dict[str, dict[str, BucketHead]] = {}
        self._timeline_heads: dict[str, _KnownHead] = {}

    async def ensure_indexes(self) -> None:
        """The chain's indexes, on MongoDB. FerretDB 1.24's SQLite backend never uses a secondary
        index to answer a query (explain: ``filterPushdown: false``, ``SCAN``) while every insert
        pays for it, so there the log is read through the ``_id``-keyed collections instead."""
        if await self.is_ferretdb():
            return
        for keys in LOG_INDEXES:
            await self.entries.create_index(keys)

    async def is_ferretdb(self) -> bool:
        build = await self.entries.database.client.admin.command("buildInfo")
        return "ferretdbVersion" in build

    # --- the chain -------------------------------------------------------------------------

    async def recorded_tail(self, topic: str, partition: int) -> ChainTail | None:
        found = await self.tails.find_one({"_id": _partition_id(topic, partition)})
        return None if found is None else ChainTail(int(found["offset"]), str(found["hash"]))

    async def stored_head(self, topic: str, partition: int) -> ChainTail | None:
        """The newest stored entry of the partition, read from the log itself (slow: a scan)."""
        found = await self.entries.find_one(
            {"topic": topic, "partition": partition},
            {"offset": 1, "hash": 1},
            sort=[("offset", DESCENDING)],
        )
        return None if found is None else ChainTail(int(found["offset"]), str(found["hash"]))

    async def record_tail(self, topic: str, partition: int, tail: ChainTail) -> None:
        await self.tails.update_one(
            {"_id": _partition_id(topic, partition)},
            {"$set": {"topic": topic, "partition": partition, **tail._asdict()}},
            upsert=True,
        )

    async def all_recorded_tails(self) -> dict[PartitionKey, ChainTail]:
        return {
            (d["topic"], int(d["partition"])): ChainTail(int(d["offset"]), str(d["hash"]))
            async for d in self.tails.find({})
        }

    async def insert(self, entries: Sequence[AuditEntry]) -> int:
        """Insert chained entries in offset order; raise AlreadyStoredError if one is there."""
        if not entries:
            return 0
        try:
            result = await self.entries.insert_many([to_document(e) for e in entries], ordered=True)
        except BulkWriteError as error:
            if _only_duplicates(error):
                raise AlreadyStoredError(str(error)) from error
            raise
        return len(result.inserted_ids)

    # --- duplicate deliveries --------------------------------------------------------------

    async def claim_event_ids(self, entries: Sequence[AuditEntry]) -> dict[str, RecordCoordinates]:
        """Claim each entry's (topic, event id) for it; return the claims that others hold."""
        claims: dict[str, AuditEntry] = {}
        for entry in entries:
            if entry.event_id:
                claims.setdefault(_claim_id(entry.topic, entry.event_id), entry)
        if not claims:
            return {}
        documents = [_claim(claim_id, e) for claim_id, e in claims.items()]
        try:
            await self.event_ids.insert_many(documents, ordered=False)
            return {}
        except BulkWriteError as error:
            if not _only_duplicates(error):
                raise
            taken = [documents[e["index"]]["_id"] for e in error.details["writeErrors"]]
        return {
            d["event_id"]: RecordCoordinates(d["topic"], int(d["partition"]), int(d["offset"]))
            async for d in self.event_ids.find({"_id": {"$in": taken}})
        }

    # --- the learner timelines -------------------------------------------------------------

    async def add_timeline_lines(
        self, lines: Mapping[tuple[str, str], Iterable[TimelineLine]]
    ) -> None:
        """Append lines to learners' timelines (``domain.timeline``: pages, and what a replay
        after a crash leaves out). A learner this writer does not know is taken for new: its head
        is inserted with the lines, unread, with the other new ones in one command; one that
        exists fails that insert and is appended to as before."""
        try:
            batch = {learner: list(learner_lines) for learner, learner_lines in lines.items()}
            created = await self._create_timelines(batch)
            for (tenant, learner_id), learner_lines in batch.items():
                if (tenant, learner_id) not in created:
                    await self._append_lines(tenant, learner_id, learner_lines)
        except BaseException:
            self._timeline_heads.clear()  # what was written is unknown: read the heads back
            raise

    async def _create_timelines(
        self, lines: Mapping[tuple[str, str], list[TimelineLine]]
    ) -> set[tuple[str, str]]:
        """Insert the heads of the learners not known to this writer whose lines fit on an open
        page; return those inserted (the others exist, or need pages sealed first)."""
        changes = {
            learner: appended(TimelineHead(), learner_lines, PAGE_LINES)
            for learner, learner_lines in lines.items()
            if _learner_key(*learner) not in self._timeline_heads
        }
        fitting = {learner: c for learner, c in changes.items() if not c.sealed_pages}
        documents = [
            {
                "_id": _learner_key(tenant, learner_id),
                "tenant": tenant,
                "learner_id": learner_id,
                "through": _through_doc(change),
                "sealed": 0,
                "lines": [_line_document(x) for x in change.open_lines],
            }
            for (tenant, learner_id), change in fitting.items()
        ]
        existing = {
            head_id
            for head_id, _ in await self._insert_new(
                self.timelines, documents, lambda d: (d["_id"], None)
            )
        }
        created = {learner for learner in fitting if _learner_key(*learner) not in existing}
        for learner in created:
            change = fitting[learner]
            self._remember_timeline(
                _learner_key(*learner), _KnownHead(0, len(change.open_lines), change.through)
            )
        return created

    def _remember_timeline(self, key: str, head: _KnownHead) -> None:
        if len(self._timeline_heads) > HEAD_CACHE_SIZE:
            self._timeline_heads.clear()
        self._timeline_heads[key] = head

    async def _append_lines(self, tenant: str, learner_id: str, lines: list[TimelineLine]) -> None:
        key = _learner_key(tenant, learner_id)
        known = self._timeline_heads.get(key)
        if known is None or known.open_lines + len(lines) > PAGE_LINES:
            # Read when not known, and before sealing, which needs the open page's lines.
            head, stored_open = _timeline_head(await self.timelines.find_one({"_id": key})), 0
        else:
            head, stored_open = TimelineHead(known.sealed, (), known.through), known.open_lines
        change = appended(head, lines, PAGE_LINES)
        identity = {"tenant": tenant, "learner_id": learner_id, "through": _through_doc(change)}
        if change.sealed_pages:
            sealed = head.sealed + len(change.sealed_pages)
            await self._seal(key, head.sealed, change.sealed_pages)
            await self.timelines.update_one(
                {"_id": key},
                {
                    "$set": {
                        **identity,
                        "sealed": sealed,
                        "lines": [_line_document(x) for x in change.open_lines],
                    }
                },
                upsert=True,
            )
        else:
            sealed = head.sealed
            if change.lines:
                await self.timelines.update_one(
                    {"_id": key},
                    {
                        "$set": identity,
                        "$push": {"lines": {"$each": [_line_document(x) for x in change.lines]}},
                    },
                    upsert=True,
                )
        open_lines = stored_open + len(change.open_lines)
        self._remember_timeline(key, _KnownHead(sealed, open_lines, change.through))

    async def _seal(self, key: str, first: int, pages: list[list[TimelineLine]]) -> None:
        """Store full pages. A page past the head's ``sealed`` count is read by nobody, so one
        left by a run that crashed before updating the head is overwritten."""
        documents = [
            {"_id": timeline_page_id(key, first + n), "lines": [_line_document(x) for x in page]}
            for n, page in enumerate(pages)
        ]
        for page_id, page_lines in await self._insert_new(
            self.timeline_pages, documents, _as_lines
        ):
            await self.timeline_pages.replace_one({"_id": page_id}, {"lines": page_lines})

    async def timeline_head(self, tenant: str, learner_id: str) -> TimelineHead:
        """The learner's open page and how many pages were sealed before it; one read by
        ``_id``, the one lookup FerretDB pushes down."""
        return _timeline_head(await self._by_id(self.timelines, _learner_key(tenant, learner_id)))

    async def timeline_page(self, tenant: str, learner_id: str, page: int) -> list[TimelineLine]:
        """A sealed page of the learner's timeline (``page`` below the head's ``sealed``)."""
        key = timeline_page_id(_learner_key(tenant, learner_id), page)
        found = await self._by_id(self.timeline_pages, key) or {}
        return [_line_from(d) for d in found.get("lines", [])]

    async def explain_timeline(self, tenant: str, learner_id: str) -> Document:
        command = {"find": self.timelines.name, "filter": timeline_filter(tenant, learner_id)}
        return await self.timelines.database.command({"explain": command})

    async def explain_by_id(self, collection: str, query: Document) -> Document:
        database = self.entries.database
        return await database.command({"explain": {"find": collection, "filter": query}})

    # --- the ingest sequence ---------------------------------------------------------------

    async def reserve_sequences(self, writer: str, counts: Mapping[str, int]) -> dict[str, int]:
        """Reserve ``counts[tenant]`` numbers of each tenant's sequence for ``writer``; return
        where each run starts. The writer's pending mark goes first, at or below what it will
        get, so no reader passes the run before ``release_sequences``; a mark left by a crashed
        run of the same writer is kept (``$min``): its entries may still need their lookups."""
        starts: dict[str, int] = {}
        for tenant, count in counts.items():
            counter = await self.sequences.find_one({"_id": tenant})
            await self.sequences.update_one(
                {"_id": tenant}, {"$min": {f"pending.{writer}": next_of(counter)}}, upsert=True
            )
            before = await self.sequences.find_one_and_update(
                {"_id": tenant}, {"$inc": {"next": count}}, return_document=ReturnDocument.BEFORE
            )
            starts[tenant] = next_of(before)
        return starts

    async def release_sequences(self, writer: str, tenants: Iterable[str]) -> None:
        """The writer's runs in these tenants are complete: entries and lookups stored."""
        for tenant in tenants:
            await self.sequences.update_one({"_id": tenant}, {"$unset": {f"pending.{writer}": ""}})

    async def visible_sequence(self, tenant: str) -> int:
        """Searches serve the tenant's sequences below this (``domain.sequence``)."""
        return visible_below(await self._by_id(self.sequences, tenant))

    # --- staff names -----------------------------------------------------------------------

    async def record_staff_names(self, names: Mapping[StaffKey, StaffName]) -> None:
        """Keep each person's newest name; an older event (a replay) changes nothing. Only the
        audit consumer writes here, one batch at a time, so read-then-write does not race."""
        for (tenant, staff_id), candidate in names.items():
            key = _staff_key(tenant, staff_id)
            found = await self.staff.find_one({"_id": key})
            known = StaffName(found["name"], found["time"]) if found else None
            if is_newer(candidate, known):
                await self.staff.update_one(
                    {"_id": key},
                    {"$set": {"tenant": tenant, "staff_id": staff_id, **candidate._asdict()}},
                    upsert=True,
                )

    async def staff_names(self, tenant: str, staff_ids: Iterable[str]) -> dict[str, str]:
        """Staff id -> name for those of ``staff_ids`` the audit log has seen, each read by _id."""
        names = {}
        for staff_id in sorted(set(staff_ids)):
            found = await self._by_id(self.staff, _staff_key(tenant, staff_id))
            if found is not None:
                names[staff_id] = str(found["name"])
        return names

    # --- the lookup documents --------------------------------------------------------------

    async def add_lookups(self, entries: Sequence[AuditEntry]) -> None:
        """Add the entries' refs to their keys' pages, then tell the heads what moved.

        A key this writer does not know is taken for new: its head is inserted with the batch's
        buckets, unread; one that exists fails that insert and is read back (with the last page
        of each bucket the batch writes to, for its fill). A known key's head is written only when
        the batch opens a bucket or a page or widens its hours (``domain.lookup.head_moved``), so
        most keys of a batch cost one write, the ``$push`` of their refs. A replay after a crash
        adds the refs again, to the same pages; searches keep one of each."""
        grouped = group_refs(entries)
        try:
            heads = {key: self._heads[key.id] for key in grouped if key.id in self._heads}
            unknown = {key: grouped[key] for key in grouped if key not in heads}
            existing = await self._create_heads(_buckets_after(unknown, {k: {} for k in unknown}))
            created: dict[LookupKey, dict[str, BucketHead]] = {
                key: {} for key in unknown if key not in existing
            }
            heads |= created | await self._read_heads(existing)
            heads = await self._with_fills(heads, grouped)
            new_pages, pushes = _page_writes(grouped, heads)
            after = _buckets_after(grouped, heads)
            pushes += await self._insert_new(self.lookup_pages, new_pages, _as_push)
            for page_id, texts in pushes:
                await self.lookup_pages.update_one(
                    {"_id": page_id}, {"$push": {"refs": {"$each": texts}}}, upsert=True
                )
            await self._record_heads({k: v for k, v in heads.items() if k not in created}, after)
        except BaseException:
            self._heads.clear()  # what was written is unknown: read the heads back next time
            raise
        if len(self._heads) > HEAD_CACHE_SIZE:
            self._heads.clear()
        for key, buckets in after.items():
            self._heads[key.id] = {**heads[key], **buckets}

    async def lookup_buckets(self, key: LookupKey) -> dict[str, BucketInfo]:
        """The key's buckets, their page counts and event times (none when the key has no
        entries)."""
        found = await self._by_id(self.lookup_heads, key.id)
        buckets = (found or {}).get("buckets", {})
        return {
            name: BucketInfo(
                int(bucket["pages"]), _time(bucket.get("first")), _time(bucket.get("last"))
            )
            for name, bucket in buckets.items()
        }

    async def lookup_refs(self, key: LookupKey, bucket: str, pages: int) -> list[Ref]:
        refs: list[Ref] = []
        for page in range(pages):
            found = await self._by_id(self.lookup_pages, lookup_page_id(key, bucket, page))
            refs += [ref_from_text(text) for text in (found or {}).get("refs", [])]
        return refs

    async def _create_heads(
        self, heads: Mapping[LookupKey, Mapping[str, BucketHead]]
    ) -> list[LookupKey]:
        """Insert the heads of keys believed new; return the keys whose head exists already."""
        by_id = {key.id: key for key in heads}
        documents = [_head_document(key, buckets) for key, buckets in heads.items()]
        taken = await self._insert_new(self.lookup_heads, documents, lambda d: (d["_id"], None))
        return [by_id[head_id] for head_id, _ in taken]

    async def _read_heads(self, keys: list[LookupKey]) -> dict[LookupKey, dict[str, BucketHead]]:
        """The keys' stored heads, a few at a time; the fills are not known yet."""
        heads: dict[LookupKey, dict[str, BucketHead]] = {}
        for start in range(0, len(keys), HEAD_READS_AT_ONCE):
            chunk = keys[start : start + HEAD_READS_AT_ONCE]
            found = await asyncio.gather(
                *(self.lookup_heads.find_one({"_id": k.id}) for k in chunk)
            )
            for key, head in zip(chunk, found, strict=True):
                heads[key] = {
                    name: BucketHead(
                        int(bucket["pages"]),
                        None,
                        _time(bucket.get("first")),
                        _time(bucket.get("last")),
                    )
                    for name, bucket in (head or {}).get("buckets", {}).items()
                }
        return heads

    async def _with_fills(
        self,
        heads: Mapping[LookupKey, Mapping[str, BucketHead]],
        grouped: Mapping[LookupKey, Mapping[str, list[Ref]]],
    ) -> dict[LookupKey, dict[str, BucketHead]]:
        """The heads, with the fill of each bucket the batch writes to read from its last page
        where the writer does not know it (a head it read, not wrote)."""
        unknown = [
            (key, bucket)
            for key, buckets in grouped.items()
            for bucket in buckets
            if bucket in heads[key] and heads[key][bucket].fill is None
        ]
        filled = {key: dict(buckets) for key, buckets in heads.items()}
        for start in range(0, len(unknown), HEAD_READS_AT_ONCE):
            chunk = unknown[start : start + HEAD_READS_AT_ONCE]
            pages = await asyncio.gather(
                *(
                    self.lookup_pages.find_one(
                        {"_id": lookup_page_id(key, bucket, heads[key][bucket].pages - 1)}
                    )
                    for key, bucket in chunk
                )
            )
            for (key, bucket), page in zip(chunk, pages, strict=True):
                fill = len((page or {}).get("refs", []))
                filled[key][bucket] = filled[key][bucket]._replace(fill=fill)
        return filled

    async def _record_heads(
        self,
        before: Mapping[LookupKey, Mapping[str, BucketHead]],
        after: Mapping[LookupKey, Mapping[str, BucketHead]],
    ) -> None:
        """Tell the stored heads of ``before``'s keys of the buckets that moved: page counts and
        hours only widen (``$max``/``$min``), so two writers racing never lose a page."""
        for key, buckets in before.items():
            moved = {b: h for b, h in after[key].items() if head_moved(buckets.get(b), h)}
            if not moved:
                continue
            timed = {b: h for b, h in moved.items() if h.first is not None}
            await self.lookup_heads.update_one(
                {"_id": key.id},
                {
                    "$max": {
                        **{f"buckets.{b}.pages": h.pages for b, h in moved.items()},
                        **{f"buckets.{b}.last": h.last for b, h in timed.items()},
                    },
                    **(
                        {"$min": {f"buckets.{b}.first": h.first for b, h in timed.items()}}
                        if timed
                        else {}
                    ),
                },
                upsert=True,
            )

    async def _insert_new(
        self,
        collection: AsyncCollection[Document],
        documents: list[Document],
        as_update: Callable[[Document], tuple[str, Any]],
    ) -> list[tuple[str, Any]]:
        """Insert documents believed new; return, as updates, those that exist already (a
        replay, or a head read before another writer's)."""
        if not documents:
            return []
        try:
            await collection.insert_many(documents, ordered=False)
            return []
        except BulkWriteError as error:
            if not _only_duplicates(error):
                raise
            return [as_update(documents[e["index"]]) for e in error.details["writeErrors"]]

    async def _by_id(self, collection: AsyncCollection[Document], key: str) -> Document | None:
        query = {"_id": key}
        if self.on_read is not None:
            self.on_read(collection.name, query)
        return await collection.find_one(query)

    # --- reading the log -------------------------------------------------------------------

    async def entries_by_id(self, tenant: str, entry_ids: Iterable[str]) -> list[AuditEntry]:
        """The entries, in the order asked; any not (yet) stored or outside ``tenant`` left out.
        Read by ``_id`` concurrently: one page of a search was 50 sequential reads."""
        found = await asyncio.gather(*(self.get(tenant, entry_id) for entry_id in entry_ids))
        return [entry for entry in found if entry is not None]

    async def stored_prefix(self, entry_ids: Sequence[str]) -> list[AuditEntry]:
        """The entries of ``entry_ids`` (one partition, in offset order) that are stored, up to
        the first one that is not: an ordered insert that failed stored a prefix."""
        stored: list[AuditEntry] = []
        for entry_id in entry_ids:
            found = await self.get(None, entry_id)
            if found is None:
                break
            stored.append(found)
        return stored

    async def get(self, tenant: str | None, entry_id: str) -> AuditEntry | None:
        # Looked up by _id alone (pushed down on FerretDB); the tenant is checked here.
        document = await self._by_id(self.entries, entry_id)
        if document is None or (tenant is not None and document.get("tenant") != tenant):
            return None
        return from_document(document)

    async def partition_entries(self, topic: str, partition: int) -> list[AuditEntry]:
        cursor = self.entries.find({"topic": topic, "partition": partition}).sort("offset", 1)
        return [from_document(d) async for d in cursor]

    async def chain_links(self) -> AsyncIterator[ChainLink]:
        """Every entry's chain link, in one pass over the log in whatever order the database
        keeps it: a filter by partition (or a sort) would be a scan of the whole log each on
        FerretDB, which pushes neither down. Each entry is hashed as it is read, from the raw
        document; only one that fails that is read through the model, as before."""
        batches: asyncio.Queue[list[Document]] = asyncio.Queue(maxsize=2)
        reading = asyncio.create_task(self._read_log_into(batches))
        try:
            # The next batch is asked for before this one is hashed: the database reads while
            # this process hashes.
            while batch := await batches.get():
                for document in batch:
                    yield _link_of_document(document)
            await reading  # raises what the reader met
        finally:
            reading.cancel()

    async def _read_log_into(self, batches: asyncio.Queue[list[Document]]) -> None:
        try:
            cursor = self.entries.find({}, batch_size=VERIFY_BATCH)
            while batch := await cursor.to_list(VERIFY_BATCH):
                await batches.put(batch)
        finally:
            await batches.put([])

    async def partitions(self) -> list[PartitionKey]:
        topics = await self.entries.distinct("topic")
        found = []
        for topic in topics:
            for partition in await self.entries.distinct("partition", {"topic": topic}):
                found.append((str(topic), int(partition)))
        return sorted(found)

    # --- checkpoints -------------------------------------------------------------------------

    async def record_checkpoints(self, events: Sequence[Envelope[Any]]) -> None:
        """Each checkpoint's event in an outbox; the relay publishes it to audit-checkpoints.
        The signed checkpoints themselves are kept outside this database (the checkpoint file)."""
        await self.checkpoints.insert_many(
            [{"_id": event.id, **new_document_outbox([event])} for event in events]
        )

    # --- audited reads ---------------------------------------------------------------------

    async def record_read(self, event: Envelope[Any]) -> None:
        """Store the read with its event in an outbox; the relay publishes it to audit-access."""
        await self.reads.insert_one(
            {
                "_id": event.id,
                "tenant": event.tenant,
                "at": event.time,
                **new_document_outbox([event]),
            }
        )


class _KnownHead(NamedTuple):
    """What the writer remembers of a timeline head it wrote: enough to append without reading."""

    sealed: int
    open_lines: int
    through: Mapping[str, int]


def _timeline_head(found: Document | None) -> TimelineHead:
    """The head as stored; a head written before timelines had pages holds every line."""
    document = found or {}
    through = {k.replace("/", "."): int(v) for k, v in document.get("through", {}).items()}
    lines = tuple(_line_from(d) for d in document.get("lines", []))
    return TimelineHead(int(document.get("sealed", 0)), lines, through)


def _through_doc(change: TimelineAppend) -> Document:
    # Field names cannot hold '.', topic names cannot hold '/'.
    return {source.replace(".", "/"): offset for source, offset in change.through.items()}


def timeline_page_id(key: str, page: int) -> str:
    return f"{key}\x1f{page}"


def _as_lines(page: Document) -> tuple[str, Any]:
    return page["_id"], page["lines"]


def timeline_filter(tenant: str, learner_id: str) -> Document:
    return {"_id": _learner_key(tenant, learner_id)}


def to_document(entry: AuditEntry) -> Document:
    document: dict[str, Any] = entry.model_dump(mode="python")
    document["_id"] = entry.id  # `id` stays too: the keyset cursor sorts on it
    return document


def from_document(document: Document) -> AuditEntry:
    return AuditEntry.model_validate({k: v for k, v in document.items() if k != "_id"})


def _link_of_document(document: Document) -> ChainLink:
    entry_id, topic = document.get("id"), document.get("topic")
    partition, offset = document.get("partition"), document.get("offset")
    if (
        isinstance(entry_id, str)
        and isinstance(topic, str)
        and type(partition) is int
        and type(offset) is int
        and stored_hash_holds(document)
    ):
        prev_hash, digest = document["prev_hash"], document["hash"]
        return ChainLink(entry_id, topic, partition, offset, prev_hash, digest, intact=True)
    return link_of(from_document(document))


def _only_duplicates(error: BulkWriteError) -> bool:
    return all(e.get("code") == DUPLICATE_KEY for e in error.details.get("writeErrors", []))


def _partition_id(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def _claim_id(topic: str, event_id: str | None) -> str:
    return f"{topic}\x1f{event_id}"


def _claim(claim_id: str, entry: AuditEntry) -> Document:
    return {
        "_id": claim_id,
        "event_id": entry.event_id,
        "topic": entry.topic,
        "partition": entry.partition,
        "offset": entry.offset,
    }


def _learner_key(tenant: str, learner_id: str) -> str:
    return f"{tenant}\x1f{learner_id}"


def lookup_page_id(key: LookupKey, bucket: str, page: int) -> str:
    return f"{key.id}\x1f{bucket}\x1f{page}"


def _page_writes(
    grouped: Mapping[LookupKey, Mapping[str, list[Ref]]],
    heads: Mapping[LookupKey, Mapping[str, BucketHead]],
) -> tuple[list[Document], list[tuple[str, Any]]]:
    """The pages to insert (new by the heads) and the pushes onto existing pages."""
    # Each ref is filed under up to six keys: its text is made once (every entry with a tenant
    # is under its tenant's ``all`` key).
    texts = {
        ref.entry_id: ref_to_text(ref)
        for key, buckets in grouped.items()
        if key.field == "all"
        for refs in buckets.values()
        for ref in refs
    }
    new_pages: list[Document] = []
    pushes: list[tuple[str, Any]] = []
    for key, buckets in grouped.items():
        for bucket, refs in buckets.items():
            before = heads[key].get(bucket)
            for page, start, end in place(_fill_of(before), len(refs))[0]:
                page_texts = [texts[r.entry_id] for r in refs[start:end]]
                page_id = lookup_page_id(key, bucket, page)
                if before is None or page >= before.pages:
                    new_pages.append({"_id": page_id, "refs": page_texts})
                else:
                    pushes.append((page_id, page_texts))
    return new_pages, pushes


def _buckets_after(
    grouped: Mapping[LookupKey, Mapping[str, list[Ref]]],
    heads: Mapping[LookupKey, Mapping[str, BucketHead]],
) -> dict[LookupKey, dict[str, BucketHead]]:
    """The buckets each key's batch writes to, as they are after it."""
    after: dict[LookupKey, dict[str, BucketHead]] = {}
    for key, buckets in grouped.items():
        after[key] = {}
        for bucket, refs in buckets.items():
            before = heads[key].get(bucket)
            fill = place(_fill_of(before), len(refs))[1]
            times = [r.time for r in refs]
            after[key][bucket] = bucket_after(before, fill, min(times), max(times))
    return after


def _fill_of(head: BucketHead | None) -> BucketFill | None:
    return None if head is None else BucketFill(head.pages, head.fill or 0)


def _head_document(key: LookupKey, buckets: Mapping[str, BucketHead]) -> Document:
    return {
        "_id": key.id,
        **key._asdict(),
        "buckets": {
            b: {"pages": h.pages, "first": h.first, "last": h.last} for b, h in buckets.items()
        },
    }


def _as_push(page: Document) -> tuple[str, Any]:
    return page["_id"], page["refs"]


def _time(value: datetime | None) -> datetime | None:
    return None if value is None else normalise_time(value)


def _line_document(line: TimelineLine) -> Document | str:
    """A line as compact JSON text, ``[milliseconds, entry id, part, ...]`` with a staff
    mention as ``[id, role]`` (the text is rebuilt from the parts when read): FerretDB decodes
    and re-encodes every element of a document it reads or updates, and a line as a document
    of its parts was a dozen elements (a page read 3-4 times slower, an append 5 times).
    A line without parts (stored before lines kept them) keeps its text, as a document."""
    if not line.parts:
        return {"time": line.time, "entry_id": line.entry_id, "text": line.text}
    millis = (normalise_time(line.time) - EPOCH) // timedelta(milliseconds=1)
    parts = [p if isinstance(p, str) else [p.staff_id, p.role] for p in line.parts]
    return json.dumps([millis, line.entry_id, *parts], separators=(",", ":"))


def _line_from(stored: Document | str) -> TimelineLine:
    """A line stored as text (``_line_document``), or as a document: of its parts (before lines
    were text) or of its text alone (before lines kept their parts)."""
    if isinstance(stored, str):
        millis, entry_id, *texts = json.loads(stored)
        parts: tuple[Part, ...] = tuple(
            p if isinstance(p, str) else StaffMention(str(p[0]), p[1]) for p in texts
        )
        return line_of(EPOCH + timedelta(milliseconds=millis), entry_id, parts)
    if "parts" not in stored:
        return TimelineLine(stored["time"], stored["entry_id"], stored["text"])
    parts = tuple(
        p if isinstance(p, str) else StaffMention(str(p["staff"]), p.get("role"))
        for p in stored["parts"]
    )
    return line_of(normalise_time(stored["time"]), stored["entry_id"], parts)


def _staff_key(tenant: str, staff_id: str) -> str:
    return f"{tenant}\x1f{staff_id}"
