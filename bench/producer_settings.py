"""The outbox relay's producer settings, measured: linger and compression.

    uv run python -m bench.producer_settings [--passes 300] [--per-pass 20]

The relay hands a whole pass of events to the producer and then awaits their confirmations
together (``ilrflow.platform.outbox``), so records of a pass already travel in one request per
partition. This measures what a linger (the producer waiting for more records before it sends)
and gzip compression (the codec Python has built in) add to that: ``--passes`` passes of
``--per-pass`` records of an event's size (~900 bytes of JSON) over the topic's partitions, each
pass sent and confirmed before the next, as the relay does, with the producer our services use
(``acks=all``, idempotent). Per setting: the pass's time (p50, p95), the producer process's CPU
per record (``time.process_time``), and the broker's CPU seconds (``/proc/<pid>/stat`` of the
Kafka started by ``make bench``'s stack, when ``--kafka-pid`` is given). Settings run in turn,
twice, interleaved.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.pipeline import cpu_seconds
from ilrflow.platform.kafka import ensure_topics

SETTINGS: dict[str, dict[str, Any]] = {
    "as today (linger 0, no compression)": {},
    "linger 5 ms": {"linger_ms": 5},
    "gzip": {"compression_type": "gzip"},
}
PARTITIONS = 6


def event_value(n: int) -> bytes:
    body = {
        "id": secrets.token_hex(16),
        "type": "tracker-processed",
        "tenant": "bench-tenant",
        "learner_id": f"L{n % 100:04d}",
        "data": {"changes": {"address_line_1": f"{n} Example Street", "postcode": "AB1 2CD"}},
        "padding": "x" * 600,
    }
    return json.dumps(body).encode()


def broker_cpu(pid: int | None) -> float:
    return 0.0 if pid is None else cpu_seconds(pid)


async def one_setting(
    bootstrap: str, topic: str, options: dict[str, Any], passes: int, per_pass: int, pid: int | None
) -> dict[str, Any]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **options
    )
    await producer.start()
    try:
        pass_ms: list[float] = []
        cpu_before, broker_before = time.process_time(), broker_cpu(pid)
        for p in range(passes):
            started = time.perf_counter()
            sent = [
                await producer.send(topic, event_value(n), key=f"k{n % 50}".encode())
                for n in range(p * per_pass, (p + 1) * per_pass)
            ]
            await asyncio.gather(*sent)
            pass_ms.append((time.perf_counter() - started) * 1000)
        records = passes * per_pass
        return {
            "pass_p50_ms": round(statistics.median(pass_ms), 2),
            "pass_p95_ms": round(statistics.quantiles(pass_ms, n=20)[18], 2),
            "producer_cpu_us_per_record": round(
                (time.process_time() - cpu_before) / records * 1e6, 1
            ),
            "broker_cpu_s": round(broker_cpu(pid) - broker_before, 2),
        }
    finally:
        await producer.stop()


async def run(bootstrap: str, passes: int, per_pass: int, pid: int | None) -> list[dict[str, Any]]:
    topic = f"producer-settings-{secrets.token_hex(3)}"
    await ensure_topics(bootstrap, partitions=PARTITIONS, topics=[topic])
    results = []
    for round_ in range(2):
        for name, options in SETTINGS.items():
            measured = await one_setting(bootstrap, topic, options, passes, per_pass, pid)
            results.append({"setting": name, "round": round_ + 1, **measured})
            print(json.dumps(results[-1]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--passes", type=int, default=300)
    parser.add_argument("--per-pass", type=int, default=20)
    parser.add_argument("--kafka-pid", type=int, default=None)
    arguments = parser.parse_args()
    bootstrap = os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    print(f"load average at start: {os.getloadavg()}", flush=True)
    asyncio.run(run(bootstrap, arguments.passes, arguments.per_pass, arguments.kafka_pid))
    print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
