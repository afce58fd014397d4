"""The Trackers screen as a spreadsheet: the seed product's columns, one row per tracker.

Names, employers and reasons are other people's text: each goes through ``neutralise_formula``,
so that a learner named ``=HYPERLINK(...)`` is a text cell, never a live formula."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font

from ilrflow.contracts.spreadsheets import neutralise_formula
from ilrflow.tracker.adapters.projections import LearnerView, StaffView
from ilrflow.tracker.domain.tracker import Tracker

COLUMNS = (
    "Tracker",
    "Learner",
    "Learner id",
    "Programme",
    "Tutor",
    "Created by",
    "Created date",
    "Assigned to",
    "Employer",
    "Type",
    "Status",
    "ILR outcome",
    "ILR outcome reason",
)


def trackers_workbook(
    trackers: Sequence[Tracker],
    learners: Mapping[str, LearnerView | None],
    staff: Mapping[str, StaffView],
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Trackers"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for tracker in trackers:
        row = _row(tracker, learners.get(tracker.learner_id), staff)
        sheet.append([_text_safe(cell) for cell in row])
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text_safe(cell: object) -> object:
    return neutralise_formula(cell) if isinstance(cell, str) else cell


def _row(
    tracker: Tracker, learner: LearnerView | None, staff: Mapping[str, StaffView]
) -> list[object]:
    programme = learner.current_programme if learner else None
    tutor = staff.get(learner.primary_tutor_id or "") if learner else None
    assigned = staff.get(tracker.allocated_to or "")
    return [
        tracker.id,
        learner.name if learner else "",
        tracker.learner_id,
        f"Standard {programme.standard_code}" if programme else "",
        tutor.name if tutor else "",
        staff[tracker.raised_by].name if tracker.raised_by in staff else tracker.raised_by,
        tracker.raised_at.replace(tzinfo=None),
        assigned.name if assigned else (tracker.allocated_to or "Unallocated"),
        programme.employer_name if programme else "",
        tracker.tracker_type,
        tracker.status,
        tracker.ilr_outcome.status if tracker.ilr_outcome else "",
        tracker.ilr_outcome.reason if tracker.ilr_outcome else "",
    ]
