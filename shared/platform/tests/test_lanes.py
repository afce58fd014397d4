"""Lanes without a broker: the routing function, table versions, relay acknowledgements, drain."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from consumer_doubles import RecordingBroker, no_sleep, record
from hypothesis import given
from hypothesis import strategies as st

from ilrflow.contracts.events import EventType, Topics
from ilrflow.platform.errors import PermanentError
from ilrflow.platform.idempotency import RecordPosition, current_position
from ilrflow.platform.kafka import ConsumerGroup
from ilrflow.platform.lanes import (
    POOLED,
    LaneError,
    RelayAck,
    RoutingTable,
    base_topic,
    behind,
    lagging_groups,
    lane_topic,
    lane_topics,
    live_relays,
    parse_lanes,
    route,
    split_topic,
    topic_pattern,
)
from ilrflow.platform.routing import ProcessRoutes
from ilrflow.platform.service import ServiceRuntime
from ilrflow.platform.settings import Settings


def test_every_tenant_is_pooled_by_default() -> None:
    table = RoutingTable()
    assert route(table, "any", EventType.TRACKER_RAISED) == "tracker-raised"
    assert route(table, "any", EventType.STAFF_UPDATED) == "learner-updated"
    assert table.publishes("any", [POOLED])
    assert not table.publishes("any", ["acme"])


def test_a_promoted_tenant_has_topics_of_its_own() -> None:
    table = RoutingTable().move("acme-tenant", "acme")
    assert table.route("acme-tenant", EventType.ILR_STATE) == "lane-acme.ilr-state"
    assert table.route("other", EventType.ILR_STATE) == "ilr-state"
    assert table.publishes("acme-tenant", ["acme"])
    assert not table.publishes("acme-tenant", [POOLED])
    assert table.publishes("acme-tenant", [POOLED, "acme"])


def test_a_move_pauses_then_switches_and_resumes_each_step_a_new_version() -> None:
    start = RoutingTable()
    paused = start.pause("t")
    assert paused.version == 1
    assert not paused.publishes("t", [POOLED, "acme"])
    assert paused.route("t", EventType.TRACKER_RAISED) == "tracker-raised"  # not switched yet
    assert paused.pause("t") is paused  # pausing twice changes nothing
    switched = paused.move("t", "acme")
    assert switched.version == 2
    assert switched.paused == frozenset()
    assert switched.lane_of("t") == "acme"
    back = switched.pause("t").move("t", POOLED)
    assert back.version == 4
    assert back.lanes == {}
    assert back.resume("t") is back


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["pause", "resume", "move"]),
            st.sampled_from(["t1", "t2", "t3"]),
            st.sampled_from([POOLED, "acme", "big-co"]),
        ),
        max_size=20,
    )
)
def test_versions_only_grow_and_the_document_round_trips(steps: list[tuple[str, str, str]]) -> None:
    table = RoutingTable()
    for action, tenant, lane in steps:
        before = table.version
        table = (
            getattr(table, action)(tenant, lane)
            if action == "move"
            else getattr(table, action)(tenant)
        )
        assert table.version in (before, before + 1)
        assert RoutingTable.from_document(table.to_document()) == table
        assert POOLED not in table.lanes.values()


def test_lane_names_are_checked() -> None:
    assert parse_lanes("pooled, acme,acme") == (POOLED, "acme")
    for bad in ("", "Acme", "a.b", "1st", "x" * 41):
        with pytest.raises(LaneError):
            parse_lanes(bad)
    with pytest.raises(LaneError):
        RoutingTable().move("t", "no.dots")


def test_lane_topic_names_and_their_base() -> None:
    assert lane_topic(POOLED, "ilr-state") == "ilr-state"
    assert lane_topic("acme", "ilr-state.dlt") == "lane-acme.ilr-state.dlt"
    assert split_topic("lane-acme.ilr-state.dlt") == ("acme", "ilr-state.dlt")
    assert split_topic("tracker-raised.dlt") == (POOLED, "tracker-raised.dlt")
    assert base_topic("lane-big-co.tracker-raised") == "tracker-raised"
    assert len(lane_topics("acme")) == 2 * len(Topics.ALL)
    assert lane_topics("acme", dead_letters=False)[0] == "lane-acme." + Topics.ALL[0]


def test_the_topic_pattern_matches_every_lane_of_this_deployment_only() -> None:
    pattern = re.compile(topic_pattern("run1."))
    for name in ("tracker-raised", "tracker-raised.dlt", "lane-acme.ilr-state",
                 "lane-big-co.ilr-state.dlt"):  # fmt: skip
        assert pattern.match("run1." + name), name
    for name in ("tracker-raised", "run2.tracker-raised", "__consumer_offsets",
                 "run1.lane-acme.x.y", "run1.other.tracker-raised"):  # fmt: skip
        assert not pattern.match(name), name
    assert not re.match(topic_pattern(""), "run1.tracker-raised")


def test_relays_that_stopped_reporting_are_not_waited_for() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fresh = RelayAck("tracker:h:1", "tracker", (POOLED,), 3, now - timedelta(seconds=2))
    stale = RelayAck("tracker:h:0", "tracker", (POOLED,), 1, now - timedelta(minutes=5))
    late = RelayAck("ilr:h:2", "ilr", ("acme",), 2, now)
    live = live_relays([fresh, stale, late], now, timedelta(seconds=15))
    assert live == [fresh, late]
    assert behind(live, 3) == [late]


def test_a_group_lags_until_it_has_committed_past_the_end_offsets() -> None:
    ends = {("t-a", 0): 10, ("t-a", 1): 0, ("t-b", 0): 5}
    committed = {
        "g.done": {("t-a", 0): 10, ("t-a", 1): -1},
        "g.behind": {("t-a", 0): 7},
        "g.never-on-partition": {("t-b", 1): 3},
        "g.other-topic": {("t-c", 0): 0},
    }
    assert lagging_groups(ends, committed) == {
        "g.behind": {("t-a", 0): 3},
        "g.never-on-partition": {("t-b", 0): 5},
    }


class FakeStore:
    def __init__(self) -> None:
        self.table = RoutingTable()
        self.reads = 0
        self.reports: list[RelayAck] = []

    async def read(self) -> RoutingTable:
        self.reads += 1
        return self.table

    async def report(self, ack: RelayAck) -> None:
        self.reports.append(ack)


async def test_a_process_refreshes_its_copy_and_acknowledges_what_it_applies() -> None:
    store, now = FakeStore(), [0.0]
    routes = ProcessRoutes(store, "ilr", [POOLED], 1.0, 2.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert (await routes.table()).version == 0
    await routes.acknowledge()
    store.table = RoutingTable().pause("t")
    now[0] = 0.5
    assert (await routes.table()).version == 0  # cached: publishing stays cheap
    await routes.acknowledge()
    assert len(store.reports) == 1  # nothing new to say, and no heartbeat due
    now[0] = 1.0
    assert (await routes.table()).version == 1
    await routes.acknowledge()
    assert [r.version for r in store.reports] == [0, 1]
    store.table = RoutingTable()  # an older copy (a stale read) never replaces a newer one
    now[0] = 3.5
    assert (await routes.table()).version == 1
    await routes.acknowledge()  # heartbeat
    assert [r.version for r in store.reports] == [0, 1, 1]


async def test_a_process_consumes_each_topic_once_per_lane_it_serves() -> None:
    settings = Settings(lanes="pooled,acme", run_consumers=False, db_prefix="p")
    runtime = ServiceRuntime("ilr", settings)
    try:
        runtime.consume(Topics.TRACKER_PROCESSED, {})
        assert [(g.topic, g.group_id) for g in runtime.consumer_groups] == [
            ("tracker-processed", "p.ilr.tracker-processed"),
            ("lane-acme.tracker-processed", "p.ilr.lane-acme.tracker-processed"),
        ]
    finally:
        await runtime.client.close()


async def test_a_lane_consumer_handles_its_lane_and_dead_letters_to_the_lane() -> None:
    outcomes: list[str] = []

    async def handler(event: object) -> None:
        if outcomes:
            raise PermanentError("broken rule")
        outcomes.append("handled")

    broker = RecordingBroker()
    group = ConsumerGroup(
        topic="lane-acme.tracker-processed",
        group_id="p.ilr.lane-acme.tracker-processed",
        handlers={EventType.TRACKER_PROCESSED: handler},
        settings=Settings(topic_prefix="run1."),
        broker=broker,  # type: ignore[arg-type]
        sleep=no_sleep,
    )
    assert await group.handle_record(**record()) == "done"
    assert await group.handle_record(**record()) == "dead-lettered"
    [dead] = broker.published
    assert dead["topic"] == "run1.lane-acme.tracker-processed.dlt"
    assert dead["headers"]["dlt_original_topic"] == "lane-acme.tracker-processed"


async def test_a_handler_sees_its_records_position_on_the_lane_topic() -> None:
    """Idempotency marks are keyed by the logical topic: a lane's own, without the prefix."""
    positions: list[RecordPosition | None] = []

    async def handler(event: object) -> None:
        positions.append(current_position())

    group = ConsumerGroup(
        topic="lane-acme.tracker-processed",
        group_id="p.ilr.lane-acme.tracker-processed",
        handlers={EventType.TRACKER_PROCESSED: handler},
        settings=Settings(topic_prefix="run1."),
        broker=RecordingBroker(),  # type: ignore[arg-type]
        sleep=no_sleep,
    )
    assert await group.handle_record(**record()) == "done"
    assert positions == [RecordPosition("lane-acme.tracker-processed", 3, 42)]
    assert current_position() is None
