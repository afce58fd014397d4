"""Each operation's document declares the errors it can answer, as problems: those its shape
implies (401, 404, 400/413, 422) and those its route declares (403, 409, ...), and no others."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path
from pydantic import BaseModel

from ilrflow.platform.http_errors import PROBLEM_JSON
from ilrflow.platform.openapi import install_openapi, problem_responses


class Body(BaseModel):
    name: str


def _document() -> dict[str, Any]:
    app = FastAPI()
    install_openapi(app)

    @app.get("/v1/things")
    async def things(limit: int = 10) -> list[str]:
        return []

    @app.get("/v1/things/{thing_id}", responses=problem_responses(403))
    async def thing(thing_id: str) -> str:
        return thing_id

    @app.put("/v1/kinds/{name}", responses=problem_responses(409))
    async def kind(name: Annotated[str, Path(pattern="^[a-z]+$")], body: Body) -> str:
        return name

    @app.get("/v1/me")
    async def me() -> str:
        return "me"

    @app.get("/healthz")
    async def healthz() -> str:
        return "ok"

    return app.openapi()


def _errors(document: dict[str, Any], path: str, method: str = "get") -> set[str]:
    responses = document["paths"][path][method]["responses"]
    return {status for status in responses if int(status) >= 400}


def test_a_list_can_refuse_its_query_and_the_token() -> None:
    assert _errors(_document(), "/v1/things") == {"401", "422", "503"}


def test_an_id_in_the_path_may_be_unseen_and_a_route_adds_its_own() -> None:
    # a plain string id cannot be invalid, so no 422
    assert _errors(_document(), "/v1/things/{thing_id}") == {"401", "403", "404", "503"}


def test_a_body_may_be_unparsable_too_large_or_invalid() -> None:
    errors = _errors(_document(), "/v1/kinds/{name}", "put")
    assert errors == {
        "400",
        "401",
        "409",
        "413",
        "422",
        "503",
    }  # a name with a pattern: 422, not 404


def test_an_operation_without_inputs_needs_only_the_token() -> None:
    assert _errors(_document(), "/v1/me") == {"401", "503"}


def test_operations_routes_need_no_token_and_declare_no_errors() -> None:
    document = _document()
    assert _errors(document, "/healthz") == set()
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert document["paths"]["/v1/me"]["get"]["security"] == [{"bearer": []}]


def test_every_error_is_a_problem_document() -> None:
    document = _document()
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"][PROBLEM_JSON]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
