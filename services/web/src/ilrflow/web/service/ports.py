"""What the console's use cases need from the outside: the services' APIs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class ApiRefusedError(Exception):
    """A service answered 4xx/5xx; ``problem`` is its RFC 9457 body (``detail``, ``errors``)."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('detail', '')}")
        self.status = status
        self.problem = dict(problem)

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "refused")

    @property
    def hides_the_page(self) -> bool:
        """404 (not there, or not visible to the caller) and 403 (not allowed) look alike: the
        console never tells which, as the APIs never tell another tenant's objects exist."""
        return self.status in (403, 404)

    @property
    def field_errors(self) -> list[tuple[str, str]]:
        return [(str(e["field"]), str(e["reason"])) for e in self.problem.get("errors") or []]


@dataclass(frozen=True)
class Download:
    """A file an API answered with (a spreadsheet export), passed on to the browser as it is."""

    content: bytes
    media_type: str
    disposition: str


class Apis(Protocol):
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
        """The JSON body of a 2xx answer; raises :class:`ApiRefusedError` otherwise."""
        ...

    async def download(
        self, token: str, service: str, path: str, *, params: Mapping[str, Any] | None = None
    ) -> Download:
        """The file of a 2xx answer to a GET; raises :class:`ApiRefusedError` otherwise."""
        ...
