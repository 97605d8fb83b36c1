"""/metrics and the log lines of a service (shared/metrics.py, shared/logs.py), on a small app."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
from collections.abc import AsyncIterator
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from shared import logs, metrics
from shared.envelope import new_event
from shared.events import ComplaintClaimed
from shared.http import add_standard_routes, problem_middleware
from tests.waiting import eventually

Client = TestClient[web.Request, web.Application]


async def _ready() -> dict[str, bool]:
    return {"ok": True}


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async def thing(request: web.Request) -> web.Response:
        logging.getLogger("test.thing").info("looked at a thing")
        return web.json_response({"id": request.match_info["thing_id"]})

    async def slow_source() -> None:
        await asyncio.Event().wait()  # never set: the scrape must not wait for it

    app = web.Application(middlewares=[problem_middleware])
    add_standard_routes(app, ready_check=_ready, openapi={"paths": {}})
    app.router.add_get("/things/{thing_id}", thing)
    metrics.add_source(app, "slow", slow_source)
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def test_requests_are_counted_by_route_template_never_by_raw_path(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "SOURCE_TIMEOUT_S", 0.05)
    before = metrics.HTTP_REQUESTS.labels("GET", "/things/{thing_id}", "200")._value.get()
    assert (await client.get("/things/secret-looking-id-123")).status == 200
    assert (await client.get("/no-such-page-xyz")).status == 404
    assert (await client.request("PROPFIND", "/things/a")).status in (404, 405)
    resp = await client.get("/metrics")
    assert resp.status == 200
    page = await resp.text()
    assert 'route="/things/{thing_id}"' in page
    assert 'route="(unmatched)"' in page
    assert "secret-looking-id-123" not in page and "no-such-page-xyz" not in page
    assert "PROPFIND" not in page and 'method="OTHER"' in page
    assert metrics.HTTP_REQUESTS.labels("GET", "/things/{thing_id}", "200")._value.get() == before + 1
    assert metrics.SOURCE_FAILURES.labels("slow")._value.get() >= 1  # it ran out of time; the page came


async def test_the_request_id_is_answered_and_stamped_on_the_request_s_log_lines(client: Client) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("testsvc", "INFO")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        resp = await client.get("/things/a", headers={"X-Request-ID": "req-42"})
        assert resp.headers["X-Request-ID"] == "req-42"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.captureWarnings(False)
    [line] = [json.loads(text) for text in stream.getvalue().splitlines() if "looked at a thing" in text]
    assert line["service"] == "testsvc"
    assert line["correlation_id"] == "req-42"
    assert line["level"] == "INFO" and line["logger"] == "test.thing"


@pytest.mark.parametrize("given", ["", "a b", "x" * 65, "line\nbreak", "<script>", "ü"])
def test_a_request_id_that_is_not_a_plain_token_is_replaced(given: str) -> None:
    request = make_mocked_request("GET", "/", headers={"X-Request-ID": given})
    made = logs.request_id(request)
    assert made != given and len(made) == 16


def test_a_log_line_about_an_event_names_its_ids() -> None:
    event = new_event(
        ComplaintClaimed(opd_id="33.74/dinas-pupr", handler="h1"),
        producer="routing",
        complaint_id="01JCOMPLAINT",
        seq=3,
        correlation_id="cmd-1",
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(event_id)s %(complaint_id)s %(correlation_id)s"))
    logger = logging.getLogger("test.event")
    logger.addHandler(handler)
    try:
        logger.warning("x", extra=logs.event_fields(event))
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().strip() == f"{event.event_id} 01JCOMPLAINT cmd-1"


@pytest.mark.parametrize(
    ("peer", "served"), [("203.0.113.9", False), ("10.1.2.3", True), ("::ffff:127.0.0.1", True)]
)
async def test_metrics_are_served_only_to_the_allowed_networks(peer: str, served: bool) -> None:
    app = web.Application()
    metrics.install(app)
    transport = mock.Mock()
    transport.get_extra_info.return_value = (peer, 40000)
    request = make_mocked_request("GET", "/metrics", app=app, transport=transport)
    if served:
        assert (await metrics.metrics_view(request)).status == 200
    else:
        with pytest.raises(web.HTTPNotFound):
            await metrics.metrics_view(request)


async def test_the_access_log_names_a_token_s_route_never_the_token(caplog: pytest.LogCaptureFixture) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/tokens/{token}.json", ok)
    app.router.add_get("/complaints/{id}", ok)
    # As shared/runtime.py serves (run_app's runner with this access logger).
    runner = web.AppRunner(
        app, access_log=logging.getLogger("test.access"), access_log_class=logs.AccessLogger
    )
    await runner.setup()
    site = web.SockSite(runner, socket.create_server(("127.0.0.1", 0)))
    await site.start()
    base = f"http://127.0.0.1:{site._sock.getsockname()[1]}"  # type: ignore[attr-defined]

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "test.access"]

    try:
        with caplog.at_level(logging.INFO, logger="test.access"):
            async with aiohttp.ClientSession() as http:
                for path in ("/tokens/sekret-token-123.json?x=1", "/complaints/01ABC?token=sekret-query"):
                    async with http.get(base + path) as resp:
                        assert resp.status == 200
            await eventually(lambda: asyncio.sleep(0, len(lines()) == 2), within=5, what="two access lines")
    finally:
        await runner.cleanup()
    assert lines() == ["GET /tokens/{token}.json 200", "GET /complaints/01ABC 200"]


def test_database_commands_are_timed_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """pymongo's command monitoring costs every command (a third of intake's submit throughput,
    docs/performance.md): off unless METRICS_DB_COMMANDS is set."""
    from shared.mongo import mongo_client

    def listeners() -> list[object]:
        client = mongo_client("mongodb://127.0.0.1:9/?directConnection=true")  # never connected
        return list(client.options.event_listeners)

    assert not any(isinstance(x, metrics.CommandLatency) for x in listeners())
    monkeypatch.setenv("METRICS_DB_COMMANDS", "true")
    assert any(isinstance(x, metrics.CommandLatency) for x in listeners())
