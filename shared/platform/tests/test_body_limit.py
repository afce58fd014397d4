"""Requests over the stated body size get a 413 problem, before validation or the handler."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from ilrflow.platform.body_limit import BodyLimit
from ilrflow.platform.http_errors import install_error_handlers

LIMIT = 100


class Note(BaseModel):
    text: str


def _client() -> tuple[TestClient, list[str]]:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=LIMIT)
    handled: list[str] = []

    @app.post("/notes")
    async def add(note: Note) -> dict[str, str]:
        handled.append(note.text)
        return {"text": note.text}

    return TestClient(app), handled


def test_a_body_within_the_limit_is_handled() -> None:
    client, handled = _client()
    assert client.post("/notes", json={"text": "x" * 50}).status_code == 200
    assert handled == ["x" * 50]


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    client, handled = _client()
    response = client.post("/notes", json={"text": "x" * LIMIT})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["code"], response.json()["instance"]) == ("body_too_large", "/notes")
    assert handled == []


def test_a_chunked_body_is_counted_as_it_arrives() -> None:
    client, handled = _client()

    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        yield b"x" * LIMIT
        yield b'"}'

    response = client.post("/notes", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"
    assert handled == []


def test_an_invalid_body_over_the_limit_is_413_not_422() -> None:
    client, _ = _client()
    assert client.post("/notes", json={"wrong": "x" * LIMIT}).status_code == 413
