"""Claims across processes: which replica does a piece of work, decided by an ``_id`` insert.

Upstream FerretDB 1.24 does a conditional update as read-modify-write without isolation: two
replicas doing compare-and-set on the same document can both win (our build applies the updates
of one document one at a time, ``ilrflow.platform.ferretdb``, but a claim does not depend on it).
An insert of a given ``_id`` succeeds for one process only (a primary key, unique on every
backend), so a claim is such an insert.

A claim is a lease: its holder finishes the work before ``expires_at``. Should the holder die,
the work is taken over by inserting the claim's next generation (``<key>/1``, ``<key>/2``, ...)
once the current one has expired, which again one process only manages. Claims are insert-only:
a finished claim stays, so a process acting on a stale read of the work finds it taken. The key
names one attempt of the work (a delivery and its attempt number), so a retry is a new key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from ilrflow.platform.mongo import Document

CLAIMS_COLLECTION = "claims"


class Claims:
    def __init__(
        self,
        collection: AsyncCollection[Document],
        lease: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._collection = collection
        self._lease = lease
        self._clock = clock

    async def take(self, key: str) -> bool:
        """True if this process now holds the claim on ``key``: nobody held it, or the last
        holder's lease ran out. False while another holder's lease runs."""
        generation = 0
        while True:
            now = self._clock()
            claim_id = f"{key}/{generation}"
            try:
                await self._collection.insert_one(
                    {"_id": claim_id, "key": key, "at": now, "expires_at": now + self._lease}
                )
                return True
            except DuplicateKeyError:
                held = await self._collection.find_one({"_id": claim_id}, {"expires_at": 1})
            if held is not None and _aware(held["expires_at"]) > now:
                return False
            if held is not None:  # expired: its holder is presumed dead, take the next one
                generation += 1


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
