"""How fast is the tracker pipeline, next to what Kafka and the database can do at all?

    uv run python -m bench.pipeline [--raw 2000] [--trackers 100] [--paced 30] [--learners 20]
        [--workers 8] [--profile SECONDS] [--timeline-entries 10000]
        [--audit-ingest-records 5000] [--audit-only] [--out <file>.json]

``make bench`` runs it on a Kafka and FerretDB of its own (29192/27129). In one run:

(a) raw ceiling: aiokafka produces ``--raw`` payloads of a tracker-processed event's size (many in
    flight), a consumer reads them in ``getmany`` batches and inserts each one into a collection
    of the same FerretDB (one insert per record, the batch's inserts concurrently);
(b) the pipeline: five services of their own; ``--trackers`` raised trackers are processed as fast
    as ``--workers`` HTTP clients can, and one is "done" when ilr-updated is on Kafka, the audit
    log has stored every record (the audit's committed offsets reach the topics' end offsets)
    and the primary tutor's notification exists; the maximum rate is the trackers done per
    second (process calls alone are accepted faster, but at that pace work only queues). Then
    ``--paced`` trackers each at 25 %, 50 % and 100 % of that maximum rate, for the latency from
    the process call to ilr-updated (the ilr-updated record's broker timestamp; one host, one
    clock), split into its hops (HTTP save, tracker relay, ILR consume and apply, ILR relay);
(c) the p95 of a page of the audit timeline on a log of ``--timeline-entries`` entries with
    1,000 lines per learner (issue #7 names 1,000,000 entries: pass that to build it; it takes a
    while);
(d) the audit ingest of a backlog of ``--audit-ingest-records`` records and bare ``insert_many``
    of the same documents (``bench/audit_ingest.py``);
(e) ``ilrflow projections rebuild tracker learners`` from a topic of ``--rebuild-records``
    learner-updated records (``bench/rebuild.py``): the summary's ``rebuild_events_per_s``,
    as (b)'s topics are too short for a rate (start-up and the pause dominate them).

After (b), with the services still running, ``ilrflow projections rebuild tracker ilr`` and
``... tracker learners`` rebuild the tracker service's projections from the run's topics; then,
the services stopped, ``bench/bare_pipeline.py`` runs ``--trackers`` bare trackers: the same
hops, records and database commands per tracker with no domain logic (its docstring lists them).

Also: audit ingest rate (records the audit stored per second while the pipeline drains), the
database commands (FerretDB's own count) and Kafka records per tracker of the max-rate phase,
the RSS and CPU seconds of every process and each one's peak RSS, the load average at start and
end, FerretDB's own CPU profile over the first seconds of the max-rate phase
(``--ferretdb-profile``, ``bench.ferretdb_profile``), and optionally a py-spy profile of every
service (``--profile``; collapsed stacks in bench/results/profiles/). Everything goes to ``bench/results/<date>.json``, with a top-level
``summary`` object of issue #16's figures this run measured (``summary()``; docs/benchmark.md
lists its keys); the figures are printed one a line, then the summary object. With no arguments
a run takes 5-12 minutes on the two-core box (the longer when it is loaded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, MongoClient
from workload import (
    TRACKER_TYPES,
    TUTOR,
    ServiceStack,
    Workload,
    call,
    changes_for,
    poll,
    prepare,
    service_stack,
)

from bench import ferretdb_profile
from bench.audit_ingest import measure as audit_ingest
from bench.audit_scale import measure_timeline, plan_summary
from bench.bare_pipeline import measure as bare_pipeline
from bench.rebuild import measure as rebuild_long
from bench.watch import AuditProgress, PipelineWatch, db_commands, per_tracker, percentiles

REPO = Path(__file__).resolve().parents[1]
PROCESSED_TYPE = "ilrflow.tracker.processed.v1"
PAYLOAD_BYTES = 900  # about a tracker-processed event's value


# --- (a) the raw ceiling -----------------------------------------------------------------------


async def raw_ceiling(bootstrap: str, mongo_url: str, count: int) -> dict[str, Any]:
    run_id = f"benchraw{secrets.token_hex(3)}"
    topic = f"{run_id}.raw"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    finally:
        await admin.close()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, retryWrites=False)
    collection = mongo[f"{run_id}_raw"]["records"]
    await collection.insert_one({"_id": "warm-up"})
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=run_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    payload = b"x" * PAYLOAD_BYTES
    try:
        started = time.perf_counter()

        async def produce() -> float:
            futures = [
                await producer.send(topic, payload, key=f"k{n % 97}".encode()) for n in range(count)
            ]
            await asyncio.gather(*futures)
            return time.perf_counter() - started

        producing = asyncio.create_task(produce())
        stored = 0
        while stored < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            records = [r for rs in batches.values() for r in rs]
            await asyncio.gather(
                *(
                    collection.insert_one(
                        {"_id": f"{r.partition}:{r.offset}", "v": r.value, "k": r.key}
                    )
                    for r in records
                )
            )
            if records:
                await consumer.commit()
            stored += len(records)
        elapsed = time.perf_counter() - started
        produce_seconds = await producing
    finally:
        await consumer.stop()
        await producer.stop()
        await mongo.drop_database(f"{run_id}_raw")
        await mongo.close()
    return {
        "records": count,
        "payload_bytes": PAYLOAD_BYTES,
        "produce_per_s": round(count / produce_seconds),
        "end_to_end_per_s": round(count / elapsed, 1),
        "seconds": round(elapsed, 2),
    }


# --- (b) the pipeline --------------------------------------------------------------------------


def raise_trackers(work: Workload, count: int, offset: int, workers: int) -> list[str]:
    def one(n: int) -> str:
        learner_id = work.learners[n % len(work.learners)]
        tracker_type = TRACKER_TYPES[n % len(TRACKER_TYPES)]
        request = {
            "type": tracker_type,
            "learner_id": learner_id,
            "changes": changes_for(tracker_type, n),
        }
        with work.admin("tracker") as http:
            return str(call(http, "POST", "/v1/trackers", (201,), json=request).json()["id"])

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(offset, offset + count)))


def process_all(
    work: Workload, trackers: list[str], workers: int, rate: float | None
) -> dict[str, float]:
    """POST /process for each tracker (paced at ``rate`` per second if given); call start times."""
    started: dict[str, float] = {}
    origin = time.time()

    def one(index_and_id: tuple[int, str]) -> None:
        index, tracker_id = index_and_id
        if rate is not None:
            due = origin + index / rate
            while time.time() < due:
                time.sleep(max(0.0, min(0.01, due - time.time())))  # pacing: due may just pass
        with work.admin("tracker") as http:
            started[tracker_id] = time.time()
            call(http, "POST", f"/v1/trackers/{tracker_id}/process", (200,))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, enumerate(trackers)))
    return started


def pipeline(
    stack: ServiceStack,
    trackers: int,
    paced: int,
    learners: int,
    workers: int,
    profile: float,
    ferretdb_profile_seconds: int = 0,
) -> dict[str, Any]:
    settings = stack.settings
    work = prepare(stack, learners, min(workers, 8))
    mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_url, tz_aware=True)
    audit = mongo[settings.database_name("audit")]["audit_entries"]
    notifications = mongo[settings.database_name("notify")]["notifications"]
    audit_group = f"{settings.db_prefix}.audit.all-topics"
    result: dict[str, Any] = {"learners": learners, "workers": workers}
    with (
        PipelineWatch(settings.kafka_bootstrap, settings.topic_prefix) as watch,
        AuditProgress(settings.kafka_bootstrap, audit_group, settings) as progress,
    ):
        batch = raise_trackers(work, trackers, 0, workers)
        poll(progress.caught_up, 120, "audit caught up with the raises", 0.5)
        audit_before = audit.count_documents({})
        profiler = _start_profiles(stack, profile)
        ferretdb_profiler = _start_ferretdb_profile(ferretdb_profile_seconds)
        cpu_before = {name: cpu_seconds(pid) for name, pid in all_pids(stack).items()}
        commands_before, records_before = db_commands(mongo), progress.records_by_topic()
        # Max rate: as fast as the HTTP clients go; done = ilr-updated + audited + tutor told.
        began = time.time()
        starts = process_all(work, batch, workers, None)
        calls_done = time.time()
        samples: list[tuple[float, int]] = []

        def complete() -> bool:
            stored, written = progress.stored_and_written()
            samples.append((time.time(), stored))
            if not all(t in watch.seen for t in batch) or stored < written:
                return False
            told = notifications.count_documents(  # a scan on FerretDB: only once the rest is done
                {"recipient_id": TUTOR, "channel": "in_app", "event_type": PROCESSED_TYPE}
            )
            return told >= len(batch)

        poll(complete, 600, "every tracker through the pipeline", 0.25)
        finished = time.time()
        result["db_commands_per_tracker"] = per_tracker(
            commands_before, db_commands(mongo), len(batch)
        )
        result["kafka_records_per_tracker"] = per_tracker(
            records_before, progress.records_by_topic(), len(batch), settings.topic_prefix
        )
        result["cpu_seconds_during_max_rate"] = {
            name: round(cpu_seconds(pid) - cpu_before.get(name, 0.0), 1)
            for name, pid in all_pids(stack).items()
        }
        result["wall_seconds_max_rate"] = round(finished - began, 1)
        profiles = _stop_profiles(profiler)
        result["ferretdb_profile"] = _stop_ferretdb_profile(ferretdb_profiler)
        # The maximum rate is what the pipeline sustains end to end. The process calls alone
        # are accepted faster, but paced at that rate the work only queues up behind them.
        max_rate = len(batch) / (finished - began)
        print(f"    max rate: {len(batch)} trackers in {finished - began:.1f} s", flush=True)
        result["max_rate"] = {
            "trackers": len(batch),
            "process_calls_per_s": round(len(batch) / (calls_done - began), 1),
            "end_to_end_per_s": round(max_rate, 1),
            "seconds": round(finished - began, 2),
            "latency_process_to_ilr_updated": percentiles(
                [watch.seen[t] - starts[t] for t in batch]
            ),
        }
        growing = [(t, c) for t, c in samples if c > samples[0][1]]
        if len(growing) >= 2:
            (t0, c0), (t1, c1) = samples[0], growing[-1]
            result["audit_ingest_per_s"] = round((c1 - c0) / max(t1 - t0, 1e-6), 1)
        result["audit_entries_per_tracker"] = round(
            (audit.count_documents({}) - audit_before) / len(batch), 2
        )
        # Latency at 25/50/100 % of the max rate.
        result["paced"] = {}
        offset = trackers
        for share in (0.25, 0.5, 1.0):
            rate = max_rate * share
            batch = raise_trackers(work, paced, offset, workers)
            offset += paced
            poll(progress.caught_up, 120, "audit caught up with the raises", 0.5)
            starts = process_all(work, batch, workers, rate)
            poll(lambda b=batch: all(t in watch.seen for t in b), 600, "ilr-updated", 0.25)
            result["paced"][f"{int(share * 100)}%"] = {
                "target_per_s": round(rate, 1),
                "trackers": len(batch),
                **percentiles([watch.seen[t] - starts[t] for t in batch]),
                "hops": watch.hops(starts),
            }
            print(f"    paced at {int(share * 100)}% ({rate:.1f}/s): done", flush=True)
    mongo.close()
    result["profiles"] = profiles
    return result


# The environment's py-spy (a dependency of the project), also when the bench is run with the
# environment's python without activating it.
PY_SPY = str(Path(sys.executable).parent / "py-spy")


def _start_profiles(stack: ServiceStack, seconds: float) -> list[tuple[str, Path, Any]]:
    if seconds <= 0:
        return []
    out_dir = REPO / "bench" / "results" / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    running = []
    for name in stack.processes:
        path = out_dir / f"{name}.txt"
        process = subprocess.Popen(
            [
                PY_SPY,
                "record",
                "--pid",
                str(stack.processes[name].process.pid),
                "--duration",
                str(int(seconds)),
                "--format",
                "raw",
                "--output",
                str(path),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        running.append((name, path, process))
    return running


def _start_ferretdb_profile(seconds: int) -> tuple[Path, threading.Thread] | None:
    """FerretDB's CPU profile from the start of the max-rate phase, when make bench started
    FerretDB with its profiler (``bench.ferretdb_profile``)."""
    address = os.environ.get("ILRFLOW_FERRETDB_PPROF_ADDR", "")
    if seconds <= 0 or not address:
        return None
    out_dir = REPO / "bench" / "results" / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "ferretdb.pprof"
    path.unlink(missing_ok=True)
    return path, ferretdb_profile.capture(address, seconds, path)


def _stop_ferretdb_profile(running: tuple[Path, threading.Thread] | None) -> list[str]:
    if running is None:
        return ["(off: --ferretdb-profile 0, or FerretDB started without -pprof-addr)"]
    path, thread = running
    thread.join()
    return ferretdb_profile.summary(path)


def _stop_profiles(running: list[tuple[str, Path, Any]]) -> dict[str, list[str]]:
    summaries: dict[str, list[str]] = {}
    for name, path, process in running:
        process.wait(timeout=120)
        summaries[name] = _top_frames(path) if path.exists() else ["(no profile)"]
    return summaries


PROJECT_DIRS = ("shared/", "tracker/", "ilr/", "audit/", "learner/", "notify/")
# Frames that only carry the work of others: the event loop, threads, context managers.
PLUMBING = ("asyncio/", "threading.py", "selectors.py", "contextlib.py", "<frozen runpy>")
SAMPLES_PER_SECOND = 100  # py-spy's default rate


def _top_frames(path: Path, top: int = 8) -> list[str]:
    """From py-spy's collapsed stacks (on-CPU samples only): how many seconds were on the CPU,
    then the share by the library of the innermost frame that is not event-loop or thread
    plumbing ("event loop" when there is none: the loop's own bookkeeping), then by the
    innermost ilrflow frame."""
    by_library: dict[str, int] = {}
    by_project: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f.rpartition(" (")[2].rstrip(")") for f in stack.split(";")]
        # Inside the event loop only (the frames that started it, uvicorn's, do no work).
        entry = next((i for i, f in enumerate(frames) if f.startswith("asyncio/")), -1)
        working = next(
            (
                f
                for f in reversed(frames[entry + 1 :])
                if not f.rsplit(":", 1)[0].startswith(PLUMBING)
            ),
            None,
        )
        library = "event loop" if working is None else working.split("/")[0].split(".py")[0]
        if library in {"tracker", "ilr", "audit", "learner", "notify", "shared"}:
            library = "ilrflow"
        by_library[library] = by_library.get(library, 0) + count
        own = next(
            (
                f
                for f in reversed(frames)
                if f.startswith(PROJECT_DIRS) and not f.startswith("shared/service.py")
            ),
            "(none)",
        )
        own = own.rsplit(":", 1)[0]
        by_project[own] = by_project.get(own, 0) + count
    lines = [f"on-CPU: {total} samples = {total / SAMPLES_PER_SECOND:.1f} s"]
    for title, totals in (("library", by_library), ("ilrflow file", by_project)):
        ranked = sorted(totals.items(), key=lambda item: -item[1])[:top]
        lines += [f"{title}: {100 * c / max(total, 1):5.1f}%  {name}" for name, c in ranked]
    return lines


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def all_pids(stack: ServiceStack) -> dict[str, int]:
    pids = infrastructure_pids()
    pids.update({name: p.process.pid for name, p in stack.processes.items()})
    pids["bench"] = os.getpid()
    return pids


# --- the run -----------------------------------------------------------------------------------


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident set now (``VmRSS``) or at its peak so far (``VmHWM``), in MB."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def peak_rss_mb(pids: dict[str, int]) -> dict[str, float]:
    """Each process's peak resident set over its life so far (the kernel's high-water mark)."""
    return {name: rss_mb(pid, "VmHWM") for name, pid in pids.items()}


# The tracker service's projections that processed trackers feed (ilr-state, learner-updated).
REBUILT_PROJECTIONS = ("ilr", "learners")
REBUILD_LEARNERS = 2_000  # (e): ten changes per learner at the default --rebuild-records


def rebuild_projections(stack: ServiceStack) -> dict[str, Any]:
    """``ilrflow projections rebuild tracker NAME`` of each of ``REBUILT_PROJECTIONS`` from its
    topic, as an operator runs it: the services running, the CLI in its own process."""
    cli = Path(sys.executable).parent / "ilrflow"
    reports = {}
    for name in REBUILT_PROJECTIONS:
        done = subprocess.run(
            [str(cli), "projections", "rebuild", "tracker", name, "--json"],
            env=os.environ | stack.env,
            capture_output=True,
            text=True,
            check=True,
        )
        reports[name] = json.loads(done.stdout)
    return {"projections": reports, "rebuild_events_per_s": rebuild_rate(list(reports.values()))}


def rebuild_rate(reports: list[dict[str, Any]]) -> float:
    """Records read and applied per second while rebuilding from the earliest offset: the
    records before the pause over the time outside it (paused, a rebuild waits at least
    ``--settle-seconds`` for the live consumer by design, whatever the records)."""
    records = sum(r["records"] - r["caught_up"] for r in reports)
    seconds = sum(r["seconds"] - r["paused_seconds"] for r in reports)
    return round(records / max(seconds, 1e-6), 1)


def infrastructure_pids() -> dict[str, int]:
    state = Path(os.environ.get("ILRFLOW_STACK_DIR", REPO / ".stack" / "run"))
    pids = {}
    for name in ("kafka", "ferretdb"):
        pidfile = state / f"{name}.pid"
        if pidfile.exists():
            pids[name] = int(pidfile.read_text())
    return pids


def audit_timeline(entries: int) -> dict[str, Any]:
    """The p95 of a page of the learner timeline (100 lines, as the HTTP endpoint reads it) on
    an audit log of ``entries`` entries, every page of 40 different learners' timelines. The
    learners are ``entries // 1000``, so each timeline has 1,000 lines, as at 1,000,000 entries
    over 1,000 learners; a page is a few lookups by ``_id`` (index searches once FerretDB is
    patched), the same at any depth. The log is built a chunk at a time, so any size fits in
    memory; the search figures come from bench/audit_scale.py (`bench.audit_timeline`)."""
    learners = max(entries // 1000, 1)
    figures = asyncio.run(measure_timeline(entries, learners, reads=40))
    cuts = statistics.quantiles(figures.timeline_ms, n=100, method="inclusive")
    return {
        "entries": entries,
        "entries_stored": figures.entries,
        "learners": learners,
        "lines_per_timeline": figures.timeline_lines,
        "build_seconds": round(figures.build_seconds, 1),
        "pages_read": len(figures.timeline_ms),
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "max_ms": round(max(figures.timeline_ms), 1),
        "plan": plan_summary(figures.timeline_explain),
    }


def pipeline_summary(report: dict[str, Any]) -> list[str]:
    pipeline_result = report["pipeline"]
    paced = pipeline_result["paced"]
    half = paced.get("50%", {})
    lines = [
        f"raw ceiling: {report['raw']['end_to_end_per_s']} records/s",
        f"pipeline: {pipeline_result['max_rate']['end_to_end_per_s']} trackers/s done "
        f"({pipeline_result['max_rate']['process_calls_per_s']} process calls/s, "
        f"{pipeline_result.get('audit_entries_per_tracker')} Kafka records per tracker)",
        f"ratio pipeline/raw: {report['ratio_pipeline_to_raw']} (target >= 0.5); in records: "
        f"{report['ratio_pipeline_records_to_raw']}",
    ]
    for share, figures in paced.items():
        lines.append(
            f"latency process -> ilr-updated at {share} ({figures['target_per_s']}/s): "
            f"p50 {figures.get('p50_ms')} ms, p95 {figures.get('p95_ms')} ms, "
            f"p99 {figures.get('p99_ms')} ms"
        )
    lines.append(f"p99 at half rate: {half.get('p99_ms')} ms (target <= 100 ms)")
    for hop, figures in half.get("hops", {}).items():
        lines.append(
            f"  at half rate, {hop}: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms"
        )
    lines.append(f"audit ingest: {pipeline_result.get('audit_ingest_per_s')} entries/s")
    lines.append("RSS MB: " + ", ".join(f"{k} {v}" for k, v in report["rss_mb"].items()))
    return lines


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """Issue #16's figures, as far as this run measured them (a figure not measured is left
    out, never guessed)."""
    figures: dict[str, Any] = pipeline_figures(report)
    ingest = report.get("audit_ingest")
    if ingest:
        figures["audit_ingest_per_s"] = ingest["audit_ingest_per_s"]
        figures["bare_audit_insert_per_s"] = ingest["bare_audit_insert_per_s"]
    timeline = report.get("audit_timeline")
    if timeline:
        figures["timeline_p95_ms"] = timeline["p95_ms"]
        figures["timeline_entries"] = timeline["entries"]
    return figures


def pipeline_figures(report: dict[str, Any]) -> dict[str, Any]:
    """The end-to-end figures of (b), the bare pipeline and the rebuild, the load and the
    processes' CPU seconds and peak RSS."""
    figures: dict[str, Any] = {}
    rate = bare_rate = None
    if "pipeline" in report:
        max_phase = report["pipeline"]["max_rate"]
        rate = max_phase["trackers"] / max_phase["seconds"]
        figures["trackers_per_s"] = round(rate, 2)
    if "bare" in report:
        bare_rate = report["bare"]["trackers"] / report["bare"]["seconds"]
        figures["bare_trackers_per_s"] = round(bare_rate, 2)
    if rate is not None and bare_rate is not None:
        figures["ratio"] = round(rate / bare_rate, 3)
    if "pipeline" in report:
        half = report["pipeline"]["paced"].get("50%", {})
        if "p99_ms" in half:
            figures["p99_ms_at_half"] = half["p99_ms"]
    if "rebuild" in report:
        figures["rebuild_events_per_s"] = report["rebuild"]["rebuild_events_per_s"]
    if "rebuild_long" in report:  # a long topic: the per-record rate, not start-up and pause
        figures["rebuild_events_per_s"] = report["rebuild_long"]["rebuild_events_per_s"]
        figures["rebuild_records"] = report["rebuild_long"]["records"]
    figures["load_average"] = {
        "start": report["load_average_start"],
        "end": report["load_average_end"],
    }
    if "pipeline" in report:
        figures["cpu_seconds_max_rate"] = report["pipeline"]["cpu_seconds_during_max_rate"]
    if "peak_rss_mb" in report:
        figures["peak_rss_mb"] = report["peak_rss_mb"]
    return figures


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The figures, one line each, with their targets."""
    lines = [
        f"load average: start {report['load_average_start']}, end {report['load_average_end']}"
    ]
    if "pipeline" in report:
        lines += pipeline_summary(report)
    if "bare" in report:
        bare = report["bare"]
        lines.append(
            f"bare pipeline (the same I/O, no logic): {bare['bare_trackers_per_s']} trackers/s; "
            f"database commands per tracker: bare {sum(bare['db_commands_per_tracker'].values()):.1f}"
            f", ours {sum(report['pipeline']['db_commands_per_tracker'].values()):.1f}"
        )
    kinds = [k for k in report.get("pipeline", {}).get("ferretdb_profile", []) if "%" in k]
    if kinds:
        lines.append(
            "FerretDB's CPU in the max-rate phase (bench/results/profiles/ferretdb.pprof):"
        )
        lines += [f"  {kind}" for kind in kinds if kind.startswith("kind:")]
    if "rebuild" in report:
        lines.append(
            f"projections rebuild (tracker {', '.join(REBUILT_PROJECTIONS)}): "
            f"{report['rebuild']['rebuild_events_per_s']} events/s"
        )
    if "rebuild_long" in report:
        long = report["rebuild_long"]
        lines.append(
            f"projections rebuild of {long['records']} learner-updated records (tracker learners,"
            f" bench/rebuild.py): {long['rebuild_events_per_s']} events/s (target: >= 2,000)"
        )
    if "peak_rss_mb" in report:
        lines.append(
            "peak RSS MB: " + ", ".join(f"{k} {v}" for k, v in report["peak_rss_mb"].items())
        )
    timeline = report.get("audit_timeline")
    if timeline:
        lines.append(
            f"audit timeline page p95: {timeline['p95_ms']} ms on {timeline['entries']} entries "
            f"({timeline['lines_per_timeline']} lines per timeline, as at 1,000,000 / 1,000 "
            f"learners; built in {timeline['build_seconds']} s)"
        )
    ingest = report.get("audit_ingest")
    if ingest:
        lines.append(
            f"audit ingest of a {ingest['records']}-record backlog: "
            f"{ingest['audit_ingest_per_s']} entries/s; bare insert_many of the same documents: "
            f"{ingest['bare_audit_insert_per_s']}/s (target: >= 5,000 and >= half the bare rate)"
        )
    return lines


def raw_and_pipeline(
    arguments: argparse.Namespace, bootstrap: str, mongo_url: str
) -> dict[str, Any]:
    """(a) and (b), with the RSS of every process and the ratio of the two."""
    report: dict[str, Any] = {}
    print("(a) raw ceiling ...", flush=True)
    report["raw"] = asyncio.run(raw_ceiling(bootstrap, mongo_url, arguments.raw))
    print(json.dumps(report["raw"]), flush=True)
    print("(b) pipeline ...", flush=True)
    with service_stack(bootstrap, mongo_url, label="bench") as stack:
        report["pipeline"] = pipeline(
            stack,
            arguments.trackers,
            arguments.paced,
            arguments.learners,
            arguments.workers,
            arguments.profile,
            arguments.ferretdb_profile,
        )
        rss = {name: rss_mb(pid) for name, pid in infrastructure_pids().items()}
        rss.update({name: rss_mb(p.process.pid) for name, p in stack.processes.items()})
        rss["bench"] = rss_mb(os.getpid())
        report["rss_mb"] = rss
        print("(b) projections rebuild ...", flush=True)
        report["rebuild"] = rebuild_projections(stack)
        report["peak_rss_mb"] = peak_rss_mb(
            {name: p.process.pid for name, p in stack.processes.items()}
        )
    print("(b) bare pipeline ...", flush=True)
    report["bare"] = bare_pipeline(
        bootstrap, mongo_url, arguments.trackers, arguments.learners, arguments.workers
    )
    pipeline_result = report["pipeline"]
    max_phase = pipeline_result["max_rate"]
    done_per_s = max_phase["trackers"] / max_phase["seconds"]
    ceiling = report["raw"]["end_to_end_per_s"]
    report["ratio_pipeline_to_raw"] = round(done_per_s / ceiling, 4)
    records_per_tracker = pipeline_result.get("audit_entries_per_tracker", 0)
    report["ratio_pipeline_records_to_raw"] = round(done_per_s * records_per_tracker / ceiling, 4)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--raw", type=int, default=2000)
    parser.add_argument("--trackers", type=int, default=100)
    parser.add_argument("--paced", type=int, default=30)
    parser.add_argument("--learners", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--profile", type=float, default=0, help="py-spy seconds (0: off)")
    parser.add_argument(
        "--ferretdb-profile",
        type=int,
        default=8,
        help="seconds of FerretDB's Go CPU profile from the start of the max-rate phase (0: off;"
        " needs FerretDB started with -pprof-addr, as make bench does)",
    )
    parser.add_argument(
        "--timeline-entries",
        type=int,
        default=10_000,
        help="audit log size for the timeline p95 (0: skip; 1000000 is issue #7's size)",
    )
    parser.add_argument(
        "--timeline-only",
        action="store_true",
        help="measure only (c), the audit timeline (e.g. at 1000000 entries), on the same stack",
    )
    parser.add_argument(
        "--audit-only",
        action="store_true",
        help="measure only the audit figures, (c) and (d), on the same stack",
    )
    parser.add_argument(
        "--audit-ingest-records",
        type=int,
        default=5_000,
        help="(d) backlog size for the audit ingest rate, bench/audit_ingest.py (0: skip)",
    )
    parser.add_argument(
        "--rebuild-records",
        type=int,
        default=20_000,
        help="(e) records of the long topic a projection is rebuilt from, bench/rebuild.py "
        "(0: skip)",
    )
    parser.add_argument("--out", type=Path, default=None)
    arguments = parser.parse_args()
    bootstrap = os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    mongo_url = os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/")
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "kafka": bootstrap,
        "mongo": mongo_url,
        "arguments": vars(arguments) | {"out": str(arguments.out)},
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
    if not (arguments.timeline_only or arguments.audit_only):
        report.update(raw_and_pipeline(arguments, bootstrap, mongo_url))
    if arguments.timeline_entries > 0:
        print(f"(c) audit timeline on {arguments.timeline_entries} entries ...", flush=True)
        report["audit_timeline"] = audit_timeline(arguments.timeline_entries)
    if arguments.audit_ingest_records > 0 and not arguments.timeline_only:
        print(f"(d) audit ingest of {arguments.audit_ingest_records} records ...", flush=True)
        report["audit_ingest"] = asyncio.run(audit_ingest(arguments.audit_ingest_records))
    if arguments.rebuild_records > 0 and not (arguments.timeline_only or arguments.audit_only):
        print(f"(e) projections rebuild of {arguments.rebuild_records} records ...", flush=True)
        report["rebuild_long"] = asyncio.run(
            rebuild_long(bootstrap, mongo_url, arguments.rebuild_records, REBUILD_LEARNERS)
        )
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    # Kafka, FerretDB (started for this run by make bench) and the bench over the whole run.
    peaks = peak_rss_mb(infrastructure_pids() | {"bench": os.getpid()})
    report["peak_rss_mb"] = peaks | report.get("peak_rss_mb", {})
    report["summary"] = summary(report)
    report["summary_lines"] = summary_lines(report)
    out = arguments.out or REPO / "bench" / "results" / f"{datetime.now(UTC):%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print("\n".join(report["summary_lines"]))
    print(f"written: {out}")
    print("summary: " + json.dumps(report["summary"], indent=2))


if __name__ == "__main__":
    main()
