"""The long fault run (``make faults``): thousands of trackers through five services that are
``kill -9``-ed at random moments (each at least twice) while the Kafka broker is restarted once.

    uv run python -m tests.faults.run [--trackers 2000] [--learners 100] [--workers 8]
        [--kills-per-service 2] [--broker-stack-dir .stack/faults] [--seed 7] [--replicas 2]

With ``--replicas 2`` every service runs as two processes side by side and each kill hits one
of them (the other serves meanwhile); the notify service then sends to a real SMTP server and a
webhook receiver of the run, and every email and webhook is checked by its id.

Kafka and FerretDB come from ILRFLOW_KAFKA_BOOTSTRAP / ILRFLOW_MONGO_URL; ``make faults`` starts a
pair of its own (29092/27029) so that the broker restart touches nobody else. Without
``--broker-stack-dir`` the broker is not restarted. Prints the figures; exits 1 on any problem.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path

# The stack driver is local tooling (deploy/local/workload.py), a top-level module there as in
# pytest's ``pythonpath``: `python -m tests.faults.run` finds it the same way.
sys.path.append(str(Path(__file__).resolve().parents[2] / "deploy" / "local"))

from workload import service_stack

from tests.faults.harness import broker_restarter, outbound, run_faults

STACK_ENV_NAMES = (
    "ILRFLOW_STACK_DIR",
    "ILRFLOW_KAFKA_PORT",
    "ILRFLOW_KAFKA_CONTROLLER_PORT",
    "ILRFLOW_MONGO_PORT",
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--trackers", type=int, default=2000)
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--kills-per-service", type=int, default=2)
    parser.add_argument("--broker-stack-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--replicas", type=int, default=1)
    arguments = parser.parse_args()
    restart = None
    if arguments.broker_stack_dir is not None:
        stack_env = {name: os.environ[name] for name in STACK_ENV_NAMES if name in os.environ}
        stack_env["ILRFLOW_STACK_DIR"] = str(arguments.broker_stack_dir.resolve())
        restart = broker_restarter(
            arguments.broker_stack_dir.resolve(),
            stack_env,
            os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        )
    with ExitStack() as running:
        sent_to = running.enter_context(outbound()) if arguments.replicas > 1 else None
        stack = running.enter_context(
            service_stack(
                os.environ.get("ILRFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                os.environ.get("ILRFLOW_MONGO_URL", "mongodb://127.0.0.1:27017/"),
                replicas=arguments.replicas,
                settings_env=sent_to.settings_env() if sent_to else None,
            )
        )
        report = run_faults(
            stack,
            trackers=arguments.trackers,
            learners=arguments.learners,
            workers=arguments.workers,
            kills_per_service=arguments.kills_per_service,
            restart_broker=restart,
            seed=arguments.seed,
            recovery_timeout=900,
            say=lambda line: print(line, flush=True),
            sent_to=sent_to,
        )
    print("\n".join(report.lines()), flush=True)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
