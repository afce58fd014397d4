"""The short fault run inside ``make test``: ~60 trackers of mixed types through five services of
its own while every one of them is ``kill -9``-ed at least once; then nothing is lost, nothing
applied twice, the audit chains verify. (``make faults`` is the long run, with a broker restart.)
The figures are printed (``pytest -s``), not asserted against any time."""

from __future__ import annotations

import os

import pytest
from workload import service_stack

from tests.faults.harness import run_faults

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TRACKERS = int(os.environ.get("ILRFLOW_FAULT_TRACKERS", "60"))


def test_every_service_killed_mid_flight_loses_nothing_and_applies_nothing_twice() -> None:
    with service_stack(
        os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
        label="faultshort",
    ) as stack:
        report = run_faults(stack, trackers=TRACKERS, learners=6, workers=4, kills_per_service=1)
    print("\n" + "\n".join(report.lines()))
    assert sorted({name for name, _ in report.kills}) == sorted(stack.processes)
    assert report.problems == []
