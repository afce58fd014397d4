"""The five services' public HTTP APIs, called with the signed-in person's bearer token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ilrflow.web.service.ports import ApiRefusedError, Download


class HttpApis:
    """One pooled HTTP client for every call; ``urls`` maps a service name to its base URL."""

    def __init__(self, urls: Mapping[str, str], timeout_seconds: float = 15.0) -> None:
        self._urls = dict(urls)
        self._client = httpx.AsyncClient(timeout=timeout_seconds)

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
        response = await self._client.request(
            method,
            self._urls[service] + path,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            json=body,
            headers={"authorization": f"Bearer {token}"},
        )
        if response.status_code >= 400:
            raise ApiRefusedError(response.status_code, _problem(response))
        return response.json() if response.content else None

    async def download(
        self, token: str, service: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Download:
        response = await self._client.get(
            self._urls[service] + path,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            headers={"authorization": f"Bearer {token}"},
        )
        if response.status_code >= 400:
            raise ApiRefusedError(response.status_code, _problem(response))
        return Download(
            content=response.content,
            media_type=response.headers.get("content-type", "application/octet-stream"),
            disposition=response.headers.get("content-disposition", "attachment"),
        )

    async def close(self) -> None:
        await self._client.aclose()


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        problem = response.json()
    except ValueError:
        return {"detail": response.text[:500]}
    return problem if isinstance(problem, dict) else {"detail": str(problem)}
