"""Backoff for failed email sends: growing, capped, bounded, and final on permanent refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ilrflow.notify.domain import DEFAULT_RETRY, RetryPolicy, next_attempt
from ilrflow.notify.domain.retry import retry_delay

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def test_default_schedule_doubles_from_a_minute_to_an_hour_then_gives_up() -> None:
    waits = [next_attempt(n, NOW) for n in range(1, 9)]

    assert [w - NOW if w else None for w in waits] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=16),
        timedelta(minutes=32),
        timedelta(hours=1),
        None,
    ]


def test_a_permanent_refusal_is_not_retried() -> None:
    assert next_attempt(1, NOW, permanent=True) is None


def test_a_policy_can_be_tuned() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=10), multiplier=3, max_attempts=3)

    assert next_attempt(2, NOW, policy) == NOW + timedelta(seconds=30)
    assert next_attempt(3, NOW, policy) is None


@given(st.integers(min_value=1, max_value=10_000))
def test_delays_never_shrink_and_never_pass_the_cap(attempts: int) -> None:
    policy = RetryPolicy(max_attempts=20_000)

    delay = retry_delay(attempts, policy)

    assert policy.first_delay <= delay <= policy.max_delay
    assert retry_delay(attempts + 1, policy) >= delay


@given(st.integers(min_value=DEFAULT_RETRY.max_attempts, max_value=10**9))
def test_gives_up_at_and_after_the_limit(attempts: int) -> None:
    assert next_attempt(attempts, NOW) is None
