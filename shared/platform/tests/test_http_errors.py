"""Every error leaves a service as an RFC 9457 problem document from the one mapping."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from ilrflow.contracts.errors import Conflict, InvalidInput, NotFound
from ilrflow.platform.http_errors import ApiError, install_error_handlers


class Body(BaseModel):
    name: str


def _client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound.of("learner", "L-1")

    @app.get("/stale")
    async def stale() -> None:
        raise Conflict("Changed meanwhile.", code="stale_version", details={"current_version": 3})

    @app.get("/invalid")
    async def invalid() -> None:
        raise InvalidInput("Bad.", [{"field": "uln", "reason": "check digit"}])

    @app.get("/token")
    async def token() -> None:
        raise ApiError(401, "unauthenticated", "Send a bearer token.")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("bug")

    @app.post("/body")
    async def body(_: Body) -> None:
        return None

    return TestClient(app, raise_server_exceptions=False)


def test_a_domain_refusal_is_a_problem_with_its_code_as_type() -> None:
    response = _client().get("/missing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:ilrflow:problem:not_found",
        "title": "Not Found",
        "status": 404,
        "detail": "No learner 'L-1' here.",
        "instance": "/missing",
        "code": "not_found",
    }


def test_facts_of_a_conflict_are_extension_members() -> None:
    body = _client().get("/stale").json()
    assert (body["status"], body["code"], body["current_version"]) == (409, "stale_version", 3)


def test_field_problems_are_the_errors_member() -> None:
    body = _client().get("/invalid").json()
    assert body["errors"] == [{"field": "uln", "reason": "check digit"}]


def test_a_request_validation_error_lists_each_field() -> None:
    response = _client().post("/body", json={"name": 1})
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["title"]) == ("validation_failed", HTTPStatus(422).phrase)
    assert [problem["field"] for problem in body["errors"]] == ["name"]


def test_an_api_error_and_an_unknown_route_are_problems_too() -> None:
    client = _client()
    assert client.get("/token").json()["type"] == "urn:ilrflow:problem:unauthenticated"
    unknown = client.get("/nowhere")
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["code"] == "not_found"


def test_an_unexpected_exception_is_a_500_problem_without_internals() -> None:
    response = _client().get("/boom")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "bug" not in response.text
