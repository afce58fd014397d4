from ilrflow.contracts.events import setting_changes


def test_each_changed_setting_is_named_by_its_path_with_before_and_after() -> None:
    before = {
        "two_person": False,
        "types": {"change_of_address": {"enabled": True, "process_roles": ["admin"]}},
    }
    after = {
        "two_person": True,
        "types": {
            "change_of_address": {"enabled": True, "process_roles": ["admin", "ilr_qa"]},
            "withdrawal": {"enabled": True},
        },
    }
    found = [(c.path, c.before, c.after) for c in setting_changes(before, after)]
    assert found == [
        ("two_person", False, True),
        ("types.change_of_address.process_roles", ["admin"], ["admin", "ilr_qa"]),
        ("types.withdrawal", None, {"enabled": True}),
    ]


def test_nothing_changed_is_no_change() -> None:
    settings = {"types": {"a": {"enabled": True}}}
    assert setting_changes(settings, dict(settings)) == []
