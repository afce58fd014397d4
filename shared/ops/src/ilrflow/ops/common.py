"""What every ``ilrflow`` command shares: settings, errors with exit codes, JSON output, and
reading a range of a topic straight from the broker.

With ``--json`` stdout holds exactly one JSON document: the result, or, when the command fails,
``{"error": {"exit_code": N, "kind": "...", "message": "...", "details": [...]}}`` (``details``
only where there are some, e.g. the fields a service refused). Nothing else is printed then.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlencode

import httpx
import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from pymongo.errors import ConnectionFailure
from typer.core import TyperGroup

from ilrflow.contracts.events import check_tenant_id
from ilrflow.platform.auth import mint_token
from ilrflow.platform.lanes import POOLED, lane_topics, split_topic
from ilrflow.platform.paging import MAX_PAGE_SIZE
from ilrflow.platform.settings import Settings

T = TypeVar("T")

# Exit codes (documented in docs/operations.md).
EXIT_FAILED = 1  # the command ran and found a problem (broken audit chain, failed redrive)
EXIT_USAGE = 2  # bad arguments (typer uses 2 as well)
EXIT_UNAVAILABLE = 3  # Kafka, the database or a service could not be reached
EXIT_NOT_FOUND = 4  # the topic, record, tenant or staff member does not exist

# The ``kind`` of a JSON error, by exit code: stable names for scripts.
ERROR_KINDS = {
    EXIT_FAILED: "failed",
    EXIT_USAGE: "usage",
    EXIT_UNAVAILABLE: "unavailable",
    EXIT_NOT_FOUND: "not_found",
}


def settings() -> Settings:
    # Not cached: tests run several commands with different environments in one process.
    return Settings()


def fail(
    message: str, code: int = EXIT_FAILED, details: list[dict[str, Any]] | None = None
) -> NoReturn:
    """Stop the command with ``code``: a JSON error object on stdout under ``--json``, a red
    ``error:`` line on stderr otherwise."""
    if _json_wanted():
        emit_json(error_document(message, code, details))
    else:
        typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def error_document(
    message: str, code: int, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "exit_code": code,
        "kind": ERROR_KINDS.get(code, "failed"),
        "message": message,
    }
    if details:
        error["details"] = details
    return {"error": error}


# Set by ``JsonErrorsGroup.main`` for the command line being run: one command per process (and
# per ``CliRunner.invoke`` in tests, which goes through ``main`` too).
_json_output = False


def _json_wanted() -> bool:
    return _json_output


def tenant_id(text: str) -> str:
    """A tenant id given on the command line, checked against the one pattern (exit 2)."""
    try:
        return check_tenant_id(text)
    except ValueError as error:
        fail(str(error), EXIT_USAGE)


class JsonErrorsGroup(TyperGroup):
    """The top-level command group: with ``--json`` anywhere on the command line, even the
    parser's own usage errors (a missing argument, an unknown option) and unexpected exceptions
    come out as the JSON error object."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        global _json_output
        argv = list(sys.argv[1:] if args is None else args)
        _json_output = "--json" in argv
        if not _json_output or not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(argv, prog_name, complete_var, False, **extra)
        except typer.Abort:
            emit_json(error_document("aborted", EXIT_FAILED))
            sys.exit(EXIT_FAILED)
        except Exception as error:
            usage = _usage_error(error)
            if usage is not None:
                emit_json(error_document(*usage))
                sys.exit(usage[1])
            traceback.print_exc()  # a bug: the traceback to stderr, the promised shape to stdout
            emit_json(error_document(f"unexpected error: {error!r}", EXIT_FAILED))
            sys.exit(EXIT_FAILED)
        sys.exit(code if isinstance(code, int) else 0)


def _usage_error(error: Exception) -> tuple[str, int] | None:
    """(message, exit code) of the parser's own errors (click's ``ClickException``, which typer
    vendors privately, so it is recognised by its shape)."""
    code = getattr(error, "exit_code", None)
    format_message = getattr(error, "format_message", None)
    if isinstance(code, int) and callable(format_message):
        return str(format_message()), code
    return None


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def run(coroutine_factory: Callable[[], Awaitable[T]]) -> T:
    """Run an async step; turn broker and database outages into a clear message and exit code
    3."""

    async def guarded() -> T:
        return await coroutine_factory()

    try:
        return asyncio.run(guarded())
    except KafkaConnectionError as error:
        fail(f"cannot reach Kafka: {error}", EXIT_UNAVAILABLE)
    except KafkaError as error:
        fail(f"Kafka error: {error!r}", EXIT_UNAVAILABLE)
    except ConnectionFailure as error:
        fail(f"cannot reach the database: {error}", EXIT_UNAVAILABLE)


def call_service(
    http: httpx.Client, service: str, base_url: str, method: str, path: str, body: Any = None
) -> Any:
    """One request to a service's API and its JSON answer; a refusal stops the command with
    the service's own words (a 422 field by field, exit 2; a 404, exit 4; unreachable, exit 3)."""
    try:
        response = http.request(method, f"{base_url.rstrip('/')}{path}", json=body)
    except httpx.TransportError as error:
        fail(f"cannot reach the {service} service at {base_url}: {error}", EXIT_UNAVAILABLE)
    if response.status_code == 404:
        fail(f"{service} service: {_message(response)} ({method} {path})", EXIT_NOT_FOUND)
    if response.status_code == 422:
        _invalid(service, method, path, response)
    if response.status_code >= 300:
        fail(f"{service} service answered {response.status_code}: {response.text[:500]}")
    return response.json()


def every_item(http: httpx.Client, service: str, base_url: str, path: str) -> list[Any]:
    """Every item of one of a service's lists, page after page (``{items, next_cursor}``)."""
    items: list[Any] = []
    params: dict[str, Any] = {"limit": MAX_PAGE_SIZE}
    while True:
        page = call_service(http, service, base_url, "GET", f"{path}?{urlencode(params)}")
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


def _invalid(service: str, method: str, path: str, response: httpx.Response) -> NoReturn:
    try:
        details = response.json().get("errors") or []
    except (ValueError, KeyError, TypeError, AttributeError):
        details = []
    lines = [f"{service} service refused {method} {path}:"]
    if isinstance(details, list) and details:
        lines += [f"  {d.get('field', '?')}: {d.get('reason', d)}" for d in details]
    else:
        lines.append(f"  {response.text[:500]}")
    fail("\n".join(lines), EXIT_USAGE, details if isinstance(details, list) else None)


def operator_token(
    settings: Settings, tenant: str, roles: list[str], sub: str = "ilrflow-cli"
) -> str:
    """A short-lived token the CLI signs itself (it holds ILRFLOW_JWT_SECRET, as services do)."""
    return mint_token(settings, tenant=tenant, sub=sub, roles=roles, ttl_seconds=300)


def deployment_topics(prefix: str, on_broker: set[str]) -> list[str]:
    """The logical names of this deployment's topics: every pooled topic and dead-letter topic,
    then those of each lane that has topics on the broker (lanes sorted by name)."""
    pooled = lane_topics(POOLED)
    lanes = sorted(
        {
            split_topic(name.removeprefix(prefix))[0]
            for name in on_broker
            if name.startswith(prefix) and split_topic(name.removeprefix(prefix))[1] in pooled
        }
        - {POOLED}
    )
    wanted = pooled + [t for lane in lanes for t in lane_topics(lane)]
    return [t for t in wanted if t in pooled or prefix + t in on_broker]


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
