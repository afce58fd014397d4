"""``ilrflow audit verify``: recompute the audit log's hash chains (and check them against the
latest signed checkpoints); ``ilrflow audit checkpoint``: sign the chains' heads.

Progress goes to stderr (at most once a second while reading the log, then the rate), so that
stdout holds only the result, and ``--json`` output stays parseable.
"""

from __future__ import annotations

from typing import Any

import httpx
import typer

from ilrflow.audit.domain.verify import AuditVerification
from ilrflow.ops.common import (
    EXIT_FAILED,
    EXIT_UNAVAILABLE,
    emit_json,
    fail,
    operator_token,
    settings,
)

app = typer.Typer(help="The audit log.", no_args_is_help=True)

OPERATOR_TENANT = "ilrflow-ops"


@app.command("verify")
def verify(
    url: str | None = typer.Option(
        None,
        help="The audit service's base URL (e.g. http://127.0.0.1:8005): verify through its API "
        "with an operator token, which is itself audited. Default: verify directly against the "
        "audit database (needs the ilrflow-audit package, as the audit image has).",
    ),
    tenant: str = typer.Option(OPERATOR_TENANT, help="Tenant named in the operator token (--url)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Recompute every hash chain; exit 1 if any is broken (the first break of each is shown)."""
    s = settings()
    report: dict[str, Any]
    if url is not None:
        token = operator_token(s, tenant, ["operator"])
        typer.echo(f"verifying through {url} (the service reads the whole log)…", err=True)
        try:
            response = httpx.get(
                f"{url.rstrip('/')}/v1/audit/verify",
                headers={"authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(30, read=None),  # a large log takes a while to read
            )
        except httpx.TransportError as error:
            fail(f"cannot reach the audit service at {url}: {error}", EXIT_UNAVAILABLE)
        if response.status_code != 200:
            fail(f"audit service answered {response.status_code}: {response.text[:500]}")
        report = response.json()
    else:
        try:
            from ilrflow.audit.bootstrap import offline_queries
            from ilrflow.audit.entrypoints.progress import VerifyProgress
        except ImportError:
            fail("ilrflow-audit is not installed here: pass --url to use the audit service's API")
        import asyncio

        progress = VerifyProgress()
        try:
            verification = asyncio.run(offline_queries(s).verify_log(progress))
        except Exception as error:
            fail(f"cannot verify against the audit database: {error}", EXIT_UNAVAILABLE)
        progress.done()
        report = verification.model_dump(mode="json")
    report["ok"] = report["failed_partitions"] == 0
    if as_json:
        emit_json(report)
    else:
        # One wording for both commands: the audit service's own (ilrflow-audit verify).
        typer.echo(AuditVerification.model_validate(report).describe())
    if not report["ok"]:
        raise typer.Exit(EXIT_FAILED)


@app.command("checkpoint")
def checkpoint(
    url: str | None = typer.Option(
        None,
        help="The audit service's base URL: sign through its API (POST /v1/audit/checkpoints) "
        "with an operator token. Default: sign straight from the audit database (needs the "
        "ilrflow-audit package, ILRFLOW_AUDIT_CHECKPOINT_KEY and the checkpoint directory); the "
        "events wait in the outbox for the audit service to publish them.",
    ),
    tenant: str = typer.Option(OPERATOR_TENANT, help="Tenant named in the operator token (--url)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Sign every hash chain's head that moved since its latest checkpoint (Ed25519); publish the
    checkpoints on the audit-checkpoints topic and append them to the checkpoint file. Exit 1 if
    a chain no longer holds its latest checkpoint (it is not signed again)."""
    s = settings()
    result: dict[str, Any]
    if url is not None:
        token = operator_token(s, tenant, ["operator"])
        try:
            response = httpx.post(
                f"{url.rstrip('/')}/v1/audit/checkpoints",
                headers={"authorization": f"Bearer {token}"},
                timeout=60,
            )
        except httpx.TransportError as error:
            fail(f"cannot reach the audit service at {url}: {error}", EXIT_UNAVAILABLE)
        if response.status_code != 200:
            fail(f"audit service answered {response.status_code}: {response.text[:500]}")
        result = response.json()
    else:
        try:
            from ilrflow.audit.bootstrap import offline_checkpoints
        except ImportError:
            fail("ilrflow-audit is not installed here: pass --url to use the audit service's API")
        import asyncio

        try:
            heads = asyncio.run(offline_checkpoints(s).sign_heads(actor="ilrflow-cli"))
        except Exception as error:
            fail(f"cannot sign checkpoints from the audit database: {error}", EXIT_UNAVAILABLE)
        result = {
            "signed": [c.model_dump(mode="json") for c in heads.signed],
            "unchanged": heads.unchanged,
            "refused": [c.model_dump(mode="json") for c in heads.refused],
        }
    if as_json:
        emit_json(result)
    else:
        for signed in result["signed"]:
            typer.echo(
                f"signed {signed['topic']}[{signed['partition']}] at offset {signed['offset']}: "
                f"{signed['head_hash'][:12]}… (key {signed['key_id']})"
            )
        for refused in result["refused"]:
            typer.echo(
                f"REFUSED {refused['topic']}[{refused['partition']}]: the entry at offset "
                f"{refused['offset']} no longer carries the signed hash (run ilrflow audit verify)"
            )
        typer.echo(f"{len(result['signed'])} chains signed, {result['unchanged']} unchanged")
    if result["refused"]:
        raise typer.Exit(EXIT_FAILED)
