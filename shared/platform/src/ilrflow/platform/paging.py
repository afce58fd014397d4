"""Every list pages the same way: ``?cursor=&limit=`` in, ``{"items", "next_cursor"}`` out.

A page holds up to ``limit`` items (1 to :data:`MAX_PAGE_SIZE`, :data:`DEFAULT_PAGE_SIZE` when not
sent), in the list's stated order; ``next_cursor`` is null on the last page and otherwise what to
send as ``cursor`` for the next. A cursor is opaque to clients: URL-safe base64 of a JSON array,
the sort key of the page's last item, so a page goes on after that item even when items were
added or removed meanwhile. A cursor this API did not issue is a 422 ``bad_cursor`` problem.

A list kept in a database asks its repository for ``limit + 1`` items after the cursor's key
(:func:`decode_cursor`) and makes the page with :func:`page_of`: the extra item only says there
is more. A list built in memory (tracker types, groups, an ILR's versions) pages with
:func:`page_in_memory`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from ilrflow.platform.http_errors import ApiError

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

KeyPart = str | int | datetime
Key = tuple[KeyPart, ...]
T = TypeVar("T")
P = TypeVar("P", bound="Page[Any]")

Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page, at most {MAX_PAGE_SIZE}.")
]
Cursor = Annotated[
    str | None,
    Query(max_length=1000, description="The `next_cursor` of the previous page; none: the first."),
]


class Page(BaseModel, Generic[T]):
    """A page of a list; a list's own page model subclasses it (``class LearnerPage(Page[...])``)
    so the OpenAPI document names it."""

    items: list[T]
    next_cursor: str | None = Field(description="The `cursor` of the next page; null on the last.")


def encode_cursor(key: Key) -> str:
    parts = [part.isoformat() if isinstance(part, datetime) else part for part in key]
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: Sequence[type[KeyPart]]) -> Key | None:
    """The sort key in ``cursor`` (None for the first page), each part of the given type."""
    if cursor is None:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(parts, list) or len(parts) != len(types):
            raise ValueError("not a key of this list")
        return tuple(_part(value, kind) for value, kind in zip(parts, types, strict=True))
    except (ValueError, TypeError, binascii.Error) as error:
        reason = "not a cursor this list issued: send a next_cursor as it came"
        problems = [{"field": "cursor", "reason": reason}]
        raise ApiError(422, "bad_cursor", f"cursor: {reason}.", problems) from error


def _part(value: Any, kind: type[KeyPart]) -> KeyPart:
    if kind is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    raise ValueError(f"{value!r} is not a {kind.__name__}")


def page_of(
    page: type[P], found: Sequence[Any], limit: int, key: Callable[[Any], Key], **fields: Any
) -> P:
    """The page of up to ``limit`` of ``found``: what the store gave after the cursor, asked for
    ``limit + 1`` so that a further item says there is a next page. ``fields``: the page model's
    own members besides the two (an inbox's unread count)."""
    items = list(found[:limit])
    more = len(found) > limit
    cursor = encode_cursor(key(items[-1])) if more else None
    return page(items=items, next_cursor=cursor, **fields)


def page_in_memory(
    page: type[P],
    items: Sequence[T],
    key: Callable[[T], Key],
    types: Sequence[type[KeyPart]],
    cursor: str | None,
    limit: int,
    *,
    descending: bool = False,
    **fields: Any,
) -> P:
    """The page of ``items`` (in ``key`` order, ascending unless ``descending``; the key's parts
    of ``types``) after the cursor's key; ``fields`` as for :func:`page_of`."""
    after = decode_cursor(cursor, types)
    rest = [item for item in items if after is None or _beyond(key(item), after, descending)]
    return page_of(page, rest[: limit + 1], limit, key, **fields)


def _beyond(key: Key, after: Key, descending: bool) -> bool:
    return key < after if descending else key > after
