"""``ilrflow reference load-otj-minimums``: the CSV is checked line by line before anything is
sent, and every problem names its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ilrflow.ops import app
from ilrflow.ops.common import EXIT_USAGE
from ilrflow.ops.reference import CsvInvalidError, read_otj_minimums

runner = CliRunner()


def test_a_good_table() -> None:
    text = "std_code,minimum_otj_hours\n244,370\n\n91, 278\n"

    assert read_otj_minimums(text) == [
        {"std_code": 244, "minimum_otj_hours": 370},
        {"std_code": 91, "minimum_otj_hours": 278},
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "line 1: the header must be std_code,minimum_otj_hours"),
        ("244,370\n", "line 1: the header must be std_code,minimum_otj_hours"),
        ("std_code,minimum_otj_hours\n", "line 2: no standards after the header"),
        (
            "std_code,minimum_otj_hours\n244,370.5\n",
            "line 2: minimum_otj_hours '370.5' is not a whole number",
        ),
        (
            "std_code,minimum_otj_hours\n244,-5\n",
            "line 2: minimum_otj_hours '-5' is not a whole number",
        ),
        (
            "std_code,minimum_otj_hours\nST0244,370\n",
            "line 2: std_code 'ST0244' is not a whole number",
        ),
        ("std_code,minimum_otj_hours\n0,370\n", "line 2: std_code 0 is outside 1-99999"),
        (
            "std_code,minimum_otj_hours\n244,10000\n",
            "line 2: minimum_otj_hours 10000 is outside 0-9999",
        ),
        (
            "std_code,minimum_otj_hours\n244\n",
            "line 2: expected 2 values (std_code,minimum_otj_hours), found 1",
        ),
        (
            "std_code,minimum_otj_hours\n244,370\n91,278\n244,400\n",
            "line 4: standard 244 is already on line 2",
        ),
    ],
)
def test_every_problem_names_its_line(text: str, problem: str) -> None:
    with pytest.raises(CsvInvalidError) as caught:
        read_otj_minimums(text)

    assert caught.value.problems == [problem]


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(CsvInvalidError) as caught:
        read_otj_minimums("std_code,minimum_otj_hours\nx,1\n5,y\n7,9\n")

    assert [p.split(":")[0] for p in caught.value.problems] == ["line 2", "line 3"]


def test_the_command_refuses_a_bad_file_before_calling_the_service(tmp_path: Path) -> None:
    file = tmp_path / "otj.csv"
    file.write_text("std_code,minimum_otj_hours\n244,lots\n")

    # Nothing listens on this port: a call would fail with exit 3, not the usage error.
    result = runner.invoke(
        app,
        ["reference", "load-otj-minimums", str(file), "--ilr-url", "http://127.0.0.1:9", "--json"],
    )

    assert result.exit_code == EXIT_USAGE
    error = json.loads(result.stdout)["error"]
    assert "line 2: minimum_otj_hours 'lots' is not a whole number" in error["message"]
