"""Counts every database command a service process sends, by database, collection and command,
when ``ILRFLOW_COMMAND_CENSUS`` names a directory: ``bench/commands.py`` puts this directory on
the services' ``PYTHONPATH`` (Python imports ``sitecustomize`` at start-up), and the counts are
written to ``<directory>/<pid>.json`` twice a second. Nothing happens without the variable."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

from pymongo import monitoring

_LISTED = frozenset({"find", "insert", "update", "delete", "findAndModify", "aggregate", "count"})


class _Census(monitoring.CommandListener):
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        target = event.command.get(name) if name in _LISTED else None
        collection = target if isinstance(target, str) else "-"
        with self.lock:
            self.counts[f"{event.database_name}|{collection}|{name}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _write_forever(census: _Census, path: Path) -> None:
    while True:
        with census.lock:
            counts = dict(census.counts)
        path.with_suffix(".tmp").write_text(json.dumps(counts))
        path.with_suffix(".tmp").replace(path)
        time.sleep(0.5)


if os.environ.get("ILRFLOW_COMMAND_CENSUS"):
    _census = _Census()
    monitoring.register(_census)
    _path = Path(os.environ["ILRFLOW_COMMAND_CENSUS"]) / f"{os.getpid()}.json"
    threading.Thread(target=_write_forever, args=(_census, _path), daemon=True).start()
