"""The audit service's command: ``ilrflow-audit`` (or ``ilrflow-audit serve``) runs the service;
``ilrflow-audit verify [--json]`` recomputes every hash chain against the database and exits 1
if any is broken, printing the first break of each broken partition; ``ilrflow-audit checkpoint
[--json]`` signs every chain head that moved since its latest checkpoint."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from ilrflow.audit.bootstrap import SERVICE, create_app, offline_checkpoints, offline_queries
from ilrflow.audit.entrypoints.progress import VerifyProgress
from ilrflow.platform.service import serve
from ilrflow.platform.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ilrflow-audit", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the audit service (the default)")
    verify = commands.add_parser("verify", help="recompute every hash chain")
    verify.add_argument("--json", action="store_true", help="print the full report as JSON")
    sign = commands.add_parser("checkpoint", help="sign every chain head that moved")
    sign.add_argument("--json", action="store_true", help="print the checkpoints as JSON")
    arguments = parser.parse_args(argv)
    settings = get_settings()
    if arguments.command == "checkpoint":
        heads = asyncio.run(offline_checkpoints(settings).sign_heads(actor="ilrflow-audit"))
        if arguments.json:
            print(json.dumps([c.model_dump(mode="json") for c in heads.signed], indent=2))
        else:
            print(f"{len(heads.signed)} chains signed, {heads.unchanged} unchanged")
        for refused in heads.refused:
            print(
                f"REFUSED {refused.topic}[{refused.partition}]: rewritten since offset {refused.offset}"
            )
        sys.exit(1 if heads.refused else 0)
    if arguments.command == "verify":
        progress = VerifyProgress()  # on stderr: stdout is the result
        verification = asyncio.run(offline_queries(settings).verify_log(progress))
        progress.done()
        print(verification.model_dump_json(indent=2) if arguments.json else verification.describe())
        sys.exit(0 if verification.ok else 1)
    serve(lambda: create_app(settings), settings, SERVICE)


if __name__ == "__main__":
    main()
