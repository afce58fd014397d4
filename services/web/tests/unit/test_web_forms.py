from ilrflow.web.domain.forms import ADDRESS_FORM, AddressForm, FieldError, field_errors


def test_the_typed_address_becomes_the_trackers_changes() -> None:
    form = AddressForm.typed([" 9 New Road ", "Leeds", "", ""], " LS6 1AA ")
    assert form.changes() == {
        "address": {"lines": ["9 New Road", "Leeds", "", ""], "postcode": "LS6 1AA"}
    }
    assert len(AddressForm.typed(["a"] * 6, "x").lines) == 4


def test_the_apis_field_errors_are_linked_to_the_inputs_with_the_apis_words() -> None:
    problems = [
        ("changes.address.lines", "must have 1 to 4 non-blank lines, not 0"),
        ("changes.address.postcode", "must be a valid UK postcode"),
        ("changes.surprise", "is not a field of this tracker type"),
    ]
    assert field_errors(problems, ADDRESS_FORM, "address-line-1") == [
        FieldError("address-line-1", "Address must have 1 to 4 non-blank lines, not 0"),
        FieldError("address-postcode", "Postcode must be a valid UK postcode"),
        FieldError("address-line-1", "changes.surprise is not a field of this tracker type"),
    ]
