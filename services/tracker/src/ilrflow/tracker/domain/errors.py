"""What the tracker domain refuses, as exceptions the HTTP layer maps to status codes.

``IllegalTransition`` -> 409 with the current state; ``VersionConflict`` -> 409 (or 412 for
If-Match) with the current version; ``InvalidCommandError`` -> 422 naming the field and the reason.
"""

from __future__ import annotations


class IllegalTransition(Exception):  # noqa: N818 - the domain's name for the refusal
    """The action is not allowed in the tracker's current state."""

    def __init__(self, current_state: str, action: str) -> None:
        self.current_state = current_state
        self.action = action
        super().__init__(f"cannot {action} a tracker that is {current_state}")


class VersionConflict(Exception):  # noqa: N818 - the domain's name for the refusal
    """The caller acted on a stale copy: someone changed the tracker since they read it."""

    def __init__(self, current_version: int, expected_version: int | None = None) -> None:
        self.current_version = current_version
        self.expected_version = expected_version
        super().__init__(
            f"the tracker is at version {current_version}, not {expected_version}; "
            "reload it and try again"
        )


class InvalidCommandError(ValueError):
    """A command's own input is wrong (e.g. a rejection without a reason)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")
