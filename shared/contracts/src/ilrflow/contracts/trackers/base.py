"""The base of every built-in ``changes`` model, and the validation context they read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo

WITHDRAWAL_REASONS_CONTEXT = "withdrawal_reasons"
"""Context key carrying the tenant's ``{local reason: ESFA code}`` mapping during validation."""


class TrackerChanges(BaseModel):
    """What a tracker asks to change. ``model_dump(mode="json")`` is the canonical stored form.

    Unknown fields are refused rather than ignored: a misspelt field silently dropped would mean
    a tracker that is processed without the change the raiser asked for.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def context_mapping(info: ValidationInfo, key: str) -> Mapping[str, Any] | None:
    context = info.context
    if not isinstance(context, Mapping):
        return None
    value = context.get(key)
    return value if isinstance(value, Mapping) else None
