"""Helpers for every service's unit tests."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import NamedTuple

import pytest


class Refusal(NamedTuple):
    """What a use case refused with: a code, the message, and the exception itself."""

    code: str
    message: str
    error: Exception


async def _refusal_of(action: Awaitable[object]) -> Refusal:
    """Run a use case that must refuse, and describe the refusal.

    Its code is the ``code`` the error carries, else the error's class name in snake case
    without "Error" (``NotFoundError`` -> ``not_found``), so a test holds whether the service
    layer raises coded errors or one domain exception class per refusal."""
    try:
        await action
    except Exception as error:  # any refusal: the test asserts on which
        return Refusal(_code_of(error), str(error), error)
    raise AssertionError("the use case was expected to refuse, and it did not")


def _code_of(error: Exception) -> str:
    code = getattr(error, "code", None)
    if isinstance(code, str) and code:
        return code
    name = type(error).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


RefusalOf = Callable[[Awaitable[object]], Awaitable[Refusal]]


@pytest.fixture
def refusal_of() -> RefusalOf:
    return _refusal_of
