"""A downstream system's copy of every learner's current ILR, kept from Kafka alone.

1. Note where ``ilr-updated`` ends now.
2. Read the compacted ``ilr-state`` topic from the beginning to its end: the latest record per
   ``<tenant>:<learner>`` key is that learner's whole current ILR.
3. Follow ``ilr-updated`` from the offsets noted in step 1: apply each ``applied`` patch whose
   version is the next one; skip versions already held; when a version is missing (or the
   learner is new to us), refetch that learner's record from ``ilr-state``.

Why that order is enough: the ILR service writes a learner's ``ilr-state`` record before its
``ilr-updated`` event, so every update that ended before step 1 is already in ``ilr-state``.

A record that is not a well-formed ``ilr-state`` / ``ilr-updated`` event (not a CloudEvent, another
event type, not JSON, JSON nested too deeply to parse, fields missing or of the wrong type, no
tenant, a patch that does not apply) is skipped: it is logged with its topic, partition, offset and
the reason, kept in ``IlrMirror.skipped``, and the mirror carries on with the next record.

Every lane counts: a tenant on a dedicated lane publishes to ``lane-<lane>.ilr-state`` and
``lane-<lane>.ilr-updated``, so both topics are found by a pattern over every lane, and a lane
created later is picked up while following. Across a lane move a learner's updates switch
topics; the ILR ``version`` (not the topic) says what is new, and a gap is refetched.

Needs only ``aiokafka``. Run it against a running ilrflow (``make run``)::

    python docs/examples/downstream_consumer.py --bootstrap 127.0.0.1:9092 [--tenant demo]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

ILR_STATE = "ilr-state"
ILR_UPDATED = "ilr-updated"
STATE_TYPE = "ilrflow.ilr.state.v1"  # the ce_type header of each topic's records
UPDATED_TYPE = "ilrflow.ilr.updated.v1"
REDISCOVER_SECONDS = 5.0  # how soon a new lane's topic is followed
Key = tuple[str, str]  # (tenant, learner id)
PATCH_OPERATIONS = ("add", "remove", "replace")
CLOUDEVENT_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_time", "ce_subject", "ce_tenant")

log = logging.getLogger("ilr_mirror")


class UnusableRecordError(Exception):
    """A record the mirror cannot use; the message says why."""


@dataclass(frozen=True)
class Skipped:
    topic: str
    partition: int
    offset: int
    reason: str


@dataclass
class LearnerIlr:
    version: int
    qa_verified: bool
    learner: dict[str, Any]


@dataclass
class IlrMirror:
    """Every learner's current ILR, by (tenant, learner id)."""

    bootstrap_servers: str
    tenant: str | None = None  # only this tenant's learners, or every tenant's
    topic_prefix: str = ""  # the deployment's ILRFLOW_TOPIC_PREFIX, if it sets one
    records: dict[Key, LearnerIlr] = field(default_factory=dict)
    refetches: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    _follow_from: dict[TopicPartition, int] = field(default_factory=dict)

    async def bootstrap(self) -> None:
        """Steps 1 and 2: remember where ilr-updated ends, then load ilr-state."""
        async with _consumer(self.bootstrap_servers) as consumer:
            self._follow_from = await consumer.end_offsets(await self._partitions(ILR_UPDATED))
            for message in await _read_to_end(consumer, await self._state_partitions()):
                self._take_state(message)

    async def follow(
        self,
        until: Callable[[IlrMirror], bool] = lambda _: False,
        on_change: Callable[[Key, LearnerIlr], None] | None = None,
    ) -> None:
        """Step 3: apply ilr-updated until ``until(self)`` holds (wrap it in asyncio.timeout
        to bound the wait). Where it got to is kept, so a later call carries on from there."""
        async with _consumer(self.bootstrap_servers) as consumer:
            await self._assign(consumer)
            discovered = time.monotonic()
            while not until(self):
                if time.monotonic() - discovered > REDISCOVER_SECONDS:
                    await self._assign(consumer)
                    discovered = time.monotonic()
                batches = await consumer.getmany(timeout_ms=500)
                for partition, messages in batches.items():
                    for message in messages:
                        key = await self._take_update(message)
                        if key in self.records and on_change is not None:
                            on_change(key, self.records[key])
                        self._follow_from[partition] = message.offset + 1

    # --- the two topics --------------------------------------------------------------------

    def _take_state(self, message: Any) -> Key | None:
        read = self._read(message, STATE_TYPE, _check_state)
        if read is None:
            return None
        tenant, state = read
        key = (tenant, state["learner_id"])
        held = self.records.get(key)
        # A record re-published after a relay restart may repeat an older version: keep the newer.
        if held is None or state["version"] >= held.version:
            self.records[key] = LearnerIlr(state["version"], state["qa_verified"], state["learner"])
        return key

    async def _take_update(self, message: Any) -> Key | None:
        read = self._read(message, UPDATED_TYPE, _check_update)
        if read is None:
            return None
        tenant, update = read
        key = (tenant, update["learner_id"])
        held = self.records.get(key)
        if update["cause"] == "qa_verification" and held is not None:
            held.qa_verified = True
            return key
        if update["outcome"] != "applied" or (held and update["version"] <= held.version):
            return None  # nothing changed, or the version is already held
        if update["version"] == (held.version if held else 0) + 1:
            try:
                learner = apply_patch(held.learner if held else {}, update["patch"])
            except (LookupError, TypeError, ValueError, RecursionError) as error:
                self._skip(message, f"its patch does not apply ({error!r}): refetching the learner")
            else:
                qa_verified = held.qa_verified if held else False
                self.records[key] = LearnerIlr(update["version"], qa_verified, learner)
                return key
        await self._refetch(key)
        return key

    def _read(
        self, message: Any, event_type: str, check: Callable[[dict[str, Any]], None]
    ) -> tuple[str, dict[str, Any]] | None:
        """The record's (tenant, payload) if it is one of ours; None, logged, if it is unusable."""
        try:
            tenant, payload = _payload(message, event_type)
            check(payload)
        except UnusableRecordError as reason:
            self._skip(message, str(reason))
            return None
        return (tenant, payload) if self._wanted(tenant) else None

    def _skip(self, message: Any, reason: str) -> None:
        skipped = Skipped(message.topic, message.partition, message.offset, reason)
        self.skipped.append(skipped)
        log.warning(
            "skipped %s:%d:%d: %s", skipped.topic, skipped.partition, skipped.offset, reason
        )

    async def _refetch(self, key: Key) -> None:
        """A version is missing: read the learner's record again from ilr-state."""
        self.refetches += 1
        async with _consumer(self.bootstrap_servers) as consumer:
            for message in await _read_to_end(consumer, await self._state_partitions()):
                if message.key == f"{key[0]}:{key[1]}".encode():
                    self._take_state(message)

    async def _assign(self, consumer: AIOKafkaConsumer) -> None:
        """Follow every lane's ilr-updated; a lane new since the last look from its start."""
        new = [p for p in await self._partitions(ILR_UPDATED) if p not in self._follow_from]
        if consumer.assignment() and not new:
            return
        self._follow_from.update(dict.fromkeys(new, 0))
        consumer.assign(list(self._follow_from))
        for partition, offset in self._follow_from.items():
            consumer.seek(partition, offset)

    async def _state_partitions(self) -> list[TopicPartition]:
        return await self._partitions(ILR_STATE)

    async def _partitions(self, topic: str) -> list[TopicPartition]:
        """The partitions of ``topic`` on every lane: ``<prefix>[lane-<lane>.]<topic>``."""
        lane = r"(lane-[a-z][a-z0-9-]*\.)?"
        pattern = re.compile("^" + re.escape(self.topic_prefix) + lane + re.escape(topic) + "$")
        return await _partitions(self.bootstrap_servers, pattern)

    def _wanted(self, tenant: str) -> bool:
        return self.tenant in (None, tenant)


def apply_patch(document: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 add / remove / replace (the operations ilr-updated uses) on a copy; raises
    LookupError, TypeError or ValueError when a path does not fit the document."""
    result = copy.deepcopy(document)
    for operation in patch:
        *parents, last = [_unescape(t) for t in operation["path"].split("/")[1:]]
        target: Any = result
        for token in parents:
            target = target[int(token)] if isinstance(target, list) else target[token]
        if isinstance(target, list):
            index = len(target) if last == "-" else int(last)
            if operation["op"] == "add":
                target.insert(index, operation["value"])
            elif operation["op"] == "remove":
                del target[index]
            else:
                target[index] = operation["value"]
        elif operation["op"] == "remove":
            del target[last]
        else:
            target[last] = operation["value"]
    return result


# --- Kafka plumbing ----------------------------------------------------------------------------


class _consumer:  # noqa: N801 - used as `async with _consumer(...)`
    """A consumer with no group: we choose partitions and offsets ourselves and commit nothing."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False
        )

    async def __aenter__(self) -> AIOKafkaConsumer:
        await self._consumer.start()
        return self._consumer

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()


async def _partitions(bootstrap_servers: str, pattern: re.Pattern[str]) -> list[TopicPartition]:
    """The partitions of every topic whose name matches, asked of the broker (a consumer without
    a subscription may not have the topics' metadata yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if pattern.match(t))
        described = await admin.describe_topics(topics) if topics else []
    finally:
        await admin.close()
    found = [
        TopicPartition(d["topic"], p["partition"])
        for d in described
        for p in sorted(d.get("partitions", []), key=lambda p: p["partition"])
    ]
    if not found:
        raise RuntimeError(f"no topic matches {pattern.pattern!r} (is the topic prefix right?)")
    return found


async def _read_to_end(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> list[Any]:
    """Every record from the beginning up to where each partition ends now, in partition order."""
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    end = await consumer.end_offsets(partitions)
    messages: list[Any] = []
    while [p for p in partitions if await consumer.position(p) < end[p]]:
        batches = await consumer.getmany(*partitions, timeout_ms=500)
        for batch in batches.values():
            messages.extend(batch)
    return messages


# --- reading a record, or saying why not -------------------------------------------------------


def _payload(message: Any, event_type: str) -> tuple[str, dict[str, Any]]:
    """The tenant (ce_tenant) and JSON object of a record of ``event_type``; UnusableRecordError
    if it is anything else."""
    headers = _headers(message)
    missing = [name for name in CLOUDEVENT_HEADERS if not headers.get(name)]
    if missing:
        raise UnusableRecordError(f"not a CloudEvent: missing headers {', '.join(missing)}")
    found = headers["ce_type"]
    if found != event_type:
        raise UnusableRecordError(f"event type {found!r} is not {event_type}")
    try:
        parsed = json.loads(message.value) if message.value else None
    except RecursionError:
        raise UnusableRecordError("the value is JSON nested too deeply to parse") from None
    except ValueError as error:  # also bytes that are not UTF-8
        raise UnusableRecordError(f"the value is not JSON ({error})") from None
    if not isinstance(parsed, dict):
        raise UnusableRecordError("the value is not a JSON object")
    return headers["ce_tenant"], parsed


def _check_state(state: dict[str, Any]) -> None:
    _require(state, "learner_id", str)
    _require(state, "version", int)
    _require(state, "qa_verified", bool)
    _require(state, "learner", dict)


def _check_update(update: dict[str, Any]) -> None:
    for name in ("learner_id", "cause", "outcome"):
        _require(update, name, str)
    _require(update, "version", int)
    for operation in _require(update, "patch", list):
        if not isinstance(operation, dict) or operation.get("op") not in PATCH_OPERATIONS:
            raise UnusableRecordError(
                f"patch operation {str(operation)[:80]} is not add, remove or replace"
            )
        _require(operation, "path", str)


def _require(payload: dict[str, Any], name: str, kind: type) -> Any:
    value = payload.get(name)
    # bool is an int in Python, but a version of `true` is no version.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UnusableRecordError(f"{name} is missing or not {_KIND_NAMES[kind]}")
    return value


_KIND_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    dict: "an object",
    list: "an array",
}


def _headers(message: Any) -> dict[str, str]:
    return {
        name: value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        for name, value in message.headers or ()
    }


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    parser.add_argument("--tenant", default=None, help="only this tenant (default: every tenant)")
    parser.add_argument("--topic-prefix", default="", help="the deployment's topic prefix")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    mirror = IlrMirror(args.bootstrap, args.tenant, args.topic_prefix)
    await mirror.bootstrap()
    print(f"bootstrapped {len(mirror.records)} learners from {ILR_STATE}", flush=True)

    def show(key: Key, record: LearnerIlr) -> None:
        name = f"{record.learner.get('GivenNames')} {record.learner.get('FamilyName')}"
        print(f"{key[0]}/{key[1]} ({name}) is now at version {record.version}", flush=True)

    await mirror.follow(on_change=show)


if __name__ == "__main__":
    asyncio.run(main())
