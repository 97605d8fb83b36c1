"""Log lines an operator can search: one JSON object per line (python-json-logger over the
standard library's logging, so every library's records come out the same way), each with the
service, the level, the logger and, where known, the request's `correlation_id` and the
`complaint_id` and `event_id` a line is about.

The request id comes from the caller's `X-Request-ID` (when it is a plain token) or is made here;
it is answered in the same header and set for everything the request's task logs
(`request_context`). A consumer passes the ids of the event it speaks of as `extra`
(`event_fields`). What a log line must never carry: reporter identity, tokens, request bodies —
the services log ids, never texts (a test searches every service's log for a known reporter).

`LOG_FORMAT=text` gives the old one-line text for a person reading a terminal; `ACCESS_LOG=true`
adds one line per HTTP request (method, path without its query, route, status, duration): the
query string can carry a token, and a path that carries one is logged as its route.
"""

from __future__ import annotations

import contextvars
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from pydantic_settings import BaseSettings
from pythonjsonlogger.json import JsonFormatter

from shared.envelope import Envelope

CORRELATION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
ACCESS = logging.getLogger("pengaduan.access")


class LogSettings(BaseSettings):
    """LOG_FORMAT (json | text) and ACCESS_LOG, the same for every service."""

    log_format: Literal["json", "text"] = "json"
    access_log: bool = False


class _Context(logging.Filter):
    """Stamps each record with the service and the current request's correlation id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        if getattr(record, "correlation_id", None) is None:
            correlation = CORRELATION_ID.get()
            if correlation is not None:
                record.correlation_id = correlation
        return True


def configure(service: str, level: str, settings: LogSettings | None = None) -> LogSettings:
    """The process's logging: one handler on stderr, JSON (or text) lines, `service` on each."""
    settings = settings or LogSettings()
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                ["levelname", "name", "message"],
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",  # ISO 8601, UTC
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(service)s %(name)s: %(message)s"))
    handler.addFilter(_Context(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a JSON line too
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    return settings


def event_fields(envelope: Envelope) -> dict[str, Any]:
    """`extra` for a log line about one event: its id, its complaint and its correlation id."""
    fields: dict[str, Any] = {"event_id": envelope.event_id}
    if envelope.complaint_id:
        fields["complaint_id"] = envelope.complaint_id
    if envelope.correlation_id:
        fields["correlation_id"] = envelope.correlation_id
    return fields


def request_id(request: web.Request) -> str:
    """The caller's X-Request-ID when it is a plain token, else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _PLAIN_ID.fullmatch(given) else secrets.token_hex(8)


@web.middleware
async def request_context(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every line this request's task logs carries its id; the answer names it too."""
    correlation = request_id(request)
    CORRELATION_ID.set(correlation)  # the request's own task: its context ends with it
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = correlation
        raise
    if not response.prepared:  # a stream already sent its headers
        response.headers[REQUEST_ID_HEADER] = correlation
    return response


class AccessLogger(AbstractAccessLogger):
    """One line per request: method, path (no query), route as registered, status, duration. The
    path of a route that carries a token in it (Open311's `/tokens/{token}`), or of a catch-all,
    is logged as the route instead."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        match = getattr(request, "match_info", None)
        resource = match.route.resource if match is not None else None
        route = resource.canonical if resource is not None else "(unmatched)"
        hidden = match is not None and any("token" in name or name == "tail" for name in match)
        self.logger.info(
            "%s %s %s",
            request.method,
            route if hidden else request.path,
            response.status,
            extra={
                "route": route,
                "status": response.status,
                "duration_ms": round(time * 1000, 1),
                "correlation_id": response.headers.get(REQUEST_ID_HEADER),
            },
        )


def install(app: web.Application) -> None:
    app.middlewares.insert(0, request_context)
