"""Change of name, address and contact details: applied, no_ilr_change and rejected paths."""

from __future__ import annotations

from collections.abc import Callable

from ilrflow.ilr_engine import ApplyResult, IlrLearner


def test_name_change_keeps_case(enrolled: IlrLearner, apply: Callable[..., ApplyResult]) -> None:
    result = apply(
        enrolled,
        "change_of_name",
        {"given_names": "Anne-Marie", "family_name": "McDonald", "legal_change": True},
    )

    assert result.status == "applied"
    assert (result.record["GivenNames"], result.record["FamilyName"]) == ("Anne-Marie", "McDonald")
    assert {"op": "replace", "path": "/FamilyName", "value": "McDonald"} in result.patch


def test_same_name_is_no_ilr_change(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    result = apply(enrolled, "change_of_name", {"given_names": "Ann", "family_name": "Smith"})

    assert result.status == "no_ilr_change"
    assert result.record == enrolled
    assert result.patch == []


def test_name_with_digits_is_rejected(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    result = apply(enrolled, "change_of_name", {"given_names": "Ann2", "family_name": "Smith"})

    assert result.status == "rejected"
    assert "digits" in result.reason
    assert result.record == enrolled


def test_address_change_never_touches_postcode_prior(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    changes = {
        "address": {"lines": ["Flat 2", "10 Park Lane", "Manchester"], "postcode": "m1  1aa"}
    }

    result = apply(enrolled, "change_of_address", changes)

    assert result.status == "applied"
    record = result.record
    assert (record["Postcode"], record["PostcodePrior"]) == ("M1 1AA", "LS1 4AP")
    assert [record.get(f"AddLine{i}") for i in range(1, 5)] == [
        "Flat 2",
        "10 Park Lane",
        "Manchester",
        None,
    ]
    assert all("PostcodePrior" not in op["path"] for op in result.patch)


def test_shorter_address_removes_old_lines(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    result = apply(
        enrolled, "change_of_address", {"address": {"lines": ["1 Road"], "postcode": "M1 1AA"}}
    )

    assert "AddLine2" not in result.record
    assert {"op": "remove", "path": "/AddLine2"} in result.patch


def test_same_address_is_no_ilr_change(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    changes = {"address": {"lines": ["1 High Street", "Leeds"], "postcode": "LS1 4AP"}}

    assert apply(enrolled, "change_of_address", changes).status == "no_ilr_change"


def test_bad_postcode_is_rejected(enrolled: IlrLearner, apply: Callable[..., ApplyResult]) -> None:
    result = apply(
        enrolled, "change_of_address", {"address": {"lines": ["1 Road"], "postcode": "NOT A CODE"}}
    )

    assert result.status == "rejected"
    assert "postcode" in result.reason


def test_contact_details_are_normalised(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    result = apply(
        enrolled,
        "change_of_contact_details",
        {"email": "ann.smith@example.org", "phone": "+44 (0)113 496 0000"},
    )

    assert result.status == "applied"
    assert (result.record["Email"], result.record["TelNo"]) == (
        "ann.smith@example.org",
        "01134960000",
    )


def test_absent_phone_is_kept(enrolled: IlrLearner, apply: Callable[..., ApplyResult]) -> None:
    result = apply(enrolled, "change_of_contact_details", {"email": "ann.new@example.org"})

    assert result.record["Email"] == "ann.new@example.org"
    assert result.record.get("TelNo") == enrolled.get("TelNo")


def test_same_contact_details_are_no_ilr_change(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    result = apply(enrolled, "change_of_contact_details", {"email": "ann@example.org"})

    assert result.status == "no_ilr_change"


def test_bad_email_is_rejected(enrolled: IlrLearner, apply: Callable[..., ApplyResult]) -> None:
    assert (
        apply(enrolled, "change_of_contact_details", {"email": "no-at-sign"}).status == "rejected"
    )


def test_learner_led_changes_ignore_qa_verification(
    enrolled: IlrLearner, apply: Callable[..., ApplyResult]
) -> None:
    result = apply(
        enrolled, "change_of_name", {"given_names": "Jo", "family_name": "Smith"}, qa_verified=True
    )

    assert result.status == "applied"
