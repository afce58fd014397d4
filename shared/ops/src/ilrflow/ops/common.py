"""What every ``ilrflow`` command shares: settings, errors with exit codes, JSON output, and
reading a range of a topic straight from the broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from ilrflow.platform.auth import mint_token
from ilrflow.platform.settings import Settings

T = TypeVar("T")

# Exit codes (documented in docs/operations.md).
EXIT_FAILED = 1  # the command ran and found a problem (broken audit chain, failed redrive)
EXIT_USAGE = 2  # bad arguments (typer uses 2 as well)
EXIT_UNAVAILABLE = 3  # Kafka, the database or a service could not be reached
EXIT_NOT_FOUND = 4  # the topic, record or tenant does not exist


def settings() -> Settings:
    # Not cached: tests run several commands with different environments in one process.
    return Settings()


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def run(coroutine_factory: Callable[[], Awaitable[T]]) -> T:
    """Run an async step; turn broker outages into a clear message and exit code 3."""

    async def guarded() -> T:
        return await coroutine_factory()

    try:
        return asyncio.run(guarded())
    except KafkaConnectionError as error:
        fail(f"cannot reach Kafka: {error}", EXIT_UNAVAILABLE)
    except KafkaError as error:
        fail(f"Kafka error: {error!r}", EXIT_UNAVAILABLE)


def operator_token(
    settings: Settings, tenant: str, roles: list[str], sub: str = "ilrflow-cli"
) -> str:
    """A short-lived token the CLI signs itself (it holds ILRFLOW_JWT_SECRET, as services do)."""
    return mint_token(settings, tenant=tenant, sub=sub, roles=roles, ttl_seconds=300)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode(errors="replace")


async def new_consumer(settings: Settings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        client_id="ilrflow-cli",
        request_timeout_ms=15_000,
    )
    await consumer.start()
    return consumer


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(partitions or [])]


async def read_range(
    settings: Settings,
    topic: str,
    *,
    partition: int | None = None,
    since_offset: int = 0,
    limit: int | None = None,
    accept: Callable[[Record], bool] = lambda _: True,
) -> list[Record]:
    """Records of ``topic`` (a physical name) from ``since_offset`` on each partition (or one) up
    to the end offsets as they were when reading began; at most ``limit`` accepted ones, in
    (partition, offset) order."""
    consumer = await new_consumer(settings)
    try:
        partitions = await partitions_of(consumer, topic)
        if not partitions:
            fail(f"topic {topic!r} does not exist", EXIT_NOT_FOUND)
        if partition is not None:
            partitions = [tp for tp in partitions if tp.partition == partition]
            if not partitions:
                fail(f"topic {topic!r} has no partition {partition}", EXIT_NOT_FOUND)
        consumer.assign(partitions)
        begin = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, max(since_offset, begin[tp]))
        pending = {tp for tp in partitions if max(since_offset, begin[tp]) < end[tp]}
        found: list[Record] = []
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, messages in batches.items():
                for message in messages:
                    if message.offset >= end[tp]:
                        pending.discard(tp)
                        break
                    found.append(
                        Record(
                            topic=message.topic,
                            partition=message.partition,
                            offset=message.offset,
                            timestamp=message.timestamp,
                            key=message.key,
                            value=message.value,
                            headers=dict(message.headers),
                        )
                    )
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        found.sort(key=lambda r: (r.partition, r.offset))
        accepted = [r for r in found if accept(r)]
        return accepted[:limit] if limit is not None else accepted
    finally:
        await consumer.stop()
