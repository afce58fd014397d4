"""Lanes: which topics carry a tenant's events, decided by one routing table (no I/O here).

Every tenant shares the pooled topics (``tracker-raised`` ...) until an operator promotes it to a
dedicated lane ``<name>``: from then on its events travel on ``lane-<name>.<topic>`` and only the
processes that serve that lane (``ILRFLOW_LANES``) consume them. The table is versioned; a tenant
being moved is *paused* (no relay publishes its events) until the old lane has drained.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ilrflow.contracts.events import CATALOGUE, Topics, dead_letter_topic

POOLED = "pooled"
LANE_PREFIX = "lane-"
_LANE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


class LaneError(ValueError):
    """A lane name or a move that makes no sense (the operator's mistake, not the system's)."""


def validate_lane(name: str) -> str:
    if name != POOLED and not _LANE_NAME.match(name):
        raise LaneError(
            f"bad lane name {name!r}: use 1-40 of a-z, 0-9 and '-', starting with a letter"
        )
    return name


def parse_lanes(text: str) -> tuple[str, ...]:
    """``ILRFLOW_LANES``: comma-separated lane names, e.g. ``pooled`` or ``acme,big-co``."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise LaneError("ILRFLOW_LANES names no lane")
    return tuple(validate_lane(n) for n in names)


def lane_topic(lane: str, topic: str) -> str:
    """The logical name of ``topic`` on ``lane`` (the deployment's topic prefix comes on top)."""
    return topic if lane == POOLED else f"{LANE_PREFIX}{lane}.{topic}"


def split_topic(topic: str) -> tuple[str, str]:
    """``lane-acme.tracker-raised.dlt`` -> (``acme``, ``tracker-raised.dlt``)."""
    if topic.startswith(LANE_PREFIX) and "." in topic:
        lane, rest = topic.removeprefix(LANE_PREFIX).split(".", 1)
        return lane, rest
    return POOLED, topic


def base_topic(topic: str) -> str:
    """The topic without its lane: what the event catalogue calls it."""
    return split_topic(topic)[1]


def lane_topics(lane: str, *, dead_letters: bool = True) -> list[str]:
    """Every logical topic of a lane, each followed by its dead-letter topic."""
    return [
        lane_topic(lane, name)
        for topic in Topics.ALL
        for name in ((topic, dead_letter_topic(topic)) if dead_letters else (topic,))
    ]


def topic_pattern(prefix: str) -> str:
    """A regex for every topic of one deployment, every lane and dead-letter topic included,
    and nothing else: not Kafka's internal topics, not another deployment's (``<prefix>``)."""
    lane = re.escape(LANE_PREFIX) + r"[a-z][a-z0-9-]*\."
    return "^" + re.escape(prefix) + f"({lane})?" + r"[a-z][a-z0-9-]*(\.dlt)?$"


@dataclass(frozen=True)
class RoutingTable:
    """Which lane each promoted tenant uses (every other tenant is pooled), and which tenants are
    paused mid-move. ``version`` grows by one with every change."""

    version: int = 0
    lanes: Mapping[str, str] = field(default_factory=dict)
    paused: frozenset[str] = frozenset()

    def lane_of(self, tenant: str) -> str:
        return self.lanes.get(tenant, POOLED)

    def route(self, tenant: str, event_type: str) -> str:
        return route(self, tenant, event_type)

    def publishes(self, tenant: str, served: Iterable[str]) -> bool:
        """Whether a relay serving ``served`` lanes may publish ``tenant``'s events now."""
        return tenant not in self.paused and self.lane_of(tenant) in served

    def pause(self, tenant: str) -> RoutingTable:
        if tenant in self.paused:
            return self
        return replace(self, version=self.version + 1, paused=self.paused | {tenant})

    def resume(self, tenant: str) -> RoutingTable:
        if tenant not in self.paused:
            return self
        return replace(self, version=self.version + 1, paused=self.paused - {tenant})

    def move(self, tenant: str, lane: str) -> RoutingTable:
        """Route ``tenant`` to ``lane`` and resume it: the last step of a promotion/demotion."""
        validate_lane(lane)
        lanes = {t: n for t, n in self.lanes.items() if t != tenant}
        if lane != POOLED:
            lanes[tenant] = lane
        return RoutingTable(self.version + 1, lanes, self.paused - {tenant})

    def to_document(self) -> dict[str, Any]:
        # A list, not a map: tenant ids become values, never field names (no '.' or '$' issues).
        return {
            "version": self.version,
            "routes": [{"tenant": t, "lane": n} for t, n in sorted(self.lanes.items())],
            "paused": sorted(self.paused),
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> RoutingTable:
        if not document:
            return cls()
        return cls(
            version=int(document.get("version", 0)),
            lanes={r["tenant"]: r["lane"] for r in document.get("routes") or []},
            paused=frozenset(document.get("paused") or []),
        )


def route(table: RoutingTable, tenant: str, event_type: str) -> str:
    """The one routing decision: the logical topic ``tenant``'s ``event_type`` is published to."""
    return lane_topic(table.lane_of(tenant), CATALOGUE[event_type].topic)


# --- relay acknowledgements --------------------------------------------------------------------


@dataclass(frozen=True)
class RelayAck:
    """What one relay process last said: the table version it applies and when it said it."""

    process: str
    service: str
    lanes: tuple[str, ...]
    version: int
    seen_at: datetime


def live_relays(acks: Iterable[RelayAck], now: datetime, liveness: timedelta) -> list[RelayAck]:
    """Relays that reported recently; older records belong to stopped processes."""
    return [a for a in acks if now - a.seen_at <= liveness]


def behind(acks: Iterable[RelayAck], version: int) -> list[RelayAck]:
    """Relays that have not applied ``version`` yet."""
    return [a for a in acks if a.version < version]


# --- draining a lane ---------------------------------------------------------------------------

Partition = tuple[str, int]


def lagging_groups(
    end_offsets: Mapping[Partition, int],
    committed: Mapping[str, Mapping[Partition, int]],
) -> dict[str, dict[Partition, int]]:
    """Per consumer group, the partitions it has not committed up to ``end_offsets`` yet, and
    how far behind it is. A group counts as a reader of a topic once it has committed on any
    of its partitions; a partition it has never committed on lags by all of it."""
    lagging: dict[str, dict[Partition, int]] = {}
    for group, offsets in committed.items():
        topics = {topic for topic, _ in offsets}
        for partition, end in end_offsets.items():
            if partition[0] not in topics:
                continue
            lag = end - max(offsets.get(partition, 0), 0)
            if lag > 0:
                lagging.setdefault(group, {})[partition] = lag
    return lagging
