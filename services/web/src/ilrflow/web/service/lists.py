"""Every item of an API list: the five services page every list (``{items, next_cursor}``, at most
200 a page), and some pages of the console need a whole short list (a learner's ILR versions, the
tenant's tracker types, its staff)."""

from __future__ import annotations

from typing import Any

from ilrflow.web.service.ports import Apis

PAGE_LIMIT = 200  # the APIs' stated maximum


async def every_item(
    apis: Apis, token: str, service: str, path: str, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await apis.call(
            token, service, "GET", path, params={**params, "limit": PAGE_LIMIT, "cursor": cursor}
        )
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
