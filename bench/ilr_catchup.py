"""How fast the ILR service catches up on a backlog of processed trackers of few learners: the case
where a consumer batch holds many records of one learner, which the ILR applies as a chain in one
write of the learner's record (``ConsumerGroup.apply_chain``).

    uv run python -m bench.ilr_catchup [--learners 5] [--trackers 200] [--workers 8] [--out <file>]

On the Kafka and FerretDB of ``ILRFLOW_KAFKA_BOOTSTRAP`` / ``ILRFLOW_MONGO_URL``: the five services
of their own (``workload.service_stack``), ``--learners`` enrolled learners; the ILR service is
stopped, ``--trackers`` trackers are raised and processed (spread over the learners in turn),
and once the audit has stored every record written so far the ILR service is started again. The
catch-up is from its start (the process started: its start-up, a few seconds, included) and from
its being ready (its consumers may start a little before) to the last tracker's ilr-updated on
Kafka: the seconds and the rate in trackers per second, and the database commands (FerretDB's own
count, every service) per tracker while it lasts: the ILR's chains, and downstream the tracker, learner, notify and audit consuming what it
publishes. Printed as one JSON object (and written to ``--out``), with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from devstack import kill_service, restart_service, wait_ready
from pymongo import MongoClient
from workload import ServiceStack, poll, prepare, service_stack

from bench.pipeline import process_all, raise_trackers
from bench.watch import AuditProgress, PipelineWatch, db_commands, per_tracker


def catch_up(stack: ServiceStack, learners: int, trackers: int, workers: int) -> dict[str, Any]:
    settings = stack.settings
    work = prepare(stack, learners, min(workers, 8))
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_url)
    audit_group = f"{settings.db_prefix}.audit.all-topics"
    with (
        PipelineWatch(settings.kafka_bootstrap, settings.topic_prefix) as watch,
        AuditProgress(settings.kafka_bootstrap, audit_group, settings) as progress,
    ):
        [ilr] = stack.replicas["ilr"]
        kill_service(ilr)
        batch = raise_trackers(work, trackers, 0, workers)
        process_all(work, batch, workers, None)
        poll(progress.caught_up, 300, "audit caught up with the backlog", 0.5)
        commands_before = db_commands(mongo)
        started = time.time()
        restarted = restart_service(ilr, stack.env)
        stack.replicas["ilr"][0] = restarted
        wait_ready([restarted])
        ready = time.time()
        poll(lambda: all(t in watch.seen for t in batch), 600, "the ILR caught up", 0.25)
        last = max(watch.seen[t] for t in batch)
        poll(progress.caught_up, 300, "audit caught up with the ILR's records", 0.5)
        commands = per_tracker(commands_before, db_commands(mongo), len(batch))
    seconds = last - ready
    return {
        "learners": learners,
        "trackers": len(batch),
        "start_up_seconds": round(ready - started, 2),
        "catch_up_seconds_from_start": round(last - started, 2),
        "catch_up_seconds": round(seconds, 2),
        "catch_up_trackers_per_s": round(len(batch) / seconds, 1),
        "db_commands_per_tracker": commands,
        "db_commands_per_tracker_total": round(sum(commands.values()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=5)
    parser.add_argument("--trackers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    bootstrap = os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    mongo_url = os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/")
    load_start = os.getloadavg()
    with service_stack(bootstrap, mongo_url, label="catchup") as stack:
        result = catch_up(stack, args.learners, args.trackers, args.workers)
    result["load_average"] = {"start": load_start, "end": os.getloadavg()}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
