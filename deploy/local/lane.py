"""`make lane LANE=acme`: the five services once more, serving only the dedicated lane LANE, next
to a running `make run` (same Kafka, FerretDB, databases and topics; ports 8101-8105), until
Ctrl-C. Promote a tenant to the lane with `./ilrflow lanes promote <tenant> LANE` (see
docs/operations.md#lanes, "On this machine")."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devstack import SERVICES, run_until_stopped, start_services

from ilrflow.platform.lanes import POOLED, LaneError, validate_lane
from ilrflow.platform.settings import SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[2]
PORT_OFFSET = 100  # the lane's learner on 8101 beside the pooled one on 8001, and so on


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lane", help="the dedicated lane's name, e.g. acme")
    parser.add_argument(
        "--port-base",
        type=int,
        default=None,
        help="the lane's learner port (default 8101); "
        "tracker, ilr, notify and audit take the next ones",
    )
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="default .stack/run/logs/lane-LANE"
    )
    args = parser.parse_args(argv)
    try:
        lane = validate_lane(args.lane)
    except LaneError as error:
        parser.error(str(error))
    if lane == POOLED:
        parser.error("the pooled lane is what `make run` serves; name a dedicated lane")
    ports = (
        {name: args.port_base + i for i, name in enumerate(SERVICES)}
        if args.port_base is not None
        else {name: port + PORT_OFFSET for name, port in SERVICE_PORTS.items()}
    )
    log_dir = args.log_dir or ROOT / ".stack" / "run" / "logs" / f"lane-{lane}"
    # Every other setting (Kafka, FerretDB, prefixes) comes from this shell, as for `make run`.
    env = {"ILRFLOW_LANES": lane}  # a restarted service gets it too
    processes = start_services(ports, env, log_dir)

    def tell() -> None:
        print(f"\nlane {lane!r} is running (Ctrl-C stops it):")
        for process in processes:
            print(f"  {process.name:<9} {process.url}")
        print(f"Promote a tenant:  ./ilrflow lanes promote <tenant> {lane}")
        print(f"Logs: {log_dir}/<service>.log", flush=True)

    return run_until_stopped(processes, log_dir, tell, env)


if __name__ == "__main__":
    sys.exit(main())
