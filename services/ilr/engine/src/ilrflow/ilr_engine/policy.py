"""What an ILR change needs to know (the application, the tenant's policy) and what it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from ilrflow.ilr_engine.records import IlrLearner

ApplyStatus = Literal["applied", "no_ilr_change", "rejected"]
RestartPlannedHours = Literal["original", "remaining"]


@dataclass(frozen=True)
class IlrPolicy:
    """Tenant settings that change how trackers are applied.

    ``material_impact_threshold_percent``: a change of weekly hours by at least this percentage of
    the previous hours is "material" (Aptem's 1-100 % setting, domain.md §4.4).
    ``withdrawal_reason_map``: the tenant's own withdrawal reasons -> ESFA WithdrawReason codes.
    ``restart_planned_hours``: PHours on an aim restarted after a break: the "original" planned
    total (default) or what "remaining" after OTJActHours (domain.md §3.9 open point).
    ``otj_minimum_by_standard``: the DfE's published minimum OTJ per StdCode for 2025/26 starts,
    as an operator loaded it (platform-wide reference data); None when no table is loaded, and
    then every 2025/26 minimum is unknown.
    """

    material_impact_threshold_percent: int = 10
    withdrawal_reason_map: Mapping[str, int] = field(default_factory=dict)
    restart_planned_hours: RestartPlannedHours = "original"
    otj_minimum_by_standard: Mapping[int, int] | None = None


@dataclass(frozen=True)
class TrackerApplication:
    """A processed tracker as the ILR service receives it.

    ``custom``: a tenant-defined type (its name is the tenant's, so it cannot be recognised by
    name); custom types change no ILR data. Types named ``custom:*`` are custom too.
    ``today``: the day of processing (the ILR service passes its clock's): no date the change
    writes as having happened (LearnActEndDate) may be after it (LearnActEndDate_04).
    """

    tracker_id: str
    tracker_type: str
    changes: dict[str, Any]
    processor_roles: tuple[str, ...]
    qa_verified: bool
    policy: IlrPolicy = field(default_factory=IlrPolicy)
    custom: bool = False
    today: date = field(default_factory=date.today)


@dataclass(frozen=True)
class ApplyResult:
    """``patch`` turns the published form of the record before into that of ``record``: the
    patch the ILR service publishes on ``ilr-updated`` and keeps in the history, as it is."""

    status: ApplyStatus
    reason: str
    record: IlrLearner
    patch: list[dict[str, Any]]


@dataclass(frozen=True)
class Outcome:
    """What a tracker rule decided; the caller turns it into an :class:`ApplyResult`."""

    status: ApplyStatus
    reason: str


class ChangeRejectedError(ValueError):
    """The change cannot be applied to this record; the message says why."""


def changed(reason: str) -> Outcome:
    return Outcome("applied", reason)


def unchanged(reason: str) -> Outcome:
    return Outcome("no_ilr_change", reason)
