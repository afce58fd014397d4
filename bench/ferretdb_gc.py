"""FerretDB's CPU and memory for the same writes at several settings of Go's garbage collector.

    uv run python -m bench.ferretdb_gc [--gogc 100 400] [--rounds 2] [--docs 1000]

For each ``GOGC`` value in turn (all of them, ``--rounds`` times, interleaved so a change of load
falls on every value alike) a FerretDB of its own (the stack's binary, a fresh SQLite directory,
a free port) serves ``bench.ferretdb_micro``'s run: ``--docs`` aggregates of a consumer's size
inserted, then saved five times over as the consumers save them. The figures are FerretDB's CPU
seconds (user + system, ``/proc/<pid>/stat``), what the work cost whatever else runs on the box,
and its peak RSS (``VmHWM``). ``deploy/local/stack.sh`` sets ``GOGC`` from what this measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from workload import free_port, poll

from bench.ferretdb_micro import run as micro_run
from bench.pipeline import cpu_seconds, rss_mb

REPO = Path(__file__).resolve().parent.parent
FERRETDB = REPO / ".stack" / "cache" / "bin" / "ferretdb"


def one_run(gogc: int, docs: int) -> dict[str, Any]:
    """FerretDB's CPU seconds and peak RSS for one micro run at ``gogc``."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ferretdb-gc-") as data:
        server = subprocess.Popen(
            [str(FERRETDB), "--listen-addr", f"127.0.0.1:{port}", "--data-dir", data],
            env=os.environ | {"GOGC": str(gogc), "GOMEMLIMIT": "1GiB"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            poll(lambda: _listening(port), 30, "FerretDB listening", 0.1)
            before = cpu_seconds(server.pid)
            micro = asyncio.run(micro_run(f"mongodb://127.0.0.1:{port}/", docs))
            return {
                "gogc": gogc,
                "cpu_seconds": round(cpu_seconds(server.pid) - before, 2),
                "peak_rss_mb": rss_mb(server.pid, "VmHWM"),
                "load_average_end": [round(x, 2) for x in micro["load_average_end"]],
            }
        finally:
            server.terminate()
            server.wait(timeout=30)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gogc", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--docs", type=int, default=1000)
    arguments = parser.parse_args()
    runs = [
        one_run(gogc, arguments.docs) for _ in range(arguments.rounds) for gogc in arguments.gogc
    ]
    for run in runs:
        print(json.dumps(run), flush=True)
    by_value = {
        gogc: [r["cpu_seconds"] for r in runs if r["gogc"] == gogc] for gogc in arguments.gogc
    }
    print(
        json.dumps(
            {"mean_cpu_seconds": {g: round(sum(c) / len(c), 2) for g, c in by_value.items()}}
        )
    )


if __name__ == "__main__":
    main()
