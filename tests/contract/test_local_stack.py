"""deploy/local/stack.sh and the services agree on FerretDB's storage when nobody names it:
a service that assumed the other backend would emulate conditional updates it need not (or scan
a collection for each one)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ilrflow.platform.settings import Settings

STACK = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack.sh"


def test_the_stack_and_the_settings_default_to_the_same_ferretdb_backend() -> None:
    default = re.search(r"\$\{ILRFLOW_FERRETDB_BACKEND:-(\w+)\}", STACK.read_text())
    assert default is not None
    assert default.group(1) == Settings.model_fields["ferretdb_backend"].default


def test_the_stack_refuses_an_unknown_backend() -> None:
    done = subprocess.run(
        [str(STACK), "backend"],
        env={"PATH": "/usr/bin:/bin", "ILRFLOW_FERRETDB_BACKEND": "mysql"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "sqlite or postgresql" in done.stderr
