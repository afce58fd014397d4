"""The audit query: the HTTP filters, and the keyset cursor of its pages.

Pages are keyset-paginated on the tenant's ingest sequence (``domain.sequence``): the order in
which the log stored its entries, unique, and only ever growing, so an entry stored while a
client walks the pages is never slipped in behind its cursor. The cursor is opaque to clients:
base64url of ``{"seq": n}``, the sequence of the last entry served (a cursor of the earlier
(time, id) form is refused). ``from`` is inclusive, ``to`` exclusive, both on the entry's event
time; times without a zone are taken as UTC. How a query is answered is ``domain.lookup``'s
business.

``type`` takes an event type (``ilrflow.tracker.processed.v1``) or the name of the topic that
carries it, as the docs name them (``tracker-processed``); a topic that carries several types
(``learner-updated``: learner and staff changes) selects all of them. Anything else is refused
rather than silently matching nothing.

The audit log's records of its own reads (``ilrflow.audit.accessed.v1``) are left out unless
``include_access`` is set or ``type`` asks for them: every read adds one, so a support
session's own searches would otherwise fill the newest-first pages it is reading.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ilrflow.audit.domain.records import AuditEntry, normalise_time
from ilrflow.contracts.events import CATALOGUE, EventType, Topics, types_on_topic

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
    include_access: bool = False

    @field_validator("event_type")
    @classmethod
    def _known_type(cls, value: str | None) -> str | None:
        if value is not None:
            event_types_named(value)
        return value

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

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types ``type`` names; empty when the query has no type filter."""
        return event_types_named(self.event_type) if self.event_type else ()

    def one_query_per_type(self) -> list[AuditQuery]:
        """The query once for each event type it names, each walkable on its own lookup key
        (one query when it names one type or none)."""
        return [self.model_copy(update={"event_type": t}) for t in self.event_types] or [self]

    def shows(self, event_type: str | None) -> bool:
        """Whether an entry of this type is served: reads of the audit log only when asked."""
        if event_type != EventType.AUDIT_ACCESSED:
            return True
        return self.include_access or EventType.AUDIT_ACCESSED in self.event_types


TYPE_NAMES: tuple[str, ...] = (*sorted(CATALOGUE), *Topics.ALL)
"""Every value ``type`` accepts: the event types, then the topic names."""


def event_types_named(name: str) -> tuple[str, ...]:
    """The event types ``name`` stands for: itself if it is one, else those of the topic it
    names. Raises ValueError naming what is accepted when it is neither."""
    if name in CATALOGUE:
        return (name,)
    if name in Topics.ALL:
        return tuple(types_on_topic(name))
    raise ValueError(
        f"unknown event type {name!r}: give an event type ({', '.join(sorted(CATALOGUE))}) "
        f"or a topic name ({', '.join(Topics.ALL)})"
    )


class AuditPage(NamedTuple):
    entries: list[AuditEntry]
    next_cursor: str | None
