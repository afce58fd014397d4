"""CSV and XLSX exports of audit entries: a header row, then one row per entry.

Cell text can come from anyone who can raise a tracker (a reason, a note), so a value that a
spreadsheet would run as a formula is neutralised: a leading quote in both formats (OWASP's advice,
``ilrflow.contracts.spreadsheets``) and, in XLSX, an explicit text cell as well. Characters XLSX cannot hold (most ASCII controls) are dropped there.
Times are UTC; XLSX cells carry no zone, so the header says so. Staff are shown by id and, where
the audit log knows them (``names``: staff id -> current name), by name: the actor's in a column
of its own, and everyone the summary mentions beside their id.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.summary import NO_NAMES, describe
from ilrflow.contracts.spreadsheets import neutralise_formula

Cell = str | int | datetime
Names = Mapping[str, str]

COLUMNS: list[tuple[str, Callable[[AuditEntry, Names], Cell]]] = [
    ("time (UTC)", lambda e, _: e.time),
    ("topic", lambda e, _: e.topic),
    ("partition", lambda e, _: e.partition),
    ("offset", lambda e, _: e.offset),
    ("type", lambda e, _: e.event_type or ""),
    ("tenant", lambda e, _: e.tenant or ""),
    ("learner", lambda e, _: e.learner_id or ""),
    ("tracker", lambda e, _: e.tracker_id or ""),
    ("actor", lambda e, _: e.actor or ""),
    ("actor name", lambda e, names: names.get(e.actor or "", "")),
    ("correlation id", lambda e, _: e.correlation_id or ""),
    ("event id", lambda e, _: e.event_id or ""),
    ("duplicate", lambda e, _: "yes" if e.is_duplicate else "no"),
    ("summary", describe),
]
HEADER = [name for name, _ in COLUMNS]


def export_csv(entries: Iterable[AuditEntry], names: Names = NO_NAMES) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens non-ASCII names correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for entry in entries:
        writer.writerow([_csv_cell(cell) for cell in _row(entry, names)])
    return buffer.getvalue().encode("utf-8-sig")


def export_xlsx(entries: Iterable[AuditEntry], names: Names = NO_NAMES) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("audit")
    sheet.append(HEADER)
    for entry in entries:
        sheet.append([_xlsx_cell(sheet, cell) for cell in _row(entry, names)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _row(entry: AuditEntry, names: Names) -> list[Cell]:
    return [value_of(entry, names) for _, value_of in COLUMNS]


def _csv_cell(cell: Cell) -> str | int:
    if isinstance(cell, datetime):
        return cell.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(cell, str):
        return neutralise_formula(cell)
    return cell


def _xlsx_cell(sheet: Any, cell: Cell) -> object:
    if isinstance(cell, datetime):
        return cell.astimezone(UTC).replace(tzinfo=None)  # Excel has no time zones
    if not isinstance(cell, str):
        return cell
    text_cell = WriteOnlyCell(sheet, value=neutralise_formula(ILLEGAL_CHARACTERS_RE.sub("", cell)))
    text_cell.data_type = "s"  # never let openpyxl read a leading "=" as a formula
    return text_cell
