"""FerretDB's own CPU profile while the pipeline runs at its maximum rate: where the database's
time goes, FerretDB being the pipeline's bottleneck (docs/benchmark.md).

``make bench`` starts FerretDB with ``-pprof-addr`` (``ILRFLOW_FERRETDB_PPROF_ADDR``, see
deploy/local/ferretdb/main.go); ``bench.pipeline`` then reads Go's CPU profile
(``/debug/pprof/profile?seconds=N``) over its max-rate phase, keeps it in
``bench/results/profiles/ferretdb.pprof`` (``go tool pprof -http :8000 <file>`` to browse it) and
puts a summary in its results: the CPU seconds sampled, their share by kind of work (the
innermost frame of each sample that names one, below) and the functions most often on the CPU.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

# Kinds of work, each by the prefixes of the Go functions that do it. A sample counts for the
# kind of its innermost frame that matches one: an allocation (runtime.mallocgc, no kind) made
# while decoding JSON counts as decoding JSON, a GC assist (runtime.gcAssistAlloc) as GC.
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "garbage collection",
        (
            "runtime.gcBgMarkWorker",
            "runtime.gcDrain",
            "runtime.gcAssistAlloc",
            "runtime.bgsweep",
            "runtime.bgscavenge",
            "runtime.markroot",
            "runtime.gcStart",
        ),
    ),
    ("SQLite's JSON functions (filters pushed down)", ("modernc.org/sqlite/lib._json",)),
    ("SQLite, the rest (C translated to Go)", ("modernc.org/sqlite", "modernc.org/libc")),
    ("PostgreSQL client (pgx)", ("github.com/jackc/",)),
    (
        "documents to and from JSON (FerretDB's storage format)",
        ("github.com/FerretDB/FerretDB/internal/handler/sjson", "encoding/json"),
    ),
    (
        "BSON: the wire protocol, documents in memory",
        ("github.com/FerretDB/wire", "github.com/FerretDB/FerretDB/internal/bson"),
    ),
    (
        "update operators, filters, projections in Go",
        (
            "github.com/FerretDB/FerretDB/internal/handler/common",
            "github.com/FerretDB/FerretDB/internal/types",
        ),
    ),
    (
        "SQL statements: FerretDB's fsql, database/sql",
        ("github.com/FerretDB/FerretDB/internal/util/fsql", "database/sql"),
    ),
    ("system calls (network, files)", ("syscall.", "internal/poll.", "internal/runtime/syscall")),
    ("FerretDB, the rest", ("github.com/FerretDB/",)),
)
OTHER = "Go runtime, the rest (scheduler, locks)"
UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
SAMPLE_LINE = re.compile(r"^\s*([\d.]+)(ns|us|µs|ms|s|m|h)\s+(\S.*)$")


def capture(address: str, seconds: int, path: Path) -> threading.Thread:
    """Start reading ``seconds`` of FerretDB's CPU profile into ``path`` (the request returns
    when the profile is done); join the thread to wait for it. A failure leaves no file."""

    def read() -> None:
        url = f"http://{address}/debug/pprof/profile?seconds={seconds}"
        try:
            with urllib.request.urlopen(url, timeout=seconds + 30) as response:
                path.write_bytes(response.read())
        except OSError as error:
            print(f"    FerretDB profile not read from {address}: {error}", flush=True)

    thread = threading.Thread(target=read, name="ferretdb-profile", daemon=True)
    thread.start()
    return thread


def samples(traces: str) -> Iterator[tuple[float, list[str]]]:
    """Each sample of ``go tool pprof -traces`` output: its seconds and its stack, innermost
    frame first."""
    seconds: float | None = None
    stack: list[str] = []
    for line in traces.splitlines():
        if line.startswith("-----------+"):
            if seconds is not None:
                yield seconds, stack
            seconds, stack = None, []
            continue
        found = SAMPLE_LINE.match(line)
        if found and seconds is None:
            seconds = float(found.group(1)) * UNITS[found.group(2)]
            stack = [found.group(3).strip()]
        elif seconds is not None and line.strip():
            stack.append(line.strip())
    if seconds is not None:
        yield seconds, stack


def kind_of(stack: list[str]) -> str:
    """The kind of work of a sample: that of its innermost frame that has one."""
    for frame in stack:
        for kind, prefixes in KINDS:
            if frame.startswith(prefixes):
                return kind
    return OTHER


def summarise(traces: str, top: int = 8) -> list[str]:
    """Lines for the results: seconds sampled, the share of each kind of work, the functions
    most often innermost."""
    by_kind: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for seconds, stack in samples(traces):
        by_kind[kind_of(stack)] += seconds
        by_function[stack[0]] += seconds
    total = sum(by_kind.values())
    lines = [f"on-CPU: {total:.1f} s sampled"]
    for title, totals in (("kind", by_kind), ("function", by_function)):
        ranked = totals.most_common(len(totals) if title == "kind" else top)
        lines += [f"{title}: {100 * s / max(total, 1e-9):5.1f}%  {name}" for name, s in ranked]
    return lines


def summary(path: Path) -> list[str]:
    """``summarise`` of a profile file, read with Go's own tool (Go builds FerretDB here)."""
    if not path.exists():
        return ["(no profile)"]
    go = shutil.which("go")
    if go is None:
        return [f"(go not found: the profile is in {path})"]
    traces = subprocess.run(
        [go, "tool", "pprof", "-traces", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return summarise(traces)
