"""The one error taxonomy: transient failures are retried, permanent ones are dead-lettered."""

from __future__ import annotations

from pydantic import ValidationError
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, WTimeoutError

from ilrflow.contracts.errors import PermanentError, TransientError

__all__ = ["PermanentError", "TransientError", "is_transient"]


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
