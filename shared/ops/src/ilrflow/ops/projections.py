"""``ilrflow projections rebuild SERVICE NAME``: refill a projection from the earliest offset.

1. Read the projection's topic from the beginning up to the end offsets taken at the start into
   a fresh collection (``<collection>__rebuild``), with the service's own handlers, as the live
   consumer applies them: each batch by key, each key's records in order, up to
   ``ILRFLOW_CONSUMER_CONCURRENCY`` keys at once. The live consumer keeps writing the live
   collection meanwhile.
2. Pause the projection (a control document the live handlers read; each has seen it within
   ``PAUSE_SEEN_WITHIN_SECONDS``, which this waits for): they now fail transiently,
   so their records are retried and re-read, never committed. Wait until the live group's
   committed offsets stop moving (a handler that began before the pause has stored and
   committed), then apply the records from the step-1 end offsets up to those committed offsets.
   The fresh collection now holds exactly what the live one holds.
3. Swap: rename the live collection away, the fresh one in; drop the old one (or keep it with
   ``--keep-previous``). Resume: the live consumer goes on from its committed offsets, writing
   into the swapped-in collection (writes go by name).

Where the live group was behind the step-1 end offsets, the fresh collection is ahead of it and
the live consumer re-applies those records after the swap: projection writes are upserts of the
latest value per key, so re-applying a suffix in order ends in the same state.

A rebuild needs the whole history. Where a partition no longer starts at offset 0 (records deleted
by retention or ``kafka-delete-records``), it refuses, unless ``--from-available`` says to build
from what is left; the report then names the offsets it started from.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import typer
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError
from aiokafka.structs import OffsetAndMetadata
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ilrflow.contracts.events import from_wire
from ilrflow.ops.common import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    emit_json,
    fail,
    new_consumer,
    partitions_of,
    run,
    settings,
)
from ilrflow.platform.batches import chains, run_chains
from ilrflow.platform.errors import PermanentError
from ilrflow.platform.kafka import Handler, consumer_group_id
from ilrflow.platform.lanes import POOLED, base_topic, split_topic
from ilrflow.platform.mongo import Document, create_client, service_database
from ilrflow.platform.projections import (
    PAUSE_SEEN_WITHIN_SECONDS,
    Projection,
    ProjectionPause,
)
from ilrflow.platform.settings import SERVICE_PORTS, Settings

app = typer.Typer(help="Projections kept from other services' events.", no_args_is_help=True)

Offsets = dict[TopicPartition, int]
Advance = Callable[[int], None]


@dataclass
class RebuildReport:
    service: str
    projection: str
    topic: str
    group: str
    collection: str
    records: int = 0  # records read, both phases
    applied: int = 0
    other_types: int = 0  # records of types this projection does not keep
    bad: int = 0  # records that are not valid events (the live consumer dead-lettered them)
    caught_up: int = 0  # records applied while paused
    paused_seconds: float = 0.0
    previous: str | None = None  # the old collection, with --keep-previous
    seconds: float = 0.0
    # With --from-available: partition -> first offset still on the broker, where it is not 0.
    history_gone_before: dict[int, int] = field(default_factory=dict)


@app.command("rebuild")
def rebuild(
    service: str = typer.Argument(..., help="The service that keeps the projection."),
    projection: str = typer.Argument(..., help="The projection, e.g. learners, staff, ilr."),
    keep_previous: bool = typer.Option(
        False, help="Keep the replaced collection as <collection>__previous_<time>."
    ),
    settle_seconds: float = typer.Option(
        2.0, help="Paused, how long the live group's offsets must stand still."
    ),
    max_pause_seconds: float = typer.Option(
        120.0, help="The longest the live consumer may be held; past it the rebuild gives up."
    ),
    from_available: bool = typer.Option(
        False,
        "--from-available",
        help="Build from the records still on the topic when older ones are gone, "
        "instead of refusing.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Rebuild a projection from the earliest offset into a new collection, then swap it in
    without losing the events that arrive meanwhile (see docs/operations.md)."""
    s = settings()
    if service not in SERVICE_PORTS:
        fail(f"unknown service {service!r}; services are {', '.join(SERVICE_PORTS)}", EXIT_USAGE)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    with progress:
        report = run(
            lambda: _rebuild(
                s,
                service,
                projection,
                progress,
                keep_previous,
                settle_seconds,
                max_pause_seconds,
                from_available,
            )
        )
    if as_json:
        emit_json(asdict(report))
        return
    typer.echo(
        f"{service}.{projection}: {report.applied} events applied from {report.records} records "
        f"({report.caught_up} while paused for {report.paused_seconds:.1f}s) into "
        f"{report.collection} in {report.seconds:.1f}s"
        + (f"; previous kept as {report.previous}" if report.previous else "")
    )
    if report.history_gone_before:
        typer.secho(
            "built from the records still available: the history before "
            f"{_offsets_text(report.history_gone_before)} is gone",
            fg="yellow",
            err=True,
        )


async def _rebuild(
    s: Settings,
    service: str,
    name: str,
    progress: Progress,
    keep_previous: bool,
    settle_seconds: float,
    max_pause_seconds: float,
    from_available: bool,
) -> RebuildReport:
    started = time.monotonic()
    client = create_client(s)
    db = service_database(client, s, service)
    spec = _declared(service, name, db)
    report = RebuildReport(
        service=service,
        projection=spec.name,
        topic=s.topic_prefix + spec.topic,
        group=consumer_group_id(s, service, spec.topic),
        collection=spec.collection,
    )
    fresh = f"{spec.collection}__rebuild"
    consumer = await new_consumer(s)
    try:
        await db[fresh].drop()  # left over from a run that died
        if spec.ensure_indexes is not None:
            await spec.ensure_indexes(fresh)
        handlers = spec.handlers(fresh)
        partitions = await partitions_of(consumer, report.topic)
        if not partitions:
            fail(f"topic {report.topic!r} does not exist", EXIT_NOT_FOUND)
        await _refuse_if_lanes_used(s, consumer, spec.topic)
        consumer.assign(partitions)
        begin: Offsets = await consumer.beginning_offsets(partitions)
        report.history_gone_before = history_gone_before(begin)
        if report.history_gone_before and not from_available:
            fail(
                f"the history of {report.topic!r} is gone before "
                f"{_offsets_text(report.history_gone_before)} (deleted by retention or by an "
                "operator): a rebuild would build from part of it. Nothing was changed. Run it "
                "again with --from-available to build from the records that are left "
                "(see docs/operations.md, Retention)",
                EXIT_FAILED,
            )
        end: Offsets = await consumer.end_offsets(partitions)
        await _apply(
            consumer,
            handlers,
            begin,
            end,
            report,
            _task(progress, "rebuild", begin, end),
            s.consumer_concurrency,
        )
        await _paused_swap(
            s,
            db,
            spec,
            consumer,
            handlers,
            begin,
            end,
            report,
            progress,
            keep_previous,
            settle_seconds,
            max_pause_seconds,
        )
    except PyMongoError as error:
        await _quietly_drop(db, fresh)
        fail(f"database error during the rebuild: {error}", EXIT_UNAVAILABLE)
    except BaseException:
        await _quietly_drop(db, fresh)
        raise
    finally:
        await consumer.stop()
        await client.close()
    report.seconds = round(time.monotonic() - started, 3)
    return report


def history_gone_before(begin: Offsets) -> dict[int, int]:
    """Partition -> first offset still on the broker, for every partition whose history is no
    longer whole. Retention and compaction never move a partition's start on their own in our
    topics (docs/operations.md, Retention), so a start past 0 means records were deleted."""
    return {tp.partition: offset for tp, offset in sorted(begin.items()) if offset > 0}


def _offsets_text(starts: Mapping[int, int]) -> str:
    return ", ".join(f"offset {offset} of partition {p}" for p, offset in starts.items())


async def _refuse_if_lanes_used(s: Settings, consumer: AIOKafkaConsumer, topic: str) -> None:
    """The rebuild reads the pooled topic only. A tenant that is (or was) on a dedicated lane
    has events on that lane's topic too, and replaying two topics would need their records
    merged in publish order per key, which this command does not do yet: refuse, rather than
    swap in a projection that lacks or misorders that tenant's records."""
    await consumer._client.force_metadata_update()
    lane_topics = sorted(
        t
        for t in await consumer.topics()
        if t.startswith(s.topic_prefix)
        and split_topic(t.removeprefix(s.topic_prefix)) != (POOLED, topic)
        and base_topic(t.removeprefix(s.topic_prefix)) == topic
    )
    for lane_topic in lane_topics:
        partitions = await partitions_of(consumer, lane_topic)
        begin = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        if any(end[tp] > begin[tp] for tp in partitions):
            fail(
                f"{lane_topic!r} holds records: this deployment has used tenant lanes, and a "
                "rebuild reads only the pooled topic (see docs/operations.md, Lanes)",
                EXIT_USAGE,
            )


def _declared(service: str, name: str, db: AsyncDatabase[Document]) -> Projection:
    """The service's own declaration (its bootstrap's ``projections``), so the rebuild runs the
    very handlers the live consumer runs."""
    try:
        bootstrap = importlib.import_module(f"ilrflow.{service}.bootstrap")
    except ImportError:
        fail(f"ilrflow-{service} is not installed here (the rebuild runs its handlers)")
    declared = getattr(bootstrap, "projections", None)
    found: dict[str, Projection] = {p.name: p for p in (declared(db) if declared else [])}
    if name not in found:
        known = ", ".join(found) or "none"
        fail(f"{service} keeps no projection {name!r}; it keeps: {known}", EXIT_NOT_FOUND)
    return found[name]


async def _paused_swap(
    s: Settings,
    db: AsyncDatabase[Document],
    spec: Projection,
    consumer: AIOKafkaConsumer,
    handlers: Mapping[str, Handler],
    begin: Offsets,
    end: Offsets,
    report: RebuildReport,
    progress: Progress,
    keep_previous: bool,
    settle_seconds: float,
    max_pause_seconds: float,
) -> None:
    pause = ProjectionPause(db)
    paused_at = time.monotonic()
    until = await pause.pause(spec.name, max_pause_seconds, by="ilrflow projections rebuild")
    try:
        # Every live handler has seen the pause by then (ilrflow.platform.projections).
        await asyncio.sleep(PAUSE_SEEN_WITHIN_SECONDS)
        committed = await _settled_offsets(s, report.group, list(end), begin, settle_seconds)
        target = {tp: max(committed[tp], end[tp]) for tp in end}
        applied_before = report.applied
        await _apply(
            consumer,
            handlers,
            end,
            target,
            report,
            _task(progress, "catch up", end, target),
            s.consumer_concurrency,
        )
        report.caught_up = report.applied - applied_before
        if datetime.now(UTC) >= until:
            fail("the pause ran out before the swap; nothing was swapped, run it again")
        report.previous = await _swap(
            db, f"{spec.collection}__rebuild", spec.collection, keep_previous
        )
    finally:
        await pause.resume(spec.name)
        report.paused_seconds = round(time.monotonic() - paused_at, 3)


def _task(progress: Progress, name: str, start: Offsets, stop: Offsets) -> Advance:
    total = sum(max(stop[tp] - start[tp], 0) for tp in stop)
    task = progress.add_task(name, total=total)
    return lambda n: progress.advance(task, n)


async def _apply(
    consumer: AIOKafkaConsumer,
    handlers: Mapping[str, Handler],
    start: Offsets,
    stop: Offsets,
    report: RebuildReport,
    advance: Advance,
    concurrency: int,
) -> None:
    """Apply the records in [start, stop) of every partition as the live consumer does: each
    batch by key (``ilrflow.platform.batches``), each key's records in order, up to
    ``concurrency`` keys at once."""
    pending = {tp for tp in stop if start[tp] < stop[tp]}
    for tp in pending:
        consumer.seek(tp, start[tp])

    async def apply(record: ConsumerRecord[Any, Any]) -> str:
        await _apply_one(handlers, dict(record.headers), record.value, report)
        advance(1)
        return "done"

    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=1000)
        records = [r for tp, found in batches.items() for r in found if r.offset < stop[tp]]
        await run_chains(chains(records), apply, concurrency)
        for tp in list(pending):
            if await consumer.position(tp) >= stop[tp]:
                pending.discard(tp)


async def _apply_one(
    handlers: Mapping[str, Handler],
    headers: dict[str, Any],
    value: bytes | None,
    report: RebuildReport,
) -> None:
    report.records += 1
    try:
        event = from_wire(headers, value)
    except PermanentError:
        report.bad += 1
        return
    handler = handlers.get(event.type)
    if handler is None:
        report.other_types += 1
        return
    await handler(event)
    report.applied += 1


async def _settled_offsets(
    s: Settings, group: str, partitions: list[TopicPartition], begin: Offsets, settle: float
) -> Offsets:
    """The group's committed offsets once they stand still for ``settle`` seconds; a partition
    it never committed on counts from the beginning."""
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    await admin.start()
    try:

        async def committed() -> Offsets:
            found = await _group_offsets(admin, group, partitions)
            offsets = {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}
            return {tp: offsets.get(tp, begin[tp]) for tp in partitions}

        last = await committed()
        while True:
            await asyncio.sleep(settle)
            now = await committed()
            if now == last:
                return now
            last = now
    finally:
        await admin.close()


# A broker that has just started has no group coordinator for a while (it is still creating
# __consumer_offsets): asking then is answered by these, and asking again a moment later works.
_COORDINATOR_NOT_READY = (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError)
COORDINATOR_WAIT_SECONDS = 30.0


async def _group_offsets(
    admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, OffsetAndMetadata]:
    """The group's committed offsets, waiting up to ``COORDINATOR_WAIT_SECONDS`` for a broker
    that is still electing its group coordinator."""
    deadline = time.monotonic() + COORDINATOR_WAIT_SECONDS
    while True:
        try:
            found: dict[
                TopicPartition, OffsetAndMetadata
            ] = await admin.list_consumer_group_offsets(group, partitions=partitions)
            return found
        except _COORDINATOR_NOT_READY:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _swap(
    db: AsyncDatabase[Document], fresh: str, live: str, keep_previous: bool
) -> str | None:
    """Rename ``fresh`` to ``live``; FerretDB cannot rename onto an existing collection, so the
    old one is renamed away first (readers see no collection for that moment, not stale data)."""
    if live not in await db.list_collection_names():
        await db[fresh].rename(live)
        return None
    previous = f"{live}__previous_{datetime.now(UTC):%Y%m%dT%H%M%S}"
    await db[live].rename(previous)
    try:
        await db[fresh].rename(live)
    except BaseException:
        await db[previous].rename(live)
        raise
    if keep_previous:
        return previous
    await db[previous].drop()
    return None


async def _quietly_drop(db: AsyncDatabase[Document], name: str) -> None:
    with contextlib.suppress(PyMongoError):
        await db[name].drop()
