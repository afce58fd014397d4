"""The training plan PDF: what a reader extracts from it, and that a version always renders to
the same bytes (its SHA-256 names what was issued and acknowledged)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from pypdf import PdfReader

from ilrflow.learner.adapters.pdf import PdfRenderer
from ilrflow.learner.domain.documents import DocumentFields, DocumentVersion

VERSION = DocumentVersion(
    id="v2",
    version=2,
    fields=DocumentFields(
        learner_name="Łucja Ørsted",
        uln="9276308686",
        employer_name="Acme Ltd",
        employer_ern="123456789",
        standard_code=91,
        start_date=date(2026, 4, 1),
        original_start_date=date(2025, 9, 1),
        planned_end_date=date(2027, 5, 30),
        planned_otj_hours=400,
        training_price=9000,
        assessment_price=1000,
    ),
    changed_fields=["start_date", "planned_end_date"],
    caused_by_tracker="T2",
    created_at=datetime(2026, 4, 2, 10, tzinfo=UTC),
)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_pdf_states_the_plan_and_what_changed() -> None:
    text = _text(PdfRenderer().render("L1", VERSION))

    for expected in (
        "Apprenticeship training plan",
        "Version 2 (v2), issued 2026-04-02, learner L1",
        "Employer Acme Ltd",
        "Apprenticeship standard 91",
        "Original start date 01 September 2025",
        "Planned end date 30 May 2027",
        "Planned off-the-job training hours 400",
        "Training price (GBP) 9000",
        "End-point assessment price (GBP) 1000",
        "Changed since the last version: start date, planned end date.",
    ):
        assert expected in text


def test_a_name_outside_latin_1_is_written_with_its_base_letters() -> None:
    assert "Apprentice Lucja Ørsted" in _text(PdfRenderer().render("L1", VERSION))


def test_a_first_version_has_no_original_start_or_changes() -> None:
    first = VERSION.model_copy(
        update={
            "fields": VERSION.fields.model_copy(update={"original_start_date": None}),
            "changed_fields": [],
        }
    )

    text = _text(PdfRenderer().render("L1", first))

    assert "Original start date" not in text
    assert "Changed since" not in text


def test_a_version_renders_to_the_same_bytes_every_time() -> None:
    assert PdfRenderer().render("L1", VERSION) == PdfRenderer().render("L1", VERSION)
