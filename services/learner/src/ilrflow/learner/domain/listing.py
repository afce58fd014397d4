"""The learner as the API shows it (the master record and the programme status its ILR gives),
and the choice of learners a list is made of; no I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import Field

from ilrflow.contracts.events import LearnerSnapshot
from ilrflow.ilr_engine.status import ProgrammeStatus, Status, WithdrawalKind


class LearnerView(LearnerSnapshot):
    """The master record, with the status of the learner's current programme as the learner's
    ILR says it (``ilrflow.ilr_engine.status``); the three are null until the ILR exists."""

    programme_status: Status | None = Field(
        default=None, description="From the current programme aim of the learner's ILR."
    )
    withdrawal_kind: WithdrawalKind | None = Field(
        default=None,
        description="For a withdrawal: non_starter (under the 42-day qualifying period in "
        "learning) or early_leaver.",
    )
    status_since: date | None = Field(
        default=None, description="The ILR date the status comes from."
    )

    @classmethod
    def of(cls, learner: LearnerSnapshot, status: ProgrammeStatus | None) -> LearnerView:
        if status is None:
            return cls.model_validate(learner.model_dump())
        return cls.model_validate(
            {
                **learner.model_dump(),
                "programme_status": status.status,
                "withdrawal_kind": status.withdrawal_kind,
                "status_since": status.since,
            }
        )


@dataclass(frozen=True)
class LearnerFilter:
    """Which learners a list holds: every condition given must hold."""

    groups: list[str] | None = None  # None: every group
    learner_id: str | None = None  # a learner lists only themself
    text: str | None = None
    statuses: frozenset[Status] = frozenset()  # empty: any status, or none yet
    withdrawal_kind: WithdrawalKind | None = None

    def admits(self, learner: LearnerView) -> bool:
        """The whole filter, for an in-memory list (the repository asks MongoDB for the rest)."""
        return (
            (self.groups is None or learner.group in self.groups)
            and (self.learner_id is None or learner.id == self.learner_id)
            and (not self.statuses or learner.programme_status in self.statuses)
            and (self.withdrawal_kind is None or learner.withdrawal_kind == self.withdrawal_kind)
            and (self.text is None or matches_text(learner, self.text))
        )


def matches_text(learner: LearnerSnapshot, text: str) -> bool:
    """Search by name, email or ULN (a part of one, any case), or the whole id."""
    needle = text.casefold()
    haystack = (
        f"{learner.given_names} {learner.family_name} {learner.email or ''} {learner.uln or ''}"
    )
    return needle in haystack.casefold() or needle == learner.id.casefold()
