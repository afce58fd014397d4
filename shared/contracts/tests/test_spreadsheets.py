"""OWASP's CSV-injection rule: a cell starting with a formula trigger gets a leading quote."""

from __future__ import annotations

import pytest

from ilrflow.contracts.spreadsheets import neutralise_formula


@pytest.mark.parametrize("text", ["=1+1", "+44 113", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_a_formula_trigger_is_quoted(text: str) -> None:
    assert neutralise_formula(text) == "'" + text


@pytest.mark.parametrize("text", ["", "Ada", "a=b", " =1", "'=1"])
def test_other_text_is_unchanged(text: str) -> None:
    assert neutralise_formula(text) == text
