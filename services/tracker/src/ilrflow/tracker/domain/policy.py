"""A tenant's tracker policy: which types are on, who may raise/edit/process them, allocation,
two-person control, the material-impact threshold, withdrawal reasons and custom types.

Every type is off until the tenant turns it on (as in Aptem). Roles left unset fall back to the
catalogue's defaults, so a tenant only writes down where it differs. The model is its own
MongoDB document (``model_dump(mode="json")``): every key in it is a type name, a custom field
name or a withdrawal reason, and all three are checked to be storable keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ilrflow.contracts.identity import ROLES
from ilrflow.contracts.trackers import (
    ESFA_WITHDRAW_REASONS,
    TRACKER_TYPES,
    ChangesModel,
    CustomTypeDefinition,
    TrackerTypeInfo,
    custom_type_name,
    parse_changes,
    type_info,
)

Verb = Literal["raise", "edit", "process"]


class TypeSettings(BaseModel):
    """One type's switch and roles; a role list of None means the catalogue's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    raise_roles: list[str] | None = None
    edit_roles: list[str] | None = None
    process_roles: list[str] | None = None

    @field_validator("raise_roles", "edit_roles", "process_roles")
    @classmethod
    def _known_roles(cls, roles: list[str] | None) -> list[str] | None:
        unknown = sorted(set(roles or ()) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown roles {unknown}; roles are {', '.join(ROLES)}")
        return sorted(set(roles)) if roles is not None else None


class AllocationRule(BaseModel):
    """Trackers for learners in ``learner_group`` go to ``admin_id``; the first match wins.

    ``tracker_types`` narrows a rule to some types (empty means every type). A list, not a
    mapping keyed by group, because group names may contain '.'.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    learner_group: str = Field(min_length=1)
    admin_id: str = Field(min_length=1)
    tracker_types: list[str] = Field(default_factory=list)

    def matches(self, learner_group: str | None, tracker_type: str | None) -> bool:
        if learner_group != self.learner_group:
            return False
        return not self.tracker_types or tracker_type is None or tracker_type in self.tracker_types


class TenantTrackerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    types: dict[str, TypeSettings] = Field(default_factory=dict)
    allocation_rules: list[AllocationRule] = Field(default_factory=list)
    material_impact_threshold: int = Field(
        default=10, ge=1, le=100, description="Percent change in weekly hours that is material."
    )
    withdrawal_reason_map: dict[str, int] = Field(
        default_factory=dict, description="The tenant's own withdrawal reasons -> ESFA code."
    )
    two_person_control: bool = Field(
        default=False, description="The person who raised a tracker may not process it."
    )
    admins_see_all_groups: bool = Field(
        default=True,
        description="Admins see every learner; everyone else only learners in their groups.",
    )
    custom_types: dict[str, CustomTypeDefinition] = Field(default_factory=dict)

    @field_validator("withdrawal_reason_map")
    @classmethod
    def _reasons_map_to_esfa_codes(cls, mapping: dict[str, int]) -> dict[str, int]:
        for reason, code in mapping.items():
            if not reason.strip() or "." in reason or reason.startswith("$"):
                raise ValueError(f"reason {reason!r} must be non-blank, without '.' or leading '$'")
            if code not in ESFA_WITHDRAW_REASONS:
                raise ValueError(f"reason {reason!r} maps to {code}, which is not an ESFA code")
        return mapping

    @field_validator("custom_types")
    @classmethod
    def _custom_names(
        cls, custom: dict[str, CustomTypeDefinition]
    ) -> dict[str, CustomTypeDefinition]:
        for name, definition in custom.items():
            if name != definition.name:
                raise ValueError(f"custom type {name!r} is defined with name {definition.name!r}")
            if name in TRACKER_TYPES:
                raise ValueError(f"{name!r} is a built-in tracker type")
        return custom

    @model_validator(mode="after")
    def _settings_for_known_types(self) -> Self:
        unknown = sorted(name for name in self.types if self.type_info(name) is None)
        if unknown:
            raise ValueError(f"settings for unknown tracker types: {', '.join(unknown)}")
        return self

    # --- what the policy says about a type -----------------------------------------------------

    def type_info(self, tracker_type: str) -> TrackerTypeInfo | None:
        return type_info(tracker_type, self.custom_types)

    def type_names(self) -> list[str]:
        return [*TRACKER_TYPES, *(custom_type_name(d) for d in self.custom_types.values())]

    def is_enabled(self, tracker_type: str) -> bool:
        settings = self.types.get(tracker_type)
        return (
            settings is not None and settings.enabled and self.type_info(tracker_type) is not None
        )

    def roles_for(self, tracker_type: str, verb: Verb) -> frozenset[str]:
        """Roles that may ``verb`` the type: the tenant's list, else the catalogue default."""
        info = self.type_info(tracker_type)
        if info is None:
            return frozenset()
        settings = self.types.get(tracker_type, TypeSettings())
        configured = {
            "raise": settings.raise_roles,
            "edit": settings.edit_roles,
            "process": settings.process_roles,
        }[verb]
        if configured is not None:
            return frozenset(configured)
        return {
            "raise": info.default_raise_roles,
            "edit": info.default_edit_roles,
            "process": info.default_process_roles,
        }[verb]

    def parse_changes(self, tracker_type: str, changes: Any) -> ChangesModel:
        """The catalogue's :func:`parse_changes` with this tenant's custom types and reasons."""
        return parse_changes(
            tracker_type,
            changes,
            self.custom_types,
            withdrawal_reasons=self.withdrawal_reason_map,
        )

    # --- changing the policy (returns a new, validated copy) -----------------------------------

    def with_type_settings(self, tracker_type: str, settings: TypeSettings) -> Self:
        return self._replace(types={**self.types, tracker_type: settings})

    def with_custom_type(self, definition: CustomTypeDefinition) -> Self:
        return self._replace(custom_types={**self.custom_types, definition.name: definition})

    def _replace(self, **fields: Mapping[str, Any]) -> Self:
        return self.model_validate({**self.model_dump(), **fields})
