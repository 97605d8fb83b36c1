"""What an operator watches, against the three services as processes: /metrics on each, moving
under a submit and labelled by route templates only; JSON log lines carrying the service and the
request's id (the e2e stack runs with ACCESS_LOG=true). That no log line carries a reporter's
identity is checked by tests/e2e/test_intake_privacy.py over its generated reporters."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator

import aiohttp
import pytest

from devtools.services import ServiceSet
from tests.e2e.test_one_complaint import SUBMISSION
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def _metrics(http: aiohttp.ClientSession, services: ServiceSet, name: str) -> str:
    async with http.get(services.url(name) + "/metrics") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        return await resp.text()


def _value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels…}` of a Prometheus text page (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line[len(name) : line.rindex("}") + 1]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_move_under_a_submit_and_name_routes_not_paths(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    before_intake = await _metrics(http, services, "intake")
    before_routing = await _metrics(http, services, "routing")
    route = {"method": "POST", "route": "/api/v1/complaints", "status": "202"}
    async with http.post(services.url("intake") + "/api/v1/complaints", json=SUBMISSION) as resp:
        assert resp.status == 202
        complaint_id = (await resp.json())["id"]
    stranger = "zz" + secrets.token_hex(6)
    async with http.get(f"{services.url('intake')}/api/v1/complaints/{stranger}") as resp:
        assert resp.status in (401, 404)
    async with http.get(f"{services.url('routing')}/{stranger}") as resp:
        assert resp.status == 404

    after = await _metrics(http, services, "intake")
    requests = "pengaduan_http_requests_total"
    assert _value(after, requests, **route) == _value(before_intake, requests, **route) + 1
    produced = "pengaduan_kafka_messages_produced_total"
    published_before = _value(before_intake, produced, topic="complaints.submitted")

    async def intake_published_it() -> bool:  # just after the answer, off the request's path
        page = await _metrics(http, services, "intake")
        return _value(page, produced, topic="complaints.submitted") > published_before

    await eventually(intake_published_it, within=30, what=f"intake publishing {complaint_id}")
    assert re.search(r"^pengaduan_mongodb_ping_seconds \d", after, re.M)
    assert 'pengaduan_outbox_backlog{collection="complaints"}' in after
    consumed = "pengaduan_kafka_messages_consumed_total"
    start = _value(before_routing, consumed, group="routing", topic="complaints.submitted")

    async def routing_read_it() -> bool:
        return (
            _value(await _metrics(http, services, "routing"), consumed, topic="complaints.submitted") > start
        )

    await eventually(routing_read_it, within=30, what=f"routing consuming {complaint_id}")
    routing = await _metrics(http, services, "routing")
    assert stranger not in after and stranger not in routing
    assert _value(routing, requests, method="GET", route="(unmatched)", status="404") >= 1
    assert re.search(r'pengaduan_kafka_consumer_lag\{group="routing",partition="\d+",topic="', routing)
    assert 'pengaduan_outbox_backlog{collection="complaints"}' in routing
    sla = await _metrics(http, services, "sla")
    assert "pengaduan_http_requests_total" in sla
    for series in (
        "pengaduan_sla_detection_lag_seconds ",
        "pengaduan_sla_open_breaches ",
        'pengaduan_sla_escalations{level="3"}',
        'pengaduan_outbox_backlog{collection="complaint_clocks"}',
        'pengaduan_parked_complaints{service="sla"}',
    ):
        assert series in sla, series
    assert 'pengaduan_parked_complaints{service="intake"}' in after


async def test_log_lines_are_json_with_the_service_and_the_request_id(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    request_id = "e2e-" + secrets.token_hex(8)
    headers = {"X-Request-ID": request_id}
    async with http.post(
        services.url("intake") + "/api/v1/complaints", json=SUBMISSION, headers=headers
    ) as resp:
        assert resp.status == 202
        assert resp.headers["X-Request-ID"] == request_id
    hostile = {"X-Request-ID": "bad\tid " + "x" * 100}
    async with http.get(services.url("routing") + "/healthz", headers=hostile) as resp:
        assert re.fullmatch(r"[0-9a-f]{16}", resp.headers["X-Request-ID"])  # a new one, not theirs

    def lines(name: str) -> list[dict[str, object]]:
        text = services.servers[name].logfile.read_text(encoding="utf-8", errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    async def access_line() -> dict[str, object] | None:
        return next((entry for entry in lines("intake") if entry.get("correlation_id") == request_id), None)

    line = await eventually(access_line, within=10, what="intake's access log line of the submit")
    assert line["service"] == "intake"
    assert line["route"] == "/api/v1/complaints" and line["status"] == 202
    assert {"time", "level", "logger", "message"} <= line.keys()
    for name in ("routing", "sla"):
        assert all(entry.get("service") == name for entry in lines(name))
