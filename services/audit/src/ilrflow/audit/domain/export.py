"""CSV and XLSX exports of audit entries: a header row, then one row per entry.

Cell text can come from anyone who can raise a tracker (a reason, a note), so a value that a
spreadsheet would run as a formula is neutralised: a leading quote in CSV (OWASP's advice) and an
explicit text cell in XLSX. Characters XLSX cannot hold (most ASCII controls) are dropped there.
Times are UTC; XLSX cells carry no zone, so the header says so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ilrflow.audit.domain.records import AuditEntry
from ilrflow.audit.domain.summary import describe

Cell = str | int | datetime

COLUMNS: list[tuple[str, Callable[[AuditEntry], Cell]]] = [
    ("time (UTC)", lambda e: e.time),
    ("topic", lambda e: e.topic),
    ("partition", lambda e: e.partition),
    ("offset", lambda e: e.offset),
    ("type", lambda e: e.event_type or ""),
    ("tenant", lambda e: e.tenant or ""),
    ("learner", lambda e: e.learner_id or ""),
    ("tracker", lambda e: e.tracker_id or ""),
    ("actor", lambda e: e.actor or ""),
    ("correlation id", lambda e: e.correlation_id or ""),
    ("event id", lambda e: e.event_id or ""),
    ("duplicate", lambda e: "yes" if e.is_duplicate else "no"),
    ("summary", describe),
]
HEADER = [name for name, _ in COLUMNS]
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def export_csv(entries: Iterable[AuditEntry]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens non-ASCII names correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for entry in entries:
        writer.writerow([_csv_cell(cell) for cell in _row(entry)])
    return buffer.getvalue().encode("utf-8-sig")


def export_xlsx(entries: Iterable[AuditEntry]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("audit")
    sheet.append(HEADER)
    for entry in entries:
        sheet.append([_xlsx_cell(sheet, cell) for cell in _row(entry)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _row(entry: AuditEntry) -> list[Cell]:
    return [value_of(entry) for _, value_of in COLUMNS]


def _csv_cell(cell: Cell) -> str | int:
    if isinstance(cell, datetime):
        return cell.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(cell, str) and cell.startswith(_FORMULA_TRIGGERS):
        return "'" + cell
    return cell


def _xlsx_cell(sheet: Any, cell: Cell) -> object:
    if isinstance(cell, datetime):
        return cell.astimezone(UTC).replace(tzinfo=None)  # Excel has no time zones
    if not isinstance(cell, str):
        return cell
    text_cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", cell))
    text_cell.data_type = "s"  # never let openpyxl read a leading "=" as a formula
    return text_cell
