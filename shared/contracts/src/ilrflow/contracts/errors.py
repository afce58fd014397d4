"""The errors every service raises, so no rule or use case needs to know about HTTP or Kafka.

Two families:

- **Delivery** (consumers): :class:`PermanentError` and :class:`TransientError`; the platform
  decides retry or dead-letter. They live with the contracts because a contract's parser says
  which of its failures are final: a record that breaks its contract is permanent, whoever reads it.
- **Refusals** (use cases): :class:`DomainError` and its kinds, :class:`NotFound`,
  :class:`Forbidden`, :class:`Conflict` and :class:`InvalidInput`. Each carries a ``code`` a
  program can branch on, a ``detail`` a person can read and, where useful, ``details`` (the
  problems with the input, the current state or version). The platform maps each kind to its HTTP
  status in one place (``ilrflow.platform.http_errors``); domain code never names a status.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, TypedDict


class PermanentError(Exception):
    """Retrying cannot help (bad payload, unknown type, broken rule): dead-letter the message."""


class TransientError(Exception):
    """The same work may succeed later (database or broker unavailable): retry with backoff."""


class FieldProblem(TypedDict):
    """One thing wrong with a request: where (dotted path) and why (plain English)."""

    field: str
    reason: str


class DomainError(Exception):
    """A use case or a rule refused; the subclass says what kind of refusal it is."""

    default_code: ClassVar[str] = "refused"

    def __init__(self, detail: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code: str = code or self.default_code
        self.details = details


class NotFound(DomainError):  # noqa: N818 - the taxonomy names what happened, not "an error"
    """No such thing in the caller's tenant, or the caller may not know it exists."""

    default_code = "not_found"

    @classmethod
    def of(cls, what: str, ident: str) -> NotFound:
        return cls(f"No {what} {ident!r} here.")


class Forbidden(DomainError):  # noqa: N818
    """The caller is known but may not do this."""

    default_code = "forbidden"


class Conflict(DomainError):  # noqa: N818
    """The request clashes with the current state (changed meanwhile, already exists)."""

    default_code = "conflict"


class InvalidInput(DomainError):  # noqa: N818
    """The request itself is wrong; ``problems`` names each field and why."""

    default_code = "validation_failed"

    def __init__(
        self, detail: str, problems: Iterable[FieldProblem] = (), *, code: str | None = None
    ) -> None:
        self.problems: list[FieldProblem] = list(problems)
        super().__init__(detail, code=code, details=[dict(p) for p in self.problems] or None)


def problems_summary(problems: Iterable[FieldProblem]) -> str:
    """``field: reason; field: reason``, the one-line form of a problem list."""
    return "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
