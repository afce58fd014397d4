"""RFC 6902 diff and apply: patch(old, new) applied to old gives new."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ilrflow.ilr_engine import apply_patch, json_patch

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet="ab/~c", max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values, json_values)
def test_patch_turns_old_into_new(old: Any, new: Any) -> None:
    assert apply_patch(old, json_patch(old, new)) == new


@given(json_values)
def test_no_difference_no_operations(document: Any) -> None:
    assert json_patch(document, document) == []


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
