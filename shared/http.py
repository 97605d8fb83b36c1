"""The HTTP edge every service shares (DESIGN §6, HTTP surface): RFC 9457 problem responses,
JSON body reading with clear errors, `/healthz`, `/readyz` and `/openapi.json`.

While the service's database is known to be down (`DATABASE_DOWN`, set by shared/runtime.py from
shared/mongo.py's `database_down`), a request is answered 503 with Retry-After at once, without
trying the database — except on the routes that need no database (`database_free`: the probes,
the OpenAPI document, documentation pages and their files), which still answer.

Load is shed the same way: at most MAX_IN_FLIGHT requests that need the database are handled at
once per app; one more is answered 503 with Retry-After at once. Without it, a surge (clients
retrying after an outage, a flood) queued every request on the database connection pool, each
waited out its time bound there, and the process spent itself on requests that were going to
fail anyway: after an outage intake did not recover for minutes (the kill suite, bench/chaos.py,
found it; docs/performance.md).
"""

from __future__ import annotations

import html
import json
import logging
import math
import weakref
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar

from aiohttp import web
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError
from pymongo.errors import PyMongoError

from shared import logs, metrics, tracing
from shared.faults import is_transient

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
M = TypeVar("M", bound=BaseModel)
ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]

READY_CHECK = web.AppKey("ready_check", object)
# "Is the service's database known to be down?" (a cheap, synchronous look at the driver's state).
DATABASE_DOWN: web.AppKey[Callable[[], bool]] = web.AppKey("database_down")
# Route paths (as registered, e.g. "/docs" or "/api/v1/calendar/{pemda}/due") that need no
# database, so still answer while it is down; a static route by its prefix ("/dashboard/static").
DATABASE_FREE: web.AppKey[set[str]] = web.AppKey("database_free")
# What a client waits before trying again after an infrastructure fault (seconds).
RETRY_AFTER = "5"
# Requests needing the database handled at once per app, below the driver's pool (100
# connections, shared with the app's consumers and relay), so a request never waits for one.
MAX_IN_FLIGHT = 80
_in_flight: weakref.WeakKeyDictionary[web.Application, int] = weakref.WeakKeyDictionary()
OPENAPI = web.AppKey("openapi", dict)

_TITLES = {
    400: "Permintaan tidak dapat dibaca",
    401: "Kredensial tidak ada atau tidak sah",
    403: "Di luar kewenangan",
    404: "Tidak ditemukan",
    405: "Metode tidak diizinkan",
    409: "Status tidak memungkinkan tindakan ini",
    413: "Isi permintaan terlalu besar",
    415: "Jenis konten tidak didukung",
    422: "Data tidak valid",
    429: "Terlalu banyak permintaan",
    500: "Kesalahan internal",
    503: "Layanan sementara tidak tersedia",
}


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An error answer as sent (RFC 9457, `problem_response`): what the documents declare."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raised anywhere in a view; the middleware turns it into a problem response."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or _TITLES.get(status, ""))
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> web.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = [e.model_dump() for e in errors]
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_JSON, headers=headers)


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic errors as `{"field": "reporter.phone", "message": …}` (unknown fields included)."""
    result = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"]) or "(body)"
        # Our own validators' messages are already Indonesian; pydantic prefixes them.
        message = (
            "field tidak dikenal"
            if err["type"] == "extra_forbidden"
            else err["msg"].removeprefix("Value error, ")
        )
        result.append(FieldError(field=path, message=message))
    return result


# Bounds on what a JSON body may hold: nothing in our contracts nests deeper or needs a number
# beyond a signed 64-bit integer or a finite double.
MAX_JSON_DEPTH = 32
MAX_JSON_INT_DIGITS = 19


class _NumberError(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise _NumberError(f"bilangan bulat {text[:24]}… terlalu besar")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberError(f"bilangan {text[:24]} di luar jangkauan")
    return value


def _parse_constant(text: str) -> float:
    raise _NumberError(f"{text} bukan bilangan JSON")


def _depth_over(data: Any, limit: int) -> bool:
    """Whether `data` nests containers deeper than `limit` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parse_json(raw: bytes | str) -> Any:
    """`raw` as JSON, or a 400/422 problem: not JSON, nested deeper than MAX_JSON_DEPTH, or a
    number no field of ours can hold (an integer of more than 19 digits, 1e400, NaN, Infinity)."""
    try:
        data = json.loads(raw, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except _NumberError as exc:
        raise ProblemError(422, errors=[FieldError(field="(body)", message=str(exc))]) from None
    except RecursionError:
        raise ProblemError(400, f"JSON bersarang lebih dari {MAX_JSON_DEPTH} tingkat") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProblemError(400, f"JSON tidak valid: {str(exc)[:200]}") from None
    if _depth_over(data, MAX_JSON_DEPTH):
        raise ProblemError(400, f"JSON bersarang lebih dari {MAX_JSON_DEPTH} tingkat")
    return data


async def read_json(request: web.Request, model: type[M], *, max_bytes: int = 64 * 1024) -> M:
    """The request body as `model`, or a ProblemError with the right status (400/413/415/422)."""
    if request.content_type != "application/json":
        raise ProblemError(415, "Gunakan Content-Type: application/json")
    if request.content_length is not None and request.content_length > max_bytes:
        raise ProblemError(413, f"Maksimal {max_bytes} byte")
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ProblemError(413, f"Maksimal {max_bytes} byte")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise ProblemError(422, "Isi permintaan harus berupa objek JSON", errors=[])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProblemError(422, errors=field_errors(exc)) from exc


UNAVAILABLE_PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Layanan sementara tidak tersedia</title></head>
<body><main><h1>Layanan sementara tidak tersedia</h1><p>{detail}</p>
<p>Tidak ada yang hilang: muat ulang halaman ini dalam beberapa detik.</p></main></body></html>
"""


def _unavailable(request: web.Request, detail: str) -> web.Response:
    """A 503 as the caller reads it: a short page for a browser's navigation (the citizen's,
    staff and dashboard pages), a problem document for everyone else."""
    headers = {"Retry-After": RETRY_AFTER}
    if request.method == "GET" and request.headers.get("Accept", "").startswith("text/html"):
        page = UNAVAILABLE_PAGE.format(detail=html.escape(detail))
        headers.update(browser_headers("default-src 'none'"))
        return web.Response(status=503, text=page, content_type="text/html", headers=headers)
    return problem_response(503, detail, headers=headers)


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    needs_database = _needs_database(request)
    try:
        if needs_database and _database_known_down(request):
            return _unavailable(request, "Basis data sementara tidak tersedia; coba lagi")
        if not needs_database:
            return await handler(request)
        app = request.app
        if _in_flight.get(app, 0) >= MAX_IN_FLIGHT:
            return _unavailable(request, "Layanan sedang sibuk; coba lagi")
        _in_flight[app] = _in_flight.get(app, 0) + 1
        try:
            return await handler(request)
        finally:
            _in_flight[app] -= 1
    except ProblemError as exc:
        return problem_response(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(
            exc.status, exc.reason, headers={k: v for k, v in exc.headers.items() if k == "Allow"}
        )
    except Exception as exc:
        if _infrastructure(exc):  # the database or the broker, not the request: try again soon
            log.warning("%s %s: %r", request.method, request.path, exc)
            return _unavailable(request, "Layanan pendukung sementara tidak tersedia; coba lagi")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem_response(500)


def _needs_database(request: web.Request) -> bool:
    """This request's route needs the database (an unknown path does not: 404)."""
    resource = request.match_info.route.resource
    return resource is not None and resource.canonical not in request.app.get(DATABASE_FREE, ())


def _database_known_down(request: web.Request) -> bool:
    down = request.app.get(DATABASE_DOWN)
    return down is not None and down()


def database_free(app: web.Application, *paths: str) -> None:
    """Mark routes of `app` (their paths as registered) as answering without the database."""
    if DATABASE_FREE not in app:
        app[DATABASE_FREE] = set()
    app[DATABASE_FREE].update(paths)


def _infrastructure(exc: Exception) -> bool:
    """A fault of the database or the broker (not one of our own files or timers)."""
    return isinstance(exc, PyMongoError | KafkaError | ConnectionError) and is_transient(exc)


def browser_headers(csp: str) -> dict[str, str]:
    """Headers of a page a browser renders (and of the files it loads): the page's policy, no
    framing, no referrer leaving the site, no type sniffing."""
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def _json_default(value: Any) -> str:
    # Instants as RFC 3339 (`2026-12-06T14:30:00+07:00`, what the API documents' date-time means),
    # never Python's str() with a space; anything else (ids, decimals) as its text.
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    text = data.model_dump_json() if isinstance(data, BaseModel) else json.dumps(data, default=_json_default)
    return web.Response(status=status, text=text, content_type="application/json", headers=headers)


async def _healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    check: ReadyCheck = request.app[READY_CHECK]  # type: ignore[assignment]
    checks = await check()
    ok = all(checks.values())
    return json_response(
        {"status": "ready" if ok else "not ready", "checks": checks},
        status=200 if ok else 503,
        headers=None if ok else {"Retry-After": "5"},
    )


async def _openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


def add_standard_routes(app: web.Application, *, ready_check: ReadyCheck, openapi: dict[str, Any]) -> None:
    app[READY_CHECK] = ready_check
    app[OPENAPI] = openapi  # shared/openapi.py's `document()`
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/openapi.json", _openapi)
    metrics.install(app)
    logs.install(app)
    tracing.install(app)  # outermost: the request's span covers everything else
    # /readyz answers while the database is down (and says so); /metrics tells what it knows.
    database_free(app, "/healthz", "/readyz", "/openapi.json", "/metrics")
