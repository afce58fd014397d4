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
CONTACT_FORM = {
    "changes.email": FormField("contact-email", "Email address"),
    "changes.phone": FormField("contact-phone", "Telephone number"),
}
NAME_FORM = {
    "changes.given_names": FormField("name-given", "Given names"),
    "changes.family_name": FormField("name-family", "Family name"),
}


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


@dataclass(frozen=True)
class ContactForm:
    email: str = ""
    phone: str = ""

    def changes(self) -> dict[str, object]:
        """The ``changes`` of a change_of_contact_details tracker (no telephone: none sent)."""
        return {"email": self.email, **({"phone": self.phone} if self.phone else {})}


@dataclass(frozen=True)
class NameForm:
    given_names: str = ""
    family_name: str = ""

    def changes(self) -> dict[str, object]:
        return {"given_names": self.given_names, "family_name": self.family_name}


@dataclass(frozen=True)
class ChangeRequest:
    """One of the learner's own requests: its tracker type, and its form's inputs."""

    tracker_type: str
    fields: dict[str, FormField]
    first_field: str


CHANGE_REQUESTS = {
    "address": ChangeRequest("change_of_address", ADDRESS_FORM, "address-line-1"),
    "contact": ChangeRequest("change_of_contact_details", CONTACT_FORM, "contact-email"),
    "name": ChangeRequest("change_of_name", NAME_FORM, "name-given"),
}


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
