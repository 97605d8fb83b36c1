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
