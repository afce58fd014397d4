"""The learner service's consumers: each event to the use cases it feeds."""

from __future__ import annotations

from dataclasses import dataclass

from ilrflow.contracts.events import Envelope, IlrState, TrackerProcessed
from ilrflow.learner.service.documents import DocumentService
from ilrflow.learner.service.use_cases import LearnerService


@dataclass(frozen=True)
class Consumers:
    learners: LearnerService
    documents: DocumentService

    async def on_tracker_processed(self, event: Envelope[TrackerProcessed]) -> None:
        """The master record first, then the training plan it may change (a new name or
        employer); a redelivery repeats both harmlessly."""
        await self.learners.on_tracker_processed(event)
        await self.documents.on_tracker_processed(event)

    async def on_ilr_state(self, event: Envelope[IlrState]) -> None:
        """The programme status, then the training plan, both read off the current ILR; each is
        ordered by ILR version, so a redelivery or an older version changes nothing."""
        await self.learners.on_ilr_state(event)
        await self.documents.on_ilr_state(event)
