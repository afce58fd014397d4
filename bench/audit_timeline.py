"""How fast are a learner's audit timeline and the /v1/audit/events searches on a 100,000-entry
log, and what does the database say about how it answered?

    uv run python -m bench.audit_timeline [--entries 100000] [--learners 1000]

Builds a scratch database with the audit service's own repository (the builder is
bench/audit_scale.py, shared with tests/e2e/test_audit_scale.py), times the learner timeline read and each search filter's walk of
the lookup documents, prints the figures and each read's ``explain``, and drops the scratch
database.
"""

from __future__ import annotations

import argparse
import asyncio

from bench.audit_scale import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--learners", type=int, default=1_000)
    arguments = parser.parse_args()
    print(asyncio.run(measure(arguments.entries, arguments.learners)).report())


if __name__ == "__main__":
    main()
