"""The platform-wide 2025/26 minimum OTJ table: loaded by an operator, stored and announced on
the compacted ``reference-data`` topic in one write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from ilr_fakes import T0, FakeIlrSettingsStore, FakeIlrStore, FakeReferenceStore, ilr_service

from ilrflow.contracts.errors import InvalidInput
from ilrflow.contracts.events import (
    OTJ_MINIMUMS_SUBJECT,
    PLATFORM_TENANT,
    EventType,
    Topics,
)
from ilrflow.contracts.identity import Principal
from ilrflow.ilr.service.use_cases import IlrService

RefusalOf = Callable[[Awaitable[object]], Awaitable[Any]]  # the fixture in services/conftest.py
OPERATOR = Principal(sub="operator-1", tenant="acme", roles=["operator"])
ROWS = [
    {"std_code": 244, "minimum_otj_hours": 370},
    {"std_code": 91, "minimum_otj_hours": 278},
]


@pytest.fixture
def reference() -> FakeReferenceStore:
    return FakeReferenceStore()


@pytest.fixture
def service(reference: FakeReferenceStore) -> IlrService:
    return ilr_service(FakeIlrStore(), FakeIlrSettingsStore(), reference)


async def test_a_loaded_table_is_kept_with_its_source_and_announced_platform_wide(
    service: IlrService, reference: FakeReferenceStore
) -> None:
    await service.load_otj_minimums(OPERATOR, "DfE list 2025-07-15", ROWS)

    table = await service.otj_minimums()
    assert (table.source, table.loaded_at, table.loaded_by) == (
        "DfE list 2025-07-15",
        T0,
        "operator-1",
    )
    assert table.by_standard() == {244: 370, 91: 278}
    (event,) = reference.outbox
    assert (event.type, event.topic) == (EventType.OTJ_MINIMUMS_LOADED, Topics.REFERENCE_DATA)
    assert (event.tenant, event.subject) == (PLATFORM_TENANT, OTJ_MINIMUMS_SUBJECT)
    assert event.data == table


async def test_no_table_until_one_is_loaded(service: IlrService, refusal_of: RefusalOf) -> None:
    refusal = await refusal_of(service.otj_minimums())

    assert refusal.code == "not_loaded"


@pytest.mark.parametrize(
    ("rows", "field", "reason"),
    [
        (
            [*ROWS, {"std_code": 244, "minimum_otj_hours": 400}],
            "minimums",
            "244 appears more than once",
        ),
        (
            [{"std_code": 244, "minimum_otj_hours": "lots"}],
            "minimums.0.minimum_otj_hours",
            "integer",
        ),
        (
            [{"std_code": 0, "minimum_otj_hours": 300}],
            "minimums.0.std_code",
            "greater than or equal to 1",
        ),
        ([], "minimums", "at least 1"),
    ],
)
async def test_a_bad_table_is_refused_and_the_loaded_one_kept(
    service: IlrService,
    reference: FakeReferenceStore,
    refusal_of: RefusalOf,
    rows: list[dict[str, Any]],
    field: str,
    reason: str,
) -> None:
    await service.load_otj_minimums(OPERATOR, "first", ROWS)

    refusal = await refusal_of(service.load_otj_minimums(OPERATOR, "second", rows))

    assert refusal.code == "validation_failed"
    assert isinstance(refusal.error, InvalidInput)
    problems = {p["field"]: p["reason"] for p in refusal.error.problems}
    assert reason in problems[field]
    assert (await service.otj_minimums()).source == "first"
    assert len(reference.outbox) == 1
