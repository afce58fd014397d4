"""docs/ilr-validation-rules.md lists every rule the engine registers, with its severity."""

from __future__ import annotations

from pathlib import Path

from ilrflow.ilr_engine.esfa_rules import RULES

DOCS_PAGE = Path(__file__).resolve().parents[4] / "docs" / "ilr-validation-rules.md"


def implemented_rows() -> dict[str, str]:
    """rule id -> severity, from the 'Rules implemented' table."""
    text = DOCS_PAGE.read_text(encoding="utf-8")
    section = text.split("## Rules implemented", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| ")]
    return {cells[1].strip(): cells[2].strip() for cells in rows[1:]}


def test_every_registered_rule_is_listed_as_implemented_with_its_severity() -> None:
    listed = implemented_rows()

    assert {rule_id: r.severity for rule_id, r in RULES.items()} == listed
