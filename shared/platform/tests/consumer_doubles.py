"""Test doubles for the consumer tests: a broker that records, a sleep that does not, a record."""

from __future__ import annotations

from typing import Any

from ilrflow.contracts.events import EventType, Topics, TrackerProcessed, new_event, to_wire
from ilrflow.platform.kafka import ConsumerGroup
from ilrflow.platform.settings import Settings


def processed_event() -> object:
    return new_event(
        TrackerProcessed(
            tracker_id="T1",
            learner_id="L1",
            tracker_type="change_of_address",
            changes={"address": {"lines": ["1 A St"], "postcode": "LS1 4AP"}},
            processed_by="admin-1",
            processor_roles=["admin"],
            raised_by="L1",
            learner_led=True,
        ),
        tenant="t1",
        subject="L1",
        actor="admin-1",
        correlation_id="T1",
    )


class RecordingBroker:
    """Stands in for the FastStream broker: records what would be published."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(
        self,
        value: bytes,
        *,
        topic: str,
        key: bytes | None,
        headers: dict[str, str],
        correlation_id: str | None = None,
    ) -> None:
        self.published.append(
            {
                "value": value,
                "topic": topic,
                "key": key,
                "headers": headers,
                "correlation_id": correlation_id,
            }
        )


async def no_sleep(_: float) -> None:
    return None


def group(handler: Any, broker: RecordingBroker, attempts: int = 3) -> ConsumerGroup:
    return ConsumerGroup(
        topic=Topics.TRACKER_PROCESSED,
        group_id="ilrflow.test.tracker-processed",
        handlers={EventType.TRACKER_PROCESSED: handler},
        settings=Settings(consumer_max_attempts=attempts, topic_prefix=""),
        broker=broker,  # type: ignore[arg-type]
        sleep=no_sleep,
    )


def record() -> dict[str, Any]:
    key, headers, value = to_wire(processed_event())  # type: ignore[arg-type]
    return {
        "headers": {k: v.encode() for k, v in headers.items()},
        "value": value,
        "key": key,
        "partition": 3,
        "offset": 42,
    }
