"""The audit query: the HTTP filters, and the keyset cursor of its pages.

Pages are keyset-paginated on the tenant's ingest sequence (``domain.sequence``): the order in
which the log stored its entries, unique, and only ever growing, so an entry stored while a
client walks the pages is never slipped in behind its cursor. The cursor is opaque to clients:
base64url of ``{"seq": n}``, the sequence of the last entry served (a cursor of the earlier
(time, id) form is refused). ``from`` is inclusive, ``to`` exclusive, both on the entry's event
time; times without a zone are taken as UTC. How a query is answered is ``domain.lookup``'s
business.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ilrflow.audit.domain.records import AuditEntry, normalise_time

Order = Literal["newest", "oldest"]
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def encode_cursor(sequence: int) -> str:
    """The cursor of the page after the one ending at the entry numbered ``sequence``."""
    raw = json.dumps({"seq": sequence}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Raises ValueError when the cursor was not made by ``encode_cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        sequence = json.loads(raw)["seq"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise ValueError("invalid cursor") from error
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
        raise ValueError("invalid cursor")
    return sequence


class AuditQuery(BaseModel):
    """The query string of ``GET /v1/audit/events`` (and of the exports)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    learner_id: str | None = None
    tracker_id: str | None = None
    event_type: str | None = Field(default=None, alias="type")
    actor: str | None = None
    correlation_id: str | None = None
    from_time: datetime | None = Field(default=None, alias="from")
    to_time: datetime | None = Field(default=None, alias="to")
    cursor: str | None = None
    order: Order = "newest"
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)

    @field_validator("from_time", "to_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else normalise_time(value)

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None) -> str | None:
        if value is not None:
            decode_cursor(value)
        return value

    @model_validator(mode="after")
    def _window_is_forwards(self) -> AuditQuery:
        if self.from_time and self.to_time and self.from_time >= self.to_time:
            raise ValueError("'from' must be before 'to'")
        return self


class AuditPage(NamedTuple):
    entries: list[AuditEntry]
    next_cursor: str | None
