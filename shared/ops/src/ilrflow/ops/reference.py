"""``ilrflow reference``: platform-wide reference data, loaded from files into the service that
owns it.

``load-otj-minimums FILE.csv`` reads the DfE's published 2025/26 minimum off-the-job hours per
standard, checks every line (a header ``std_code,minimum_otj_hours``, whole numbers in range, one
line per standard; each problem names its line), and replaces the ILR service's table through its
API (``PUT /v1/ilr/reference/otj-minimums``, operator role). The ILR service announces it on the
compacted ``reference-data`` topic, and the tracker service's previews use it from then on.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import typer

from ilrflow.ops.common import EXIT_USAGE, call_service, emit_json, fail, operator_token, settings
from ilrflow.platform.settings import SERVICE_PORTS

app = typer.Typer(help="Platform-wide reference data.", no_args_is_help=True)

HEADER = ("std_code", "minimum_otj_hours")
STD_CODES = range(1, 100_000)  # LARS StdCode, as the ILR holds it (5 digits)
HOURS = range(0, 10_000)  # the ILR's hours range (PHours, OTJActHours)
# Every token names a tenant; the table is the same for all of them, so the CLI's token names
# this one and carries the operator role, which is what the ILR service checks.
TOKEN_TENANT = "platform"


class CsvInvalidError(ValueError):
    """The file is not a table the ILR service would take; ``problems`` are ``line N: why``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_otj_minimums(text: str) -> list[dict[str, int]]:
    """The rows of a ``std_code,minimum_otj_hours`` CSV, or every problem with its line."""
    lines = csv.reader(io.StringIO(text))
    header = next(lines, None)
    if header is None or tuple(cell.strip() for cell in header) != HEADER:
        raise CsvInvalidError([f"line 1: the header must be {','.join(HEADER)}"])
    rows: list[dict[str, int]] = []
    problems: list[str] = []
    first_line_of: dict[int, int] = {}
    for number, cells in enumerate(lines, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        try:
            std_code, hours = _row(cells)
        except ValueError as error:
            problems.append(f"line {number}: {error}")
            continue
        if std_code in first_line_of:
            problems.append(
                f"line {number}: standard {std_code} is already on line {first_line_of[std_code]}"
            )
            continue
        first_line_of[std_code] = number
        rows.append({"std_code": std_code, "minimum_otj_hours": hours})
    if not rows and not problems:
        problems.append("line 2: no standards after the header")
    if problems:
        raise CsvInvalidError(problems)
    return rows


def _row(cells: list[str]) -> tuple[int, int]:
    if len(cells) != len(HEADER):
        raise ValueError(f"expected 2 values ({','.join(HEADER)}), found {len(cells)}")
    std_code = _whole_number("std_code", cells[0], STD_CODES)
    hours = _whole_number("minimum_otj_hours", cells[1], HOURS)
    return std_code, hours


def _whole_number(name: str, text: str, allowed: range) -> int:
    value = text.strip()
    if not value.isdigit():
        raise ValueError(f"{name} {text!r} is not a whole number")
    number = int(value)
    if number not in allowed:
        raise ValueError(f"{name} {number} is outside {allowed.start}-{allowed.stop - 1}")
    return number


@app.command("load-otj-minimums")
def load_otj_minimums(
    file: Path = typer.Argument(..., help="CSV with the header std_code,minimum_otj_hours."),
    source: str | None = typer.Option(
        None, help="What the table is, kept and shown with it (default: the file's name)."
    ),
    ilr_url: str = typer.Option(
        f"http://127.0.0.1:{SERVICE_PORTS['ilr']}", help="The ILR service's base URL."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Replace the platform's 2025/26 minimum OTJ hours per standard with FILE's."""
    try:
        rows = read_otj_minimums(file.read_text(encoding="utf-8-sig"))
    except OSError as error:
        fail(f"{file}: {error.strerror or error}", EXIT_USAGE)
    except CsvInvalidError as error:
        fail(f"{file}:\n" + "\n".join(f"  {p}" for p in error.problems), EXIT_USAGE)
    body = {"source": source or file.name, "minimums": rows}
    token = operator_token(settings(), TOKEN_TENANT, ["operator"])
    with httpx.Client(headers={"authorization": f"Bearer {token}"}, timeout=30) as http:
        path = "/v1/ilr/reference/otj-minimums"
        loaded: dict[str, Any] = call_service(http, "ilr", ilr_url, "PUT", path, body)
    if as_json:
        emit_json(loaded)
        return
    typer.echo(
        f"loaded {len(loaded['minimums'])} standards from {loaded['source']!r} "
        f"at {loaded['loaded_at']}"
    )
