"""The staff names the audit log keeps from the staff events it stores."""

from __future__ import annotations

from datetime import timedelta

from ilrflow.audit.domain.staff import StaffName, is_newer, staff_names
from ilrflow.contracts.events import StaffUpdated

from .conftest import T0, RecordFactory, raised


def staff(name: str, staff_id: str = "A1") -> StaffUpdated:
    return StaffUpdated(id=staff_id, name=name, email="a@example.org", roles=["admin"], groups=[])


def test_the_newest_name_of_each_person_wins(record_entry: RecordFactory) -> None:
    later = T0 + timedelta(minutes=5)
    entries = [
        record_entry(staff("Ada Newname"), offset=2, time=later, subject="A1"),
        record_entry(staff("Ada Admin"), offset=1, time=T0, subject="A1"),
        record_entry(staff("Tom Tutor", "T9"), offset=3, time=T0, subject="T9"),
        record_entry(raised(), offset=4),
    ]

    assert staff_names(entries) == {
        ("acme", "A1"): StaffName("Ada Newname", later),
        ("acme", "T9"): StaffName("Tom Tutor", T0),
    }


def test_duplicates_and_dead_letters_teach_no_names(record_entry: RecordFactory) -> None:
    duplicate = record_entry(staff("Ada Admin"), subject="A1").model_copy(
        update={"duplicate_of": "learner-updated:0:0"}
    )
    dead = record_entry(staff("Ada Admin"), topic="learner-updated.dlt", subject="A1")

    assert staff_names([duplicate, dead]) == {}


def test_an_older_event_does_not_undo_a_rename() -> None:
    known = StaffName("Ada Newname", T0 + timedelta(minutes=5))

    assert not is_newer(StaffName("Ada Admin", T0), known)
    assert is_newer(StaffName("Ada Latest", T0 + timedelta(minutes=6)), known)
    assert is_newer(StaffName("Ada Admin", T0), None)
