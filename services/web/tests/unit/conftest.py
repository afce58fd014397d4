"""Puts this folder on ``sys.path`` so the tests can share ``web_fakes``: the suite runs with
``--import-mode=importlib``, which does not. The module name is unique across the repo because
every service's tests run in one session."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
