from ilrflow.web.domain.changes import (
    ABSENT,
    FieldChange,
    apply_patch,
    field_changes,
    field_name,
    resolve,
    version_changes,
)

ILR = {"Postcode": "LS1 4AP", "AddLine1": "1 High Street", "LearningDelivery": [{"CompStatus": 1}]}


def test_a_preview_shows_each_field_before_and_after() -> None:
    patch = [
        {"op": "replace", "path": "/Postcode", "value": "LS6 1AA"},
        {"op": "add", "path": "/AddLine3", "value": "Headingley"},
        {"op": "replace", "path": "/LearningDelivery/0/CompStatus", "value": 6},
        {"op": "remove", "path": "/AddLine1"},
    ]
    assert field_changes(ILR, patch) == [
        FieldChange("Postcode", "LS1 4AP", "LS6 1AA"),
        FieldChange("AddLine3", ABSENT, "Headingley"),
        FieldChange("LearningDelivery / 1 / CompStatus", "1", "6"),
        FieldChange("AddLine1", "1 High Street", ABSENT),
    ]


def test_each_version_is_compared_with_the_ilr_the_versions_before_it_made() -> None:
    history = [
        {
            "version": 2,
            "patch": [{"op": "replace", "path": "/Postcode", "value": "LS6 1AA"}],
            "tracker_id": "T1",
            "outcome": "applied",
            "reason": "moved",
            "cause": "tracker",
        },
        {
            "version": 1,
            "patch": [{"op": "add", "path": "/Postcode", "value": "LS1 4AP"}],
            "tracker_id": None,
            "outcome": "applied",
            "reason": "enrolled",
            "cause": "enrolment",
        },
    ]
    first, second = version_changes(history)
    assert first.changes == [FieldChange("Postcode", ABSENT, "LS1 4AP")]
    assert (second.version, second.tracker_id) == (2, "T1")
    assert second.changes == [FieldChange("Postcode", "LS1 4AP", "LS6 1AA")]


def test_a_patch_applies_to_a_copy() -> None:
    patched = apply_patch(ILR, [{"op": "add", "path": "/LearningDelivery/-", "value": {"A": 1}}])
    assert resolve(patched, "/LearningDelivery/1/A") == 1
    assert len(ILR["LearningDelivery"]) == 1  # type: ignore[arg-type]


def test_pointers_unescape_and_missing_paths_resolve_to_nothing() -> None:
    assert resolve({"a/b": {"~c": 3}}, "/a~1b/~0c") == 3
    assert resolve(ILR, "/LearningDelivery/5/CompStatus") is None
    assert field_name("") == "(whole record)"
