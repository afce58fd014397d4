"""Form fields, and the API's field errors (RFC 9457 ``errors``) as errors on those fields.

The console does not repeat the APIs' validation: it sends what was typed and shows the API's
reason beside the field it names, with the same words, in an error summary that links to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ADDRESS_LINES = 4


@dataclass(frozen=True)
class FieldError:
    """``field_id`` is the id of the input the summary links to."""

    field_id: str
    message: str


@dataclass(frozen=True)
class FormField:
    field_id: str
    label: str


# The API's field path → the input it belongs to, and how a person names that input.
ADDRESS_FORM = {
    "changes.address.lines": FormField("address-line-1", "Address"),
    "changes.address.postcode": FormField("address-postcode", "Postcode"),
}
REJECT_FORM = {"reason": FormField("reject-reason", "Reason")}


@dataclass(frozen=True)
class AddressForm:
    lines: tuple[str, ...]
    postcode: str

    @classmethod
    def blank(cls) -> AddressForm:
        return cls(lines=("",) * ADDRESS_LINES, postcode="")

    @classmethod
    def typed(cls, lines: Iterable[str], postcode: str) -> AddressForm:
        padded = [*list(lines)[:ADDRESS_LINES], *[""] * ADDRESS_LINES][:ADDRESS_LINES]
        return cls(lines=tuple(line.strip() for line in padded), postcode=postcode.strip())

    def changes(self) -> dict[str, object]:
        """The ``changes`` of a change_of_address tracker (the API drops blank lines)."""
        return {"address": {"lines": list(self.lines), "postcode": self.postcode}}


def field_errors(
    problems: Iterable[tuple[str, str]], form: dict[str, FormField], first_field: str
) -> list[FieldError]:
    """The API's ``(field, reason)`` problems on this form's inputs; a problem of a field the
    form has no input for is linked to the form's first input, with the API's field name."""
    errors = []
    for field, reason in problems:
        known = form.get(field)
        if known is not None:
            errors.append(FieldError(known.field_id, f"{known.label} {reason}"))
        else:
            errors.append(FieldError(first_field, f"{field} {reason}"))
    return errors
