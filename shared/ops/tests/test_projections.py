"""The rebuild's check that the history it reads is whole."""

from __future__ import annotations

from aiokafka import TopicPartition

from ilrflow.ops.projections import history_gone_before


def test_a_topic_starting_at_zero_everywhere_is_whole() -> None:
    begin = {TopicPartition("t", p): 0 for p in range(3)}
    assert history_gone_before(begin) == {}


def test_partitions_that_start_later_are_named_with_their_first_offset() -> None:
    begin = {TopicPartition("t", 2): 7, TopicPartition("t", 0): 3, TopicPartition("t", 1): 0}
    assert history_gone_before(begin) == {0: 3, 2: 7}
