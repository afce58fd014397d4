"""Field-level ILR rules: identifiers, the ULN check digit, and the text the ILR stores.

domain.md §3.2 (field rules), §3.3 (ULN), §3.4 (EII bands, EmpId). Each ``clean_*`` returns the
value in the form the ILR stores, or raises :class:`InvalidFieldError` with a reason a person can
read. The text rules are not written here: each ``clean_*`` runs the field type of
``ilrflow.contracts.trackers.fields`` that the learner and tracker services validate with, so
whatever they accept the engine stores, and whatever they refuse it refuses.
"""

from __future__ import annotations

import hashlib

from pydantic import TypeAdapter, ValidationError

from ilrflow.contracts.trackers.fields import (
    AddressLine,
    Email,
    IlrName,
    Postcode,
    TelNo,
    uln_is_valid,
)

TEMPORARY_ULN = 9999999999  # ESFA's placeholder while the LRS has not issued a ULN [X1][X2]
UNKNOWN_POSTCODE = "ZZ99 9ZZ"  # the ILR's "unknown or outside the UK" postcode [D6][D7]
EMPLOYER_NOT_ON_EDS = 999999999  # EmpId of an employer not on the Employer Data Service [D9]

_POSTCODE: TypeAdapter[str] = TypeAdapter(Postcode)
_ADDRESS_LINE: TypeAdapter[str] = TypeAdapter(AddressLine)
_NAME: TypeAdapter[str] = TypeAdapter(IlrName)
_TELNO: TypeAdapter[str] = TypeAdapter(TelNo)
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


class InvalidFieldError(ValueError):
    """A value the ILR cannot hold; the message says which field and why."""


def uln_for_ilr(uln: str | None) -> int:
    """The ULN to return; the temporary ULN when the learner has none (or an invalid one) yet."""
    return int(uln) if uln is not None and uln_is_valid(uln) else TEMPORARY_ULN


def learn_ref_number(learner_id: str) -> str:
    """A stable 12-character reference derived from the learner id, holding no personal data."""
    digest = hashlib.sha256(learner_id.encode()).digest()
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I/O: easy to read aloud
    number = int.from_bytes(digest[:10])
    return "".join(alphabet[(number >> (5 * i)) % len(alphabet)] for i in range(12))


def emp_id(ern: str) -> int:
    """EmpId is a 9-digit ERN; anything else means the employer is not on the EDS."""
    digits = ern.strip()
    return int(digits) if len(digits) == 9 and digits.isdigit() else EMPLOYER_NOT_ON_EDS


def eii_band(weekly_hours: float) -> int:
    """Employment intensity: 5 = 0-10 h, 6 = 11-20 h, 7 = 21-30 h, 8 = 31+ h a week [D11]."""
    if weekly_hours <= 10:
        return 5
    if weekly_hours <= 20:
        return 6
    return 7 if weekly_hours <= 30 else 8


EII_BAND_TEXT = {5: "0-10 h/week", 6: "11-20 h/week", 7: "21-30 h/week", 8: "31+ h/week"}


def clean_postcode(postcode: str) -> str:
    return _stored(_POSTCODE, postcode, "postcode")


def clean_address_line(line: str) -> str:
    return _stored(_ADDRESS_LINE, line, "address line")


def clean_name(name: str, field: str) -> str:
    """Names keep their case and accents (they go on certificates [D1])."""
    return _stored(_NAME, name, field)


def clean_phone(phone: str) -> str:
    return _stored(_TELNO, phone, "phone")


def clean_email(email: str) -> str:
    return _stored(_EMAIL, email, "email")


def _stored(field_type: TypeAdapter[str], value: str, field: str) -> str:
    """The value as the ILR stores it, by the contracts' field type (the rules the learner and
    tracker services accepted it by), or InvalidFieldError with that type's reason."""
    try:
        return field_type.validate_python(value)
    except ValidationError as error:
        reason = "; ".join(
            problem["msg"].removeprefix("Value error, ") for problem in error.errors()
        )
        raise InvalidFieldError(f"{field} {value!r} {reason}") from error
