"""The pipeline's I/O alone: what the five services read, write and send for one processed
tracker, with no domain logic, over the same Kafka and FerretDB.

    uv run python -m bench.bare_pipeline [--trackers 300] [--learners 30] [--workers 16]

``bench.pipeline`` runs it after the real pipeline (``bare_trackers_per_s`` in its summary, and
``ratio`` = ``trackers_per_s / bare_trackers_per_s``). Five processes, one per service, as the
services run; each has the consumers, one consumer group per topic, that the service has on the
topics a processed tracker touches, takes batches and applies them by key as the services do
(``ilrflow.platform.batches``: each key's records in order, ``ILRFLOW_CONSUMER_CONCURRENCY``
keys at once, a partition's offset only up to its first record not finished; a key's records
of a batch in one call where the service has a chain handler, ``ConsumerGroup.apply_chain``: the
ILR's and the learner's) and commits offsets in the background (``OffsetCommitter``), except the
audit, which takes
``getmany`` batches and commits after each partition's batch (``audit/adapters/kafka_ingest.py``).
Producers are ``acks=all`` and idempotent (``platform/kafka.py:create_broker``). Documents have
the sizes the real ones had in a run (``*_BYTES``); no model is validated, no rule applied, no
hash chained. A bare tracker is done when the real one is (``bench.pipeline``): its ilr-updated
is on Kafka, the audit has stored and committed every record, and the tutor's in-app
notification is stored.

A write to a document of a ``serialised_writes`` collection (``platform/ferretdb.py``) is done as
ours is (``Database.write``): one update sent as it is, a conditional one with its condition in
the filter (our FerretDB applies the updates of one document one at a time). An outbox relay
(``platform/outbox.py``) is woken by the write that queued events; a pass reads the written
documents' outboxes by ``_id`` concurrently, hands every event to the producer in order, awaits
the confirmations together and pulls the outboxes concurrently.

The I/O per processed tracker, where it comes from (paths under ``services/<svc>/src/ilrflow/``):

1. HTTP save, ``tracker/service/use_cases.py:process`` through ``_act`` (no HTTP here: the
   tracker process runs ``--workers`` of them at once, as the HTTP clients do): find the tracker,
   the tenant's tracker settings once per 5 s (the process's cache, ``adapters/repository.py:
   get_settings``), find the learner's ILR projection (``ilr_of``), conditional write of the
   tracker with tracker-processed in its outbox (``adapters/repository.py:save``), conditional
   write of its list row (``adapters/tracker_rows.py:saved``).
2. Tracker relay: find, publish tracker-processed, pull.
3. ILR, tracker-processed, per chain (one learner's records of a batch; a record alone is a
   chain of one: ``ilr/service/use_cases.py:on_tracker_processed_chain``): find the record; the
   tenant's ILR settings and the OTJ table, found once per ``ILRFLOW_ILR_REFERENCE_CACHE_SECONDS``
   (``ilr/adapters/cached.py``); one bulk write of the version documents
   (``_copy_out_history``, upserts: one per tracker), conditional write of the record with
   ilr-state and ilr-updated per tracker (``record_outcomes``). ILR relay: find, publish both
   topics at once, pull.
4. Learner, tracker-processed, per chain (``learner/entrypoints/consumers.py``): find the
   learner (``get_learner_marked``), conditional write with learner-updated per tracker; then
   the documents, once (``learner/service/documents.py:refresh_documents``): find the learner,
   find the learner's documents; where one tracker in three of the chain (a change of name
   changes the training plan) is, also inserts the PDF and writes the documents conditionally
   with document-issued. Learner relay: find, publish, pull (learner-updated; document-issued
   from the documents' own outbox).
5. Learner, ilr-state, per chain: conditional write of the newest programme status
   (``save_programme_status``); then the documents, once: find the learner, find the
   documents, conditional write of the documents (the new ILR version is kept there).
6. Tracker, learner-updated: the projection's pause check (a find in ``projection_control``,
   ``platform/projections.py:hold``, once a second: a read that found the projection running
   is trusted that long), upsert of the learner projection. Tracker, ilr-state: the pause
   check, one conditional upsert of the ILR projection (``adapters/projections.py:
   on_ilr_state``). Tracker, ilr-updated (``on_ilr_updated``): find the tracker (the domain
   decides on it), conditional write of the outcome and of the list row.
7. ILR, learner-updated: consumed, nothing written (a change that is no enrolment or move).
8. Notify, tracker-processed and document-issued (``notify/service/use_cases.py:
   on_tracker_event``): find the learner contacts, the tenant's staff and settings once per 5 s
   (the process's cache, ``adapters/repository.py:directory``), one ``insert_many`` of the
   notifications (tutor and learner, in-app and email: 4; for a document-issued the tutor's
   2), then the webhooks (``service/webhooks.py:on_event``): the tenant's subscriptions, found
   once per 5 s (``adapters/webhook_store.py``). Each email notification, the email sender
   (``adapters/email.py``, no SMTP server as in the bench): claim it with its row (one
   findAndModify), write its delivery. Notify, ilr-updated: the subscriptions (cached).
   Notify, learner-updated: the pause check (once a second), upsert of the learner contact.
9. Audit, every record of the five topics, per partition batch
   (``audit/service/ingest.py:store_batch``, ``audit/adapters/repository.py``): find the chain
   tail, ``insert_many`` the event-id claims; per tenant find the sequence, write it, find and
   modify it (locked); one ``insert_many`` of the timeline heads of learners the process has
   not written before, then per other learner write its head (no read: the writer remembers
   its heads); per actor find the staff name; ``insert_many`` the entries; one ``insert_many``
   of the heads and one of the pages of lookup keys (tenant, learner, tracker, correlation,
   actor, type) it has not written before, then per other key write its page (a known key's
   head is written only when a page, bucket or hour is added: not in a run this short); per
   tenant write the sequence again (release); write the chain tail; commit the partition.

Not mirrored: work that does not grow with trackers (the relays' routing-table reads and
heartbeats, the outbox sweeps every 30 s, the email sender's poll, metrics) and the lock waits
of several replicas (one process per service here, as in the bench).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata, RecordMetadata
from pymongo import AsyncMongoClient, MongoClient, UpdateOne
from pymongo.errors import DuplicateKeyError
from workload import poll

from bench.watch import AuditProgress, PipelineWatch, db_commands, per_tracker
from ilrflow.contracts.events import Topics
from ilrflow.platform.batches import chains, one_by_one, progress_by_partition, run_whole_chains
from ilrflow.platform.kafka import ensure_topics
from ilrflow.platform.settings import Settings

TENANT = "bare-tenant"
TUTOR = "tutor-1"
ADMIN = "admin-1"
DOCUMENT_EVERY = 3  # one tracker in three issues a training plan version (a change of name)
# Sizes of the real documents and records in a bench run (BSON bytes, about).
TRACKER_BYTES, ILR_BYTES, LEARNER_BYTES, DOCUMENTS_BYTES = 1800, 2200, 1500, 3700
PDF_BYTES, NOTIFICATION_BYTES, ENTRY_BYTES, EVENT_BYTES = 1700, 1000, 2700, 900
LOOKUP_KEYS = ("tenant", "learner", "tracker", "correlation", "actor", "type")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
ChainHandler = Callable[[list[dict[str, Any]]], Awaitable[None]]


@dataclass(frozen=True)
class Run:
    """One bare run: its topic and database prefix, and its size."""

    bootstrap: str
    mongo_url: str
    prefix: str
    partitions: int
    learners: int
    trackers: int
    workers: int

    def database(self, service: str) -> str:
        return f"{self.prefix}_{service}"

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def group(self, service: str, topic: str) -> str:
        return f"{self.prefix}.{service}.{topic}"

    def learner_of(self, n: int) -> str:
        return f"L{n % self.learners:05d}"


def tracker_id(n: int) -> str:
    return f"T{n:06d}"


def issues_document(n: int) -> bool:
    return n % DOCUMENT_EVERY == 1


def pad(size: int) -> str:
    return "x" * size


def event(topic: str, n: int, learner: str) -> dict[str, Any]:
    """An outbox entry: the record a relay publishes."""
    return {
        "topic": topic,
        "n": n,
        "learner": learner,
        "id": secrets.token_hex(16),
        "time": datetime.now(UTC).isoformat(),
    }


def outbox_push(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"$push": {"outbox": {"$each": events}}, "$inc": {"outbox_pending": len(events)}}


def merged(*updates: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, dict[str, Any]] = {}
    for update in updates:
        for operator, fields in update.items():
            result.setdefault(operator, {}).update(fields)
    return result


class Database:
    """One service's database, written as ``serialised_writes`` writes."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], name: str) -> None:
        self.db = client[name]

    async def find(self, collection: str, identity: str) -> dict[str, Any] | None:
        return await self.db[collection].find_one({"_id": identity})

    async def write(
        self,
        collection: str,
        identity: str,
        update: dict[str, Any],
        *,
        conditional: bool = False,
        upsert: bool = False,
        find_and_modify: bool = False,
    ) -> None:
        # A condition every document meets ($ne matches a missing field), as a version check
        # or an idempotency filter does on the server.
        condition = {"bare_version": {"$ne": -1}} if conditional else {}
        filter = {"_id": identity, **condition}
        if find_and_modify:
            await self.db[collection].find_one_and_update(filter, update, upsert=upsert)
        else:
            await self.db[collection].update_one(filter, update, upsert=upsert)


class Relay:
    """An outbox relay: woken by writes that queued events; a pass reads the written documents
    by ``_id`` concurrently, hands every event to the producer in order, awaits the
    confirmations together and pulls the outboxes concurrently (``OutboxRelay``)."""

    def __init__(self, database: Database, producer: AIOKafkaProducer, run: Run) -> None:
        self._database, self._producer, self._run = database, producer, run
        self._dirty: dict[tuple[str, str], None] = {}
        self._wake = asyncio.Event()

    def written(self, collection: str, identity: str) -> None:
        self._dirty[(collection, identity)] = None
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                documents = list(self._dirty)
                self._dirty.clear()
                await self._pass(documents)

    async def _pass(self, documents: list[tuple[str, str]]) -> None:
        found = await asyncio.gather(
            *(self._database.db[c].find_one({"_id": i}, {"outbox": 1}) for c, i in documents)
        )
        chosen = [
            (collection, identity, document["outbox"])
            for (collection, identity), document in zip(documents, found, strict=True)
            if document and document.get("outbox")
        ]
        confirmations = [
            await send(self._producer, self._run, item)
            for _, _, pending in chosen
            for item in pending
        ]
        await asyncio.gather(*confirmations)
        await asyncio.gather(
            *(
                self._database.write(
                    collection,
                    identity,
                    {"$pullAll": {"outbox": pending}, "$inc": {"outbox_pending": -len(pending)}},
                )
                for collection, identity, pending in chosen
            )
        )


async def send(
    producer: AIOKafkaProducer, run: Run, item: dict[str, Any]
) -> Awaitable[RecordMetadata]:
    """Hand the record to the producer as the relay does; its confirmation, to be awaited."""
    value = {"tracker_id": tracker_id(item["n"]), "learner_id": item["learner"], "n": item["n"]}
    value["data"] = pad(EVENT_BYTES)
    headers = [
        ("ce_id", item["id"]),
        ("ce_type", item["topic"]),
        ("ce_time", item["time"]),
        ("ce_tenant", TENANT),
        ("ce_subject", item["learner"]),
        ("ce_correlationid", tracker_id(item["n"])),
        ("ce_actor", ADMIN),
    ]
    return await producer.send(
        run.topic(item["topic"]),
        json.dumps(value).encode(),
        key=item["learner"].encode(),
        headers=[(name, text.encode()) for name, text in headers],
    )


class Committer:
    """Offsets committed in the background, coalesced per partition (``OffsetCommitter``)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._handled: dict[TopicPartition, int] = {}
        self._wanted = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def handled(self, topic: str, partition: int, offset: int) -> None:
        self._handled[TopicPartition(topic, partition)] = offset + 1
        self._wanted.set()

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            offsets, self._handled = self._handled, {}
            await self._consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})


def parsed(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    value = json.loads(record.value or b"{}")
    headers = {name: raw.decode() for name, raw in record.headers}
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "n": value["n"],
        "learner": value["learner_id"],
        "id": headers["ce_id"],
        "actor": headers["ce_actor"],
    }


async def consume(
    run: Run,
    service: str,
    topic: str,
    handle: Handler,
    ready: asyncio.Event,
    handle_chain: ChainHandler | None = None,
) -> None:
    """One consumer group taking batches applied by key, as a service's ``ConsumerGroup``."""
    consumer = AIOKafkaConsumer(
        run.topic(topic),
        bootstrap_servers=run.bootstrap,
        group_id=run.group(service, topic),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    commits = Committer(consumer)
    settings = Settings()
    try:
        while True:
            batches = await consumer.getmany(
                timeout_ms=settings.consumer_batch_wait_ms,
                max_records=settings.consumer_batch_max_records,
            )
            if consumer.assignment():
                ready.set()
            records = [record for found in batches.values() for record in found]
            concurrency = settings.consumer_concurrency
            await apply_by_key(records, handle, commits, concurrency, handle_chain)
    finally:
        await consumer.stop()


async def apply_by_key(
    records: list[ConsumerRecord[bytes, bytes]],
    handle: Handler,
    commits: Committer,
    concurrency: int,
    handle_chain: ChainHandler | None = None,
) -> None:
    progress = progress_by_partition(records)

    def finish(record: ConsumerRecord[bytes, bytes]) -> None:
        finished = progress[(record.topic, record.partition)].finish(record.offset)
        if finished is not None:
            commits.handled(record.topic, record.partition, finished)

    async def apply(record: ConsumerRecord[bytes, bytes]) -> str:
        await handle(parsed(record))
        finish(record)
        return "done"

    async def apply_chain(chain: list[ConsumerRecord[bytes, bytes]]) -> None:
        if handle_chain is None or len(chain) < 2:
            await one_by_one(apply)(chain)
            return
        await handle_chain([parsed(record) for record in chain])
        for record in chain:
            finish(record)

    await run_whole_chains(chains(records), apply_chain, concurrency)


# --- the five services' I/O --------------------------------------------------------------------


class BareServices:
    """The handlers of one process (``service``), over its database and a producer."""

    def __init__(
        self, run: Run, service: str, client: AsyncMongoClient[dict[str, Any]], producer: Any
    ) -> None:
        self.run = run
        self.service = service
        self.db = Database(client, run.database(service))
        self.relay = Relay(self.db, producer, run)
        self.audit_written: set[tuple[str, str]] = set()
        self._read_until: dict[str, float] = {}  # cached read -> monotonic time to read again
        self._reference_max_age = (
            Settings().ilr_reference_cache_seconds
        )  # read once, not per record

    async def cached(self, key: str, seconds: float, read: Callable[[], Awaitable[Any]]) -> None:
        """``read()`` at most once per ``seconds`` (``ilrflow.platform.cache.FreshFor``)."""
        asked_at = time.monotonic()
        if asked_at < self._read_until.get(key, 0.0):
            return
        await read()
        self._read_until[key] = asked_at + seconds

    async def pause_check(self, projection: str) -> None:
        """``platform/projections.py:hold``: the control read once a second while running."""
        await self.cached(
            f"pause:{projection}", 1.0, lambda: self.db.find("projection_control", projection)
        )

    def consumers(self) -> dict[str, Handler]:
        """Topic -> handler, the topics this service consumes of a processed tracker's."""
        by_service: dict[str, dict[str, Handler]] = {
            "tracker": {
                Topics.LEARNER_UPDATED: self.tracker_on_learner_updated,
                Topics.ILR_STATE: self.tracker_on_ilr_state,
                Topics.ILR_UPDATED: self.tracker_on_ilr_updated,
            },
            "ilr": {
                Topics.TRACKER_PROCESSED: self.ilr_on_tracker_processed,
                Topics.LEARNER_UPDATED: self.nothing,
            },
            "learner": {
                Topics.TRACKER_PROCESSED: self.learner_on_tracker_processed,
                Topics.ILR_STATE: self.learner_on_ilr_state,
            },
            "notify": {
                Topics.TRACKER_PROCESSED: self.notify_on_tracker_event,
                Topics.LEARNER_DOCUMENTS: self.notify_on_tracker_event,
                Topics.ILR_UPDATED: self.notify_on_ilr_updated,
                Topics.LEARNER_UPDATED: self.notify_on_learner_updated,
            },
        }
        return by_service.get(self.service, {})

    def chain_consumers(self) -> dict[str, ChainHandler]:
        """Topic -> chain handler, where the service takes a key's records of a batch at once."""
        by_service: dict[str, dict[str, ChainHandler]] = {
            "ilr": {Topics.TRACKER_PROCESSED: self.ilr_on_tracker_processed_chain},
            "learner": {
                Topics.TRACKER_PROCESSED: self.learner_on_tracker_processed_chain,
                Topics.ILR_STATE: self.learner_on_ilr_state_chain,
            },
        }
        return by_service.get(self.service, {})

    async def nothing(self, record: dict[str, Any]) -> None:
        return None

    # 1. the HTTP save --------------------------------------------------------------------------

    async def process(self, n: int) -> None:
        learner = self.run.learner_of(n)
        await self.db.find("trackers", tracker_id(n))
        await self.cached("tracker_settings", 5.0, lambda: self.db.find("tracker_settings", TENANT))
        await self.db.find("ilr_projection", learner)
        update = {"$set": {"status": "processed", "version": 2}}
        events = [event(Topics.TRACKER_PROCESSED, n, learner)]
        await self.db.write(
            "trackers", tracker_id(n), merged(update, outbox_push(events)), conditional=True
        )
        await self.list_row(n)
        self.relay.written("trackers", tracker_id(n))

    async def list_row(self, n: int) -> None:
        """``adapters/tracker_rows.py:saved``: the list row follows each tracker write."""
        row = {"$set": {"status": "processed", "version": 2}}
        await self.db.write("tracker_rows", tracker_id(n), row, conditional=True)

    # 3. ILR --------------------------------------------------------------------------------------

    async def ilr_on_tracker_processed(self, record: dict[str, Any]) -> None:
        await self.ilr_on_tracker_processed_chain([record])

    async def ilr_on_tracker_processed_chain(self, records: list[dict[str, Any]]) -> None:
        learner = records[0]["learner"]
        await self.db.find("ilr_records", learner)
        await self._ilr_reference()
        versions = [
            UpdateOne(
                {"_id": f"{learner}:v{r['n']:06d}"}, {"$set": {"entry": pad(800)}}, upsert=True
            )
            for r in records
        ]
        await self.db.db["ilr_versions"].bulk_write(versions)
        events = [
            event(topic, r["n"], learner)
            for r in records
            for topic in (Topics.ILR_STATE, Topics.ILR_UPDATED)
        ]
        update = merged(
            {"$set": {"learner": pad(ILR_BYTES)}, "$inc": {"version": len(records)}},
            outbox_push(events),
        )
        await self.db.write("ilr_records", learner, update, conditional=True)
        self.relay.written("ilr_records", learner)

    async def _ilr_reference(self) -> None:
        """The ILR settings and the OTJ table, found again once the copies are too old."""

        async def read() -> None:
            await self.db.find("ilr_settings", TENANT)
            await self.db.find("reference_data", "otj")

        await self.cached("ilr-reference", self._reference_max_age, read)

    # 4, 5. learner -------------------------------------------------------------------------------

    async def learner_on_tracker_processed(self, record: dict[str, Any]) -> None:
        await self.learner_on_tracker_processed_chain([record])

    async def learner_on_tracker_processed_chain(self, records: list[dict[str, Any]]) -> None:
        learner, n = records[-1]["learner"], records[-1]["n"]
        await self.db.find("learners", learner)
        update = {"$set": {"record": pad(LEARNER_BYTES)}, "$inc": {"version": len(records)}}
        events = [event(Topics.LEARNER_UPDATED, r["n"], learner) for r in records]
        await self.db.write(
            "learners", learner, merged(update, outbox_push(events)), conditional=True
        )
        self.relay.written("learners", learner)
        await self.db.find("learners", learner)
        await self.db.find("learner_documents", learner)
        if any(issues_document(r["n"]) for r in records):
            files = self.db.db["document_files"]
            await files.insert_one({"_id": secrets.token_hex(16), "pdf": pad(PDF_BYTES)})
            issued = [event(Topics.LEARNER_DOCUMENTS, n, learner)]
            documents = merged({"$set": {"plan": pad(DOCUMENTS_BYTES)}}, outbox_push(issued))
            await self.db.write("learner_documents", learner, documents, conditional=True)
            self.relay.written("learner_documents", learner)

    async def learner_on_ilr_state(self, record: dict[str, Any]) -> None:
        await self.learner_on_ilr_state_chain([record])

    async def learner_on_ilr_state_chain(self, records: list[dict[str, Any]]) -> None:
        record = records[-1]
        learner = record["learner"]
        programme = {"$set": {"programme": {"status": "continuing", "n": record["n"]}}}
        await self.db.write("learners", learner, programme, conditional=True)
        await self.db.find("learners", learner)
        await self.db.find("learner_documents", learner)
        documents = {"$set": {"ilr": pad(ILR_BYTES), "n": record["n"]}}
        await self.db.write("learner_documents", learner, documents, conditional=True)

    # 6. tracker ----------------------------------------------------------------------------------

    async def tracker_on_learner_updated(self, record: dict[str, Any]) -> None:
        await self.pause_check("learners")
        projection = self.db.db["learner_projection"]
        await projection.update_one(
            {"_id": record["learner"]}, {"$set": {"name": pad(200)}}, upsert=True
        )

    async def tracker_on_ilr_state(self, record: dict[str, Any]) -> None:
        await self.pause_check("ilr")
        projection = self.db.db["ilr_projection"]
        state = {"version": record["n"], "learner": pad(1300)}
        with contextlib.suppress(DuplicateKeyError):  # a newer version is stored
            await projection.update_one(
                {"_id": record["learner"], "version": {"$lte": record["n"]}},
                {"$set": state},
                upsert=True,
            )

    async def tracker_on_ilr_updated(self, record: dict[str, Any]) -> None:
        await self.db.find("trackers", tracker_id(record["n"]))
        outcome = {"$set": {"ilr_outcome": "applied"}, "$push": {"applied_events": record["id"]}}
        await self.db.write("trackers", tracker_id(record["n"]), outcome, conditional=True)
        await self.list_row(record["n"])

    # 8. notify -----------------------------------------------------------------------------------

    async def notify_on_tracker_event(self, record: dict[str, Any]) -> None:
        notifications = self.db.db["notifications"]
        await self._directory(record["learner"])
        recipients = (
            (TUTOR,)
            if record["topic"].endswith(Topics.LEARNER_DOCUMENTS)
            else (
                TUTOR,
                record["learner"],
            )
        )
        documents = [
            {
                "_id": f"{record['id']}:{recipient}:{channel}",
                "recipient_id": recipient,
                "channel": channel,
                "body": pad(NOTIFICATION_BYTES),
            }
            for recipient in recipients
            for channel in ("in_app", "email")
        ]
        await notifications.insert_many(documents, ordered=False)
        await self._subscriptions()
        for document in documents:
            if document["channel"] == "email":
                await self._email(document["_id"])

    async def _directory(self, learner: str) -> None:
        staff = self.db.db["staff_projection"]
        await self.cached("staff", 5.0, lambda: staff.find({"tenant": TENANT}).to_list())
        await self.db.db["learner_projection"].find({"_id": {"$in": [learner]}}).to_list()
        await self.cached("settings", 5.0, lambda: self.db.find("settings", TENANT))

    async def _subscriptions(self) -> None:
        subscriptions = self.db.db["webhook_subscriptions"]
        await self.cached(
            "subscriptions", 5.0, lambda: subscriptions.find({"tenant": TENANT}).to_list()
        )

    async def _email(self, identity: str) -> None:
        claim = {"$set": {"delivery.claimed_until": datetime.now(UTC)}}
        await self.db.write("notifications", identity, claim, find_and_modify=True)
        delivery = {"$set": {"delivery": {"status": "not_sent", "attempts": 1}}}
        await self.db.write("notifications", identity, delivery)

    async def notify_on_ilr_updated(self, record: dict[str, Any]) -> None:
        await self._subscriptions()

    async def notify_on_learner_updated(self, record: dict[str, Any]) -> None:
        await self.pause_check("learners")
        contact = {"$set": {"tenant": TENANT, "email": pad(100)}}
        await self.db.db["learner_projection"].update_one(
            {"_id": record["learner"]}, contact, upsert=True
        )

    # 9. audit ------------------------------------------------------------------------------------

    async def audit_store_batch(self, records: list[dict[str, Any]]) -> None:
        head = f"{records[0]['topic']}:{records[0]['partition']}"
        entries = self.db.db["audit_entries"]
        await self.db.find("audit_chain_tails", head)
        claims = [{"_id": r["id"], "at": r["offset"]} for r in records]
        await self.db.db["audit_event_ids"].insert_many(claims, ordered=False)
        await self.db.find("audit_sequences", TENANT)
        await self.db.write(
            "audit_sequences", TENANT, {"$set": {"pending": len(records)}}, upsert=True
        )
        await self.db.write(
            "audit_sequences",
            TENANT,
            {"$inc": {"next": len(records)}},
            upsert=True,
            find_and_modify=True,
        )
        learners = sorted({r["learner"] for r in records})
        lines = {x: [pad(80) for r in records if r["learner"] == x] for x in learners}
        new_learners = await self.audit_insert_new(
            "audit_learner_timelines", {x: {"lines": lines[x]} for x in learners}
        )
        for learner in (x for x in learners if x not in new_learners):
            line = {"$push": {"lines": {"$each": lines[learner]}}}
            await self.db.write("audit_learner_timelines", learner, line, upsert=True)
        for actor in sorted({r["actor"] for r in records}):
            await self.db.find("audit_staff_names", actor)
        await entries.insert_many(
            [{"_id": r["id"], "entry": pad(ENTRY_BYTES)} for r in records], ordered=True
        )
        keys = sorted(lookup_keys(records))
        refs = [r["id"] for r in records]
        await self.audit_insert_new("audit_lookup_heads", {key: {"pages": 1} for key in keys})
        new_pages = await self.audit_insert_new(
            "audit_lookup_pages", {f"{key}:0": {"refs": refs} for key in keys}
        )
        for key in (k for k in keys if f"{k}:0" not in new_pages):
            push = {"$push": {"refs": {"$each": refs}}}
            await self.db.write("audit_lookup_pages", f"{key}:0", push, upsert=True)
        await self.db.write("audit_sequences", TENANT, {"$unset": {"pending": ""}})
        await self.db.write(
            "audit_chain_tails", head, {"$set": {"offset": records[-1]["offset"]}}, upsert=True
        )

    async def audit_insert_new(
        self, collection: str, documents: dict[str, dict[str, Any]]
    ) -> set[str]:
        """One ``insert_many`` of the documents this process has not written before (the audit
        writer's memory of its heads: a new key or learner is inserted, not read); their ids."""
        new = {i: d for i, d in documents.items() if (collection, i) not in self.audit_written}
        self.audit_written.update((collection, i) for i in new)
        if new:
            await self.db.db[collection].insert_many(
                [{"_id": i, **d} for i, d in new.items()], ordered=False
            )
        return set(new)


def lookup_keys(records: Iterable[dict[str, Any]]) -> set[str]:
    """The lookup documents a batch touches: each record's tenant, learner, tracker, correlation
    id, actor and type."""
    keys: set[str] = set()
    for r in records:
        values = (
            TENANT,
            r["learner"],
            tracker_id(r["n"]),
            tracker_id(r["n"]),
            r["actor"],
            r["topic"],
        )
        keys.update(f"{kind}:{value}" for kind, value in zip(LOOKUP_KEYS, values, strict=True))
    return keys


async def audit_consume(services: BareServices, ready: asyncio.Event) -> None:
    run = services.run
    topics = [run.topic(t) for t in BARE_TOPICS]
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=run.bootstrap,
        group_id=run.group("audit", "all-topics"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=1000)
            if consumer.assignment():
                ready.set()
            for partition, records in batches.items():
                await services.audit_store_batch([parsed(r) for r in records])
                offset = OffsetAndMetadata(records[-1].offset + 1, "")
                await consumer.commit({partition: offset})
    finally:
        await consumer.stop()


BARE_TOPICS = (
    Topics.TRACKER_PROCESSED,
    Topics.LEARNER_UPDATED,
    Topics.LEARNER_DOCUMENTS,
    Topics.ILR_STATE,
    Topics.ILR_UPDATED,
)
SERVICES = ("tracker", "ilr", "learner", "notify", "audit")


# --- the processes -----------------------------------------------------------------------------


def serve(run: Run, service: str, ready: ProcessEvent, go: ProcessEvent) -> None:
    """A process of one bare service (multiprocessing target)."""
    asyncio.run(_serve(run, service, ready, go))


async def _serve(run: Run, service: str, ready: ProcessEvent, go: ProcessEvent) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(run.mongo_url, retryWrites=False)
    producer = AIOKafkaProducer(
        bootstrap_servers=run.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    services = BareServices(run, service, client, producer)
    tasks = [asyncio.create_task(services.relay.run_forever())]
    readiness = []
    for topic, handler in services.consumers().items():
        readiness.append(asyncio.Event())
        chain_handler = services.chain_consumers().get(topic)
        tasks.append(
            asyncio.create_task(consume(run, service, topic, handler, readiness[-1], chain_handler))
        )
    if service == "audit":
        readiness.append(asyncio.Event())
        tasks.append(asyncio.create_task(audit_consume(services, readiness[-1])))
    await asyncio.gather(*(r.wait() for r in readiness))
    ready.set()
    if service == "tracker":
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        await process_all(services, run)
    await asyncio.gather(*tasks)


async def process_all(services: BareServices, run: Run) -> None:
    """The process calls: ``workers`` at a time, each tracker once."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(run.trackers):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            await services.process(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(run.workers)))


def seed(run: Run) -> None:
    """The documents the hops read and write, of their real sizes, before the clock starts."""
    client: MongoClient[dict[str, Any]] = MongoClient(run.mongo_url)
    learners = sorted({run.learner_of(n) for n in range(run.trackers)})

    def per_learner(**fields: Any) -> list[dict[str, Any]]:
        return [{"_id": learner, **fields} for learner in learners]

    outbox = {"outbox": [], "outbox_pending": 0}
    tracker = client[run.database("tracker")]
    tracker["trackers"].insert_many(
        [
            {"_id": tracker_id(n), "tracker": pad(TRACKER_BYTES), **outbox}
            for n in range(run.trackers)
        ]
    )
    tracker["tracker_rows"].insert_many(
        [{"_id": tracker_id(n), "row": pad(200)} for n in range(run.trackers)]
    )
    tracker["tracker_settings"].insert_one({"_id": TENANT, "settings": pad(500)})
    tracker["ilr_projection"].insert_many(per_learner(version=0, learner=pad(1300)))
    ilr = client[run.database("ilr")]
    ilr["ilr_records"].insert_many(per_learner(learner=pad(ILR_BYTES), **outbox))
    ilr["reference_data"].insert_one({"_id": "otj", "table": pad(2000)})
    learner = client[run.database("learner")]
    learner["learners"].insert_many(per_learner(record=pad(LEARNER_BYTES), **outbox))
    learner["learner_documents"].insert_many(per_learner(plan=pad(DOCUMENTS_BYTES), **outbox))
    notify = client[run.database("notify")]
    notify["staff_projection"].insert_many(
        [{"_id": staff, "tenant": TENANT, "name": pad(100)} for staff in (ADMIN, TUTOR)]
    )
    notify["learner_projection"].insert_many(per_learner(email=pad(100)))
    client.close()


def measure(
    bootstrap: str, mongo_url: str, trackers: int, learners: int, workers: int
) -> dict[str, Any]:
    """Run the bare pipeline once; its rate, and the commands and records per tracker."""
    prefix = f"bare{secrets.token_hex(3)}"
    settings = Settings(kafka_bootstrap=bootstrap, mongo_url=mongo_url, topic_prefix=f"{prefix}.")
    run = Run(bootstrap, mongo_url, prefix, settings.topic_partitions, learners, trackers, workers)
    asyncio.run(ensure_topics(bootstrap, run.partitions, prefix=settings.topic_prefix))
    seed(run)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    started = [(context.Event(), service) for service in SERVICES]
    processes = [
        context.Process(target=serve, args=(run, service, ready, go), daemon=True)
        for ready, service in started
    ]
    for process in processes:
        process.start()
    mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    notifications = mongo[run.database("notify")]["notifications"]
    document_files = mongo[run.database("learner")]["document_files"]
    try:
        for ready, service in started:
            if not ready.wait(timeout=120):
                raise RuntimeError(f"bare {service} did not get its partitions in 120 s")
        audit_group = run.group("audit", "all-topics")
        with (
            PipelineWatch(bootstrap, settings.topic_prefix) as watch,
            AuditProgress(bootstrap, audit_group, settings) as progress,
        ):
            commands_before, records_before = db_commands(mongo), progress.records_by_topic()
            began = time.time()
            go.set()
            done = {tracker_id(n) for n in range(trackers)}

            learner_updated = settings.topic_prefix + Topics.LEARNER_UPDATED

            def complete() -> bool:
                stored, written = progress.stored_and_written()
                if not done <= set(watch.seen) or stored < written:
                    return False
                if progress.records_by_topic().get(learner_updated, 0) < trackers:
                    return False  # the learner has not taken every tracker yet
                # A training plan is issued once per learner chain holding a change of name, so
                # the tutor is told of as many as the learner stored.
                issued = document_files.count_documents({})
                told = notifications.count_documents({"recipient_id": TUTOR, "channel": "in_app"})
                return told >= trackers + issued

            poll(complete, 600, "every bare tracker through the pipeline", 0.25)
            seconds = time.time() - began
            commands = per_tracker(commands_before, db_commands(mongo), trackers)
            records = per_tracker(
                records_before, progress.records_by_topic(), trackers, settings.topic_prefix
            )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)
        for service in SERVICES:
            mongo.drop_database(run.database(service))
        mongo.close()
    return {
        "trackers": trackers,
        "learners": learners,
        "workers": workers,
        "seconds": round(seconds, 2),
        "bare_trackers_per_s": round(trackers / seconds, 1),
        "db_commands_per_tracker": commands,
        "kafka_records_per_tracker": records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--trackers", type=int, default=300)
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--workers", type=int, default=16)
    arguments = parser.parse_args()
    bootstrap = os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    mongo_url = os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/")
    figures = measure(
        bootstrap, mongo_url, arguments.trackers, arguments.learners, arguments.workers
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
