"""A fake of the five services' APIs: canned answers by (service, method, path), every call kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ilrflow.web.service.ports import ApiRefusedError, Download


@dataclass
class Call:
    token: str
    service: str
    method: str
    path: str
    params: dict[str, Any]
    body: Any


@dataclass
class FakeApis:
    answers: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def answer(self, service: str, method: str, path: str, value: Any) -> None:
        """``value`` is the JSON body, or an :class:`ApiRefusedError` to raise."""
        self.answers[(service, method, path)] = value

    async def call(
        self,
        token: str,
        service: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        self.calls.append(Call(token, service, method, path, dict(params or {}), body))
        value = self.answers.get((service, method, path))
        if value is None:
            raise ApiRefusedError(404, {"detail": "not found"})
        if isinstance(value, ApiRefusedError):
            raise value
        return value

    async def download(
        self, token: str, service: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Download:
        found = await self.call(token, service, "GET", path, params=params)
        assert isinstance(found, Download), found
        return found


def one_page(items: list[Any]) -> dict[str, Any]:
    """A whole list as the APIs answer it: one page, no cursor to follow."""
    return {"items": items, "next_cursor": None}
