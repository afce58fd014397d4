"""Field-level ILR rules: identifiers, the ULN check digit, and the text the XSD accepts.

domain.md §3.2 (field rules), §3.3 (ULN), §3.4 (EII bands, EmpId). Each ``clean_*`` returns the
value in the form the ILR stores, or raises :class:`InvalidFieldError` with a reason a person can read.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

TEMPORARY_ULN = 9999999999  # ESFA's placeholder while the LRS has not issued a ULN [X1][X2]
UNKNOWN_POSTCODE = "ZZ99 9ZZ"  # the ILR's "unknown or outside the UK" postcode [D6][D7]
EMPLOYER_NOT_ON_EDS = 999999999  # EmpId of an employer not on the Employer Data Service [D9]

_ADDRESS_CHARS = re.compile(r"[^A-Za-z0-9 ~!@&'\\()*+,\-./:;]")
_NAME_FORBIDDEN = re.compile(r'[0-9\r\n\t|"]')
_RESTRICTED_CHARS = re.compile(r"[A-Za-z0-9 ~!@#$%&'()*+,\-./:;<=>?\[\\\]_{}^£€]*")
_POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}")


class InvalidFieldError(ValueError):
    """A value the ILR cannot hold; the message says which field and why."""


def uln_is_valid(uln: str) -> bool:
    """ESFA's ULN check (domain.md §3.3): 10 digits, first non-zero, weighted mod-11 check digit."""
    if len(uln) != 10 or not uln.isdigit() or uln[0] == "0":
        return False
    remainder = sum(int(digit) * (10 - i) for i, digit in enumerate(uln[:9])) % 11
    return remainder != 0 and int(uln[9]) == 10 - remainder


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
    """Upper case, single spaces; at most 8 characters (the ILR never stores it lower case [D6])."""
    cleaned = " ".join(postcode.upper().split())
    if cleaned != UNKNOWN_POSTCODE and not _POSTCODE.fullmatch(cleaned):
        raise InvalidFieldError(f"postcode {postcode!r} is not a UK postcode")
    if " " not in cleaned:
        cleaned = f"{cleaned[:-3]} {cleaned[-3:]}"
    return cleaned


def clean_address_line(line: str) -> str:
    """Accents become plain letters and other characters the ILR refuses are dropped [D5]."""
    plain = unicodedata.normalize("NFKD", line).encode("ascii", "ignore").decode()
    cleaned = " ".join(_ADDRESS_CHARS.sub("", plain).split())
    if not cleaned:
        raise InvalidFieldError(f"address line {line!r} has no characters the ILR accepts")
    if len(cleaned) > 50:
        raise InvalidFieldError(f"address line {line!r} is longer than the ILR's 50 characters")
    return cleaned


def clean_name(name: str, field: str) -> str:
    """Names keep their case and accents (they go on certificates [D1]); no digits or | or "."""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 100:
        raise InvalidFieldError(f"{field} must be 1-100 characters")
    if _NAME_FORBIDDEN.search(cleaned):
        raise InvalidFieldError(
            f"{field} {cleaned!r} contains digits or characters the ILR refuses"
        )
    return cleaned


def clean_phone(phone: str) -> str:
    """TelNo is digits only [D4]: +44 becomes the UK trunk 0; spaces, brackets, dashes go."""
    national = re.sub(r"^\s*\+\s*44\s*(\(0\))?", "0", phone)
    digits = re.sub(r"[\s()+\-.]", "", national)
    if not digits.isdigit() or len(digits) > 18:
        raise InvalidFieldError(f"phone {phone!r} is not up to 18 digits")
    return digits


def clean_email(email: str) -> str:
    cleaned = email.strip()
    if len(cleaned) > 100 or "@" not in cleaned.strip("@"):
        raise InvalidFieldError(f"email {email!r} is not an address of at most 100 characters")
    if not _RESTRICTED_CHARS.fullmatch(cleaned):
        raise InvalidFieldError(f"email {email!r} contains characters the ILR refuses")
    return cleaned
