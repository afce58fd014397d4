"""Time without an employer, and the 12-week rule.

An apprentice must be employed. One made redundant (or otherwise out of paid employment) keeps
learning while looking for a new employer, for up to 12 weeks; without one by then, the provider
records a break in learning or a withdrawal (domain.md §1 item 17, §3.7 "Redundancy", §4.7; the
funding rules' changes of circumstances [D49]). An apprentice made redundant in the last 6 months
of their training, or with 75% of it done, is funded to completion without an employer
(DfE help article "Funding support for apprentices who have been made redundant", redundancies
from 15 October 2020 [R1]; domain.md §3.7 [D31][B12]).

[R1] https://help.apprenticeships.education.gov.uk/hc/en-gb/articles/360013970179
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from ilrflow.ilr_engine import funding
from ilrflow.ilr_engine.programme import learning_spells
from ilrflow.ilr_engine.records import Aim, EmploymentStatus, Learner

NOT_IN_PAID_EMPLOYMENT = frozenset({11, 12})
MADE_REDUNDANT = 1  # ESM OET 1 "learner has been made redundant" [D12]
TWELVE_WEEKS = timedelta(weeks=12)
LAST_MONTHS_FUNDED = 6
SHARE_DONE_FUNDED = 0.75


@dataclass(frozen=True)
class Unemployment:
    """A run of not-in-paid-employment statuses: since when, and whether it began with a
    redundancy (OET 1 on its first status)."""

    since: date
    redundancy: bool

    @property
    def deadline(self) -> date:
        """The last day of the 12 weeks allowed to find a new employer."""
        return self.since + TWELVE_WEEKS

    def days_on(self, day: date) -> int:
        return (day - self.since).days


def unemployment_on(learner: Learner, day: date) -> Unemployment | None:
    """The unemployment going on on ``day``: None when the status applying then is not EmpStat
    11/12. A change from 11 to 12 (or back) continues the same run."""
    applying = sorted(
        (s for s in learner.LearnerEmploymentStatus if s.DateEmpStatApp <= day),
        key=lambda s: s.DateEmpStatApp,
    )
    run: list[EmploymentStatus] = []
    for status in reversed(applying):
        if status.EmpStat not in NOT_IN_PAID_EMPLOYMENT:
            break
        run.append(status)
    if not run:
        return None
    first = run[-1]
    return Unemployment(first.DateEmpStatApp, first.esm_code("OET") == MADE_REDUNDANT)


def funded_to_completion(
    learner: Learner, programme: Aim, unemployment: Unemployment
) -> funding.Computed:
    """Whether a redundancy leaves the apprentice funded to completion without an employer: in
    the last 6 months of the planned training, or 75% of it done, on the day it began."""
    since, planned_end = unemployment.since, programme.LearnPlanEndDate
    if not unemployment.redundancy:
        return funding.Computed(False, "not a redundancy (no OET 1): the 12 weeks apply")
    last_months_from = months_before(planned_end, LAST_MONTHS_FUNDED)
    # Out of work since before this spell began (a return while still without an employer): the
    # time done is the earlier spells'.
    done_by = max(since, programme.LearnStartDate)
    done = int(str(funding.days_in_learning(learning_spells(learner, programme, done_by)).value))
    remaining = max((planned_end - since).days, 0)
    share = done / (done + remaining) if done + remaining else 1.0
    funded = since >= last_months_from or share >= SHARE_DONE_FUNDED
    return funding.Computed(
        funded,
        f"made redundant {since}: the last 6 months of training start {last_months_from} "
        f"(LearnPlanEndDate {planned_end}); {done} of {done + remaining} planned days in "
        f"learning done ({share:.0%}, 75% funds to completion)",
    )


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day if it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))
