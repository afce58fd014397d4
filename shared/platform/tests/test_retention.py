"""Each topic's retention, decided by what reads it (docs/operations.md, Retention)."""

from __future__ import annotations

import pytest

from ilrflow.contracts.events import Topics, dead_letter_topic
from ilrflow.platform.lanes import lane_topic
from ilrflow.platform.retention import (
    DEAD_LETTER_RETENTION_MS,
    configs_to_change,
    retention_configs,
)

EVENT_TOPICS = sorted(set(Topics.ALL) - Topics.COMPACTED)


@pytest.mark.parametrize("topic", EVENT_TOPICS)
@pytest.mark.parametrize("lane", ["pooled", "acme"])
def test_event_topics_are_kept_for_ever(topic: str, lane: str) -> None:
    configs = retention_configs(lane_topic(lane, topic))
    assert configs == {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


@pytest.mark.parametrize("topic", sorted(Topics.COMPACTED))
def test_state_topics_are_compacted(topic: str) -> None:
    assert retention_configs(topic) == {"cleanup.policy": "compact"}
    assert retention_configs(lane_topic("acme", topic)) == {"cleanup.policy": "compact"}


@pytest.mark.parametrize("topic", sorted(Topics.ALL))
def test_dead_letter_topics_keep_thirty_days_whatever_they_carry(topic: str) -> None:
    configs = retention_configs(lane_topic("acme", dead_letter_topic(topic)))
    assert configs["cleanup.policy"] == "delete"
    assert configs["retention.ms"] == str(DEAD_LETTER_RETENTION_MS) == "2592000000"


def test_only_the_configs_that_differ_are_changed() -> None:
    wanted = retention_configs(Topics.TRACKER_RAISED)
    broker_default = {
        "cleanup.policy": "delete",
        "retention.ms": "604800000",
        "retention.bytes": "-1",
    }
    assert configs_to_change(wanted, broker_default) == {"retention.ms": "-1"}
    assert configs_to_change(wanted, broker_default | {"retention.ms": "-1"}) == {}
