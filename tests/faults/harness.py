"""The fault harness: trackers driven through five services that are being ``kill -9``-ed.

The stack and the workload come from ``deploy/local/workload.py`` (service processes on free
ports, database and topic prefixes of their own, over a given Kafka and FerretDB; every HTTP call
retried across crashes). Worker threads raise and process trackers of mixed types; a chaos thread
SIGKILLs and restarts every service at moments spread over the workload (and, when asked,
restarts the Kafka broker once). After recovery `verify` checks what must hold, reading the
services' databases and the topics themselves:

* every tracker is processed and carries an ILR outcome;
* each learner's ILR version count is 1 (enrolment) + its applied trackers, and the history
  names each applied tracker exactly once (nothing applied twice, nothing lost);
* the audit log holds every event id on every topic, a second copy only as a flagged duplicate
  delivery; every hash chain verifies (``GET /v1/audit/verify``);
* one notification per (event, recipient, channel), the primary tutor told of every processing;
* no dead letters except the injected poison record;
* when given an SMTP server and a webhook receiver (``Outbound``): every email row sent and
  received by its Message-ID, every webhook delivery delivered and received by its webhook-id,
  one delivery per (event, subscription); a copy received twice only as the at-least-once resend
  of a send cut by a kill (at most one per in-flight send of a killed notify replica, and no
  sooner than the claim's lease after the first: two replicas sending at once are caught).

With ``service_stack(replicas=2)`` every service runs as two processes side by side (one
consumer group, two relays, two email and webhook senders) and each kill hits one replica.

Used by ``tests/faults/test_faults_short.py`` (in ``make test``) and ``tests/faults/run.py``
(``make faults``).
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import random
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from devstack import SERVICES
from pymongo import MongoClient
from workload import REPO, TUTOR, ServiceStack, Workload, call, poll, prepare, run_tracker

from ilrflow.contracts.events import Topics, dead_letter_topic
from ilrflow.ilr.adapters.repository import IlrDocument, version_doc_id
from ilrflow.notify.adapters.repository import EMAIL_LEASE
from ilrflow.notify.adapters.webhook_sender import LEASE_MARGIN_SECONDS
from ilrflow.platform.kafka import ensure_topics
from ilrflow.platform.lanes import base_topic
from ilrflow.platform.settings import Settings
from tests.conftest import SmtpSink, settled

PROCESSED_TYPE = "ilrflow.tracker.processed.v1"
POISON_TOPIC = Topics.TRACKER_PROCESSED


# --- what goes out: emails and webhooks ---------------------------------------------------------


class HookReceiver:
    """A webhook endpoint on loopback that keeps the webhook-id of every request (answered 204)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, float]] = []  # (webhook-id, monotonic time)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((self.headers["webhook-id"], time.monotonic()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


@dataclass
class Outbound:
    """A real SMTP server and a webhook receiver the services send to (``settings_env``)."""

    mail: SmtpSink
    hooks: HookReceiver

    def settings_env(self) -> dict[str, str]:
        return {
            "ILRFLOW_SMTP_HOST": "127.0.0.1",
            "ILRFLOW_SMTP_PORT": str(self.mail.port),
            "ILRFLOW_EMAIL_POLL_SECONDS": "0.2",
            "ILRFLOW_WEBHOOK_ALLOW_PRIVATE_URLS": "1",
            "ILRFLOW_WEBHOOK_POLL_SECONDS": "0.2",
            "ILRFLOW_WEBHOOK_RETRY_FIRST_SECONDS": "0.3",
        }

    def emails(self) -> list[tuple[str, float]]:
        """(notification id, time) of every email received (Message-ID ``<id@ilrflow>``)."""
        return [
            (
                str(email.message_from_bytes(m.content)["Message-ID"]).strip("<>").split("@")[0],
                m.received_at,
            )
            for m in list(self.mail.messages)
        ]


@contextmanager
def outbound() -> Iterator[Outbound]:
    mail, hooks = SmtpSink(), HookReceiver()
    mail.start()
    threading.Thread(target=hooks.server.serve_forever, daemon=True).start()
    try:
        yield Outbound(mail, hooks)
    finally:
        hooks.server.shutdown()
        mail.stop()


# --- chaos -------------------------------------------------------------------------------------


@dataclass
class ChaosLog:
    kills: list[tuple[str, float]] = field(default_factory=list)  # (service, seconds down)
    broker_restarts: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def chaos(
    work: Workload,
    total: int,
    kills_per_service: int,
    restart_broker: Callable[[], None] | None,
    stop: threading.Event,
    log: ChaosLog,
    seed: int,
) -> None:
    """Kill every service ``kills_per_service`` times (and the broker once, if given) at random
    points spread over the workload's progress."""
    rng = random.Random(seed)
    restarts: list[threading.Thread] = []
    plan: list[str] = [s for s in SERVICES for _ in range(kills_per_service)]
    rng.shuffle(plan)
    if restart_broker is not None:
        plan.insert(len(plan) // 2, "kafka")
    for index, target in enumerate(plan):
        threshold = int(total * (index + rng.random()) / (len(plan) + 1))
        while work.done < threshold and not stop.is_set():
            stop.wait(0.05)  # poll the workload's progress
        stop.wait(rng.random() * 0.5)  # a random moment inside that stretch
        started = time.monotonic()
        try:
            if target == "kafka":
                assert restart_broker is not None
                restart_broker()
                log.broker_restarts.append(time.monotonic() - started)
            elif len(work.stack.replicas[target]) == 1:
                log.kills.append((target, work.stack.kill_and_restart(target)))
            else:
                restarts.append(_kill_one_replica(work.stack, target, rng, log))
        except Exception as error:  # the report says why the plan stopped, not a thread's stderr
            log.errors.append(f"{target}: {error!r}")
            raise
    for restart in restarts:
        restart.join()


def _kill_one_replica(
    stack: ServiceStack, target: str, rng: random.Random, log: ChaosLog
) -> threading.Thread:
    """SIGKILL one replica of ``target`` and restart it in the background, the other replicas
    carrying on meanwhile: the plan goes on without waiting for the start-up. A service's
    replica is killed only when all of them are up, so one always serves."""
    while True:
        with stack.lock:
            killed = [r for (name, r) in stack.down if name == target]
        if not killed:
            break
        time.sleep(0.2)  # poll until the replica killed before is up again
    replica = rng.randrange(len(stack.replicas[target]))

    def kill_and_restart() -> None:
        try:
            log.kills.append((target, stack.kill_and_restart(target, replica)))
        except Exception as error:
            log.errors.append(f"{target}#{replica}: {error!r}")

    restart = threading.Thread(target=kill_and_restart, daemon=True)
    restart.start()
    while (target, replica) not in stack.down and restart.is_alive():
        time.sleep(0.05)  # poll until the kill is under way
    return restart


def broker_restarter(
    stack_dir: Path, stack_env: dict[str, str], bootstrap: str
) -> Callable[[], None]:
    """SIGKILL the Kafka broker started by deploy/local/stack.sh in ``stack_dir`` and start it
    again on the same data (``stack.sh restart-kafka``); fail with stack.sh's own words."""

    def restart() -> None:
        done = subprocess.run(
            [str(REPO / "deploy" / "local" / "stack.sh"), "restart-kafka"],
            env={**os.environ, **stack_env, "ILRFLOW_STACK_FRESH": "0"},
            capture_output=True,
            text=True,
            timeout=900,
        )
        with open(stack_dir / "restart-kafka.log", "a") as record:
            record.write(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"stack.sh restart-kafka failed: {done.stderr[-3000:]}")
        # Before the next fault: the broker answers metadata requests again.
        asyncio.run(ensure_topics(bootstrap, topics=[], wait_seconds=180))

    return restart


# --- the run -----------------------------------------------------------------------------------


@dataclass
class FaultReport:
    trackers: int
    learners: int
    seconds_workload: float
    seconds_recovery: float
    kills: list[tuple[str, float]]
    broker_restarts: list[float]
    ambiguous_raises: int
    ambiguous_processes: int
    outcomes: dict[str, int]
    ilr_versions_applied: int
    applied_trackers: int
    kafka_records: int
    kafka_republished: int
    audit_entries: int
    audit_duplicates_flagged: int
    audit_missing: int
    verify: dict[str, Any]
    notifications: int
    notifications_per_key_max: int
    tutor_told: int
    emails: int
    emails_resent: int
    webhooks: int
    webhooks_resent: int
    dead_letters: int
    injected_dead_letters: int
    rss_mb: dict[str, float]
    problems: list[str]

    def lines(self) -> list[str]:
        kills = Counter(name for name, _ in self.kills)
        down = [seconds for _, seconds in self.kills]
        return [
            f"trackers {self.trackers} over {self.learners} learners; workload "
            f"{self.seconds_workload:.1f}s, recovery {self.seconds_recovery:.1f}s",
            f"kill -9: {dict(kills)} (down {min(down, default=0):.1f}-{max(down, default=0):.1f}s"
            f" each); broker restarts: {len(self.broker_restarts)}"
            + (f" ({self.broker_restarts[0]:.1f}s)" if self.broker_restarts else ""),
            f"ambiguous HTTP calls retried: raise {self.ambiguous_raises}, "
            f"process {self.ambiguous_processes}",
            f"tracker outcomes: {self.outcomes}",
            f"ILR versions from trackers {self.ilr_versions_applied} = applied trackers "
            f"{self.applied_trackers}",
            f"kafka records {self.kafka_records} ({self.kafka_republished} republished copies); "
            f"audit entries {self.audit_entries}, duplicates flagged "
            f"{self.audit_duplicates_flagged}, event ids missing {self.audit_missing}",
            f"audit verify: {self.verify.get('verified_entries')}/{self.verify.get('entries')} "
            f"entries, failed partitions {self.verify.get('failed_partitions')}",
            f"notifications {self.notifications}, max per (event, recipient, channel) "
            f"{self.notifications_per_key_max}, tutor told of {self.tutor_told} processings",
            f"emails received {self.emails} ({self.emails_resent} resent after a kill); "
            f"webhooks received {self.webhooks} ({self.webhooks_resent} resent after a kill)",
            f"dead letters {self.dead_letters} (injected {self.injected_dead_letters})",
            "RSS MB: " + ", ".join(f"{k} {v:.0f}" for k, v in self.rss_mb.items()),
            "PROBLEMS: " + ("none" if not self.problems else "; ".join(self.problems)),
        ]


def run_faults(
    stack: ServiceStack,
    trackers: int,
    learners: int,
    workers: int,
    kills_per_service: int,
    restart_broker: Callable[[], None] | None = None,
    seed: int = 7,
    recovery_timeout: float = 300,
    say: Callable[[str], None] = print,
    sent_to: Outbound | None = None,
) -> FaultReport:
    """Drive the workload under chaos and verify; with ``sent_to`` (the stack's SMTP server and
    a webhook receiver the tenant subscribes) what the notify service sends is verified too."""
    work = prepare(stack, learners, workers)
    if sent_to is not None:
        with work.admin("notify") as http:
            subscription = {"url": sent_to.hooks.url, "event_types": ["tracker-*", "ilr-updated"]}
            call(http, "POST", "/v1/webhooks", (201,), json=subscription)
    say(f"prepared tenant {work.tenant} with {learners} learners; driving {trackers} trackers")
    asyncio.run(_inject_poison(stack.settings))
    stop = threading.Event()
    log = ChaosLog()
    chaos_thread = threading.Thread(
        target=chaos,
        args=(work, trackers, kills_per_service, restart_broker, stop, log, seed),
        daemon=True,
    )
    started = time.monotonic()
    chaos_thread.start()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda n: run_tracker(work, n), range(trackers)))
    chaos_thread.join(timeout=600)
    stop.set()
    workload_seconds = time.monotonic() - started
    say(f"workload done in {workload_seconds:.1f}s; kills {len(log.kills)}; recovering")
    recovery_started = time.monotonic()
    outcomes = _await_outcomes(work, recovery_timeout)
    report = _verify(work, outcomes, recovery_timeout)
    if sent_to is not None:
        notify_kills = sum(1 for name, _ in log.kills if name == "notify")
        _verify_outbound(work, sent_to, notify_kills, recovery_timeout, report)
    report.seconds_workload = workload_seconds
    report.seconds_recovery = time.monotonic() - recovery_started
    report.kills = log.kills
    report.broker_restarts = log.broker_restarts
    killed = Counter(name for name, _ in log.kills)
    if any(killed[name] < kills_per_service for name in SERVICES):
        report.problems.append(f"the chaos plan did not complete: kills {dict(killed)}")
    if restart_broker is not None and not log.broker_restarts:
        report.problems.append("the broker was not restarted")
    report.problems.extend(f"chaos step failed: {error}" for error in log.errors)
    return report


async def _inject_poison(settings: Settings) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic_prefix + POISON_TOPIC, b"not a cloudevent", key=b"poison"
        )
    finally:
        await producer.stop()


def _await_outcomes(work: Workload, timeout: float) -> dict[str, dict[str, Any]]:
    """Every tracker, once every one of them carries its ILR outcome."""
    found: dict[str, dict[str, Any]] = {}

    def all_have_outcomes() -> bool:
        with work.admin("tracker") as http:
            for tracker_id in work.trackers:
                if tracker_id in found:
                    continue
                tracker = call(http, "GET", f"/v1/trackers/{tracker_id}", (200,)).json()
                if tracker.get("ilr_outcome"):
                    found[tracker_id] = tracker
        return len(found) == len(work.trackers)

    poll(all_have_outcomes, timeout, f"ILR outcomes on all {len(work.trackers)} trackers", 1.0)
    return found


def _ilr_history(ilr_database: Any, record: IlrDocument) -> list[dict[str, Any]]:
    """The ILR history as the service reads it: the record, then its version documents."""
    sources = record.history_sources
    stored = (
        ilr_database["ilr_versions"].find_one(
            {"_id": version_doc_id(record.tenant, record.learner_id, version)}
        )
        for version in sources.stored_versions_needed()
    )
    return [dict(entry) for entry in sources.history(d for d in stored if d is not None)]


def _verify(work: Workload, trackers: dict[str, dict[str, Any]], timeout: float) -> FaultReport:
    stack, settings = work.stack, work.stack.settings
    problems: list[str] = []
    statuses = Counter(
        f"{t['status']}/{(t.get('ilr_outcome') or {}).get('status')}" for t in trackers.values()
    )
    applied = {i for i, t in trackers.items() if t["ilr_outcome"]["status"] == "applied"}
    if set(statuses) != {"processed/applied"}:
        problems.append(f"tracker outcomes other than processed/applied: {dict(statuses)}")

    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_url, tz_aware=True)
    try:
        # ILR: version = 1 (enrolment) + applied trackers; each applied tracker once in history.
        ilr_database = client[settings.database_name("ilr")]
        versions_from_trackers = 0
        per_learner: dict[str, int] = Counter(trackers[i]["learner_id"] for i in applied)
        for document in ilr_database["ilr_records"].find({"tenant": work.tenant}):
            learner_id = document["learner_id"]
            history = _ilr_history(ilr_database, IlrDocument.from_stored(document))
            if [h["version"] for h in history] != list(range(1, int(document["version"]) + 1)):
                problems.append(f"ILR of {learner_id}: history does not list every version")
            from_trackers = [h.get("tracker_id") for h in history if h.get("tracker_id")]
            versions_from_trackers += int(document["version"]) - 1
            if int(document["version"]) != 1 + per_learner.get(learner_id, 0):
                problems.append(
                    f"ILR of {learner_id}: version {document['version']}, "
                    f"{per_learner.get(learner_id, 0)} applied trackers"
                )
            twice = [t for t, c in Counter(from_trackers).items() if c > 1]
            if twice:
                problems.append(f"ILR of {learner_id}: trackers applied twice {twice}")
        # The topics: every event id published, and the dead letters.
        records = _settled_records(settings)
        event_records = [r for r in records if not r["topic"].endswith(".dlt")]
        ids = Counter(r["id"] for r in event_records if r["id"])
        dead = [r for r in records if r["topic"].endswith(".dlt")]
        injected = [r for r in dead if r["key"] == b"poison"]
        if len(dead) != len(injected):
            problems.append(f"unexpected dead letters: {len(dead) - len(injected)}")
        groups_on_poison_topic = {"learner", "ilr", "notify"}
        if len(injected) != len(groups_on_poison_topic):
            problems.append(f"poison dead-lettered {len(injected)} times, expected 3")
        # Audit: every event id and dead letter stored; copies only as flagged duplicates.
        entries = client[settings.database_name("audit")]["audit_entries"]

        on_broker = {(r["topic"], r["partition"], r["offset"]) for r in records}

        def audit_complete() -> list[dict[str, Any]]:
            stored = list(
                entries.find(
                    {},
                    {"event_id": 1, "duplicate_of": 1, "topic": 1, "partition": 1, "offset": 1},
                )
            )
            # Every record's position, not a count: checkpoint entries keep arriving meanwhile.
            in_audit = {(e["topic"], e["partition"], e["offset"]) for e in stored}
            return stored if on_broker <= in_audit else []

        try:
            stored = poll(audit_complete, timeout, "the audit log holds every record", 2.0)
        except AssertionError as error:
            problems.append(str(error))
            stored = list(
                entries.find(
                    {},
                    {"event_id": 1, "duplicate_of": 1, "topic": 1, "partition": 1, "offset": 1},
                )
            )
        by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in stored:
            if entry.get("event_id") and not entry["topic"].endswith(".dlt"):
                by_id[entry["event_id"]].append(entry)
        missing = [i for i in ids if i not in by_id]
        if missing:
            problems.append(f"event ids missing from the audit: {len(missing)}")
        flagged = sum(1 for e in stored if e.get("duplicate_of"))
        for event_id, copies in by_id.items():
            originals = [c for c in copies if not c.get("duplicate_of")]
            if len(originals) != 1:
                problems.append(f"audit: {event_id} stored {len(originals)} times unflagged")
        problems += _audit_positions_problems(records, stored)
        with stack.client("audit", "any-tenant", "operator-1", "operator") as http:
            # Verification re-reads the whole log: minutes for a long run on FerretDB.
            verification = call(http, "GET", "/v1/audit/verify", (200,), timeout=900).json()
        if verification["failed_partitions"] != 0:
            problems.append(f"audit chains failing: {verification['failed_partitions']}")
        # Notifications: one per (event, recipient, channel); the tutor told of each processing.
        notifications = list(
            client[settings.database_name("notify")]["notifications"].find(
                {"tenant": work.tenant},
                {"event_id": 1, "recipient_id": 1, "channel": 1, "event_type": 1, "tracker_id": 1},
            )
        )
        per_key = Counter((n["event_id"], n["recipient_id"], n["channel"]) for n in notifications)
        if per_key and max(per_key.values()) > 1:
            problems.append("a (event, recipient, channel) has more than one notification")
        tutor_told = {
            n["tracker_id"]
            for n in notifications
            if n["recipient_id"] == TUTOR
            and n["channel"] == "in_app"
            and n["event_type"] == PROCESSED_TYPE
        }
        processed_per_tracker = Counter(
            r["tracker_id"] for r in event_records if r["type"] == PROCESSED_TYPE
        )
        if tutor_told != set(trackers):
            problems.append(f"tutor not told of {len(set(trackers) - tutor_told)} processings")
        distinct_processed = {r["id"] for r in event_records if r["type"] == PROCESSED_TYPE}
        if len(distinct_processed) != len(trackers) or set(processed_per_tracker) != set(trackers):
            problems.append(
                f"{len(distinct_processed)} distinct tracker-processed events for "
                f"{len(trackers)} trackers"
            )
    finally:
        client.close()
    return FaultReport(
        trackers=len(trackers),
        learners=len(work.learners),
        seconds_workload=0.0,
        seconds_recovery=0.0,
        kills=[],
        broker_restarts=[],
        ambiguous_raises=work.ambiguous_raises,
        ambiguous_processes=work.ambiguous_processes,
        outcomes=dict(statuses),
        ilr_versions_applied=versions_from_trackers,
        applied_trackers=len(applied),
        kafka_records=len(records),
        kafka_republished=sum(ids.values()) - len(ids),
        audit_entries=len(stored),
        audit_duplicates_flagged=flagged,
        audit_missing=len(missing),
        verify={k: verification[k] for k in ("entries", "verified_entries", "failed_partitions")},
        notifications=len(notifications),
        notifications_per_key_max=max(per_key.values(), default=0),
        tutor_told=len(tutor_told),
        emails=0,
        emails_resent=0,
        webhooks=0,
        webhooks_resent=0,
        dead_letters=len(dead),
        injected_dead_letters=len(injected),
        rss_mb=stack.rss_mb(),
        problems=problems,
    )


def _verify_outbound(
    work: Workload, sent_to: Outbound, notify_kills: int, timeout: float, report: FaultReport
) -> None:
    """Every email row sent and received, every webhook delivery delivered and received; a copy
    of one only as the resend of a send cut by a kill (the sender died between the other end's
    acceptance and recording it): at most one email and ``webhook_tenant_concurrency`` webhooks
    per notify kill, each no sooner than the claim's lease after the copy before."""
    settings = work.stack.settings
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_url, tz_aware=True)
    try:
        database = client[settings.database_name("notify")]

        def none_pending(collection: str, query: dict[str, Any]) -> list[dict[str, Any]]:
            rows = list(database[collection].find(query))
            status = "delivery.status" if collection == "notifications" else "status"
            pending = [r for r in rows if _field(r, status) == "pending"]
            return rows if rows and not pending else []

        email_rows = poll(
            lambda: none_pending("notifications", {"tenant": work.tenant, "channel": "email"}),
            timeout,
            "no email pending",
        )
        deliveries = poll(
            lambda: none_pending("webhook_deliveries", {"tenant": work.tenant}),
            timeout,
            "no webhook delivery pending",
        )
    finally:
        client.close()
    # A duplicate, were one on its way, has arrived once nothing has come for two seconds.
    settled(lambda: (len(sent_to.mail.messages), len(sent_to.hooks.received)), quiet=2)
    emails, hooks = sent_to.emails(), list(sent_to.hooks.received)
    received_emails = Counter(i for i, _ in emails)
    received_hooks = Counter(i for i, _ in hooks)
    report.emails, report.webhooks = len(emails), len(hooks)
    report.emails_resent = report.emails - len(received_emails)
    report.webhooks_resent = report.webhooks - len(received_hooks)
    webhook_lease = settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
    for what, received, lease in (
        ("email", emails, EMAIL_LEASE.total_seconds()),
        ("webhook", hooks, webhook_lease),
    ):
        early = _copies_within(received, lease)
        if early:
            report.problems.append(f"{what}s sent twice within the claim's lease: {early[:3]}")
    unsent = [r["_id"] for r in email_rows if r["delivery"]["status"] != "sent"]
    if unsent:
        report.problems.append(f"{len(unsent)} emails not sent: {unsent[:3]}")
    if set(received_emails) != {r["_id"] for r in email_rows}:
        report.problems.append("the emails received are not the email rows")
    if report.emails_resent > notify_kills:
        report.problems.append(f"{report.emails_resent} emails resent, {notify_kills} kills")
    undelivered = [d["_id"] for d in deliveries if d["status"] != "delivered"]
    if undelivered:
        report.problems.append(f"{len(undelivered)} webhooks not delivered: {undelivered[:3]}")
    if set(received_hooks) != {d["_id"] for d in deliveries}:
        report.problems.append("the webhook-ids received are not the deliveries")
    per_event = Counter((d["event_id"], d["subscription_id"]) for d in deliveries)
    if max(per_event.values()) > 1:
        report.problems.append("an (event, subscription) has more than one delivery")
    bound = notify_kills * settings.webhook_tenant_concurrency
    if report.webhooks_resent > bound:
        report.problems.append(f"{report.webhooks_resent} webhooks resent, {notify_kills} kills")


def _copies_within(received: list[tuple[str, float]], lease_seconds: float) -> list[str]:
    """Ids received again sooner than the claim's lease after the copy before: not the resend of
    a send cut by a kill (which waits for the lease to run out) but two senders at once."""
    last: dict[str, float] = {}
    early = []
    for identity, at in sorted(received, key=lambda item: item[1]):
        if identity in last and at - last[identity] < lease_seconds:
            early.append(identity)
        last[identity] = at
    return early


def _field(document: dict[str, Any], dotted: str) -> Any:
    for name in dotted.split("."):
        document = document.get(name) or {}
    return document or None


def _settled_records(settings: Settings) -> list[dict[str, Any]]:
    """The topics' records once no new one has arrived for two seconds (the pipeline is quiet)."""
    previous: list[int] = [-1]

    def settled() -> list[dict[str, Any]]:
        records = asyncio.run(_read_all(settings))
        if len(records) == previous[0]:
            return records
        previous[0] = len(records)
        return []

    result: list[dict[str, Any]] = poll(settled, 120, "the topics stop growing", 2.0)
    return result


async def _read_all(settings: Settings) -> list[dict[str, Any]]:
    """Every record on every topic of this run (and its dead-letter topics), from the start."""
    topics = [settings.topic_prefix + t for t in Topics.ALL]
    topics += [settings.topic_prefix + dead_letter_topic(t) for t in Topics.ALL]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[dict[str, Any]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    headers = {k: v.decode(errors="replace") for k, v in record.headers}
                    tracker_id = None
                    if record.value and record.value.startswith(b"{"):
                        tracker_id = _json_field(record.value, "tracker_id")
                    found.append(
                        {
                            "topic": record.topic.removeprefix(settings.topic_prefix),
                            "partition": record.partition,
                            "offset": record.offset,
                            "key": record.key,
                            "id": headers.get("ce_id"),
                            "type": headers.get("ce_type"),
                            "tracker_id": tracker_id,
                        }
                    )
        return found
    finally:
        await consumer.stop()


def _audit_positions_problems(
    records: list[dict[str, Any]], stored: list[dict[str, Any]]
) -> list[str]:
    """Every record on the broker has its entry, and every entry its record, by (topic,
    partition, offset). Except on a compacted topic (audit-checkpoints, ilr-state): compaction
    removes older records of a key after the audit stored them, so their entries stay; and the
    audit signs checkpoints on its own clock, so audit-checkpoints records keep arriving (and
    are stored) after ``records`` was read. A full ``make faults`` run found 38 such entries."""
    on_broker = {(r["topic"], r["partition"], r["offset"]) for r in records}
    in_audit = {(e["topic"], e["partition"], e["offset"]) for e in stored}
    problems = []
    if len(in_audit) != len(stored):
        problems.append(f"audit: {len(stored) - len(in_audit)} positions stored twice")
    if missing := on_broker - in_audit:
        problems.append(f"audit: {len(missing)} records without an entry, e.g. {min(missing)}")
    extra = {p for p in in_audit - on_broker if base_topic(p[0]) not in Topics.COMPACTED}
    if extra:
        problems.append(f"audit: {len(extra)} entries without a record, e.g. {min(extra)}")
    return problems


def _json_field(raw: bytes, name: str) -> Any:
    try:
        return json.loads(raw).get(name)
    except ValueError:
        return None
