"""Progress of ``verify`` on the command line (``ilrflow audit verify``, ``ilrflow-audit verify``):
on stderr, so that stdout holds only the result and ``--json`` output stays parseable."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class VerifyProgress:
    """Entries read so far, at most once a second; then the total, the time and the rate."""

    def __init__(self, stream: TextIO | None = None, every_seconds: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.every_seconds = every_seconds
        self.started = self.shown = time.monotonic()
        self.read = 0

    def __call__(self, read: int, expected: int) -> None:
        self.read = read
        now = time.monotonic()
        if now - self.shown >= self.every_seconds:
            self.shown = now
            of = f" of about {expected:,}" if expected >= read else ""
            self._say(f"verify: {read:,}{of} entries read and hashed")

    def done(self) -> None:
        seconds = max(time.monotonic() - self.started, 1e-6)
        rate = self.read / seconds
        self._say(f"verify: {self.read:,} entries in {seconds:.1f} s ({rate:,.0f} entries/s)")

    def _say(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
