"""``ilrflow dlt list|show|redrive``: inspect dead letters and send them back.

``dlt list`` without a topic is the overview: every dead-letter topic of the deployment (lanes
included) with how many dead letters each holds per partition, from the broker's offsets alone.

A dead letter is the original record (key, value, headers) plus ``dlt_*`` headers saying where it
came from and why. Every consumer group that failed on a record dead-letters its own copy, so one
original record can have several dead letters; ``redrive`` republishes each original record once
(deduplicated by original partition and offset) with its key and headers, minus the ``dlt_*``
headers, plus ``redriven_by``/``redriven_at`` and ``redrive_groups``: the consumer groups whose
dead letters were selected. Only those groups handle the copy (``ilrflow.platform.kafka``); the
groups that had handled the original skip it, however long ago that was (their idempotency marks
recognise a copy by its event id only among an aggregate's recent events). Each redrive is
recorded in the ``ilrflow_redrive`` collection of the ``<db_prefix>_ops`` database, and a dead
letter already re-driven is skipped unless ``--force``.
"""

from __future__ import annotations

import asyncio
import getpass
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaProducer

from ilrflow.contracts.events import Topics, dead_letter_topic
from ilrflow.ops.common import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    Record,
    deployment_topics,
    emit_json,
    fail,
    new_consumer,
    partitions_of,
    read_range,
    run,
    settings,
)
from ilrflow.platform.kafka import REDRIVE_GROUPS_HEADER
from ilrflow.platform.lanes import base_topic
from ilrflow.platform.mongo import create_client
from ilrflow.platform.settings import Settings

# The options that select dead letters, shared by ``list`` and ``redrive``.
OriginalTopic = Annotated[
    str, typer.Argument(help="The original topic, e.g. tracker-processed.", show_default=False)
]
DeadLetterPartition = Annotated[int | None, typer.Option(help="Only this dead-letter partition.")]
SinceOffset = Annotated[
    int, typer.Option(help="Start at this offset in each dead-letter partition.")
]
Limit = Annotated[int | None, typer.Option(min=1, help="At most this many dead letters read.")]
Key = Annotated[str | None, typer.Option(help="Only records with this key (<tenant>:<learner>).")]
EventId = Annotated[str | None, typer.Option(help="Only records with this ce_id.")]
Group = Annotated[str | None, typer.Option(help="Only dead letters of this consumer group.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

app = typer.Typer(help="Dead letters: list, show and re-drive them.", no_args_is_help=True)

REDRIVE_COLLECTION = "ilrflow_redrive"
OPS_DATABASE = "ops"  # <db_prefix>_ops


def _logical_topic(topic: str) -> str:
    """Accept ``tracker-processed`` or ``tracker-processed.dlt`` (or a lane's,
    ``lane-acme.tracker-processed``); return the original topic."""
    original = topic.removesuffix(".dlt")
    if base_topic(original) not in Topics.ALL:
        fail(
            f"unknown topic {topic!r}; known: {', '.join(Topics.ALL)} (or lane-<name>.<topic>)",
            EXIT_USAGE,
        )
    return original


def _summary(record: Record) -> dict[str, Any]:
    return {
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(),
        "original_partition": _int(record.header("dlt_original_partition")),
        "original_offset": _int(record.header("dlt_original_offset")),
        "group": record.header("dlt_consumer_group"),
        "error_class": record.header("dlt_error_class"),
        "reason": record.header("dlt_reason"),
        "event_type": record.header("ce_type"),
        "event_id": record.header("ce_id"),
        "key": record.key.decode(errors="replace") if record.key is not None else None,
    }


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _identity(record: Record) -> tuple[str, int | None, int | None]:
    """The original record a dead letter is a copy of (its own coordinates if it does not say)."""
    partition = _int(record.header("dlt_original_partition"))
    offset = _int(record.header("dlt_original_offset"))
    if partition is None or offset is None:
        return ("dlt", record.partition, record.offset)
    return ("original", partition, offset)


def _identity_of_entry(entry: dict[str, Any]) -> tuple[str, int | None, int | None]:
    if entry.get("original_partition") is None or entry.get("original_offset") is None:
        return ("dlt", entry["dlt_partition"], entry["dlt_offset"])
    return ("original", entry["original_partition"], entry["original_offset"])


def _filter(key: str | None, event_id: str | None, group: str | None) -> Any:
    def accept(record: Record) -> bool:
        if key is not None and (record.key or b"").decode(errors="replace") != key:
            return False
        if event_id is not None and record.header("ce_id") != event_id:
            return False
        return group is None or record.header("dlt_consumer_group") == group

    return accept


def _groups_by_original(
    records: list[Record],
) -> dict[tuple[str, int | None, int | None], list[str] | None]:
    """Per original record, the consumer groups whose dead letters of it are selected (None:
    a dead letter that does not name its group, so every group is sent the copy)."""
    groups: dict[tuple[str, int | None, int | None], list[str] | None] = {}
    for record in records:
        identity, group = _identity(record), record.header("dlt_consumer_group")
        known = groups.get(identity, [])
        groups[identity] = None if known is None or not group else sorted({*known, group})
    return groups


@app.command("list")
def list_(
    topic: Annotated[
        str | None,
        typer.Argument(
            help="The original topic, e.g. tracker-processed; without it, an overview of every "
            "dead-letter topic.",
            show_default=False,
        ),
    ] = None,
    partition: DeadLetterPartition = None,
    since_offset: SinceOffset = 0,
    limit: Limit = None,
    key: Key = None,
    event_id: EventId = None,
    group: Group = None,
    as_json: AsJson = False,
) -> None:
    """List the dead letters of a topic: partition, offset, reason, event type, key; without a
    topic, how many dead letters every dead-letter topic holds."""
    s = settings()
    if topic is None:
        filters = (partition, limit, key, event_id, group)
        if since_offset or any(f is not None for f in filters):
            fail("the filters need a topic: ilrflow dlt list TOPIC [filters]", EXIT_USAGE)
        _print_overview(run(lambda: overview(s)), as_json)
        return
    records = run(
        lambda: read_range(
            s,
            s.topic_prefix + dead_letter_topic(_logical_topic(topic)),
            partition=partition,
            since_offset=since_offset,
            limit=limit,
            accept=_filter(key, event_id, group),
        )
    )
    rows = [_summary(r) for r in records]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no dead letters")
        return
    for row in rows:
        typer.echo(
            f"{row['partition']}:{row['offset']}  {row['event_type'] or '-'}  key={row['key']}  "
            f"group={row['group']}  {row['error_class']}: {row['reason']}"
        )
    typer.echo(f"{len(rows)} dead letter(s)")


async def overview(s: Settings) -> list[dict[str, Any]]:
    """Every dead-letter topic of the deployment and how many records each partition holds."""
    consumer = await new_consumer(s)
    try:
        logical = deployment_topics(s.topic_prefix, set(await consumer.topics()))
        report = []
        for name in (t for t in logical if t.endswith(".dlt")):
            partitions = await partitions_of(consumer, s.topic_prefix + name)
            begin = await consumer.beginning_offsets(partitions) if partitions else {}
            end = await consumer.end_offsets(partitions) if partitions else {}
            counts = {tp.partition: end[tp] - begin[tp] for tp in partitions}
            report.append(
                {
                    "topic": name.removesuffix(".dlt"),
                    "dead_letter_topic": name,
                    "physical": s.topic_prefix + name,
                    "dead_letters": sum(counts.values()),
                    "partitions": counts,
                }
            )
        return report
    finally:
        await consumer.stop()


def _print_overview(report: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        emit_json(report)
        return
    for item in report:
        per_partition = " ".join(f"{p}:{n}" for p, n in item["partitions"].items() if n)
        typer.echo(
            f"{item['dead_letter_topic']:<40} {item['dead_letters']:>6}"
            + (f"  ({per_partition})" if per_partition else "")
        )
    total = sum(item["dead_letters"] for item in report)
    typer.echo(
        f"{total} dead letter(s) in {len(report)} dead-letter topic(s); "
        "`ilrflow dlt list TOPIC` lists a topic's"
    )


@app.command("show")
def show(
    topic: OriginalTopic,
    partition: int = typer.Argument(..., help="Dead-letter partition."),
    offset: int = typer.Argument(..., help="Dead-letter offset."),
    as_json: AsJson = False,
) -> None:
    """Show one dead letter whole: headers, key and value."""
    s = settings()
    records = run(
        lambda: read_range(
            s,
            s.topic_prefix + dead_letter_topic(_logical_topic(topic)),
            partition=partition,
            since_offset=offset,
            limit=1,
        )
    )
    if not records or records[0].offset != offset:
        fail(f"no dead letter at {topic}.dlt partition {partition} offset {offset}", EXIT_NOT_FOUND)
    record = records[0]
    value = record.value or b""
    try:
        shown_value: str = value.decode()
        encoding = "utf-8"
    except UnicodeDecodeError:
        shown_value, encoding = value.hex(), "hex"
    detail = {
        **_summary(record),
        "headers": {k: v.decode(errors="replace") for k, v in record.headers.items()},
        "value": shown_value,
        "value_encoding": encoding,
    }
    if as_json:
        emit_json(detail)
        return
    for name in ("partition", "offset", "timestamp", "key", "group", "error_class", "reason"):
        typer.echo(f"{name}: {detail[name]}")
    typer.echo("headers:")
    for k, v in detail["headers"].items():
        typer.echo(f"  {k}: {v}")
    typer.echo(f"value ({encoding}):")
    typer.echo(shown_value)


def _parse_set_headers(pairs: list[str]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            fail(f"--set-header wants NAME=VALUE, got {pair!r}", EXIT_USAGE)
        if name.startswith("dlt_") or name in {"redriven_by", "redriven_at"}:
            fail(f"--set-header may not set {name!r}", EXIT_USAGE)
        parsed[name] = value
    return parsed


def _parse_rate(rate: str) -> float:
    text = rate.removesuffix("/s")
    try:
        value = float(text)
    except ValueError:
        fail(f"--rate wants records per second like 10 or 10/s, got {rate!r}", EXIT_USAGE)
    if value <= 0:
        fail("--rate must be positive", EXIT_USAGE)
    return value


@app.command("redrive")
def redrive(
    topic: OriginalTopic,
    partition: DeadLetterPartition = None,
    since_offset: SinceOffset = 0,
    limit: Limit = None,
    key: Key = None,
    event_id: EventId = None,
    group: Group = None,
    set_header: list[str] = typer.Option(
        [], help="Repair: set header NAME=VALUE on the republished record (repeatable)."
    ),
    rate: str = typer.Option("50/s", help="At most this many records per second."),
    by: str = typer.Option(
        None, help="Who is re-driving (recorded); default: the login name.", show_default=False
    ),
    force: bool = typer.Option(False, help="Also re-drive dead letters re-driven before."),
    dry_run: bool = typer.Option(False, help="Show what would be re-driven; publish nothing."),
    as_json: AsJson = False,
) -> None:
    """Republish dead letters' original records to the original topic (rate-limited, recorded)."""
    s = settings()
    logical = _logical_topic(topic)
    repairs = _parse_set_headers(set_header)
    per_second = _parse_rate(rate)
    operator = by or getpass.getuser()
    records = run(
        lambda: read_range(
            s,
            s.topic_prefix + dead_letter_topic(logical),
            partition=partition,
            since_offset=since_offset,
            limit=limit,
            accept=_filter(key, event_id, group),
        )
    )
    result = run(
        lambda: _redrive(
            s, logical, records, repairs, per_second, operator, force, dry_run, not as_json
        )
    )
    if as_json:
        emit_json(result)
    else:
        typer.echo(
            f"{'would re-drive' if dry_run else 're-drove'} {len(result['redriven'])} record(s) "
            f"to {logical}; {len(result['duplicates'])} duplicate dead letter(s) of the same "
            f"record(s), {len(result['already_redriven'])} re-driven before (use --force)"
        )
        for item in result["redriven"]:
            typer.echo(
                f"  {item['dlt_partition']}:{item['dlt_offset']} -> "
                f"{logical}[{item.get('partition', '?')}]@{item.get('offset', '?')}  "
                f"event {item['event_id']}"
            )
    if result["failed"]:
        fail(f"{len(result['failed'])} record(s) could not be re-driven", EXIT_FAILED)


async def _redrive(
    s: Settings,
    logical: str,
    records: list[Record],
    repairs: dict[str, str],
    per_second: float,
    operator: str,
    force: bool,
    dry_run: bool,
    progress: bool,
) -> dict[str, Any]:
    client = create_client(s)
    ledger = client[s.database_name(OPS_DATABASE)][REDRIVE_COLLECTION]
    try:
        # Keyed by the original record's coordinates: its other groups' dead letters are done too.
        done_before: set[tuple[str, int | None, int | None]] = set()
        if not force:
            async for done in ledger.find({"topic": logical}):
                done_before.add(_identity_of_entry(done))
    except Exception as error:
        await client.close()
        fail(f"cannot reach the database for the redrive ledger: {error}", EXIT_UNAVAILABLE)

    result: dict[str, list[dict[str, Any]]] = {
        "redriven": [],
        "duplicates": [],
        "already_redriven": [],
        "failed": [],
    }
    chosen: list[Record] = []
    originals: set[tuple[str, int | None, int | None]] = set()
    groups = _groups_by_original(records)
    for record in records:
        coordinates = {"dlt_partition": record.partition, "dlt_offset": record.offset}
        identity = _identity(record)
        if identity in done_before:
            result["already_redriven"].append(coordinates)
        elif identity in originals:
            result["duplicates"].append(coordinates)
        else:
            originals.add(identity)
            chosen.append(record)

    producer: AIOKafkaProducer | None = None
    if not dry_run:
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
    interval = 1.0 / per_second
    try:
        with typer.progressbar(
            chosen, label="re-driving", hidden=not progress or dry_run or len(chosen) < 2
        ) as bar:
            for record in bar:
                started = time.monotonic()
                redriven_at = datetime.now(UTC).isoformat()
                headers = {k: v for k, v in record.headers.items() if not k.startswith("dlt_")} | {
                    k: v.encode() for k, v in repairs.items()
                }
                headers["redriven_by"] = operator.encode()
                headers["redriven_at"] = redriven_at.encode()
                for_groups = groups[_identity(record)]
                if for_groups is not None:
                    headers[REDRIVE_GROUPS_HEADER] = ",".join(for_groups).encode()
                entry: dict[str, Any] = {
                    "topic": logical,
                    "dlt_partition": record.partition,
                    "dlt_offset": record.offset,
                    "original_partition": _int(record.header("dlt_original_partition")),
                    "original_offset": _int(record.header("dlt_original_offset")),
                    "event_id": record.header("ce_id"),
                    "event_type": record.header("ce_type"),
                    "key": record.key.decode(errors="replace") if record.key else None,
                    "set_headers": repairs,
                    "groups": for_groups,
                    "redriven_by": operator,
                    "redriven_at": redriven_at,
                }
                if producer is None:
                    result["redriven"].append(entry)
                    continue
                try:
                    sent = await producer.send_and_wait(
                        s.topic_prefix + logical,
                        record.value,
                        key=record.key,
                        headers=list(headers.items()),
                    )
                except Exception as error:
                    result["failed"].append({**entry, "error": str(error)})
                    continue
                entry |= {"partition": sent.partition, "offset": sent.offset}
                await ledger.insert_one(dict(entry))
                result["redriven"].append(entry)
                wait = interval - (time.monotonic() - started)
                if wait > 0:
                    await asyncio.sleep(wait)  # the rate limit
    finally:
        if producer is not None:
            await producer.stop()
        await client.close()
    return result
