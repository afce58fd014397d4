"""Text for spreadsheet cells that a spreadsheet will never run as a formula.

Exported cells carry text that anyone who can raise a tracker or hold a name chose: a learner
named ``=HYPERLINK("http://evil", "click")`` must arrive in Excel as that text. OWASP's advice
for CSV injection: a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
gets a leading ``'``, which Excel, LibreOffice and Google Sheets all read as "this is text". Every
CSV and XLSX export of every service passes its text cells through :func:`neutralise_formula`.
"""

from __future__ import annotations

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
