"""Authorisation is decided before the body is validated: a caller without the role gets 403 for
any body, so a 422 never tells them what the endpoint expects."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from ilrflow.platform.auth import Principal, mint_token, roles_allowed
from ilrflow.platform.http_errors import install_error_handlers
from ilrflow.platform.settings import get_settings


class Note(BaseModel):
    text: str


def _client(*roles: str) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/notes")
    async def add(note: Note, principal: Annotated[Principal, roles_allowed("admin")]) -> str:
        return f"{principal.sub}: {note.text}"

    token = mint_token(get_settings(), sub="someone", tenant="acme", roles=list(roles))
    return TestClient(app, headers={"authorization": f"Bearer {token}"})


def test_without_the_role_an_invalid_body_is_403_not_422() -> None:
    refused = _client("learner").post("/notes", json={"wrong": 1})
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")


def test_with_the_role_the_body_is_validated_and_handled() -> None:
    client = _client("admin")
    assert client.post("/notes", json={"wrong": 1}).status_code == 422
    assert client.post("/notes", json={"text": "hi"}).json() == "someone: hi"


def test_without_a_token_it_is_401() -> None:
    response = _client("admin").post("/notes", json={}, headers={"authorization": ""})
    assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")
