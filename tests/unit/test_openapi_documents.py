"""Each service's OpenAPI document is generated (shared/openapi.py) and complete: every route of the
app (walked on its router) has an operation, every operation has its success answers' schemas,
its problem answers and Indonesian examples, every example fits its schema, and the document is
valid OpenAPI 3.1 (openapi-spec-validator)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import validate
from pydantic import BaseModel

from services.intake.bootstrap import create_app as intake_app
from services.intake.entrypoints import openapi as intake_openapi
from services.intake.settings import IntakeSettings
from services.routing.bootstrap import create_app as routing_app
from services.routing.entrypoints import openapi as routing_openapi
from services.routing.settings import RoutingSettings
from services.sla.bootstrap import create_app as sla_app
from services.sla.entrypoints import openapi as sla_openapi
from services.sla.settings import SlaSettings
from shared.openapi import Info, Operation, json_reply, routes_of, undocumented

SERVICES: dict[str, tuple[Callable[[], web.Application], Any]] = {
    "intake": (lambda: intake_app(IntakeSettings()), intake_openapi),
    "routing": (lambda: routing_app(RoutingSettings()), routing_openapi),
    "sla": (lambda: sla_app(SlaSettings()), sla_openapi),
}
METHODS = ("get", "put", "post", "patch", "delete")


async def _served(app: web.Application) -> dict[str, Any]:
    [route] = [
        r for r in app.router.routes() if r.method == "GET" and r.resource.canonical == "/openapi.json"
    ]
    response = await route.handler(make_mocked_request("GET", "/openapi.json", app=app))
    doc: dict[str, Any] = json.loads(response.body)
    return doc


def _operations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        found: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


@pytest.fixture(params=list(SERVICES), scope="module")
async def served(request: pytest.FixtureRequest) -> tuple[str, web.Application, dict[str, Any]]:
    build, _ = SERVICES[request.param]
    app = build()
    return request.param, app, await _served(app)


async def test_every_route_has_an_operation(served: tuple[str, web.Application, dict[str, Any]]) -> None:
    service, app, doc = served
    missing = undocumented(app, doc, SERVICES[service][1].EXEMPT)
    assert not missing, (
        f"{service}: routes without an operation (declare each in services/{service}/entrypoints/openapi/ "
        f"as a shared.openapi.Operation): {missing}"
    )


async def test_every_operation_is_served(served: tuple[str, web.Application, dict[str, Any]]) -> None:
    service, app, doc = served
    declared = {(name.split(" ", 1)[0], name.split(" ", 1)[1]) for name, _ in _operations(doc)}
    assert declared - routes_of(app) == set(), f"{service}: operations no route serves"


async def test_the_document_is_valid_openapi_3_1(served: tuple[str, web.Application, dict[str, Any]]) -> None:
    _, _, doc = served
    assert doc["openapi"] == "3.1.0"
    validate(doc)


async def test_every_operation_has_its_answers_and_examples(
    served: tuple[str, web.Application, dict[str, Any]],
) -> None:
    service, _, doc = served
    lacking: list[str] = []
    for name, op in _operations(doc):
        responses = {code: _resolve(doc, r) for code, r in op["responses"].items()}
        # A redirect is the success of an operation that opens a session (intake's tracking links).
        success = [r for code, r in responses.items() if code.startswith(("2", "303"))]
        errors = [r for code, r in responses.items() if code[0] in "45"]
        if not op.get("summary"):
            lacking.append(f"{name}: no summary")
        if not success:
            lacking.append(f"{name}: no success answer")
        for answer in success:
            for media, content in answer.get("content", {}).items():
                if "schema" not in content:
                    lacking.append(f"{name}: {media} answer without a schema")
                if media == "application/json" and "example" not in content:
                    lacking.append(f"{name}: {media} answer without an example")
        if name.split(" ", 1)[1].startswith(("/api/", "/open311/")) and not errors:
            lacking.append(f"{name}: no error answer")
        for answer in errors:
            if not answer.get("content"):
                lacking.append(f"{name}: an error answer without its schema")
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            if media == "application/json" and not {"schema", "example"} <= set(content):
                lacking.append(f"{name}: request body without its schema and example")
    assert not lacking, f"{service}:\n" + "\n".join(lacking)


def _examples(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    found = []
    for name, op in _operations(doc):
        bodies = [("request", op.get("requestBody", {}))] + [
            (code, _resolve(doc, r)) for code, r in op["responses"].items()
        ]
        for where, body in bodies:
            for media, content in body.get("content", {}).items():
                if media.endswith("json") and "example" in content and "schema" in content:
                    found.append((f"{name} {where} {media}", content["schema"], content["example"]))
        for param in op.get("parameters", []):
            if "example" in param:
                found.append((f"{name} parameter {param['name']}", param["schema"], param["example"]))
    return found


async def test_every_example_fits_its_schema(served: tuple[str, web.Application, dict[str, Any]]) -> None:
    service, _, doc = served
    examples = _examples(doc)
    assert examples
    wrong = []
    for where, schema, example in examples:
        # The schema's $refs resolve against a root holding the document's components.
        validator = jsonschema_rs.validator_for({**schema, "components": doc["components"]})
        errors = [e.message for e in validator.iter_errors(example)]
        if errors:
            wrong.append(f"{where}: {errors[:3]}")
    assert not wrong, f"{service}:\n" + "\n".join(wrong)


def test_an_undocumented_route_is_named() -> None:
    """The guard itself: a route added without an operation is reported by method and path."""

    class Pong(BaseModel):
        pong: bool

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"pong": True})

    app = web.Application()
    app.router.add_get("/api/v1/ping", ping)
    app.router.add_post("/api/v1/ping/{id}", ping)
    app.router.add_get("/api/v1/skip/{rest:.*}", ping)
    ping_op = Operation("GET", "/api/v1/ping", "Ping", {200: json_reply("pong", Pong, {"pong": True})})
    doc = intake_openapi.build(Info("t", "1", "d"), [ping_op])
    exempt = {("GET", "/api/v1/skip/{rest}"): "a catch-all"}
    assert undocumented(app, doc, exempt) == ["POST /api/v1/ping/{id}"]
