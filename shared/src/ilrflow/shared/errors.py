"""The one error taxonomy: transient failures are retried, permanent ones are dead-lettered."""

from __future__ import annotations

from pydantic import ValidationError
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, WTimeoutError


class PermanentError(Exception):
    """Retrying cannot help (bad payload, unknown type, broken rule): dead-letter the message."""


class TransientError(Exception):
    """The same work may succeed later (database or broker unavailable): retry with backoff."""


_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    TransientError,
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    WTimeoutError,
    ConnectionError,
    TimeoutError,
)


def is_transient(error: BaseException) -> bool:
    """True when the error is worth another attempt; everything else is permanent."""
    if isinstance(error, PermanentError | ValidationError):
        return False
    if isinstance(error, _TRANSIENT_TYPES):
        return True
    try:
        from aiokafka.errors import KafkaError

        if isinstance(error, KafkaError):
            return bool(getattr(error, "retriable", True))
    except ImportError:  # pragma: no cover - aiokafka is a dependency
        pass
    return False
