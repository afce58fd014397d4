"""A tenant's ILR settings: the UKPRN written into its exports and the choices where providers
disagree about how the rules apply (domain.md §3.9's open point on PHours after a restart)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from ilrflow.ilr_engine import IlrPolicy
from ilrflow.ilr_engine.policy import RestartPlannedHours


class IlrSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ukprn: int | None = Field(
        default=None,
        ge=10_000_000,
        le=99_999_999,
        description="The provider's UKPRN for ILR exports; unset: the deployment's default.",
    )
    restart_planned_hours: RestartPlannedHours = Field(
        default="original",
        description=(
            "PHours on aims restarted after a break: the 'original' planned total (the spec's "
            "'over the full apprenticeship') or what 'remaining' after OTJActHours."
        ),
    )

    def policy(self, otj_minimum_by_standard: Mapping[int, int] | None) -> IlrPolicy:
        """The engine's policy for this tenant, with the platform's loaded 2025/26 minimum OTJ
        table (None: not loaded). Withdrawal reasons and the material-impact threshold are the
        tracker service's settings: it resolves them into the tracker."""
        return IlrPolicy(
            restart_planned_hours=self.restart_planned_hours,
            otj_minimum_by_standard=otj_minimum_by_standard,
        )

    def ukprn_or(self, default: int) -> int:
        return self.ukprn if self.ukprn is not None else default
