"""The ILR settings and the OTJ table read through copies of a bounded age: one read per
``max_age``, this process's writes seen at once, another replica's within ``max_age``."""

from __future__ import annotations

from datetime import UTC, datetime

from ilr_fakes import FakeIlrSettingsStore, FakeReferenceStore

from ilrflow.contracts.events import OtjMinimumsLoaded
from ilrflow.ilr.adapters.cached import CachedReference, CachedSettings
from ilrflow.ilr.domain.settings import IlrSettings
from ilrflow.platform.cache import FreshFor


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _table(hours: int) -> OtjMinimumsLoaded:
    return OtjMinimumsLoaded.model_validate(
        {
            "source": "test",
            "loaded_at": datetime(2025, 8, 1, tzinfo=UTC),
            "loaded_by": "operator-1",
            "minimums": [{"std_code": 123, "minimum_otj_hours": hours}],
        }
    )


async def test_settings_are_read_once_per_max_age_and_another_replicas_change_seen_after_it() -> (
    None
):
    store, clock = FakeIlrSettingsStore(), Clock()
    cached = CachedSettings(store, FreshFor(5.0, clock))
    original = await cached.get("acme")
    assert await cached.get("acme") == original
    assert store.reads == 1

    changed = original.model_copy(update={"ukprn": 10012345})
    await store.save("acme", changed, [])  # another replica's write
    clock.now += 4.9
    assert await cached.get("acme") == original  # within the bound
    clock.now += 0.2
    assert await cached.get("acme") == changed
    assert store.reads == 2


async def test_this_processs_own_change_is_seen_at_once() -> None:
    store, clock = FakeIlrSettingsStore(), Clock()
    cached = CachedSettings(store, FreshFor(5.0, clock))
    await cached.get("acme")
    changed = IlrSettings(ukprn=10012345)

    await cached.save("acme", changed, [])

    assert await cached.get("acme") == changed
    assert store.reads == 2  # the copy dropped by the write, read again


async def test_the_otj_table_is_read_once_per_max_age_and_a_load_here_seen_at_once() -> None:
    store, clock = FakeReferenceStore(), Clock()
    cached = CachedReference(store, FreshFor(5.0, clock))
    assert await cached.otj_minimums() is None
    assert await cached.otj_minimums() is None
    assert store.reads == 1

    await cached.save_otj_minimums(_table(400), [])
    assert await cached.otj_minimums() == _table(400)
    await store.save_otj_minimums(_table(500), [])  # another replica's load
    assert await cached.otj_minimums() == _table(400)
    clock.now += 5.0
    assert await cached.otj_minimums() == _table(500)
    assert store.reads == 3
