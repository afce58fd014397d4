"""How fast does ``ilrflow projections rebuild`` refill a projection from a long topic?

    uv run python -m bench.rebuild [--records 20000] [--learners 2000] [--out <file>.json]

A rebuild's cost is per record, but one of a pipeline run's topics holds a few hundred records,
so there the CLI's start-up and its pause (it waits ``--settle-seconds`` for the live consumer
by design) hide the rate. Here ``--records`` learner-updated events (``--learners`` learners,
each created and then changed again and again, as the learner service publishes them) are
produced onto a ``learner-updated`` topic of a deployment prefix of their own, and the CLI
rebuilds the tracker service's ``learners`` projection from it, in its own process as an
operator runs it. The rate is the records read and applied per second outside the pause (as
``bench.pipeline.rebuild_rate``); the run fails unless the rebuilt projection holds every
learner at their last change, so a fast but wrong rebuild gives no figure.

Uses the Kafka and MongoDB-wire server of ``ILRFLOW_KAFKA_BOOTSTRAP`` / ``ILRFLOW_MONGO_URL``;
its topic and database are left for the stack's next fresh start (``make bench`` starts one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from workload import run_settings_env

from ilrflow.contracts.events import (
    LearnerSnapshot,
    LearnerUpdated,
    Topics,
    new_event,
    to_wire,
)
from ilrflow.platform.kafka import ensure_topics

TENANT = "rebuild-bench"
PARTITIONS = 6


def learner_updates(records: int, learners: int) -> list[LearnerUpdated]:
    """``records`` changes round-robin over ``learners`` learners: each one's first is its
    creation; change ``round`` names learner ``n`` "Given <n> Family <round>"."""
    changes = []
    for n in range(records):
        learner, round_ = n % learners, n // learners
        snapshot = LearnerSnapshot(
            id=f"L{learner:06d}",
            given_names=f"Given {learner}",
            family_name=f"Family {round_}",
            email=f"learner{learner}@example.org",
            group="bench",
        )
        change = "created" if round_ == 0 else "changed"
        fields = [] if round_ == 0 else ["family_name"]
        changes.append(LearnerUpdated(change=change, learner=snapshot, changed_fields=fields))
    return changes


async def produce(bootstrap: str, topic: str, changes: list[LearnerUpdated]) -> float:
    """Publish the changes keyed by learner, as the learner service does; seconds taken."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    started = time.perf_counter()
    try:
        deliveries = []
        for change in changes:
            event = new_event(change, tenant=TENANT, subject=change.learner.id, actor="bench")
            key, headers, value = to_wire(event)
            deliveries.append(await producer.send(topic, value, key=key, headers=_encoded(headers)))
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()
    return time.perf_counter() - started


def _encoded(headers: dict[str, Any]) -> list[tuple[str, bytes]]:
    return [
        (name, value if isinstance(value, bytes) else str(value).encode())
        for name, value in headers.items()
    ]


def run_rebuild(env: dict[str, str]) -> dict[str, Any]:
    cli = Path(sys.executable).parent / "ilrflow"
    done = subprocess.run(
        [str(cli), "projections", "rebuild", "tracker", "learners", "--json"],
        env=os.environ | env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"the rebuild failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}"
        )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


async def check_rebuilt(mongo_url: str, database: str, learners: int, records: int) -> None:
    """Every learner is in the projection with the name of its last change."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        stored = {
            d["id"]: d["name"]
            async for d in client[database]["learner_projection"].find({}, {"id": 1, "name": 1})
        }
    finally:
        await client.close()
    expected = {
        f"L{n:06d}": f"Given {n} Family {(records - 1 - n) // learners}" for n in range(learners)
    }
    wrong = {k for k in expected if stored.get(k) != expected[k]} | (set(stored) - set(expected))
    if wrong:
        raise SystemExit(
            f"{len(wrong)} learners wrong in the rebuilt projection, e.g. {min(wrong)}"
        )


async def measure(bootstrap: str, mongo_url: str, records: int, learners: int) -> dict[str, Any]:
    run_id = f"rebuild{secrets.token_hex(3)}"
    env = run_settings_env(bootstrap, mongo_url, run_id)
    topic = f"{run_id}.{Topics.LEARNER_UPDATED}"
    await ensure_topics(bootstrap, partitions=PARTITIONS, topics=[topic])
    produce_seconds = await produce(bootstrap, topic, learner_updates(records, learners))
    report = await asyncio.to_thread(run_rebuild, env)
    await check_rebuilt(mongo_url, f"{run_id}_tracker", learners, records)
    outside_pause = report["seconds"] - report["paused_seconds"]
    return {
        "records": records,
        "learners": learners,
        "produce_seconds": round(produce_seconds, 2),
        "rebuild": report,
        "rebuild_events_per_s": round((report["records"] - report["caught_up"]) / outside_pause, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--learners", type=int, default=2_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(
        measure(
            os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017"),
            args.records,
            args.learners,
        )
    )
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
