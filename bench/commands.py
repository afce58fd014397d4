"""Where the database commands of a processed tracker go: per service, database collection and
command, counted by each service process itself (a PyMongo command listener, ``census/``).

    uv run python -m bench.commands [--trackers 30] [--learners 10] [--workers 4] [--out f.json]

Starts the five services on the stack of ``ILRFLOW_KAFKA_BOOTSTRAP`` / ``ILRFLOW_MONGO_URL``,
raises ``--trackers`` trackers, waits until the raises are audited, then processes them all and
waits until each is through (ilr-updated on Kafka, every record audited, the tutor told, no email
pending); the commands sent in between, divided by the trackers, are printed one a line, then
the totals per service; what the idle services send in the same time (polls, heartbeats) is
taken off. ``bench.pipeline``'s ``db_commands_per_tracker`` is FerretDB's own total
of the same window, by command only; this says which code sent them.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from workload import ServiceStack, poll, prepare, service_stack

from bench.pipeline import PROCESSED_TYPE, TUTOR, process_all, raise_trackers
from bench.watch import AuditProgress, PipelineWatch

IDLE_SECONDS = 10.0
CENSUS_DIR = Path(__file__).resolve().parent / "census"


def census(directory: Path, services: dict[int, str]) -> Counter[str]:
    """Every process's counts so far, keyed ``service|collection|command``."""
    counts: Counter[str] = Counter()
    for path in directory.glob("*.json"):
        service = services.get(int(path.stem), "?")
        for key, count in json.loads(path.read_text()).items():
            _database, collection, command = key.split("|")
            counts[f"{service}|{collection}|{command}"] += count
    return counts


def fresh(directory: Path, services: dict[int, str]) -> tuple[Counter[str], float]:
    """The counts, read once every process has written them again (twice a second), and when."""
    time.sleep(1.0)
    return census(directory, services), time.monotonic()


def background(directory: Path, services: dict[int, str], seconds: float) -> Counter[str]:
    """What the idle services send in ``seconds`` (relay polls, heartbeats, the email sender's
    poll): taken off the window's counts, in proportion to its length."""
    start, began = fresh(directory, services)
    time.sleep(seconds)
    end, ended = fresh(directory, services)
    return Counter({k: round((end[k] - start.get(k, 0)) / (ended - began), 4) for k in end})


def measure(
    stack: ServiceStack, directory: Path, trackers: int, learners: int, workers: int
) -> dict[str, Any]:
    settings = stack.settings
    services = {p.process.pid: p.name for p in stack.all_processes()}
    work = prepare(stack, learners, workers)
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_url, tz_aware=True)
    notifications = mongo[settings.database_name("notify")]["notifications"]
    audit_group = f"{settings.db_prefix}.audit.all-topics"
    with (
        PipelineWatch(settings.kafka_bootstrap, settings.topic_prefix) as watch,
        AuditProgress(settings.kafka_bootstrap, audit_group, settings) as progress,
    ):
        batch = raise_trackers(work, trackers, 0, workers)
        poll(progress.caught_up, 120, "audit caught up with the raises", 0.5)
        poll(
            lambda: notifications.count_documents({"delivery.status": "pending"}) == 0,
            60,
            "the raises' emails sent",
            0.5,
        )
        idle = background(directory, services, IDLE_SECONDS)
        before, began = fresh(directory, services)
        process_all(work, batch, workers, None)

        def through() -> bool:
            stored, written = progress.stored_and_written()
            if not all(t in watch.seen for t in batch) or stored < written:
                return False
            told = notifications.count_documents(
                {"recipient_id": TUTOR, "channel": "in_app", "event_type": PROCESSED_TYPE}
            )
            pending = notifications.count_documents({"delivery.status": "pending"})
            return told >= len(batch) and pending == 0

        poll(through, 600, "every tracker through the pipeline", 0.5)
        after, ended = fresh(directory, services)
    mongo.close()
    window = ended - began
    grown = {key: after[key] - before.get(key, 0) - idle.get(key, 0) * window for key in after}
    rows = {k: round(v / len(batch), 2) for k, v in sorted(grown.items()) if v / len(batch) >= 0.01}
    per_service: dict[str, float] = defaultdict(float)
    for key, share in rows.items():
        per_service[key.split("|")[0]] += share
    return {
        "trackers": len(batch),
        "per_tracker": rows,
        "per_service": {k: round(v, 2) for k, v in sorted(per_service.items())},
        "total": round(sum(rows.values()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trackers", type=int, default=30)
    parser.add_argument("--learners", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", type=Path)
    arguments = parser.parse_args()
    bootstrap = os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    mongo_url = os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/")
    with tempfile.TemporaryDirectory(prefix="census") as directory:
        path = os.pathsep.join(filter(None, [str(CENSUS_DIR), os.environ.get("PYTHONPATH")]))
        census_env = {"PYTHONPATH": path, "ILRFLOW_COMMAND_CENSUS": directory}
        with service_stack(bootstrap, mongo_url, label="census", settings_env=census_env) as stack:
            result = measure(
                stack, Path(directory), arguments.trackers, arguments.learners, arguments.workers
            )
    for key, share in result["per_tracker"].items():
        print(f"{share:8.2f}  {key}")
    for service, share in result["per_service"].items():
        print(f"{share:8.2f}  {service} (all)")
    print(f"{result['total']:8.2f}  total per tracker")
    if arguments.out:
        arguments.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
