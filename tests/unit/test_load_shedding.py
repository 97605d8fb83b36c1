"""shared.http's load shedding: at most MAX_IN_FLIGHT requests that need the database are handled
at once per app; one more is a 503 with Retry-After at once, while the routes that need no
database (probes, documents) still answer, and the slots come back as requests finish."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from shared import http
from tests.waiting import eventually


async def test_one_request_over_the_limit_is_refused_at_once_and_the_slots_come_back() -> None:
    release = asyncio.Event()
    entered = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal entered
        entered += 1
        await release.wait()
        return web.json_response({"ok": True})

    app = web.Application(middlewares=[http.problem_middleware])
    app.router.add_post("/work", slow)
    http.add_standard_routes(app, ready_check=_ready, openapi={"openapi": "3.1.0", "paths": {}})
    async with TestClient(TestServer(app)) as client:
        held = [asyncio.create_task(client.post("/work")) for _ in range(http.MAX_IN_FLIGHT)]

        async def all_entered() -> bool:
            return entered == http.MAX_IN_FLIGHT

        await eventually(all_entered, what="every slot taken")
        refused = await client.post("/work")
        assert refused.status == 503 and refused.headers["Retry-After"] == http.RETRY_AFTER
        assert (await refused.json())["detail"] == "Layanan sedang sibuk; coba lagi"
        assert entered == http.MAX_IN_FLIGHT  # the refused one never reached the handler
        assert (await client.get("/healthz")).status == 200  # needs no database: not counted

        release.set()
        answers = await asyncio.gather(*held)
        assert [a.status for a in answers] == [200] * http.MAX_IN_FLIGHT
        assert (await client.post("/work")).status == 200  # the slots are free again


async def _ready() -> dict[str, bool]:
    return {"database": True}


async def test_a_browser_is_told_in_a_page_and_a_client_in_a_problem_when_the_database_is_down() -> None:
    async def page(request: web.Request) -> web.Response:
        raise AssertionError("not reached: the database is known down")

    app = web.Application(middlewares=[http.problem_middleware])
    app.router.add_get("/staff/tugas", page)
    app[http.DATABASE_DOWN] = lambda: True
    async with TestClient(TestServer(app)) as client:
        browser = await client.get(
            "/staff/tugas", headers={"Accept": "text/html,application/xhtml+xml;q=0.9"}
        )
        text = await browser.text()
        assert browser.status == 503 and browser.headers["Retry-After"] == http.RETRY_AFTER
        assert browser.content_type == "text/html" and "Basis data sementara tidak tersedia" in text
        assert browser.headers["Content-Security-Policy"] == "default-src 'none'" and "<script" not in text
        api = await client.get("/staff/tugas", headers={"Accept": "application/json"})
        assert api.status == 503 and api.content_type == http.PROBLEM_JSON
        assert (await api.json())["detail"] == "Basis data sementara tidak tersedia; coba lagi"
