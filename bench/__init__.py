"""The benchmarks (docs/benchmark.md). They drive the services with the local development
tooling, ``deploy/local/devstack.py`` and ``deploy/local/workload.py``, which are top-level
modules there (as for ``deploy/local/run.py`` and pytest's ``pythonpath``): put that folder on the
import path once, here, so ``uv run python -m bench.<name>`` works from the repository root
without setting ``PYTHONPATH``. The benchmarks never import ``tests/``
(tests/contract/test_layers.py)."""

import sys
from pathlib import Path

_LOCAL_TOOLING = str(Path(__file__).resolve().parents[1] / "deploy" / "local")
if _LOCAL_TOOLING not in sys.path:
    sys.path.append(_LOCAL_TOOLING)
