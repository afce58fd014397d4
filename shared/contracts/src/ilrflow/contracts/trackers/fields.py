"""Field types with the ILR's rules (ILR specification 2024/25-2025/26, ``domain.md`` §3.2).

Each type cleans the value into the form the ILR stores (trimmed, upper-cased postcode, digits-only
telephone number, accents folded in address lines) and refuses anything the ILR would reject, with
a reason a person can act on. They are the one set of field rules: the learner and tracker
services validate requests with them, and the ILR engine cleans what it stores with them
(``ilrflow.ilr_engine.normalise``), so a value one accepts the other stores unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

NAME_MAX_LENGTH = 100
ADDRESS_LINE_MAX_LENGTH = 50
EMAIL_MAX_LENGTH = 100
TELNO_MAX_LENGTH = 18
TELNO_MIN_LENGTH = 7
FREE_TEXT_MAX_LENGTH = 2000

# The ILR's Latin repertoire: Basic Latin, Latin-1 Supplement, Latin Extended-A/B, IPA-free
# combining diacritics and Latin Extended Additional. Anything else (Cyrillic, CJK, emoji) is
# outside the character set ESFA accepts for names.
_LATIN_RANGES = ((0x0020, 0x024F), (0x0300, 0x036F), (0x1E00, 0x1EFF), (0x2019, 0x2019))
_NAME_FORBIDDEN = set('|"')
_ADDRESS_LINE = re.compile(r"[A-Za-z0-9 ~!@&'\\()*+,\-./:;]*")
# The XSD's RestrictedString, the base type of Email, Postcode, AddLine1-4 and TelNo: plain
# ASCII letters and digits and these symbols only, so no accented letter anywhere.
_RESTRICTED_STRING = re.compile(r"[A-Za-z0-9 ~!@#$%&'()*+,\-./:;<=>?\[\\\]_{}^£€]*")
# Royal Mail's letter rules: Q, V, X never start a postcode; I, J, Z never come second; the
# inward code never uses C, I, K, M, O, V. ESFA's ZZ99 9ZZ (unknown or non-UK) is accepted.
# GIR 0AA is not: ESFA's Postcode_15 pattern ([A-Z]{1,2}[0-9][0-9A-Z]? [0-9][ABD-HJLNP-UW-Z]{2})
# refuses it, and no learner lives at Girobank.
_POSTCODE = re.compile(
    r"ZZ999ZZ"
    r"|(?:[A-PR-UWYZ][0-9][0-9]?"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
    r"[0-9][ABD-HJLNP-UW-Z]{2}"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_TELNO_SEPARATORS = re.compile(r"[\s()\-.]")
_ERN = re.compile(r"[0-9]{9}")
# NINumber_01: two prefix letters (not D, F, I, Q, U, V; the second not O either), six digits and
# an optional suffix A-D.
_NI_NUMBER = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]?")
# The apprenticeship service's Employer Agreement ID, which ConRefNumber carries from 2025/26 [D39].
_AGREEMENT_ID = re.compile(r"[A-Z0-9]{6}")


def _is_latin(character: str) -> bool:
    code = ord(character)
    return any(low <= code <= high for low, high in _LATIN_RANGES)


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def check_ilr_name(value: str) -> str:
    """GivenNames/FamilyName: Latin letters with diacritics; case kept (it goes on certificates)."""
    name = unicodedata.normalize("NFC", value)
    if not name:
        raise ValueError("must not be empty")
    if len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"must be at most {NAME_MAX_LENGTH} characters")
    for character in name:
        if character.isdigit():
            raise ValueError("must not contain digits")
        if unicodedata.category(character) == "Cc":
            raise ValueError("must not contain line breaks, tabs or other control characters")
        if character in _NAME_FORBIDDEN:
            raise ValueError('must not contain | or "')
        if not _is_latin(character):
            raise ValueError(f"contains {character!r}, which is outside the ILR's Latin characters")
    if not any(character.isalpha() for character in name):
        raise ValueError("must contain at least one letter")
    return name


def check_address_line(value: str) -> str:
    """AddLine1-4: accents are folded into plain letters ('Église' -> 'Eglise'), since the ILR
    holds none there; any other character outside its set is refused, naming it."""
    line = _fold_accents(value)
    if len(line) > ADDRESS_LINE_MAX_LENGTH:
        raise ValueError(f"must be at most {ADDRESS_LINE_MAX_LENGTH} characters")
    if not _ADDRESS_LINE.fullmatch(line):
        bad = sorted({c for c in line if not _ADDRESS_LINE.fullmatch(c)})
        raise ValueError(
            f"contains {''.join(bad)!r}; allowed are letters, digits, spaces and ~!@&'\\()*+,-./:;"
        )
    return line


def _fold_accents(value: str) -> str:
    """Diacritics and compatibility forms off: 'É' -> 'E', 'ﬁ' -> 'fi'; 'ß' or 'Æ' stay as they
    are (and are then refused: they are letters of their own, not accented ones)."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def normalise_postcode(value: str) -> str:
    """Upper-case with exactly one space before the inward code ('sw1a1aa' -> 'SW1A 1AA')."""
    compact = re.sub(r"\s+", "", value).upper()
    if not _POSTCODE.fullmatch(compact):
        raise ValueError("must be a valid UK postcode, such as SW1A 1AA (ZZ99 9ZZ if non-UK)")
    return f"{compact[:-3]} {compact[-3:]}"


def check_email(value: str) -> str:
    if not value:
        raise ValueError("is required")
    if len(value) > EMAIL_MAX_LENGTH:
        raise ValueError(f"must be at most {EMAIL_MAX_LENGTH} characters")
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an email address such as name@example.com")
    if not _RESTRICTED_STRING.fullmatch(value):
        bad = sorted({c for c in value if not _RESTRICTED_STRING.fullmatch(c)})
        raise ValueError(
            f"contains {''.join(bad)!r}, which the ILR's Email does not accept (no accented "
            "letters; an accented domain can be written in its xn-- form)"
        )
    return value


def normalise_telno(value: str) -> str:
    """The ILR's TelNo is digits only (no spaces, brackets or '+').

    Spaces, brackets, hyphens and dots are removed. A UK '+44' prefix becomes the national '0'
    ('+44 (0)7700 900123' and '+44 7700 900123' both give '07700900123'); any other '+' becomes
    the international '00' prefix, so the number stays diallable from the UK.
    """
    number = _TELNO_SEPARATORS.sub("", value)
    if number.startswith("+44"):
        rest = number[3:]
        number = rest if rest.startswith("0") else "0" + rest
    elif number.startswith("+"):
        number = "00" + number[1:]
    if not number.isascii() or not number.isdigit():
        raise ValueError("must contain only digits (spaces, brackets, hyphens and +44 are removed)")
    if len(number) > TELNO_MAX_LENGTH:
        raise ValueError(f"must be at most {TELNO_MAX_LENGTH} digits")
    if len(number) < TELNO_MIN_LENGTH:
        raise ValueError(f"must be at least {TELNO_MIN_LENGTH} digits")
    return number


def normalise_ern(value: object) -> object:
    """Employer reference numbers are often typed with spaces ('123 456 789')."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:09d}"
    return re.sub(r"\s+", "", value) if isinstance(value, str) else value


def check_ern(value: str) -> str:
    if not _ERN.fullmatch(value):
        raise ValueError("must be 9 digits (use 999999999 if the employer is not on the EDS)")
    return value


def uln_is_valid(uln: str) -> bool:
    """ESFA's ULN check (domain.md §3.3): 10 digits, first non-zero, weighted mod-11 check digit."""
    if len(uln) != 10 or not uln.isdigit() or uln[0] == "0":
        return False
    remainder = sum(int(digit) * (10 - i) for i, digit in enumerate(uln[:9])) % 11
    return remainder != 0 and int(uln[9]) == 10 - remainder


def check_uln(value: str) -> str:
    if not uln_is_valid(value):
        raise ValueError("ULN check digit is wrong (weighted sum mod 11 must leave 10)")
    return value


EARLIEST_BIRTH_YEAR = 1900


def check_date_of_birth(born: date) -> date:
    """In the past and after 1900: a typo such as 2205 or 1905 for 2005 is caught here."""
    if born >= date.today() or born.year < EARLIEST_BIRTH_YEAR:
        raise ValueError("date of birth must be in the past")
    return born


def check_free_text(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if len(value) > FREE_TEXT_MAX_LENGTH:
        raise ValueError(f"must be at most {FREE_TEXT_MAX_LENGTH} characters")
    return value


def check_short_text(value: str) -> str:
    """A one-line label such as an employer's name."""
    check_free_text(value)
    if len(value) > NAME_MAX_LENGTH:
        raise ValueError(f"must be at most {NAME_MAX_LENGTH} characters")
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise ValueError("must not contain line breaks, tabs or other control characters")
    return value


IlrName = Annotated[str, BeforeValidator(_strip), AfterValidator(check_ilr_name)]
AddressLine = Annotated[str, BeforeValidator(_strip), AfterValidator(check_address_line)]
Postcode = Annotated[str, AfterValidator(normalise_postcode)]
Email = Annotated[str, BeforeValidator(_strip), AfterValidator(check_email)]
TelNo = Annotated[str, AfterValidator(normalise_telno)]
Ern = Annotated[str, BeforeValidator(normalise_ern), AfterValidator(check_ern)]
FreeText = Annotated[str, BeforeValidator(_strip), AfterValidator(check_free_text)]
ShortText = Annotated[str, BeforeValidator(_strip), AfterValidator(check_short_text)]
Uln = Annotated[
    str,
    BeforeValidator(_strip),
    Field(pattern=r"^[1-9][0-9]{9}$", description="10 digits from the Learning Records Service."),
    AfterValidator(check_uln),
]
DateOfBirth = Annotated[date, AfterValidator(check_date_of_birth)]
GroupName = Annotated[str, Field(min_length=1, max_length=64)]
"""The learner's group (cohort): it decides which tutors see the learner."""
StaffId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
"""A staff member's id, as the learner service registers it."""
WeeklyHours = Annotated[float, Field(gt=0, le=168, description="Contracted hours per week.")]
"""A week has 168 hours; the cap catches '375' typed for 37.5 without imposing a policy."""


# --- the learner's equality, health and prior attainment data (ILR Learner entity) -------------

ETHNICITY_CODES = frozenset({*range(31, 48), 98, 99})
"""31-47 the ILR's ethnic groups, 98 any other ethnic group, 99 not provided."""
ETHNICITY_NOT_PROVIDED = 99
HAS_LLDD_HEALTH_PROBLEM: Literal[1] = 1
LLDD_HEALTH_PROBLEM_NOT_PROVIDED: Literal[9] = 9
LLDD_CATEGORIES = frozenset({*range(4, 18), *range(93, 100)})
"""LLDDCat codes in use: 4-17 named categories, 93-97 other, 98 prefer not to say, 99 not provided
(1-3 ended in 2015)."""
LLDD_MAX_RECORDS = 22  # the XSD's maxOccurs for LLDDandHealthProblem
PRIOR_LEVELS = frozenset({1, 2, 3, 7, 9, 10, 11, 12, 13, 97, 98, 99})
"""PriorLevel codes: 9 entry level, 7 other below level 1, 1 level 1, 2 full level 2, 3 full level
3, 10-13 levels 4 to 7+, 97 other level not known, 98 not known, 99 no qualifications."""
MAX_PRICE = 999999  # AFinAmount's XSD maximum


def _compact_upper(value: object) -> object:
    return re.sub(r"\s+", "", value).upper() if isinstance(value, str) else value


def check_ethnicity(value: int) -> int:
    if value not in ETHNICITY_CODES:
        raise ValueError("must be an ILR Ethnicity code: 31-47, 98 (other) or 99 (not provided)")
    return value


def check_lldd_category(value: int) -> int:
    if value not in LLDD_CATEGORIES:
        raise ValueError("must be an ILR LLDDCat code: 4-17 or 93-99")
    return value


def check_prior_level(value: int) -> int:
    if value not in PRIOR_LEVELS:
        raise ValueError(f"must be an ILR PriorLevel code: one of {sorted(PRIOR_LEVELS)}")
    return value


def check_ni_number(value: str) -> str:
    if not _NI_NUMBER.fullmatch(value):
        raise ValueError("NINumber_01: must be two letters, six digits and A-D (e.g. AB123456C)")
    return value


def check_agreement_id(value: str) -> str:
    if not _AGREEMENT_ID.fullmatch(value):
        raise ValueError("must be the 6-character Employer Agreement ID (letters and digits)")
    return value


Sex = Literal["F", "M"]
"""The ILR's Sex codes; it has no "not known" code, so there is no default."""
Ethnicity = Annotated[int, AfterValidator(check_ethnicity)]
LlddHealthProblem = Literal[1, 2, 9]
"""1 has a learning difficulty, disability or health problem; 2 has none; 9 not provided."""
LlddCategory = Annotated[int, AfterValidator(check_lldd_category)]
PriorLevel = Annotated[int, AfterValidator(check_prior_level)]
NiNumber = Annotated[str, BeforeValidator(_compact_upper), AfterValidator(check_ni_number)]
AgreementId = Annotated[str, BeforeValidator(_compact_upper), AfterValidator(check_agreement_id)]
LengthOfEmployment = Annotated[
    int,
    Field(
        ge=1,
        le=4,
        description="ESM LOE: 1 up to 3 months, 2 4-6 months, 3 7-12 months, 4 more than 12 months.",
    ),
]
PriceAmount = Annotated[int, Field(ge=0, le=MAX_PRICE, description="Whole pounds.")]
