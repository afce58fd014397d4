"""Email delivery over SMTP, with retries: the inbox row is written first, then sent.

Each attempt is claimed first (``NotifyRepository.claim_email``: one findAndModify that reads
the row and takes its lease), so of several replicas one sends it. A sender stopped between the
SMTP server's acceptance and recording it leaves the row pending: it is sent again once the
claim's lease has run out (at least once on the wire, with the same ``Message-ID``).

A send that fails is retried with backoff (``domain.retry``); when the policy gives up the row
is marked ``failed`` with the last error, visible to operators at /v1/notifications/deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from ilrflow.notify.adapters.repository import NotifyRepository
from ilrflow.notify.domain.retry import next_attempt
from ilrflow.platform.ferretdb import add_write_listener
from ilrflow.platform.logging import get_logger
from ilrflow.platform.settings import Settings

log = get_logger(__name__)

DUE_PAGE = 50  # rows per query for due emails


class EmailSender:
    """Sends pending emails. It hears of each pending row as it is written (a listener on the
    notifications collection) and claims just those by ``_id``; the query for due rows, a scan of
    the whole collection on FerretDB 1.24, runs at start, every ``scan_seconds`` as a safety
    net, and again while it keeps finding a full page."""

    def __init__(
        self,
        settings: Settings,
        repository: NotifyRepository,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scan_seconds: float = 30.0,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._clock = clock
        self._wake = asyncio.Event()
        self._scan_seconds = scan_seconds
        self._next_scan = 0.0  # monotonic; 0: scan on the first pass
        self._due: dict[str, datetime] = {}  # pending row id -> its next attempt
        self._heard = add_write_listener(repository.notifications, self._on_write)
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.send_due()
            except Exception:
                log.exception("email pass failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.email_poll_seconds)

    async def send_due(self) -> int:
        now = self._clock()
        if not self._heard or time.monotonic() >= self._next_scan:
            self._next_scan = time.monotonic() + self._scan_seconds
            self._due.clear()  # the query finds them all
            due = await self._repository.due_emails(now, DUE_PAGE)
            if len(due) == DUE_PAGE:
                self._next_scan = 0.0  # more may be waiting: query again on the next pass
        else:
            due = [row_id for row_id, at in self._due.items() if at <= now]
            for row_id in due:
                del self._due[row_id]
        for row_id in due:
            await self._deliver(row_id, now)
        return len(due)

    def _on_write(self, identity: Any, change: dict[str, Any]) -> None:
        delivery = change.get("$set", change).get("delivery")
        if isinstance(delivery, dict) and delivery.get("status") == "pending":
            self._due[str(identity)] = delivery.get("next_attempt_at") or self._clock()

    async def _deliver(self, row_id: str, now: datetime) -> None:
        # Replicas side by side find the same due rows: the one that claims the attempt sends.
        row = await self._repository.claim_email(row_id, now)
        if row is None:
            return
        delivery = {k: v for k, v in row["delivery"].items() if k != "claimed_until"}
        attempts = int(delivery.get("attempts", 0)) + 1
        if not self._settings.smtp_host:
            await self._repository.record_delivery(
                row["_id"],
                {
                    **delivery,
                    "status": "not_sent",
                    "attempts": attempts,
                    "last_error": "no SMTP server configured (ILRFLOW_SMTP_HOST)",
                },
            )
            return
        try:
            await aiosmtplib.send(
                _message(row, self._settings.smtp_from),
                hostname=self._settings.smtp_host,
                port=self._settings.smtp_port,
                start_tls=self._settings.smtp_starttls,
                timeout=10,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            permanent = isinstance(error, aiosmtplib.SMTPRecipientsRefused)
            retry_at = next_attempt(attempts, self._clock(), permanent=permanent)
            status = "pending" if retry_at else "failed"
            log.warning(
                "email send failed", notification=row["_id"], status=status, error=str(error)
            )
            await self._repository.record_delivery(
                row["_id"],
                {
                    "status": status,
                    "attempts": attempts,
                    "next_attempt_at": retry_at,
                    "last_error": str(error),
                },
            )
            return
        self.sent += 1
        await self._repository.record_delivery(
            row["_id"],
            {
                "status": "sent",
                "attempts": attempts,
                "next_attempt_at": None,
                "last_error": None,
                "sent_at": self._clock(),
            },
        )


def _message(row: dict[str, Any], sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row["email_to"]
    message["Subject"] = row["subject"]
    message["Message-ID"] = f"<{row['_id']}@ilrflow>"
    message.set_content(row["body_text"])
    message.add_alternative(row["body_html"], subtype="html")
    return message
