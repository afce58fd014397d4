"""The tracker export: other people's text arrives in Excel as text, never as a live formula."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from tracker_builders import raise_tracker

from ilrflow.tracker.adapters.projections import LearnerView, ProgrammeView, StaffView
from ilrflow.tracker.entrypoints.export import COLUMNS, trackers_workbook

EVIL = '=HYPERLINK("http://evil.example","click")'


def _exported_row(learner_name: str, employer: str, tutor_name: str) -> dict[str, object]:
    learner = LearnerView(
        id="learner-1",
        name=learner_name,
        group="group-a",
        primary_tutor_id="tutor-1",
        programmes=[ProgrammeView("E1", 123, date(2025, 1, 6), employer)],
    )
    tutor = StaffView("tutor-1", tutor_name, "t@example.com", ["tutor"], ["group-a"])
    workbook = trackers_workbook([raise_tracker()], {"learner-1": learner}, {"tutor-1": tutor})
    sheet = load_workbook(io.BytesIO(workbook)).active
    assert sheet is not None
    cells = next(sheet.iter_rows(min_row=2))
    assert all(cell.data_type != "f" for cell in cells)
    return dict(zip(COLUMNS, (cell.value for cell in cells), strict=True))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_would_be_a_formula_gets_a_leading_quote(start: str) -> None:
    row = _exported_row(start + "1+1", EVIL, "@SUM(A1)")
    assert row["Learner"] == "'" + start + "1+1"
    assert row["Employer"] == "'" + EVIL
    assert row["Tutor"] == "'@SUM(A1)"


def test_ordinary_text_is_left_alone() -> None:
    row = _exported_row("Ada Lovelace-Byron", "Acme Ltd", "Tom Tutor")
    assert (row["Learner"], row["Employer"], row["Tutor"]) == (
        "Ada Lovelace-Byron",
        "Acme Ltd",
        "Tom Tutor",
    )
