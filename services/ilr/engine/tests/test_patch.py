"""RFC 6902 diff and apply: patch(old, new) applied to old gives new, and a patch holds only
real changes, also between values as the database returns them (BSON Int64, naive datetimes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import bson
from bson.codec_options import CodecOptions
from bson.int64 import Int64
from hypothesis import given
from hypothesis import strategies as st

from ilrflow.ilr_engine import apply_patch, json_patch
from ilrflow.ilr_engine.patch import json_equal

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet="ab/~c", max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)


# What the engine writes and the database gives back: 64-bit integers, floats, times (BSON keeps
# milliseconds).
stored_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
    | st.datetimes(timezones=st.just(UTC)).map(
        lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet="ab/~c", max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)


def as_the_database_returns(value: Any) -> Any:
    """A BSON round trip, decoded as PyMongo does by default (Int64, datetimes without tzinfo)."""
    stored: Any = bson.decode(bson.encode({"value": value}), CodecOptions(tz_aware=False))
    return stored["value"]


def equal_replacements(document: Any, patch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The operations that replace a value with an equal one, looked up as the patch applies."""
    found = []
    for operation in patch:
        if operation["op"] == "replace" and json_equal(
            value_at(document, operation["path"]), operation["value"]
        ):
            found.append(operation)
        document = apply_patch(document, [operation])
    return found


def value_at(document: Any, path: str) -> Any:
    for token in path.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        document = document[int(token)] if isinstance(document, list) else document[token]
    return document


@given(json_values, json_values)
def test_patch_turns_old_into_new(old: Any, new: Any) -> None:
    assert apply_patch(old, json_patch(old, new)) == new


@given(json_values)
def test_no_difference_no_operations(document: Any) -> None:
    assert json_patch(document, document) == []


@given(stored_values)
def test_a_value_read_back_from_the_database_differs_in_nothing(value: Any) -> None:
    stored = as_the_database_returns(value)

    assert json_patch(stored, value) == []
    assert json_patch(value, stored) == []


@given(stored_values, stored_values)
def test_a_patch_from_a_stored_record_holds_only_real_changes(old: Any, new: Any) -> None:
    stored = as_the_database_returns(old)

    patch = json_patch(stored, new)

    assert json_equal(apply_patch(stored, patch), new)
    assert equal_replacements(stored, patch) == []
    assert patch == json_patch(old, new)


def test_the_uln_read_back_as_int64_is_not_a_change() -> None:
    stored = {"ULN": Int64(9276308686), "GivenNames": "Ann"}

    assert json_patch(stored, {"ULN": 9276308686, "GivenNames": "Anne"}) == [
        {"op": "replace", "path": "/GivenNames", "value": "Anne"}
    ]


def test_json_equality_is_not_python_equality() -> None:
    assert not json_equal(True, 1)
    assert not json_equal(0, False)
    assert json_equal(1, 1.0)
    assert json_equal(Int64(5), 5)
    assert json_equal(datetime(2025, 1, 1, 12), datetime(2025, 1, 1, 12, tzinfo=UTC))
    assert not json_equal({"a": 1}, [1])
    assert json_patch({"flag": 1}, {"flag": True}) == [
        {"op": "replace", "path": "/flag", "value": True}
    ]


def test_list_of_records_diffs_by_index() -> None:
    old = {"LearningDelivery": [{"CompStatus": 1}]}
    new = {"LearningDelivery": [{"CompStatus": 6, "Outcome": 3}, {"CompStatus": 1}]}

    assert json_patch(old, new) == [
        {"op": "replace", "path": "/LearningDelivery/0/CompStatus", "value": 6},
        {"op": "add", "path": "/LearningDelivery/0/Outcome", "value": 3},
        {"op": "add", "path": "/LearningDelivery/1", "value": {"CompStatus": 1}},
    ]


def test_keys_are_escaped() -> None:
    assert json_patch({}, {"a/b~c": 1}) == [{"op": "add", "path": "/a~1b~0c", "value": 1}]


def test_removals_from_a_list_run_from_the_end() -> None:
    patch = json_patch({"x": [1, 2, 3]}, {"x": [1]})

    assert [op["path"] for op in patch] == ["/x/2", "/x/1"]
    assert apply_patch({"x": [1, 2, 3]}, patch) == {"x": [1]}
