"""Where each version's history entry lives, and how a reader puts the history back together.

The history grows with every applied change, so it is kept out of the learner's record document
(every read and write of that document would grow with it). The entry of the record's current
version rides in the record, written in the same single-document write as the version it
describes; the next change first copies it to a version document of its own, keyed by version,
and only then replaces it. Each version document is therefore written from a version that has
already been stored, never from a write that may still lose its race: two writers racing for
version N+1 both copy the same entry N, and the loser writes nothing of its own anywhere.

Records stored before this layout keep their whole history embedded (``embedded``); those
entries are used for the versions they cover.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Entry = Mapping[str, Any]


@dataclass(frozen=True)
class HistorySources:
    """What the record document says about its history."""

    version: int
    latest: Entry | None
    embedded: Sequence[Entry] = ()

    def stored_versions_needed(self) -> list[int]:
        """The versions, oldest first, whose entries must be read from version documents."""
        in_record = {int(entry["version"]) for entry in self._in_record()}
        return [v for v in range(1, self.version + 1) if v not in in_record]

    def history(self, stored: Iterable[Entry]) -> list[Entry]:
        """Every version's entry, oldest first, from the record and the version documents read.

        A version document above the record's version belongs to a change that never landed
        (or is still landing) and is ignored, as is one for a version the record itself holds.
        """
        by_version: dict[int, Entry] = {}
        for entry in stored:
            version = int(entry["version"])
            if 1 <= version <= self.version:
                by_version[version] = entry
        for entry in self._in_record():
            by_version[int(entry["version"])] = entry
        return [by_version[v] for v in sorted(by_version)]

    def _in_record(self) -> list[Entry]:
        held = [entry for entry in self.embedded if int(entry["version"]) <= self.version]
        if self.latest is not None and int(self.latest["version"]) == self.version:
            held.append(self.latest)
        return held
