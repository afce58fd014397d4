"""A work-around for FastStream 0.7.8's Kafka batch subscriber (``BatchSubscriber.get_msg`` in
``faststream/kafka/subscriber/usecase.py``).

When ``getmany`` finds no records within ``batch_timeout_ms``, FastStream sleeps
``batch_timeout_ms`` more before it polls again. The wait in ``getmany`` costs nothing (it returns
as soon as a record arrives); the sleep does: a record that arrives during it waits up to
``batch_timeout_ms`` before it is taken, at every hop of the pipeline, and an idle group wakes
twice per wait. ``poll_without_idle_sleep`` gives one subscriber the same poll without the sleep,
so a record is taken as soon as it arrives and the wait can be long (an idle group wakes rarely).
``shared/platform/tests/test_faststream_batches.py`` shows the defect on FastStream's own class.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord


def poll_without_idle_sleep(subscriber: Any) -> None:
    """Replace ``subscriber.get_msg`` (a FastStream ``BatchSubscriber``) by its poll alone."""

    async def get_msg(consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
        found = await consumer.getmany(
            timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records
        )
        return tuple(chain.from_iterable(found.values()))

    subscriber.get_msg = get_msg
