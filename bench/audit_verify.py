"""How fast is ``audit verify``, against one plain read of the same log?

    uv run python -m bench.audit_verify [--entries 10000] [--database NAME]

Builds a scratch audit log (``<database>``, default a fresh ``verifybench<hex>_audit``) with the
audit repository (the builder of bench/audit_scale.py: 12 topic partitions), records the
chain tails, then times (1) a plain read of every entry document (PyMongo, undecoded: what the
database alone costs) and (2) ``verify_log``, the code behind ``ilrflow audit verify`` and
``GET /v1/audit/verify``, and prints both rates. With ``--database`` an existing log is measured
and kept; the command line on it: ``ILRFLOW_DB_PREFIX=<prefix> uv run ilrflow audit verify``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from typing import Any

from bson.raw_bson import RawBSONDocument
from pymongo import AsyncMongoClient

from bench.audit_scale import build_timelines
from ilrflow.audit.adapters.repository import AuditRepository
from ilrflow.audit.domain.verify import ChainTail
from ilrflow.audit.service.queries import AuditQueries
from ilrflow.platform.settings import get_settings


async def measure(entries: int, database: str | None) -> None:
    url = get_settings().mongo_url
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    name = database or f"verifybench{secrets.token_hex(3)}_audit"
    repository = AuditRepository(client[name])
    try:
        if database is None:
            started = time.perf_counter()
            await build_timelines(repository, entries, 1_000)
            await _record_tails(repository)
            print(f"built {entries:,} entries in {time.perf_counter() - started:.1f} s")
        plain = await _plain_read_seconds(url, name)
        started = time.perf_counter()
        verification = await AuditQueries(repository, lambda: None).verify_log()
        seconds = time.perf_counter() - started
        count = verification.entries
        print(f"load average {os.getloadavg()[0]:.1f}")
        print(f"plain read of {count:,} documents: {plain:.2f} s ({count / plain:,.0f}/s)")
        print(
            f"verify_log: {seconds:.2f} s ({count / seconds:,.0f} entries/s), ok={verification.ok}"
        )
    finally:
        if database is None:
            await client.drop_database(name)
        await client.close()


async def _record_tails(repository: AuditRepository) -> None:
    tails: dict[tuple[str, int], ChainTail] = {}
    async for link in repository.chain_links():
        key = (link.topic, link.partition)
        if key not in tails or link.offset > tails[key].offset:
            tails[key] = ChainTail(link.offset, link.hash or "")
    for (topic, partition), tail in tails.items():
        await repository.record_tail(topic, partition, tail)


async def _plain_read_seconds(url: str, name: str) -> float:
    raw: AsyncMongoClient[RawBSONDocument] = AsyncMongoClient(url, document_class=RawBSONDocument)
    try:
        started = time.perf_counter()
        async for _ in raw[name]["audit_entries"].find({}, batch_size=10_000):
            pass
        return time.perf_counter() - started
    finally:
        await raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--database", help="measure this existing audit database (kept)")
    arguments = parser.parse_args()
    asyncio.run(measure(arguments.entries, arguments.database))


if __name__ == "__main__":
    main()
