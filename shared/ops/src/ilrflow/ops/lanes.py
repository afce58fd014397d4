"""``ilrflow lanes list|promote|demote``: move a tenant between the pooled lane and a dedicated one
without losing or reordering an event.

A move is four steps (docs/operations.md, "Lanes"): pause the tenant and wait until every live
relay has acknowledged the pause; note where the old lane's topics end; wait until every consumer
group of the deployment has committed past those offsets; switch the route and resume. Until the
switch nothing about the tenant changes, so a failure before it simply resumes the tenant.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import typer
from aiokafka.admin import AIOKafkaAdminClient
from pymongo.errors import ConnectionFailure

from ilrflow.ops.common import (
    EXIT_FAILED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    emit_json,
    fail,
    new_consumer,
    partitions_of,
    run,
    settings,
    tenant_id,
)
from ilrflow.platform.kafka import all_topics, ensure_topics
from ilrflow.platform.lanes import (
    POOLED,
    LaneError,
    Partition,
    RelayAck,
    RoutingTable,
    behind,
    lagging_groups,
    lane_topics,
    live_relays,
    validate_lane,
)
from ilrflow.platform.mongo import create_client
from ilrflow.platform.routing import RoutingStore
from ilrflow.platform.settings import Settings

app = typer.Typer(
    help="Dedicated lanes: which tenants have topics and consumers of their own.",
    no_args_is_help=True,
)

T = TypeVar("T")
POLL_SECONDS = 0.5
PROGRESS_SECONDS = 5.0
LIVENESS_DEFAULT = timedelta(seconds=15)

TIMEOUT = typer.Option(120.0, help="Seconds to wait for relays, then for the old lane to drain.")
LIVENESS = typer.Option(
    15.0, help="A relay that has not reported for this many seconds counts as stopped."
)
AS_JSON = typer.Option(False, "--json", help="Machine-readable output.")


class MoveError(Exception):
    """The move could not finish; the tenant was resumed on its old lane."""


@dataclass
class Waits:
    timeout: float
    liveness: timedelta


@app.command("list")
def lanes_list(as_json: bool = AS_JSON) -> None:
    """The routing table (promoted tenants, paused ones) and every live relay's version."""
    s = settings()
    table, relays = _mongo(lambda store: _listing(store), s)
    now = datetime.now(UTC)
    live = live_relays(relays, now, LIVENESS_DEFAULT)
    if as_json:
        emit_json(
            {
                "version": table.version,
                "routes": dict(sorted(table.lanes.items())),
                "paused": sorted(table.paused),
                "relays": [_relay_json(r, now) for r in live],
            }
        )
        return
    typer.echo(f"routing table version {table.version}; every other tenant is {POOLED}")
    for tenant, lane in sorted(table.lanes.items()):
        typer.echo(f"  {tenant} -> lane {lane}")
    for tenant in sorted(table.paused):
        typer.echo(f"  {tenant}: PAUSED (a move did not finish; promote or demote it again)")
    typer.echo(f"{len(live)} live relay(s):")
    for relay in live:
        typer.echo(
            f"  {relay.process} lanes={','.join(relay.lanes)} version={relay.version} "
            f"seen {(now - relay.seen_at).total_seconds():.0f}s ago"
        )


@app.command("promote")
def lanes_promote(
    tenant: str = typer.Argument(..., help="The tenant id."),
    lane: str = typer.Argument(..., help="The dedicated lane, e.g. 'acme' (topics lane-acme.*)."),
    timeout: float = TIMEOUT,
    liveness: float = LIVENESS,
    as_json: bool = AS_JSON,
) -> None:
    """Give TENANT a dedicated LANE: its own topics and the consumers that serve that lane."""
    if lane == POOLED:
        fail("promote to a dedicated lane; to go back to the pooled one use `demote`", EXIT_USAGE)
    _move_command(tenant, lane, Waits(timeout, timedelta(seconds=liveness)), as_json)


@app.command("demote")
def lanes_demote(
    tenant: str = typer.Argument(..., help="The tenant id."),
    timeout: float = TIMEOUT,
    liveness: float = LIVENESS,
    as_json: bool = AS_JSON,
) -> None:
    """Send TENANT back to the pooled topics and consumers."""
    _move_command(tenant, POOLED, Waits(timeout, timedelta(seconds=liveness)), as_json)


def _move_command(tenant: str, lane: str, waits: Waits, as_json: bool) -> None:
    try:
        validate_lane(lane)
    except LaneError as error:
        fail(str(error), EXIT_USAGE)
    tenant_id(tenant)
    s = settings()
    try:
        result = _mongo(lambda store: move(s, store, tenant, lane, waits, _progress), s)
    except MoveError as error:
        fail(str(error), EXIT_FAILED)
    if as_json:
        emit_json(result)
    elif result["changed"]:
        typer.echo(
            f"{tenant}: {result['from']} -> {result['to']} (table version {result['version']}, "
            f"{result['seconds']:.1f}s)"
        )
    else:
        typer.echo(f"{tenant} is already on lane {lane}: nothing to do")


def _progress(message: str) -> None:
    typer.secho(f"{datetime.now(UTC):%H:%M:%S} {message}", err=True, fg=typer.colors.BLUE)


# --- the move --------------------------------------------------------------------------------


async def move(
    s: Settings,
    store: RoutingStore,
    tenant: str,
    target: str,
    waits: Waits,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    started = time.monotonic()
    table = await store.read()
    source = table.lane_of(tenant)
    if source == target and tenant not in table.paused:
        return {"tenant": tenant, "from": source, "to": target, "changed": False,
                "version": table.version}  # fmt: skip
    await _require_live_relay(store, target, waits.liveness)
    progress(f"ensuring the topics of lane {target}")
    await ensure_topics(
        s.kafka_bootstrap, s.topic_partitions, all_topics(s.topic_prefix, [target]),
        prefix=s.topic_prefix,
    )  # fmt: skip
    paused = await _write(store, table, table.pause(tenant))
    progress(f"paused {tenant} (table version {paused.version}); waiting for every relay")
    try:
        relays = await _until_relays_apply(store, paused.version, waits, progress)
        end_offsets = await _end_offsets(s, source)
        progress(f"waiting for every consumer group to pass the end of lane {source}")
        await _until_drained(s, end_offsets, waits, progress)
    except BaseException:
        resumed = await _write(store, paused, paused.resume(tenant))
        progress(f"resumed {tenant} on lane {source} (table version {resumed.version})")
        raise
    switched = await _write(store, paused, paused.move(tenant, target))
    progress(f"switched {tenant} to lane {target} and resumed (table version {switched.version})")
    return {
        "tenant": tenant,
        "from": source,
        "to": target,
        "changed": True,
        "version": switched.version,
        "paused_version": paused.version,
        "relays": [r.process for r in relays],
        "drained": _offsets_json(s, end_offsets),
        "seconds": round(time.monotonic() - started, 3),
    }


async def _write(store: RoutingStore, current: RoutingTable, wanted: RoutingTable) -> RoutingTable:
    if wanted.version == current.version:
        return current
    if not await store.write(wanted, expected_version=current.version):
        raise MoveError(
            f"the routing table changed under us (expected version {current.version}); "
            "is another lane move running? check `ilrflow lanes list` and retry"
        )
    return wanted


async def _require_live_relay(store: RoutingStore, lane: str, liveness: timedelta) -> None:
    live = live_relays(await store.relay_acks(), datetime.now(UTC), liveness)
    if not [r for r in live if lane in r.lanes]:
        raise MoveError(
            f"no live process serves lane {lane!r}: start its services with ILRFLOW_LANES={lane} "
            "first (e.g. deploy/k8s/overlays/lane-acme), then retry"
        )


async def _until_relays_apply(
    store: RoutingStore, version: int, waits: Waits, progress: Callable[[str], None]
) -> list[RelayAck]:
    deadline = time.monotonic() + waits.timeout
    while True:
        live = live_relays(await store.relay_acks(), datetime.now(UTC), waits.liveness)
        waiting = behind(live, version)
        if not waiting:
            progress(f"{len(live)} relay(s) applied version {version}")
            return live
        if time.monotonic() > deadline:
            names = ", ".join(f"{r.process} (at {r.version})" for r in waiting)
            raise MoveError(f"relays did not apply version {version} in time: {names}")
        await asyncio.sleep(POLL_SECONDS)


async def _end_offsets(s: Settings, lane: str) -> dict[Partition, int]:
    consumer = await new_consumer(s)
    try:
        partitions = [
            tp
            for topic in lane_topics(lane, dead_letters=False)
            for tp in await partitions_of(consumer, s.topic_prefix + topic)
        ]
        ends = await consumer.end_offsets(partitions)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def _until_drained(
    s: Settings,
    end_offsets: dict[Partition, int],
    waits: Waits,
    progress: Callable[[str], None],
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, client_id="ilrflow-cli")
    await admin.start()
    try:
        deadline = time.monotonic() + waits.timeout
        reported = time.monotonic()
        while True:
            lagging = lagging_groups(end_offsets, await _committed(admin, f"{s.db_prefix}."))
            if not lagging:
                progress("every consumer group has passed the old lane's end offsets")
                return
            detail = "; ".join(
                f"{group} behind by {sum(lags.values())}" for group, lags in lagging.items()
            )
            if time.monotonic() > deadline:
                raise MoveError(f"the old lane did not drain in time: {detail}")
            if time.monotonic() - reported >= PROGRESS_SECONDS:
                progress(f"still draining: {detail}")
                reported = time.monotonic()
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await admin.close()


async def _committed(admin: AIOKafkaAdminClient, prefix: str) -> dict[str, dict[Partition, int]]:
    groups = [g[0] for g in await admin.list_consumer_groups() if str(g[0]).startswith(prefix)]
    committed = {}
    for group in groups:
        offsets = await admin.list_consumer_group_offsets(group)
        committed[group] = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    return committed


# --- plumbing --------------------------------------------------------------------------------


async def _listing(store: RoutingStore) -> tuple[RoutingTable, list[RelayAck]]:
    return await store.read(), await store.relay_acks()


def _mongo(step: Callable[[RoutingStore], Awaitable[T]], s: Settings) -> T:
    """Run ``step`` with the platform database; a database outage is exit code 3."""

    async def with_store() -> T:
        client = create_client(s)
        try:
            return await step(RoutingStore.of(client, s))
        finally:
            await client.close()

    try:
        return run(with_store)
    except ConnectionFailure as error:
        fail(f"cannot reach the database: {error}", EXIT_UNAVAILABLE)


def _offsets_json(s: Settings, offsets: dict[Partition, int]) -> dict[str, dict[str, int]]:
    by_topic: dict[str, dict[str, int]] = {}
    for (topic, partition), offset in sorted(offsets.items()):
        by_topic.setdefault(topic.removeprefix(s.topic_prefix), {})[str(partition)] = offset
    return by_topic


def _relay_json(relay: RelayAck, now: datetime) -> dict[str, Any]:
    return {
        "process": relay.process,
        "service": relay.service,
        "lanes": list(relay.lanes),
        "version": relay.version,
        "seen_seconds_ago": round((now - relay.seen_at).total_seconds(), 1),
    }
