"""structlog set up once: JSON lines carrying tenant, correlation id, event id and the active
trace and span ids."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

from ilrflow.platform.tracing import add_trace_ids


def configure_logging(
    service: str, level: str = "INFO", as_json: bool = True, stream: TextIO | None = None
) -> None:
    """Route structlog and every standard-library logger (uvicorn, FastStream, aiokafka ...)
    through one renderer writing to ``stream`` (stderr): JSON lines, or console lines that are
    coloured only on a terminal."""
    stream = stream or sys.stderr
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
        _add_logger_name,
        add_trace_ids,
    ]
    structlog.configure(
        processors=[
            # First: a call below the level (every consumer's per-record INFO line when the
            # level is WARNING) returns before the context is merged and the time formatted.
            structlog.stdlib.filter_by_level,
            *shared_processors,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared_processors, structlog.processors.format_exc_info],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    _route_through_root()
    logging.captureWarnings(True)  # warnings.warn(...) becomes a JSON line too
    # aiokafka reports every rebalance and coordinator hiccup at INFO/ERROR; keep warnings.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("pymongo").setLevel(logging.WARNING)
    # httpx logs every request's full URL at INFO; a webhook URL may carry the receiver's token.
    # Each webhook try is in the delivery log instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _route_through_root() -> None:
    """Libraries that install their own handler (FastStream: a coloured stdout formatter on
    ``faststream``, with propagation off) would write lines of their own format, ANSI colour
    codes included. Take those handlers away so that every record reaches the root's."""
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            logger.handlers.clear()
            logger.propagate = True


def _add_logger_name(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):  # a standard-library record: name its library
        event_dict.setdefault("logger", record.name)
    return event_dict


def _add_service(service: str) -> Any:
    def processor(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return processor


@contextmanager
def bound_context(**values: Any) -> Iterator[None]:
    """Bind values (tenant, correlation_id, event_id ...) to every log line inside the block."""
    tokens = structlog.contextvars.bind_contextvars(
        **{k: v for k, v in values.items() if v is not None}
    )
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
