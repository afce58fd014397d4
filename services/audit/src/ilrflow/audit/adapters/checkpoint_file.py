"""The checkpoint file: one signed checkpoint per line (JSON), appended, never rewritten.

It lives outside the audit database (``ILRFLOW_AUDIT_CHECKPOINT_DIR``), so that whoever can write
the database cannot also rewrite the heads verification checks against. Ship it somewhere the
database's writers cannot reach (another volume, object storage with retention, a log archive).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from ilrflow.audit.domain.checkpoint import Checkpoint


class UnreadableCheckpointFileError(Exception):
    """A line of the checkpoint file is not a checkpoint: verification cannot trust the file."""


class CheckpointFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, checkpoints: Sequence[Checkpoint]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(checkpoint.model_dump_json() + "\n" for checkpoint in checkpoints)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(lines)
            file.flush()
            os.fsync(file.fileno())  # signed before it is published: on disk first

    def read_all(self) -> list[Checkpoint]:
        if not self.path.exists():
            return []
        checkpoints = []
        with self.path.open(encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    checkpoints.append(Checkpoint.model_validate_json(line))
                except ValidationError as error:
                    raise UnreadableCheckpointFileError(
                        f"{self.path}:{number} is not a checkpoint: {error}"
                    ) from error
        return checkpoints
