"""Every list pages the same way: an opaque cursor of the last item's sort key, a stated limit,
and a cursor the API did not issue refused as a 422 problem."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ilrflow.platform.http_errors import ApiError
from ilrflow.platform.paging import (
    MAX_PAGE_SIZE,
    Page,
    decode_cursor,
    encode_cursor,
    page_in_memory,
    page_of,
)


class NumberPage(Page[int]):
    pass


def test_a_cursor_carries_the_key_and_its_types() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    cursor = encode_cursor((at, "T-1", 7))
    assert decode_cursor(cursor, (datetime, str, int)) == (at, "T-1", 7)
    assert decode_cursor(None, (str,)) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"{not json").decode(),
        base64.urlsafe_b64encode(json.dumps({"id": "x"}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["x", "y"]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([1]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps([True]).encode()).decode(),
    ],
)
def test_a_cursor_not_issued_is_a_422(cursor: str) -> None:
    with pytest.raises(ApiError) as refused:
        decode_cursor(cursor, (str,))
    assert (refused.value.status, refused.value.code) == (422, "bad_cursor")
    assert refused.value.details[0]["field"] == "cursor"


def test_a_datetime_part_that_does_not_parse_is_a_422() -> None:
    with pytest.raises(ApiError):
        decode_cursor(encode_cursor(("yesterday",)), (datetime,))


def test_the_extra_item_says_there_is_a_next_page() -> None:
    page = page_of(NumberPage, [1, 2, 3], 2, lambda n: (n,))
    assert page.items == [1, 2]
    assert page.next_cursor == encode_cursor((2,))
    assert page_of(NumberPage, [1, 2], 2, lambda n: (n,)).next_cursor is None


@given(
    st.lists(st.integers(0, 1000), unique=True),
    st.integers(1, MAX_PAGE_SIZE),
    st.booleans(),
)
def test_paging_in_memory_yields_every_item_once_in_order(
    numbers: list[int], limit: int, descending: bool
) -> None:
    ordered = sorted(numbers, reverse=descending)
    seen: list[int] = []
    cursor = None
    while True:
        page = page_in_memory(
            NumberPage, ordered, lambda n: (n,), (int,), cursor, limit, descending=descending
        )
        assert len(page.items) <= limit
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ordered


def test_an_item_removed_between_pages_does_not_lose_the_place() -> None:
    first = page_in_memory(NumberPage, [1, 2, 3, 4], lambda n: (n,), (int,), None, 2)
    rest = page_in_memory(NumberPage, [1, 3, 4], lambda n: (n,), (int,), first.next_cursor, 2)
    assert (first.items, rest.items) == ([1, 2], [3, 4])


def test_a_bad_cursor_is_refused_even_for_an_empty_list() -> None:
    with pytest.raises(ApiError):
        page_in_memory(NumberPage, [], lambda n: (n,), (int,), "nonsense", 10)
