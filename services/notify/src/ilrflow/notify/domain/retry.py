"""When to try a failed email again: exponential backoff, capped, then give up.

With the defaults a send is retried after 1, 2, 4, 8, 16, 32 and 60 minutes (eight attempts over
about two hours) and then recorded as failed. A permanent refusal (an SMTP 5xx such as an unknown
mailbox) is not retried: repeating it only gets the sender marked as a spammer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple


class RetryPolicy(NamedTuple):
    first_delay: timedelta = timedelta(minutes=1)
    multiplier: int = 2
    max_delay: timedelta = timedelta(hours=1)
    max_attempts: int = 8


DEFAULT_RETRY = RetryPolicy()


def next_attempt(
    attempts: int,
    now: datetime,
    policy: RetryPolicy = DEFAULT_RETRY,
    *,
    permanent: bool = False,
) -> datetime | None:
    """When to send again after ``attempts`` failed sends (1 after the first), or None to give up."""
    if permanent or attempts >= policy.max_attempts:
        return None
    return now + retry_delay(max(attempts, 1), policy)


def retry_delay(attempts: int, policy: RetryPolicy = DEFAULT_RETRY) -> timedelta:
    """first_delay * multiplier^(attempts-1), capped; grown stepwise so it can never overflow."""
    delay = policy.first_delay
    for _ in range(attempts - 1):
        if delay >= policy.max_delay:
            break
        delay = delay * policy.multiplier
    return min(delay, policy.max_delay)
