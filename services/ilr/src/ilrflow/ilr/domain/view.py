"""The ILR as it is published (HTTP, ``ilr-state``, patches on ``ilr-updated``).

The engine keeps bookkeeping inside the record (the ids of trackers already applied); nobody
outside the ILR service needs it, so every published form goes through :func:`published_patch`
or :func:`ilrflow.ilr_engine.published`, and patches apply to the published record.
"""

from __future__ import annotations

from typing import Any

from ilrflow.ilr_engine import IlrLearner, json_patch, published


def published_patch(old: IlrLearner | None, new: IlrLearner) -> list[dict[str, Any]]:
    """The RFC 6902 patch from the previously published record to the new one."""
    return json_patch(published(old or {}), published(new))
