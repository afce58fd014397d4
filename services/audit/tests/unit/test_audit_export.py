"""CSV and XLSX exports: header row, one row per entry, formulas neutralised."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from ilrflow.audit.domain import describe, export_csv, export_xlsx
from ilrflow.audit.domain.export import HEADER
from ilrflow.contracts.events import TrackerRejected

from .conftest import T0, RecordFactory

EXPECTED_HEADER = [
    "time (UTC)",
    "topic",
    "partition",
    "offset",
    "type",
    "tenant",
    "learner",
    "tracker",
    "actor",
    "actor name",
    "correlation id",
    "event id",
    "duplicate",
    "summary",
]


def rejected_with(reason: str) -> TrackerRejected:
    return TrackerRejected(
        tracker_id="T1",
        learner_id="L1",
        tracker_type="change_of_name",
        reason=reason,
        rejected_by="A1",
        raised_by="L1",
    )


def test_csv_has_a_header_and_one_row_per_entry(record_entry: RecordFactory) -> None:
    entries = [
        record_entry(offset=1),
        record_entry(offset=2).model_copy(update={"duplicate_of": "x"}),
    ]

    rows = list(csv.reader(io.StringIO(export_csv(entries).decode("utf-8-sig"))))

    assert rows[0] == EXPECTED_HEADER == HEADER
    assert len(rows) == 3
    first = dict(zip(EXPECTED_HEADER, rows[1], strict=True))
    assert first["time (UTC)"] == "2026-01-05T10:00:00.000Z"
    assert (first["topic"], first["offset"], first["learner"], first["tracker"]) == (
        "tracker-raised",
        "1",
        "L1",
        "T1",
    )
    assert first["event id"] == entries[0].event_id
    assert first["summary"] == describe(entries[0])
    assert (first["duplicate"], rows[2][12]) == ("no", "yes")


def test_csv_neutralises_formulas(record_entry: RecordFactory) -> None:
    entry = record_entry(rejected_with("x"), actor='=HYPERLINK("http://evil")')

    row = list(csv.reader(io.StringIO(export_csv([entry]).decode("utf-8-sig"))))[1]

    assert row[8] == '\'=HYPERLINK("http://evil")'


def test_xlsx_has_a_header_and_one_row_per_entry(record_entry: RecordFactory) -> None:
    entries = [record_entry(offset=1), record_entry(offset=2)]

    sheet = load_workbook(io.BytesIO(export_xlsx(entries))).active
    rows = list(sheet.iter_rows(values_only=True))

    assert list(rows[0]) == EXPECTED_HEADER
    assert len(rows) == 3
    assert rows[1][0] == T0.replace(tzinfo=None)
    assert rows[1][1:4] == ("tracker-raised", 0, 1)


def test_xlsx_keeps_formulas_as_text_and_drops_illegal_characters(
    record_entry: RecordFactory,
) -> None:
    entry = record_entry(rejected_with("bad\x01 data"), actor="=1+1\x02")

    sheet = load_workbook(io.BytesIO(export_xlsx([entry]))).active
    row = next(sheet.iter_rows(min_row=2, values_only=True))

    assert row[8] == "'=1+1"
    assert sheet.cell(row=2, column=9).data_type == "s"
    assert str(row[13]).endswith('rejected by A1: "bad\\u0001 data"')  # quoted, escaped


def test_exports_of_nothing_are_just_the_header() -> None:
    assert export_csv([]).decode("utf-8-sig").splitlines() == [",".join(EXPECTED_HEADER)]
    rows = list(load_workbook(io.BytesIO(export_xlsx([]))).active.iter_rows(values_only=True))
    assert rows == [tuple(EXPECTED_HEADER)]


def test_staff_the_audit_log_knows_are_shown_by_name(record_entry: RecordFactory) -> None:
    entry = record_entry(rejected_with("duplicate request"), actor="A1")
    names = {"A1": "Ada Admin"}

    rows = list(csv.reader(io.StringIO(export_csv([entry], names).decode("utf-8-sig"))))
    row = dict(zip(EXPECTED_HEADER, rows[1], strict=True))

    assert (row["actor"], row["actor name"]) == ("A1", "Ada Admin")
    assert row["summary"].endswith('rejected by Ada Admin (A1): "duplicate request"')
    xlsx = load_workbook(io.BytesIO(export_xlsx([entry], names))).active
    assert next(xlsx.iter_rows(min_row=2, values_only=True))[9] == "Ada Admin"
