"""Issue #18 item 3 end to end: the documented downstream example, run as its README says, keeps
going through every poison record the poison suite sends on ilr-state and ilr-updated, logs a
reason for each, and still applies the ILR's real changes that come after them."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import pytest

from ilrflow.contracts.events import IlrState, IlrUpdated, Topics, new_event, partition_key
from tests.conftest import REPO, Stack, eventually
from tests.e2e.helpers import Tenant, physical, produce, run
from tests.e2e.poison import Poison, poison_for
from tests.e2e.test_ilr_trackers import (
    enrol,
    ilr_outcome,
    process,
    raise_tracker,
    tenant_ready_for_every_type,
)

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "docs" / "examples" / "downstream_consumer.py"
SKIPPED = re.compile(r"skipped (?P<topic>\S+):(?P<partition>\d+):(?P<offset>\d+): (?P<reason>.+)")


@dataclass
class Output:
    """What a running process has written so far, line by line."""

    lines: list[str] = field(default_factory=list)

    def collect(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))


@dataclass
class Example:
    process: subprocess.Popen[str]
    stdout: Output
    stderr: Output

    def printed(self, text: str) -> bool:
        assert self.process.poll() is None, self.failure()
        return any(text in line for line in self.stdout.lines)

    def skipped(self) -> dict[tuple[str, int, int], str]:
        found = (SKIPPED.search(line) for line in self.stderr.lines)
        return {
            (m["topic"], int(m["partition"]), int(m["offset"])): m["reason"] for m in found if m
        }

    def failure(self) -> str:
        return "the example stopped:\n" + "\n".join(self.stderr.lines[-30:])


@pytest.fixture
def example_for(stack: Stack) -> Iterator[list[Example]]:
    started: list[Example] = []
    yield started
    for example in started:
        example.process.terminate()
        example.process.wait(timeout=10)


def start_example(stack: Stack, tenant: str) -> Example:
    settings = stack.settings
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLE),
            "--bootstrap",
            settings.kafka_bootstrap,
            "--tenant",
            tenant,
            "--topic-prefix",
            settings.topic_prefix,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    example = Example(process, Output(), Output())
    assert process.stdout is not None
    assert process.stderr is not None
    for output, stream in ((example.stdout, process.stdout), (example.stderr, process.stderr)):
        threading.Thread(target=output.collect, args=(stream,), daemon=True).start()
    return example


def publish_poison(tenant: Tenant, learner_id: str, topic: str) -> list[Poison]:
    """The poison suite's records for ``topic``, on the learner's partition."""
    payloads = {
        Topics.ILR_STATE: IlrState(learner_id=learner_id, version=0, qa_verified=False, learner={}),
        Topics.ILR_UPDATED: IlrUpdated(
            learner_id=learner_id,
            cause="qa_verification",
            version=1,
            outcome="no_ilr_change",
            reason="the valid event the poison was made from",
        ),
    }
    valid = new_event(payloads[topic], tenant=tenant.name, subject=learner_id, actor="poison")
    key = partition_key(tenant.name, learner_id).encode()
    poison = poison_for(topic, valid, key)
    written = run(produce(tenant.stack.settings.kafka_bootstrap, [p.record for p in poison]))
    for item, (partition, offset) in zip(poison, written, strict=True):
        item.offset = offset
        item.partition = partition
    return poison


def test_the_example_skips_every_poison_record_and_keeps_following(
    stack: Stack, example_for: list[Example]
) -> None:
    tenant = tenant_ready_for_every_type(stack)
    learner_id = enrol(tenant)
    # On ilr-state before the example starts: its bootstrap reads them.
    state_poison = publish_poison(tenant, learner_id, Topics.ILR_STATE)

    example = start_example(stack, tenant.name)
    example_for.append(example)
    eventually(lambda: example.printed("bootstrapped 1 learners from ilr-state"), timeout=30)

    # On ilr-updated while it follows, in front of a real change on the same partition.
    update_poison = publish_poison(tenant, learner_id, Topics.ILR_UPDATED)
    tracker = raise_tracker(
        tenant, learner_id, "change_of_name", {"given_names": "Poison", "family_name": "Proof"}
    )
    assert process(tenant, tracker["id"]).status_code == 200
    assert ilr_outcome(tenant, tracker["id"])["ilr_version"] == 2

    eventually(
        lambda: example.printed(f"{tenant.name}/{learner_id} (Poison Proof) is now at version 2"),
        timeout=30,
    )
    skipped = example.skipped()
    for topic, poison in ((Topics.ILR_STATE, state_poison), (Topics.ILR_UPDATED, update_poison)):
        for item in poison:
            reason = skipped.get((physical(topic), item.partition, item.offset))
            assert reason, f"{item.kind} on {topic} was not skipped with a reason: {skipped}"
    nested = next(p for p in state_poison if p.kind == "deeply-nested")
    assert skipped[(physical(Topics.ILR_STATE), nested.partition, nested.offset)] == (
        "the value is JSON nested too deeply to parse"
    )
    assert example.process.poll() is None, example.failure()
