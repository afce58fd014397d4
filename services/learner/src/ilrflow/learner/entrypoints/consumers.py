"""The learner service's consumers: each event to the use cases it feeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ilrflow.contracts.events import Envelope, IlrState, TrackerProcessed
from ilrflow.learner.service.documents import DocumentService
from ilrflow.learner.service.use_cases import LearnerService
from ilrflow.platform.idempotency import Delivered


@dataclass(frozen=True)
class Consumers:
    learners: LearnerService
    documents: DocumentService

    async def on_tracker_processed(self, event: Envelope[TrackerProcessed]) -> None:
        """The master record first, then the training plan it may change (a new name or
        employer); a redelivery repeats both harmlessly."""
        await self.learners.on_tracker_processed(event)
        await self.documents.on_tracker_processed(event)

    async def on_tracker_processed_chain(
        self, chain: Sequence[Delivered[TrackerProcessed]]
    ) -> None:
        """One learner's processed trackers of a batch: the master record in one write, then
        one refresh of the training plan."""
        await self.learners.on_tracker_processed_chain(chain)
        await self.documents.on_tracker_processed_chain(chain)

    async def on_ilr_state_chain(self, chain: Sequence[Delivered[IlrState]]) -> None:
        """One learner's ILR states of a batch: the newest one's status, then one refresh."""
        await self.learners.on_ilr_state_chain(chain)
        await self.documents.on_ilr_state_chain(chain)

    async def on_ilr_state(self, event: Envelope[IlrState]) -> None:
        """The programme status, then the training plan, both read off the current ILR; each is
        ordered by ILR version, so a redelivery or an older version changes nothing."""
        await self.learners.on_ilr_state(event)
        await self.documents.on_ilr_state(event)
