"""The background loop that works bulk jobs, beside the HTTP API in the same process.

A job stored by this process is handed over at once; every ``scan_seconds`` (and at start) the
loop also looks for unfinished jobs in the database, which resumes a job a crash interrupted and
one whose worker (another replica) stopped renewing its lease. Jobs are worked one at a time, in
the order they arrive; each item awaits the database, so HTTP requests are served in between.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket

from ilrflow.platform.logging import get_logger
from ilrflow.tracker.service.bulk import BulkService

log = get_logger(__name__)
RETRY_SECONDS = 5.0


class BulkWorker:
    def __init__(self, service: BulkService, scan_seconds: float = 30.0) -> None:
        self.service = service
        self.scan_seconds = scan_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._queued: set[tuple[str, str]] = set()
        self._running = False

    def job_stored(self, tenant: str, job_id: str) -> None:
        """Hand over a job this process just stored (ignored where no worker runs)."""
        if self._running:
            self._enqueue((tenant, job_id))

    async def run_forever(self) -> None:
        self._running = True
        try:
            await self._scan()
            while True:
                try:
                    job = await asyncio.wait_for(self._queue.get(), self.scan_seconds)
                except TimeoutError:
                    await self._scan()
                    continue
                self._queued.discard(job)
                await self._work(*job)
        finally:
            self._running = False

    async def _work(self, tenant: str, job_id: str) -> None:
        try:
            worked = await self.service.work(tenant, job_id, self.name)
        except Exception:
            log.exception("bulk job interrupted; retrying", tenant=tenant, job_id=job_id)
            await asyncio.sleep(RETRY_SECONDS)
            self._enqueue((tenant, job_id))
            return
        log.info("bulk job worked", tenant=tenant, job_id=job_id, finished=worked)

    async def _scan(self) -> None:
        try:
            for job in await self.service.jobs.open_jobs():
                self._enqueue(job)
        except Exception:
            log.exception("could not look for unfinished bulk jobs")

    def _enqueue(self, job: tuple[str, str]) -> None:
        if job not in self._queued:
            self._queued.add(job)
            self._queue.put_nowait(job)
