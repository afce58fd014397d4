"""Log configuration: one formatter for every logger, no colour codes off a terminal, and the
check that names ``ILRFLOW_*`` variables no setting reads."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from ilrflow.platform.logging import bound_context, configure_logging, get_logger
from ilrflow.platform.settings import TOOLING_VARIABLES, unknown_variables


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A stream for the root handler; the logging state is restored afterwards."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        yield stream
    finally:
        root.handlers[:], root.level = saved
        structlog.reset_defaults()


def test_a_library_logger_with_its_own_coloured_handler_writes_json(
    captured: io.StringIO,
) -> None:
    library = logging.getLogger("some.library")
    library.propagate = False
    library.addHandler(logging.StreamHandler(captured))  # as FastStream does, with colours
    configure_logging("tracker", stream=captured)
    library.warning("\x1b[32mrebalanced\x1b[0m is not what we write")
    [line] = captured.getvalue().splitlines()
    parsed = json.loads(line)
    assert parsed["logger"] == "some.library"
    assert parsed["service"] == "tracker"
    assert parsed["level"] == "warning"


def test_bound_ids_reach_every_line_inside_the_block(captured: io.StringIO) -> None:
    configure_logging("ilr", stream=captured)
    with bound_context(tenant="acme", correlation_id="story-1", event_id="event-1", offset=None):
        get_logger("test").info("record handled")
    parsed = json.loads(captured.getvalue())
    assert (parsed["tenant"], parsed["correlation_id"], parsed["event_id"]) == (
        "acme",
        "story-1",
        "event-1",
    )
    assert "offset" not in parsed


def test_console_lines_have_no_colour_codes_when_not_a_terminal(captured: io.StringIO) -> None:
    configure_logging("notify", as_json=False, stream=captured)
    get_logger("test").info("plain", tenant="acme")
    assert "plain" in captured.getvalue()
    assert "\x1b[" not in captured.getvalue()


def test_a_misspelt_variable_is_named_with_the_setting_it_meant() -> None:
    found = unknown_variables(
        ["ILRFLOW_LOG_LEVLE", "ILRFLOW_KAFKA_BOOTSTRAP", "PATH", "ILRFLOW_NONSENSE_XYZ"]
    )
    assert found == {"ILRFLOW_LOG_LEVLE": "ILRFLOW_LOG_LEVEL", "ILRFLOW_NONSENSE_XYZ": None}


def test_every_setting_and_tooling_variable_is_known() -> None:
    settings = ["ILRFLOW_MONGO_URL", "ILRFLOW_OTEL_FILE", "ILRFLOW_LANES"]
    assert unknown_variables([*settings, *TOOLING_VARIABLES]) == {}
