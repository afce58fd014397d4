"""The training plan as a PDF, drawn with fpdf2 (pure Python; see the service README for why).

The PDF's dates come from the version (created_at), never the clock, so a version renders to the
same bytes every time and its SHA-256 identifies what was issued and acknowledged. The built-in
Helvetica covers Latin-1 only; a character of a name outside it is printed as its base letter
(the listing's JSON keeps the name exactly).
"""

from __future__ import annotations

import unicodedata
from datetime import date

from fpdf import FPDF

from ilrflow.learner.domain.documents import FIELD_LABELS, DocumentVersion

_NOT_IN_LATIN1 = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i"}
# Only a restart has an original start date; elsewhere the row would only confuse.
_LEFT_OUT_WHEN_EMPTY = frozenset({"original_start_date"})
_LABEL_WIDTH = 80
_LINE_HEIGHT = 8


class PdfRenderer:
    def render(self, learner_id: str, version: DocumentVersion) -> bytes:
        pdf = FPDF(format="A4")
        pdf.set_creation_date(version.created_at)
        pdf.set_title(_latin1(f"{version.title} {version.id}"))
        pdf.set_author("ilrflow")
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=16)
        pdf.cell(
            text=_latin1(f"Apprenticeship {version.title.lower()}"), new_x="LMARGIN", new_y="NEXT"
        )
        pdf.set_font("Helvetica", size=10)
        issued = version.created_at.date().isoformat()
        pdf.cell(
            text=f"Version {version.version} ({version.id}), issued {issued}, learner {learner_id}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        for name, value in version.fields:
            if value is None and name in _LEFT_OUT_WHEN_EMPTY:
                continue
            pdf.cell(w=_LABEL_WIDTH, h=_LINE_HEIGHT, text=FIELD_LABELS[name])
            pdf.cell(h=_LINE_HEIGHT, text=_latin1(_shown(value)), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        if version.changed_fields:
            changed = ", ".join(FIELD_LABELS[name].lower() for name in version.changed_fields)
            pdf.multi_cell(
                w=0,
                h=_LINE_HEIGHT,
                text=f"Changed since the last version: {changed}.",
                new_x="LMARGIN",
                new_y="NEXT",
            )
        pdf.multi_cell(
            w=0,
            h=_LINE_HEIGHT,
            text="To be signed by the apprentice and the employer.",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        return bytes(pdf.output())


def _shown(value: object) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, date):
        return value.strftime("%d %B %Y")
    return str(value)


def _latin1(text: str) -> str:
    return "".join(_latin1_character(c) for c in unicodedata.normalize("NFC", text))


def _latin1_character(character: str) -> str:
    if character.encode("latin-1", errors="ignore"):
        return character
    if character in _NOT_IN_LATIN1:
        return _NOT_IN_LATIN1[character]
    base = unicodedata.normalize("NFKD", character).encode("latin-1", errors="ignore").decode()
    return base or "?"
