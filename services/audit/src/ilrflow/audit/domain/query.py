"""The audit query: HTTP filters -> a MongoDB find (filter, sort, limit) and keyset pages.

Pages are keyset-paginated on (time, id), which is unique and stable under concurrent inserts,
unlike skip/limit. The cursor is opaque to clients: base64url of ``{"time", "id"}`` of the last
entry served. ``from`` is inclusive, ``to`` exclusive; times without a zone are taken as UTC.
Only operators FerretDB 1.24 supports are used (``$eq`` by value, ``$gte``, ``$lt``, ``$or``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ilrflow.audit.domain.records import AuditEntry, normalise_time

Order = Literal["newest", "oldest"]
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

# Index keys the query shapes below need; every one starts with tenant, as every query does.
RECOMMENDED_INDEXES: list[list[tuple[str, int]]] = [
    [("tenant", 1), ("time", -1), ("id", -1)],
    [("tenant", 1), ("learner_id", 1), ("time", -1), ("id", -1)],
    [("tenant", 1), ("tracker_id", 1), ("time", -1), ("id", -1)],
    [("tenant", 1), ("correlation_id", 1), ("time", -1), ("id", -1)],
    [("topic", 1), ("event_id", 1)],
    [("topic", 1), ("partition", 1), ("offset", 1)],
]


class CursorKey(NamedTuple):
    time: datetime
    id: str


def encode_cursor(entry: AuditEntry) -> str:
    key = {"time": normalise_time(entry.time).isoformat(), "id": entry.id}
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> CursorKey:
    """Raises ValueError when the cursor was not made by ``encode_cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
        return CursorKey(normalise_time(datetime.fromisoformat(key["time"])), str(key["id"]))
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise ValueError("invalid cursor") from error


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


class MongoFind(NamedTuple):
    """Arguments for ``collection.find(filter).sort(sort).limit(limit)``.

    ``limit`` is one more than the page size: the extra entry only says whether a next page exists.
    """

    filter: dict[str, Any]
    sort: list[tuple[str, int]]
    limit: int


class AuditPage(NamedTuple):
    entries: list[AuditEntry]
    next_cursor: str | None


def build_find(query: AuditQuery, tenant: str) -> MongoFind:
    """The find for ``query`` within ``tenant`` (from the caller's token, never the request)."""
    direction = -1 if query.order == "newest" else 1
    return MongoFind(
        filter=_filter(query, tenant),
        sort=[("time", direction), ("id", direction)],
        limit=query.limit + 1,
    )


def paginate(fetched: Sequence[AuditEntry], query: AuditQuery) -> AuditPage:
    """Cut what ``build_find`` fetched into the page served and the cursor of the next one."""
    page = list(fetched[: query.limit])
    has_more = len(fetched) > query.limit
    return AuditPage(page, encode_cursor(page[-1]) if has_more and page else None)


def _filter(query: AuditQuery, tenant: str) -> dict[str, Any]:
    equalities = {
        "learner_id": query.learner_id,
        "tracker_id": query.tracker_id,
        "event_type": query.event_type,
        "actor": query.actor,
        "correlation_id": query.correlation_id,
    }
    found: dict[str, Any] = {"tenant": tenant}
    found.update({field: value for field, value in equalities.items() if value is not None})
    window = _time_window(query)
    if window:
        found["time"] = window
    if query.cursor:
        found["$or"] = _after_cursor(decode_cursor(query.cursor), query.order)
    return found


def _time_window(query: AuditQuery) -> dict[str, datetime]:
    window: dict[str, datetime] = {}
    if query.from_time:
        window["$gte"] = query.from_time
    if query.to_time:
        window["$lt"] = query.to_time
    return window


def _after_cursor(key: CursorKey, order: Order) -> list[dict[str, Any]]:
    """Entries strictly past the cursor in the sort order: later time, or same time and id."""
    beyond = "$lt" if order == "newest" else "$gt"
    return [{"time": {beyond: key.time}}, {"time": key.time, "id": {beyond: key.id}}]
