"""Each service's served OpenAPI document is self-contained: every `$ref` resolves inside it (the
pydantic schemas' own `#/$defs/…` refs are moved to `components/schemas` by shared.http)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from services.intake.bootstrap import create_app as intake_app
from services.intake.settings import IntakeSettings
from services.routing.bootstrap import create_app as routing_app
from services.routing.settings import RoutingSettings
from services.sla.bootstrap import create_app as sla_app
from services.sla.settings import SlaSettings
from shared.http import hoist_defs


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@pytest.mark.parametrize(
    "app",
    [
        lambda: intake_app(IntakeSettings()),
        lambda: routing_app(RoutingSettings()),
        lambda: sla_app(SlaSettings()),
    ],
    ids=["intake", "routing", "sla"],
)
async def test_every_ref_resolves_inside_the_served_document(app: Any) -> None:
    built: web.Application = app()
    [route] = [
        r for r in built.router.routes() if r.method == "GET" and r.resource.canonical == "/openapi.json"
    ]
    response = await route.handler(make_mocked_request("GET", "/openapi.json", app=built))
    doc = json.loads(response.body)
    refs = _refs(doc)
    for ref in refs:
        assert _resolve(doc, ref) is not None, ref
    if "/api/v1/complaints" in doc["paths"]:  # intake's submission nests models (reporter, location)
        assert {"#/components/schemas/Reporter", "#/components/schemas/Location"} <= set(refs)


def test_two_models_with_one_name_for_different_schemas_are_refused() -> None:
    doc = {
        "paths": {
            "/a": {"schema": {"$defs": {"Loc": {"type": "object"}}, "$ref": "#/$defs/Loc"}},
            "/b": {"schema": {"$defs": {"Loc": {"type": "string"}}, "$ref": "#/$defs/Loc"}},
        }
    }
    with pytest.raises(ValueError, match="Loc"):
        hoist_defs(doc)
