"""OpenAPI 3.1 documents generated from the routes' pydantic models (DESIGN §6, HTTP surface).

Each service declares its routes once, in a table of `Operation`s (its `entrypoints/openapi/`):
method and path as registered, summary, the request model, each success answer's model with an
Indonesian example, the problem statuses, and the parameters. `document()` turns the table into
the document: every model's JSON Schema comes from pydantic (`TypeAdapter.json_schemas`), shared
by `$ref` under `components/schemas`, so a model's schema is written once and never by hand.

Every error answer is an RFC 9457 problem (`shared.http.Problem`); every operation that needs the
database also says 503 (the edge answers it while the database is down or the app is saturated).
`undocumented()` names a route of an app that has no operation, for the test that walks the
router (tests/unit/test_openapi_documents.py).

A new route is one more entry in its service's table, e.g.

    Operation(
        "POST", "/api/v1/staff/complaints/{id}/notes", "Tambah catatan internal",
        {201: json_reply("Catatan tersimpan", Note, {"text": "Sudah koordinasi dengan UPT.", ...})},
        (400, 401, 403, 404, 413, 415, 422),
        body=(Media(model=NoteBody, example={"text": "Sudah koordinasi dengan UPT."}),),
        security=("staffJwt",),
    )

(path parameters are found in the path; `Param` describes them, or a query parameter, further).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from shared.http import PROBLEM_JSON, Problem

JSON = "application/json"
_REF = "#/components/schemas/{model}"
_SECURITY_SCHEMES = {
    "staffJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Token staf (JWT) dengan peran dan cakupan pemda/OPD",
    },
    "accessToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "Token akses pelapor dari jawaban pengiriman pengaduan",
    },
}


@dataclass(frozen=True)
class Media:
    """One media type of a body: its schema from `model` (a pydantic model or any type pydantic
    can describe, e.g. `list[X]`), or a literal `schema` for what is not JSON (files, HTML)."""

    type: str = JSON
    model: Any = None
    example: Any = None
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Reply:
    description: str
    media: tuple[Media, ...] = ()


def json_reply(description: str, model: Any, example: Any) -> Reply:
    return Reply(description, (Media(JSON, model, example),))


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["path", "query", "header"] = "query"
    description: str = ""
    example: Any = None
    schema: Any = str  # a type pydantic describes, or a literal JSON Schema (a mapping)
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as registered on the router, e.g. "/api/v1/complaints/{id}"
    summary: str
    replies: Mapping[int, Reply]  # the success answers
    problems: tuple[int, ...] = ()  # the error statuses (answered as RFC 9457 problems)
    description: str = ""
    body: tuple[Media, ...] = ()
    params: tuple[Param, ...] = ()
    # Any one of these security schemes; "" also allows no credentials.
    security: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # An error answer other than a problem (Open311's own error list), for every status in `problems`.
    error: Reply | None = None
    # Answers without the database (no 503 for it).
    offline: bool = False


def tagged(tag: str, operations: Iterable[Operation]) -> list[Operation]:
    """`operations`, those without a tag under `tag` (Swagger UI groups operations by tag)."""
    return [op if op.tags else replace(op, tags=(tag,)) for op in operations]


@dataclass(frozen=True)
class Info:
    title: str
    version: str
    description: str


_PROBLEM_EXAMPLE = {
    "type": "about:blank",
    "title": "Data tidak valid",
    "status": 422,
    "errors": [{"field": "region_code", "message": "kode wilayah tidak dikenal"}],
}


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, bool]


DOCS_PAGE = "/docs"
# What the docs page loads (shared/docs.py): Swagger UI's files from its package, and the page's
# own start-up script (a file, so the Content-Security-Policy needs no inline script).
DOCS_FILES = {
    "/docs/swagger-ui.css": "text/css",
    "/docs/swagger-ui-bundle.js": "text/javascript",
    "/docs/docs.js": "text/javascript",
}
_CHECKS = {"database": True, "kafka": True, "topics": True, "consumers": True}
_READY = {"status": "ready", "checks": _CHECKS}


def _standard() -> list[Operation]:
    """The routes every service has (shared/http.py's `add_standard_routes`, shared/metrics.py,
    shared/docs.py)."""
    return [
        Operation(
            "GET",
            "/healthz",
            "Proses hidup",
            {200: json_reply("hidup", Health, {"status": "ok"})},
            offline=True,
        ),
        Operation(
            "GET",
            "/readyz",
            "Siap: basis data, Kafka, topik dan konsumen berfungsi",
            {
                200: json_reply("siap", Readiness, _READY),
                503: json_reply(
                    "belum siap (Retry-After)",
                    Readiness,
                    {"status": "not ready", "checks": {**_CHECKS, "database": False}},
                ),
            },
            offline=True,
        ),
        Operation(
            "GET",
            "/openapi.json",
            "Dokumen OpenAPI 3.1 ini",
            {
                200: Reply(
                    "dokumen OpenAPI", (Media(JSON, schema={"type": "object"}, example={"openapi": "3.1.0"}),)
                )
            },
            offline=True,
        ),
        Operation(
            "GET",
            "/metrics",
            "Metrik Prometheus (hanya dari jaringan yang diizinkan; lainnya 404)",
            {200: Reply("format teks Prometheus", (Media("text/plain", schema={"type": "string"}),))},
            problems=(404,),
            offline=True,
        ),
        Operation(
            "GET",
            DOCS_PAGE,
            "Dokumentasi API (Swagger UI, tanpa sumber luar)",
            {200: Reply("halaman HTML", (Media("text/html", schema={"type": "string"}),))},
            offline=True,
        ),
        *(
            Operation(
                "GET",
                path,
                "Berkas halaman dokumentasi",
                {200: Reply("berkas", (Media(media, schema={"type": "string"}),))},
                offline=True,
            )
            for path, media in DOCS_FILES.items()
        ),
    ]


def document(info: Info, operations: Iterable[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `operations` and of the routes every service has."""
    ops = [*operations, *tagged("Operasional", _standard())]
    schemas = _Schemas()
    schemas.add(Problem, "serialization")
    for op in ops:
        for media in op.body:
            schemas.add(media.model, "validation")
        for reply in (*op.replies.values(), *([op.error] if op.error else [])):
            for media in reply.media:
                schemas.add(media.model, "serialization")
        for param in op.params:
            if not isinstance(param.schema, Mapping):
                schemas.add(param.schema, "validation")
    refs, components = schemas.build()

    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        method = op.method.lower()
        if method in paths.get(op.path, {}):
            raise ValueError(f"OpenAPI: {op.method} {op.path} declared twice")
        paths.setdefault(op.path, {})[method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": info.title, "version": info.version, "description": info.description},
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": {
                "Problem": {
                    "description": "Masalah (RFC 9457): status, judul, rincian dan field yang salah",
                    "content": {
                        PROBLEM_JSON: {
                            "schema": refs[(id(Problem), "serialization")],
                            "example": _PROBLEM_EXAMPLE,
                        }
                    },
                }
            },
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


_Refs = Mapping[tuple[int, JsonSchemaMode], dict[str, Any]]


class _Schemas:
    """The types a document names, described together so they share `components/schemas`."""

    def __init__(self) -> None:
        self._inputs: dict[tuple[int, JsonSchemaMode], tuple[Any, JsonSchemaMode, TypeAdapter[Any]]] = {}

    def add(self, model: Any, mode: JsonSchemaMode) -> None:
        if model is not None and (id(model), mode) not in self._inputs:
            self._inputs[(id(model), mode)] = ((id(model), mode), mode, TypeAdapter(model))

    def build(self) -> tuple[dict[tuple[int, JsonSchemaMode], dict[str, Any]], dict[str, Any]]:
        found, defs = TypeAdapter.json_schemas(list(self._inputs.values()), ref_template=_REF)
        return {key: dict(schema) for (key, _), schema in found.items()}, dict(defs.get("$defs", {}))


def _schema(media: Media, mode: JsonSchemaMode, refs: _Refs) -> Any:
    if media.model is not None:
        return refs[(id(media.model), mode)]
    return dict(media.schema) if media.schema is not None else None


def _content(media: Iterable[Media], mode: JsonSchemaMode, refs: _Refs) -> Any:
    content: dict[str, Any] = {}
    for m in media:
        entry: dict[str, Any] = {}
        schema = _schema(m, mode, refs)
        if schema is not None:
            entry["schema"] = schema
        if m.example is not None:
            entry["example"] = m.example
        content[m.type] = entry
    return content


def _reply(reply: Reply, refs: _Refs) -> dict[str, Any]:
    out: dict[str, Any] = {"description": reply.description}
    if reply.media:
        out["content"] = _content(reply.media, "serialization", refs)
    return out


def _parameters(op: Operation, refs: _Refs) -> list[dict[str, Any]]:
    declared = {p.name: p for p in op.params}
    in_path = re.findall(r"{(\w+)(?::[^}]*)?}", op.path)
    params = [declared.get(name, Param(name, "path")) for name in in_path]
    params += [p for p in op.params if p.name not in in_path]
    out = []
    for p in params:
        schema = dict(p.schema) if isinstance(p.schema, Mapping) else refs[(id(p.schema), "validation")]
        entry: dict[str, Any] = {
            "name": p.name,
            "in": p.where,
            "required": p.where == "path" or p.required,
            "schema": schema,
        }
        if p.description:
            entry["description"] = p.description
        if p.example is not None:
            entry["example"] = p.example
        out.append(entry)
    return out


def _operation(op: Operation, refs: _Refs) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op.summary, "operationId": _operation_id(op)}
    if op.description:
        out["description"] = op.description
    if op.tags:
        out["tags"] = list(op.tags)
    params = _parameters(op, refs)
    if params:
        out["parameters"] = params
    if op.security:
        out["security"] = [{name: []} if name else {} for name in op.security]
    if op.body:
        out["requestBody"] = {"required": True, "content": _content(op.body, "validation", refs)}
    responses: dict[str, Any] = {str(status): _reply(reply, refs) for status, reply in op.replies.items()}
    statuses = set(op.problems) | (set() if op.offline else {503})
    for status in sorted(statuses):
        if op.error is not None:
            responses[str(status)] = _reply(op.error, refs)
        else:
            responses[str(status)] = {"$ref": "#/components/responses/Problem"}
    out["responses"] = responses
    return out


def _operation_id(op: Operation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", op.path.replace("{", " by ").replace("}", " "))
    return op.method.lower() + "".join(w[:1].upper() + w[1:] for w in words)


def routes_of(app: web.Application) -> set[tuple[str, str]]:
    """Every (METHOD, path) the app's router serves (HEAD and OPTIONS left out), paths as
    registered, a path parameter's pattern dropped (`{tail:.*}` → `{tail}`)."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method not in ("HEAD", "OPTIONS") and route.resource is not None
    }


def undocumented(
    app: web.Application, doc: Mapping[str, Any], exempt: Mapping[tuple[str, str], str]
) -> list[str]:
    """The routes of `app` without an operation in `doc`, as "METHOD /path" (those `exempt` names,
    each with its reason, left out)."""
    documented = {
        (method.upper(), re.sub(r"{(\w+):[^}]*}", r"{\1}", path))
        for path, item in doc["paths"].items()
        for method in item
    }
    return sorted(f"{m} {p}" for m, p in routes_of(app) - documented - set(exempt))
