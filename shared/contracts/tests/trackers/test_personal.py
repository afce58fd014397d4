"""Change of name, address and contact details: the ILR's character sets, lengths, formats."""

from __future__ import annotations

import pytest
from catalogue_helpers import canonical, problems

NAME = {"given_names": "Zoë Anne", "family_name": "O'Brien-Smith"}
ADDRESS = {"lines": ["Flat 2, 10 High St.", "Leeds"], "postcode": "LS1 1AA"}


# --- change_of_name --------------------------------------------------------------------------


def test_a_valid_name_keeps_its_case_and_diacritics() -> None:
    assert canonical("change_of_name", NAME) == {**NAME, "legal_change": True}
    assert canonical("change_of_name", {**NAME, "legal_change": False})["legal_change"] is False


def test_names_are_trimmed_and_normalised_to_composed_characters() -> None:
    decomposed = "Zoe\u0308"
    result = canonical("change_of_name", {"given_names": f"  {decomposed} ", "family_name": "Li"})
    assert result["given_names"] == "Zo\u00eb"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * 101, "at most 100 characters"),
        ("Anne2", "must not contain digits"),
        ("Anne\tMarie", "control characters"),
        ("Anne\nMarie", "control characters"),
        ("Anne|Marie", 'must not contain | or "'),
        ('Anne "Annie"', 'must not contain | or "'),
        ("Анна", "outside the ILR's Latin characters"),
        ("李", "outside the ILR's Latin characters"),
        ("--", "at least one letter"),
    ],
)
def test_invalid_given_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    found = problems("change_of_name", {**NAME, "given_names": name})
    assert list(found) == ["changes.given_names"]
    assert reason in found["changes.given_names"]


def test_a_name_of_exactly_100_characters_is_accepted() -> None:
    assert (
        len(canonical("change_of_name", {**NAME, "family_name": "a" * 100})["family_name"]) == 100
    )


def test_every_missing_name_field_is_reported_at_once() -> None:
    assert problems("change_of_name", {"legal_change": "maybe"}) == {
        "changes.given_names": "is required",
        "changes.family_name": "is required",
        "changes.legal_change": "must be true or false",
    }


# --- change_of_address -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("sw1a1aa", "SW1A 1AA"),
        ("  ls1   1aa ", "LS1 1AA"),
        ("M11AE", "M1 1AE"),
        ("b338th", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("dn551pt", "DN55 1PT"),
        ("ZZ99 9ZZ", "ZZ99 9ZZ"),
        ("zz999zz", "ZZ99 9ZZ"),
    ],
)
def test_postcodes_are_upper_cased_with_one_space(given: str, stored: str) -> None:
    changes = canonical("change_of_address", {"address": {**ADDRESS, "postcode": given}})
    assert changes["address"]["postcode"] == stored


@pytest.mark.parametrize(
    "postcode",
    ["", "SW1A", "12345", "SW1A 1AAA", "Q1 1AA", "SW1A 1CA", "AZ1 1AA", "ZZ1 1ZZ", "GIR 0AA"],
)
def test_invalid_postcodes_are_refused(postcode: str) -> None:
    found = problems("change_of_address", {"address": {**ADDRESS, "postcode": postcode}})
    assert list(found) == ["changes.address.postcode"]
    assert "valid UK postcode" in found["changes.address.postcode"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Rue de l'Église", "Rue de l'Eglise"),
        ("Çatalhöyük Lane", "Catalhoyuk Lane"),
        ("ﬁve Ways", "five Ways"),
    ],
)
def test_accents_in_address_lines_are_folded_into_plain_letters(given: str, stored: str) -> None:
    changes = canonical("change_of_address", {"address": {**ADDRESS, "lines": [given]}})
    assert changes["address"]["lines"] == [stored]


def test_address_lines_allow_the_ilr_punctuation() -> None:
    line = "Unit 4 (rear), 1-3 St. John's Rd; ~!@&*+/:\\"[:50]
    changes = canonical("change_of_address", {"address": {**ADDRESS, "lines": [line]}})
    assert changes["address"]["lines"] == [line]


@pytest.mark.parametrize(
    ("lines", "field", "reason"),
    [
        ([], "changes.address.lines", "1 to 4 non-blank lines, not 0"),
        (["", "  "], "changes.address.lines", "1 to 4 non-blank lines, not 0"),
        (["a", "b", "c", "d", "e"], "changes.address.lines", "not 5"),
        (["x" * 51], "changes.address.lines.0", "at most 50 characters"),
        (["1 High St", "Flat #2"], "changes.address.lines.1", "contains '#'"),
        (["1 High St", 'The "Old" Mill'], "changes.address.lines.1", "contains '\"'"),
        (["5 Große Straße"], "changes.address.lines.0", "contains 'ß'"),
        ("1 High St", "changes.address.lines", "must be a list"),
    ],
)
def test_invalid_address_lines_are_refused(lines: object, field: str, reason: str) -> None:
    found = problems("change_of_address", {"address": {**ADDRESS, "lines": lines}})
    assert list(found) == [field]
    assert reason in found[field]


def test_blank_address_lines_are_dropped_and_others_trimmed() -> None:
    address = {"lines": [" 1 High St ", "", "Leeds"], "postcode": "ls1 1aa"}
    assert canonical("change_of_address", {"address": address}) == {
        "address": {"lines": ["1 High St", "Leeds"], "postcode": "LS1 1AA"}
    }


def test_address_problems_are_all_reported_with_their_paths() -> None:
    found = problems(
        "change_of_address",
        {"address": {"lines": ["a#"], "postcode": "nope", "town": "Leeds"}, "extra": 1},
    )
    assert set(found) == {
        "changes.address.lines.0",
        "changes.address.postcode",
        "changes.address.town",
        "changes.extra",
    }
    assert found["changes.extra"] == "is not a field of this tracker type"


def test_address_must_be_an_object() -> None:
    assert problems("change_of_address", {"address": "1 High St"}) == {
        "changes.address": "must be an object"
    }
    assert problems("change_of_address", {}) == {"changes.address": "is required"}


# --- change_of_contact_details ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("07700 900123", "07700900123"),
        ("(0113) 496-0000", "01134960000"),
        ("+44 7700 900123", "07700900123"),
        ("+44 (0)7700 900123", "07700900123"),
        ("+33 1 23 45 67 89", "0033123456789"),
        ("0113.496.0000", "01134960000"),
    ],
)
def test_phone_numbers_become_digits_only(given: str, stored: str) -> None:
    changes = canonical("change_of_contact_details", {"email": "a@b.co.uk", "phone": given})
    assert changes == {"email": "a@b.co.uk", "phone": stored}


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("0770090012x", "only digits"),
        ("ext. 123", "only digits"),
        ("1234567890123456789", "at most 18 digits"),
        ("12345", "at least 7 digits"),
        ("٠١٢٣٤٥٦٧٨٩", "only digits"),
    ],
)
def test_invalid_phone_numbers_are_refused(phone: str, reason: str) -> None:
    found = problems("change_of_contact_details", {"email": "a@b.co.uk", "phone": phone})
    assert list(found) == ["changes.phone"]
    assert reason in found["changes.phone"]


def test_phone_is_optional_and_email_is_required() -> None:
    assert canonical("change_of_contact_details", {"email": " a@b.com "}) == {
        "email": "a@b.com",
        "phone": None,
    }
    assert problems("change_of_contact_details", {"phone": "07700900123"}) == {
        "changes.email": "is required"
    }
    assert problems("change_of_contact_details", {"email": "  "}) == {
        "changes.email": "is required"
    }


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("no-at-sign.example.com", "must be an email address"),
        ("two@@example.com", "must be an email address"),
        ("spaces in@example.com", "must be an email address"),
        ("name@nodot", "must be an email address"),
        ("name@example.", "must be an email address"),
        ("ann@exämple.com", "contains 'ä', which the ILR's Email does not accept"),
        ("zoë@example.com", "contains 'ë', which the ILR's Email does not accept"),
        ("a" * 90 + "@example.com", "at most 100 characters"),
        (42, "must be a string"),
    ],
)
def test_invalid_emails_are_refused(email: object, reason: str) -> None:
    found = problems("change_of_contact_details", {"email": email})
    assert list(found) == ["changes.email"]
    assert reason in found["changes.email"]
