"""The bounded cache of slow-changing reads: used within its bound, read again after it, and
this process's own changes seen at once."""

from __future__ import annotations

import asyncio

from ilrflow.platform.cache import FreshFor


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class Store:
    def __init__(self) -> None:
        self.value = "v1"
        self.reads = 0

    async def read(self) -> str:
        self.reads += 1
        return self.value


async def test_a_value_is_used_within_its_bound_and_read_again_after_it() -> None:
    clock, store = Clock(), Store()
    cache: FreshFor[str, str] = FreshFor(5.0, clock)
    assert await cache.get("t1", store.read) == "v1"
    store.value = "v2"  # changed by another replica
    clock.now += 4.9
    assert await cache.get("t1", store.read) == "v1"
    clock.now += 0.1
    assert await cache.get("t1", store.read) == "v2"
    assert store.reads == 2


async def test_keys_are_kept_apart() -> None:
    clock, store = Clock(), Store()
    cache: FreshFor[str, str] = FreshFor(5.0, clock)
    await cache.get("t1", store.read)
    await cache.get("t2", store.read)
    assert store.reads == 2


async def test_a_change_of_this_process_is_seen_by_its_next_read() -> None:
    clock, store = Clock(), Store()
    cache: FreshFor[str, str] = FreshFor(5.0, clock)
    await cache.get("t1", store.read)
    store.value = "v2"
    cache.forget("t1")
    assert await cache.get("t1", store.read) == "v2"


async def test_a_read_in_flight_when_its_key_is_forgotten_is_not_kept() -> None:
    clock, store = Clock(), Store()
    cache: FreshFor[str, str] = FreshFor(5.0, clock)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_read() -> str:
        value = store.value  # read before the change...
        started.set()
        await release.wait()
        return value

    reading = asyncio.create_task(cache.get("t1", slow_read))
    await started.wait()
    store.value = "v2"
    cache.forget("t1")  # ...which this process made while the read was in flight
    release.set()
    assert await reading == "v1"
    assert await cache.get("t1", store.read) == "v2"


async def test_the_bound_counts_from_when_the_read_began() -> None:
    clock, store = Clock(), Store()
    cache: FreshFor[str, str] = FreshFor(5.0, clock)

    async def read_taking_two_seconds() -> str:
        clock.now += 2.0
        return await store.read()

    await cache.get("t1", read_taking_two_seconds)
    clock.now += 3.0  # five seconds after the read began
    await cache.get("t1", store.read)
    assert store.reads == 2
