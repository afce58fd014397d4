"""Funding arithmetic: domain.md §4.2 worked examples, §4.4 per-period hours, §4.5, §4.6."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ilrflow.ilr_engine.funding import (
    HoursPeriod,
    RuleSet,
    days_in_learning,
    default_planned_end_date,
    funding_year,
    minimum_duration_days,
    minimum_otj_hours,
)

FROM_2022 = RuleSet.FROM_2022


@pytest.mark.parametrize(
    ("case", "days", "hours", "expected"),
    [
        ("A: full-time 12 months", 52 * 7, 37, 278),
        ("B: full-time 368 days", 368, 40, 284),
        ("C: part-time 20 h over 78 weeks", 78 * 7, 20, 278),
        ("D: the 393-day plan of §3.9", 393, 37.5, 300),
    ],
)
def test_worked_examples_of_4_2(case: str, days: int, hours: float, expected: int) -> None:
    result = minimum_otj_hours([HoursPeriod(days, hours)], FROM_2022)

    assert result.value == expected, case
    assert "weeks" in result.working


def test_40_then_37_hours_does_not_change_the_minimum_after_2022() -> None:
    """§4.4: both periods are capped at 30 h, so 46.4 x 6 + 46.4 x 6 = 556.8 -> 557."""
    split = minimum_otj_hours([HoursPeriod(364, 40), HoursPeriod(364, 37)], FROM_2022)
    unchanged = minimum_otj_hours([HoursPeriod(728, 40)], FROM_2022)

    assert split.value == unchanged.value == 557
    assert "364 days at 30 h" in split.working


def test_40_then_37_hours_before_2022_counts_each_period() -> None:
    """§4.4: 46.4 x 8 + 46.4 x 7.4 = 714.56 -> 715 (742.4 -> 742 at 40 h throughout)."""
    split = minimum_otj_hours([HoursPeriod(364, 40), HoursPeriod(364, 37)], RuleSet.BEFORE_2022)
    unchanged = minimum_otj_hours([HoursPeriod(728, 40)], RuleSet.BEFORE_2022)

    assert (split.value, unchanged.value) == (715, 742)


def test_37_then_20_hours_crosses_the_cap() -> None:
    """§4.4: 46.4 x 6 + 46.4 x 4 = 464."""
    assert minimum_otj_hours([HoursPeriod(364, 37), HoursPeriod(364, 20)], FROM_2022).value == 464


# The tests' own table: invented figures, not the DfE's list (which production loads as data).
OTJ_TABLE = {244: 370, 7: 500}


def test_2025_26_uses_the_standards_published_volume() -> None:
    assert minimum_otj_hours([HoursPeriod(300, 10)], RuleSet.FROM_2025, 244, OTJ_TABLE).value == 370
    assert minimum_otj_hours([], RuleSet.FROM_2025, 7, OTJ_TABLE).value == 500


def test_2025_26_standard_missing_from_the_loaded_table_is_unknown_not_the_floor() -> None:
    result = minimum_otj_hours([HoursPeriod(300, 37)], RuleSet.FROM_2025, 99999, OTJ_TABLE)

    assert result.value is None
    assert "minimum unknown: standard 99999 is not in the loaded table" in result.working
    assert "187" in result.working  # PHours_08 still applies


def test_2025_26_without_a_loaded_table_the_minimum_is_unknown() -> None:
    result = minimum_otj_hours([HoursPeriod(300, 37)], RuleSet.FROM_2025, 244)

    assert result.value is None
    assert "no 2025/26 minimum OTJ table is loaded" in result.working


@pytest.mark.parametrize(
    ("start", "rules", "year"),
    [
        (date(2022, 7, 31), RuleSet.BEFORE_2022, "2122"),
        (date(2022, 8, 1), RuleSet.FROM_2022, "2223"),
        (date(2025, 7, 31), RuleSet.FROM_2022, "2425"),
        (date(2025, 8, 1), RuleSet.FROM_2025, "2526"),
    ],
)
def test_rules_follow_the_start_date(start: date, rules: RuleSet, year: str) -> None:
    assert RuleSet.for_start(start) is rules
    assert funding_year(start) == year


def test_minimum_duration() -> None:
    assert minimum_duration_days(FROM_2022, 37).value == 365
    assert minimum_duration_days(FROM_2022, 20).value == 548  # 12 x 30 / 20 = 18 months
    assert minimum_duration_days(RuleSet.FROM_2025, 20).value == 242  # no part-time extension


def test_planned_end_date_example_of_4_5() -> None:
    result = default_planned_end_date(date(2025, 4, 1), date(2025, 1, 31), date(2025, 9, 30))

    assert result.value == "2025-11-29"
    assert "242 days" in result.working
    in_learning = days_in_learning(
        [(date(2024, 9, 2), date(2025, 1, 31)), (date(2025, 4, 1), date(2025, 11, 29))]
    )
    assert in_learning.value == 393
    assert in_learning.working == "(2025-01-31 - 2024-09-02) + (2025-11-29 - 2025-04-01) = 393 days"


dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))


@given(dates, st.integers(1, 2000), st.integers(0, 2000), st.integers(1, 400))
def test_default_planned_end_keeps_the_planned_time_in_learning(
    start: date, learned: int, remaining: int, gap: int
) -> None:
    last_day = start + timedelta(days=learned)
    planned_end = last_day + timedelta(days=remaining)
    return_date = last_day + timedelta(days=gap)

    new_end = date.fromisoformat(
        str(default_planned_end_date(return_date, last_day, planned_end).value)
    )

    in_learning = days_in_learning([(start, last_day), (return_date, new_end)])
    assert in_learning.value == (planned_end - start).days
    assert (new_end - planned_end).days == gap


periods = st.lists(
    st.builds(HoursPeriod, st.integers(1, 800), st.floats(1, 60, allow_nan=False)),
    min_size=1,
    max_size=4,
).filter(lambda ps: sum(p.days for p in ps) >= 242)  # the shortest apprenticeship allowed


@given(periods, st.sampled_from([RuleSet.BEFORE_2022, RuleSet.FROM_2022]))
def test_minimum_otj_never_exceeds_20_percent_of_hours_worked(
    hours_periods: list[HoursPeriod], rules: RuleSet
) -> None:
    worked = sum(p.days / 7 * p.weekly_hours for p in hours_periods)

    assert minimum_otj_hours(hours_periods, rules).value <= 0.2 * worked
