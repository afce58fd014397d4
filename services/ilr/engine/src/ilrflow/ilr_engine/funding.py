"""Funding-rule arithmetic: rule sets by start date, minimum OTJ hours, minimum duration, new PED.

domain.md §4.1 (2022/23-2024/25 starts), §4.2 (the ESFA calculator's rounding), §4.3 (minimum
duration), §4.4 (hours that change mid-programme), §4.5 (planned end date after a break) and
§4.6 (2025/26 starts: 242 days, 187 h floor, a fixed OTJ volume per standard). Every result comes
with its working, so a person can check the figure before a tracker is processed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum

STATUTORY_LEAVE_WEEKS_PER_YEAR = 5.6  # 28 days for a five-day worker [C4]
OTJ_SHARE = 0.2
FULL_TIME_HOURS = 30.0  # the OTJ basis cap and the duration rule's "full time" [I8][C3]
MINIMUM_DAYS_BEFORE_2025 = 365  # 12 months, as the ILR validation measures it (§4.3)
MINIMUM_DAYS_FROM_2025 = 242  # 8 months: DateOfBirth_57/58 (§3.8)
PHOURS_FLOOR_FROM_2025 = 187  # PHours_08 (§3.8)


class RuleSet(Enum):
    """The funding rules a programme follows, fixed by its (original) start date."""

    BEFORE_2022 = "starts before 1 Aug 2022"
    FROM_2022 = "starts 1 Aug 2022 - 31 Jul 2025"
    FROM_2025 = "starts from 1 Aug 2025"

    @classmethod
    def for_start(cls, start: date) -> RuleSet:
        if start >= date(2025, 8, 1):
            return cls.FROM_2025
        return cls.FROM_2022 if start >= date(2022, 8, 1) else cls.BEFORE_2022


@dataclass(frozen=True)
class Computed:
    """A value shown on a tracker, with the working that produced it."""

    value: object
    working: str

    def as_json(self) -> dict[str, object]:
        return {"value": self.value, "working": self.working}


@dataclass(frozen=True)
class HoursPeriod:
    """Contracted weekly hours for ``days`` days of the practical period."""

    days: int
    weekly_hours: float


def funding_year(day: date) -> str:
    """The collection year a date falls in, e.g. 2025-03-01 -> "2425" (years start 1 August)."""
    first = day.year if day.month >= 8 else day.year - 1
    return f"{first % 100:02d}{(first + 1) % 100:02d}"


def minimum_otj_hours(
    periods: Sequence[HoursPeriod],
    rules: RuleSet,
    std_code: int | None = None,
    otj_by_standard: Mapping[int, int] | None = None,
) -> Computed:
    """Minimum OTJ for the practical period. 2025/26 starts use the standard's published volume
    from ``otj_by_standard`` (the table an operator loaded); a standard it does not hold, or no
    table at all, gives the value None: the minimum is unknown, never assumed."""
    if rules is RuleSet.FROM_2025:
        return _published_otj_minimum(std_code, otj_by_standard)
    return _calculated_otj_minimum(periods, rules)


def _published_otj_minimum(std_code: int | None, table: Mapping[int, int] | None) -> Computed:
    floor = f"PHours_08 still needs at least {PHOURS_FLOOR_FROM_2025} h"
    if table is None:
        return Computed(
            None,
            f"2025/26 rules: minimum unknown: no 2025/26 minimum OTJ table is loaded ({floor})",
        )
    if std_code is None or std_code not in table:
        return Computed(
            None,
            f"2025/26 rules: minimum unknown: standard {std_code} is not in the loaded table "
            f"({floor})",
        )
    hours = table[std_code]
    return Computed(hours, f"2025/26 rules: published minimum for standard {std_code} = {hours} h")


def _calculated_otj_minimum(periods: Sequence[HoursPeriod], rules: RuleSet) -> Computed:
    """ESFA calculator: weeks rounded, pro-rata leave not rounded, the result rounded (§4.2).

    With several periods (§4.4) each contributes its share of the rounded weeks at its own
    basis, which is the calculator's figure when there is one period.
    """
    total_days = sum(p.days for p in periods)
    weeks = round(total_days / 7)
    leave = weeks * STATUTORY_LEAVE_WEEKS_PER_YEAR / 52
    cap = FULL_TIME_HOURS if rules is RuleSet.FROM_2022 else math.inf
    bases = [min(p.weekly_hours, cap) for p in periods]
    basis = sum(b * p.days for b, p in zip(bases, periods, strict=True)) / total_days
    exact = (weeks - leave) * basis * OTJ_SHARE
    hours = round(exact)
    working = (
        f"{rules.value}: {total_days} days -> {weeks} weeks; statutory leave {weeks} x 5.6 / 52 = "
        f"{leave:.3f} weeks; weekly basis {_basis_text(periods, bases, rules)} = {basis:.2f} h; "
        f"({weeks} - {leave:.3f}) x {basis:.2f} x 20% = {exact:.2f} -> {hours} h"
    )
    return Computed(hours, working)


def _basis_text(periods: Sequence[HoursPeriod], bases: list[float], rules: RuleSet) -> str:
    capped = " (capped at 30 h)" if rules is RuleSet.FROM_2022 else ""
    if len(periods) == 1:
        return f"{periods[0].weekly_hours:g} h{capped}"
    parts = [f"{p.days} days at {b:g} h" for p, b in zip(periods, bases, strict=True)]
    return f"time-weighted{capped} [{'; '.join(parts)}]"


def minimum_duration_days(rules: RuleSet, average_weekly_hours: float | None) -> Computed:
    """Minimum practical-period length in days (§4.3); part-timers were extended before 2025/26."""
    if rules is RuleSet.FROM_2025:
        return Computed(MINIMUM_DAYS_FROM_2025, "2025/26 rules: at least 8 months = 242 days")
    if average_weekly_hours is None or average_weekly_hours >= FULL_TIME_HOURS:
        return Computed(MINIMUM_DAYS_BEFORE_2025, f"{rules.value}: 12 months = 365 days")
    days = math.ceil(MINIMUM_DAYS_BEFORE_2025 * FULL_TIME_HOURS / average_weekly_hours)
    return Computed(
        days,
        f"{rules.value}: part-time extension 365 x 30 / {average_weekly_hours:g} h = {days} days",
    )


def default_planned_end_date(
    return_date: date, last_day_of_learning: date, old_planned_end: date
) -> Computed:
    """After a break: the time still to learn is kept, so the break moves the end (§4.5)."""
    remaining = (old_planned_end - last_day_of_learning).days
    new_end = return_date + timedelta(days=remaining)
    working = (
        f"remaining = {old_planned_end} - {last_day_of_learning} = {remaining} days; "
        f"new planned end = {return_date} + {remaining} days = {new_end}"
    )
    return Computed(new_end.isoformat(), working)


def days_in_learning(spells: Sequence[tuple[date, date]]) -> Computed:
    """Time in learning over a programme's spells (start, last day of learning), so every break
    between them is left out (§4.5): a programme with two breaks has three spells."""
    days = sum((end - start).days for start, end in spells)
    terms = " + ".join(f"({end} - {start})" for start, end in spells)
    return Computed(days, f"{terms} = {days} days")
