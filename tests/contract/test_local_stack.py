"""deploy/local/stack.sh's choice of FerretDB storage: a tooling variable, refused when unknown."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ilrflow.platform.settings import unknown_variables

STACK = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack.sh"


def test_the_backend_variable_is_the_stacks_not_an_unknown_setting() -> None:
    assert unknown_variables(["ILRFLOW_FERRETDB_BACKEND"]) == {}


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
