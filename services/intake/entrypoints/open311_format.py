"""The Open311 GeoReport v2 wire format: a reply as the spec's JSON or XML document, errors as the
spec's list of `{code, description}`, and `endpoint`, which turns a handler's `Reply` or error into
the response in the format its path's suffix names."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from shared.http import ProblemError

FORMATS = {"json": "application/json", "xml": "text/xml"}


@dataclass
class Open311Error(Exception):
    """Answered as the spec's error list; `status` is also each error's `code`."""

    status: int
    descriptions: list[str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    root: str  # the XML root element; JSON is `data` itself
    data: Any
    status: int = 200


# A JSON list inside an XML element: the element name of each item (the spec's names).
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "extensions": "extension",
    "jurisdictions": "jurisdiction",
}


def to_xml(root: str, data: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, data)
    document: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return document


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEM_TAGS[element.tag]), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, datetime):
        element.text = value.isoformat()
    elif value is not None:
        element.text = str(value)


def render(fmt: str, reply: Reply, headers: Mapping[str, str] | None = None) -> web.Response:
    body = to_xml(reply.root, reply.data) if fmt == "xml" else _dumps(reply.data).encode()
    return web.Response(
        body=body, status=reply.status, content_type=FORMATS[fmt], charset="utf-8", headers=headers
    )


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=lambda v: v.isoformat())


def error_reply(status: int, descriptions: list[str]) -> Reply:
    return Reply("errors", [{"code": status, "description": d} for d in descriptions], status)


def from_problem(exc: ProblemError) -> Open311Error:
    """A problem raised by shared code (rate limit, idempotency, Kafka down) in the spec's shape."""
    descriptions = [f"{e.field}: {e.message}" for e in exc.errors] if exc.errors else [exc.detail or str(exc)]
    return Open311Error(exc.status, descriptions, dict(exc.headers))


Handler = Callable[[web.Request], Awaitable[Reply]]


def endpoint(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def respond(request: web.Request) -> web.Response:
        fmt = request.match_info.get("fmt", "json")
        if fmt not in FORMATS:
            return render(
                "json", error_reply(404, [f"format '{fmt}' tidak didukung; gunakan .json atau .xml"])
            )
        try:
            return render(fmt, await handler(request))
        except ProblemError as exc:
            error = from_problem(exc)
        except Open311Error as exc:
            error = exc
        return render(fmt, error_reply(error.status, error.descriptions), error.headers)

    return respond
