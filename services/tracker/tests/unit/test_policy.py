"""TenantTrackerSettings: defaults, validation, role fall-back, tenant-aware parsing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ilrflow.contracts.trackers import (
    ChangesInvalid,
    CustomFieldDefinition,
    CustomTypeDefinition,
    Withdrawal,
)
from ilrflow.tracker.domain import AllocationRule, TenantTrackerSettings, TypeSettings

SURVEY = CustomTypeDefinition(
    name="laptop_request",
    title="Laptop request",
    fields=(CustomFieldDefinition(name="needed_by", type="date", required=True),),
)


def test_every_type_is_off_until_the_tenant_enables_it() -> None:
    settings = TenantTrackerSettings()
    assert not any(settings.is_enabled(name) for name in settings.type_names())
    enabled = settings.with_type_settings("withdrawal", TypeSettings(enabled=True))
    assert enabled.is_enabled("withdrawal")
    assert not settings.is_enabled("withdrawal"), "the original is unchanged"


def test_roles_fall_back_to_the_catalogue_defaults() -> None:
    settings = TenantTrackerSettings(
        types={"change_of_name": TypeSettings(enabled=True, raise_roles=["learner"])}
    )
    assert settings.roles_for("change_of_name", "raise") == {"learner"}
    assert settings.roles_for("change_of_name", "process") == {"admin"}
    assert settings.roles_for("withdrawal", "raise") == {"tutor", "admin"}
    assert settings.roles_for("change_of_address", "raise") == {"learner", "tutor", "admin"}
    assert settings.roles_for("nonexistent", "raise") == frozenset()


def test_unknown_roles_and_types_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown roles"):
        TypeSettings(process_roles=["admins"])
    with pytest.raises(ValidationError, match="unknown tracker types"):
        TenantTrackerSettings(types={"change_of_mind": TypeSettings()})


def test_withdrawal_reasons_must_map_to_esfa_codes_and_be_storable_keys() -> None:
    with pytest.raises(ValidationError, match="not an ESFA code"):
        TenantTrackerSettings(withdrawal_reason_map={"Moved away": 99})
    with pytest.raises(ValidationError, match=r"'\.'"):
        TenantTrackerSettings(withdrawal_reason_map={"Moved away.": 44})


def test_custom_types_are_named_consistently_and_do_not_shadow_built_ins() -> None:
    with pytest.raises(ValidationError, match="defined with name"):
        TenantTrackerSettings(custom_types={"other": SURVEY})
    clash = SURVEY.model_copy(update={"name": "withdrawal"})
    with pytest.raises(ValidationError, match="built-in"):
        TenantTrackerSettings(custom_types={"withdrawal": clash})


def test_custom_types_can_be_configured_once_defined() -> None:
    settings = TenantTrackerSettings().with_custom_type(SURVEY)
    settings = settings.with_type_settings("custom:laptop_request", TypeSettings(enabled=True))
    assert settings.is_enabled("custom:laptop_request")
    assert not settings.is_enabled("laptop_request")
    assert "custom:laptop_request" in settings.type_names()
    assert settings.roles_for("custom:laptop_request", "raise") == {"tutor", "admin"}
    changes = settings.parse_changes("custom:laptop_request", {"needed_by": "2025-05-01"})
    assert changes.model_dump(mode="json") == {"needed_by": "2025-05-01"}


def test_parse_changes_uses_the_tenants_withdrawal_reasons() -> None:
    settings = TenantTrackerSettings(withdrawal_reason_map={"Moved out of area": 44})
    changes = settings.parse_changes(
        "withdrawal", {"last_day_of_learning": "2025-01-31", "reason": "moved out of AREA"}
    )
    assert isinstance(changes, Withdrawal)
    assert (changes.reason, changes.withdraw_reason_code) == ("Moved out of area", 44)
    with pytest.raises(ChangesInvalid) as caught:
        settings.parse_changes("withdrawal", {"last_day_of_learning": "2025-01-31", "reason": "x"})
    assert caught.value.problems[0]["field"] == "changes.reason"
    assert "Moved out of area" in caught.value.problems[0]["reason"]


def test_settings_survive_their_json_document_form() -> None:
    settings = TenantTrackerSettings(
        types={"withdrawal": TypeSettings(enabled=True, process_roles=["admin", "ilr_qa"])},
        allocation_rules=[AllocationRule(learner_group="group.a", admin_id="admin-1")],
        withdrawal_reason_map={"Moved out of area": 44},
        custom_types={"laptop_request": SURVEY},
        two_person_control=True,
    )
    document = settings.model_dump(mode="json")
    assert TenantTrackerSettings.model_validate(document) == settings


def test_material_impact_threshold_is_a_percentage() -> None:
    assert TenantTrackerSettings().material_impact_threshold == 10
    with pytest.raises(ValidationError):
        TenantTrackerSettings(material_impact_threshold=0)
    with pytest.raises(ValidationError):
        TenantTrackerSettings(material_impact_threshold=101)
