"""The committed API documents are what the code generates: `make docs` after changing either."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rendered() -> dict[Path, str]:
    return load_generator().render()  # type: ignore[no-any-return]


def test_the_committed_documents_match_the_code(rendered: dict[Path, str]) -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, content in rendered.items()
        if not path.exists() or path.read_text() != content
    ]
    assert stale == [], f"regenerate with `make docs`: {stale}"


def test_every_topic_and_event_type_is_in_the_asyncapi_document(rendered: dict[Path, str]) -> None:
    import yaml

    from ilrflow.contracts.events import CATALOGUE, Topics, dead_letter_topic

    document = yaml.safe_load(rendered[ROOT / "docs" / "asyncapi.yaml"])
    assert document["asyncapi"] == "3.0.0"
    for topic in Topics.ALL:
        assert topic in document["channels"]
        assert dead_letter_topic(topic) in document["channels"]
    names = {m["name"] for m in document["components"]["messages"].values()}
    assert names == set(CATALOGUE)
    consumers = {op for op in document["operations"] if ".consume." in op}
    assert "ilr.consume.tracker-processed" in consumers
    assert "tracker.consume.ilr-updated" in consumers
