"""Hostile input against the real services in process, on the real broker and database (issue 15
items 6, 8 and 9): whatever a stranger sends gets a prompt 4xx problem naming the field, never a 500
or a stall; every public endpoint is rate limited per client address (X-Forwarded-For only from a
trusted proxy); and the scope holes of OPD supervisors, dispositions and transfers are closed.

Rate limits are set low through the environment, as a deployment sets them."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import xmltodict
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools.infra import Endpoints
from services.routing import bootstrap, ports
from services.routing.adapters.store import ensure_indexes
from services.routing.bootstrap import create_app
from services.routing.entrypoints import ratelimit as routing_ratelimit
from services.routing.entrypoints.edge import ROUTING
from services.routing.entrypoints.explain import explain
from services.routing.entrypoints.ratelimit import RoutingRateSettings
from services.routing.handlers import handle_submissions
from services.routing.settings import RoutingSettings
from shared import clock
from shared.auth import STAFF_AUTH, StaffAuth, mint
from shared.envelope import new_event
from shared.events import ComplaintSubmitted
from shared.http import problem_middleware
from shared.kafka import Outgoing, durable_producer, publish
from shared.mongo import mongo_client
from shared.ratelimit import RATE_LIMITS
from tests.intake_app import running_intake
from tests.integration.test_listing import SUBMISSION, Intake
from tests.integration.test_sla_clocks import start_sla

pytestmark = pytest.mark.integration

Http = TestClient[aiohttp.web.Request, aiohttp.web.Application]
SEMARANG, PROVINCE, SURABAYA = "33.74", "33", "35.78"
PUPR, DISHUB = f"{SEMARANG}/dinas-pupr", f"{SEMARANG}/dinas-perhubungan"
BAPENDA, ELSEWHERE = f"{PROVINCE}/bapenda", f"{SURABAYA}/dinas-pupr"
LIMIT = 2
EXPLAIN = {"region_code": "33.74.01.1001", "title": "Jalan berlubang", "description": "Jalan rusak parah."}


def bearer(role: str, **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(role, **claims)}"}  # type: ignore[arg-type]


async def problem(resp: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body: dict[str, Any] = await resp.json()
    return body


def fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body.get("errors") or []}


async def raw_post(
    http: Http, path: str, body: str, headers: dict[str, str] | None = None
) -> aiohttp.ClientResponse:
    return await http.post(path, data=body, headers={"Content-Type": "application/json", **(headers or {})})


# --- routing: explain and the staff API ------------------------------------------------------------


@dataclass
class Routing:
    http: Http
    db: AsyncDatabase[dict[str, Any]]
    adapters: ports.Routing


@pytest.fixture
async def routing(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[Routing]:
    """Routing's public explain and its staff routes, with explain limited to LIMIT a minute."""
    mongo = mongo_client(endpoints.mongo_uri)
    db = mongo[f"{db_prefix}routing_hostile"]
    await ensure_indexes(db)
    # The catalog's OPDs these tests name: Semarang's, the province's and another pemda's.
    await db["opds"].insert_many(
        [
            {"_id": o, "pemda": o.split("/")[0], "slug": o.split("/")[1]}
            for o in (PUPR, DISHUB, BAPENDA, ELSEWHERE)
        ]
    )
    producer: AIOKafkaProducer = durable_producer(endpoints.kafka_bootstrap)
    await producer.start()

    async def publish_durably(messages: Sequence[Outgoing]) -> None:
        await publish(producer, messages)

    adapters = bootstrap.mongo_routing(db, publish_durably)
    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = StaffAuth()
    app[ROUTING] = adapters
    app.router.add_post("/api/v1/routing/explain", explain)
    routing_ratelimit.install(app, RoutingRateSettings(explain_per_minute=LIMIT))
    bootstrap.add_staff_routes(app)
    try:
        async with TestClient(TestServer(app)) as http:
            yield Routing(http, db, adapters)
    finally:
        await producer.stop()
        await mongo.drop_database(db.name)
        await mongo.close()


async def submit(adapters: ports.Routing, category: str) -> str:
    """One submission in Semarang routed for real: `lainnya` goes to triage, others to an OPD."""
    envelope = new_event(
        ComplaintSubmitted(
            title="Laporan warga",
            description="Mohon segera ditindaklanjuti, kondisi ini sudah berlangsung dua minggu.",
            category=category,
            region_code="33.74.01.1001",
            classification="pengaduan",
            channel="web",
        ),
        producer="intake",
        complaint_id=str(ULID()),
    )
    assert await handle_submissions([envelope], adapters) == []
    return envelope.complaint_id or ""


async def test_hostile_bodies_get_a_problem_never_a_500(routing: Routing) -> None:
    http = routing.http
    coordinator = bearer("coordinator", pemda=SEMARANG)
    complaint = await submit(routing.adapters, "lainnya")
    note = f"/api/v1/staff/complaints/{complaint}/notes"
    # Deep nesting used to exhaust the parser's recursion (a RecursionError, a 500).
    body = await problem(await raw_post(http, note, "[" * 60000, coordinator), 400)
    assert "bersarang" in body["detail"]
    deep = json.dumps({"text": "x", "extra": json.loads("[" * 40 + "]" * 40)})
    await problem(await raw_post(http, note, deep, coordinator), 400)
    # Numbers no field of ours can hold: Python's int parsing limit (ValueError), 1e400 (inf), NaN.
    for number in ("1" * 5000, "1e400", "-1e400", "NaN", "Infinity", "123456789012345678901"):
        body = await problem(await raw_post(http, note, f'{{"text": {number}}}', coordinator), 422)
        assert fields(body) == {"(body)"}, number
    assert await routing.db["notes"].count_documents({}) == 0


async def test_repeated_statuses_on_a_queue_are_refused_at_once(routing: Routing) -> None:
    http, handler = routing.http, bearer("handler", opd=PUPR)
    queue = f"/api/v1/opd/{PUPR}/queue"
    # 900 statuses were 900 database reads, one after the other.
    body = await problem(
        await http.get(queue, params={"status": ",".join(["assigned"] * 900)}, headers=handler), 422
    )
    assert fields(body) == {"status"}
    repeated = [("status", "in_progress")] * 400
    assert fields(await problem(await http.get(queue, params=repeated, headers=handler), 422)) == {"status"}
    # A few, repeated or listed twice, are one read each.
    ok = await http.get(
        queue, params=[("status", "assigned"), ("status", "assigned,in_progress")], headers=handler
    )
    assert ok.status == 200, await ok.text()
    for cursor in ("x" * 300, base64.urlsafe_b64encode(b"2026-01-01T00:00:00|").decode()):
        resp = await http.get(queue, params={"cursor": cursor}, headers=handler)
        assert fields(await problem(resp, 422)) == {"cursor"}
    resp = await http.get(queue, params=[("limit", "5"), ("limit", "6")], headers=handler)
    assert fields(await problem(resp, 422)) == {"limit"}


async def test_an_opds_queue_by_category_pages_through_that_category_only(routing: Routing) -> None:
    http, handler, queue = routing.http, bearer("handler", opd=DISHUB), f"/api/v1/opd/{DISHUB}/queue"
    # Both categories go to the Dinas Perhubungan (DESIGN §4); submitted interleaved.
    wanted = [await submit(routing.adapters, c) for c in ["transportasi", "penerangan-jalan"] * 3]
    transport = sorted(wanted[0::2])  # no clock runs here: every due is the same, then by id
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        params = {"category": "transportasi", "limit": "2", **({"cursor": cursor} if cursor else {})}
        resp = await http.get(queue, params=params, headers=handler)
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        assert {i["category"] for i in page["items"]} == {"transportasi"}
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == transport  # each once, in queue order, and no other category
    everything = await (await http.get(queue, params={"category": ""}, headers=handler)).json()
    assert sorted(i["id"] for i in everything["items"]) == sorted(wanted)
    for bad in ("bukan-kategori", "Transportasi", "x" * 5000):
        body = await problem(await http.get(queue, params={"category": bad}, headers=handler), 422)
        assert fields(body) == {"category"} and "kategori tidak dikenal" in body["errors"][0]["message"]
    twice = [("category", "transportasi"), ("category", "penerangan-jalan")]
    assert fields(await problem(await http.get(queue, params=twice, headers=handler), 422)) == {"category"}
    # One index range per state, sorted by the index: no in-memory sort of the OPD's complaints.
    query = {"opd_id": DISHUB, "state": "assigned", "category": "transportasi"}
    order = [("opd_id", 1), ("state", 1), ("sla_due", 1), ("_id", 1)]
    explained = await routing.db["complaints"].find(query).sort(order).limit(2).explain()
    plan = json.dumps(explained["queryPlanner"]["winningPlan"])
    assert '"stage": "SORT"' not in plan and "opd_id_1_category_1_state_1" in plan, plan


async def test_an_opd_supervisor_does_not_see_the_pemdas_triage_queue(routing: Routing) -> None:
    http = routing.http
    await submit(routing.adapters, "lainnya")
    triage = f"/api/v1/pemda/{SEMARANG}/triage"
    await problem(await http.get(triage, headers=bearer("supervisor", opd=PUPR)), 403)
    assert (await http.get(triage, headers=bearer("supervisor", pemda=SEMARANG))).status == 200
    assert (await http.get(triage, headers=bearer("coordinator", pemda=SEMARANG))).status == 200


async def test_dispose_and_transfer_stay_within_the_complaints_kabkota_and_province(routing: Routing) -> None:
    http, coordinator = routing.http, bearer("coordinator", pemda=SEMARANG)
    complaint = await submit(routing.adapters, "lainnya")
    base = f"/api/v1/staff/complaints/{complaint}"
    body = {"opd_id": ELSEWHERE, "category": "jalan-jembatan"}
    refused = await problem(await http.post(f"{base}/dispose", json=body, headers=coordinator), 422)
    assert fields(refused) == {"opd_id"} and SURABAYA in refused["errors"][0]["message"]
    # Kab/kota → province: the province's OPD may take it.
    resp = await http.post(f"{base}/dispose", json={**body, "opd_id": BAPENDA}, headers=coordinator)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["opd_id"] == BAPENDA

    # Province → kab/kota, and never to another pemda's OPD.
    province_handler = bearer("handler", opd=BAPENDA)
    transfer = {"to_opd_id": ELSEWHERE, "reason": "Bukan wewenang provinsi"}
    refused = await problem(await http.post(f"{base}/transfer", json=transfer, headers=province_handler), 422)
    assert fields(refused) == {"to_opd_id"}
    transfer["to_opd_id"] = DISHUB
    resp = await http.post(f"{base}/transfer", json=transfer, headers=province_handler)
    assert resp.status == 200, await resp.text()
    doc = await routing.db["complaints"].find_one({"_id": complaint})
    assert doc is not None and doc["opd_id"] == DISHUB


async def test_coordinators_tighten_privacy_in_any_open_state(routing: Routing) -> None:
    http, coordinator = routing.http, bearer("coordinator", pemda=SEMARANG)
    complaint = await submit(routing.adapters, "jalan-jembatan")
    base = f"/api/v1/staff/complaints/{complaint}"
    assert (await (await http.get(base, headers=coordinator)).json())["status"] == "assigned"
    resp = await http.patch(base, json={"confidential": True, "anonymous": True}, headers=coordinator)
    assert resp.status == 200, await resp.text()
    shown = await resp.json()
    assert shown["confidential"] and shown["anonymous"] and shown["status"] == "assigned"
    await problem(await http.patch(base, json={"confidential": False}, headers=coordinator), 409)
    body = await problem(await http.patch(base, json={"category": "kesehatan"}, headers=coordinator), 409)
    assert "triage" in body["detail"]


async def test_explain_is_rate_limited_per_address_and_xff_from_an_untrusted_peer_is_ignored(
    routing: Routing,
) -> None:
    # The service wires the limit in (this test's app does the same with a low one).
    assert RATE_LIMITS in create_app(RoutingSettings())
    http = routing.http
    for _ in range(LIMIT):
        assert (await http.post("/api/v1/routing/explain", json=EXPLAIN)).status == 200
    refused = await problem(await http.post("/api/v1/routing/explain", json=EXPLAIN), 429)
    assert refused["status"] == 429
    forged = await http.post(
        "/api/v1/routing/explain", json=EXPLAIN, headers={"X-Forwarded-For": "198.51.100.23"}
    )
    await problem(forged, 429)
    assert 1 <= int(forged.headers["Retry-After"]) <= 60 // LIMIT


# --- intake: listing, Open311, identity audit --------------------------------------------------


@pytest.fixture
async def intake(endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Intake]:
    for name in ("LISTING", "OPEN311_READ", "COMMAND", "UPLOAD"):
        monkeypatch.setenv(f"INTAKE_RATE_{name}_PER_MINUTE", str(LIMIT))
    async with running_intake(endpoints) as (client, db):
        yield Intake(client, db)


def cursor_of(last_id: str, window: int = 3600) -> str:
    return base64.urlsafe_b64encode(f"{last_id}.{window}".encode()).decode().rstrip("=")


async def test_dates_and_numbers_out_of_range_in_a_submission_are_422(intake: Intake) -> None:
    for changes, field in (
        ({"incident_date": "0001-01-01"}, "incident_date"),
        ({"location": {"lat": 1e300, "lon": 110.4}}, "location"),
    ):
        resp = await intake.http.post("/api/v1/complaints", json={**SUBMISSION, **changes})
        body = await problem(resp, 422)
        assert any(f.startswith(field) for f in fields(body)), body
    huge = json.dumps(SUBMISSION)[:-1] + ', "incident_date": ' + "9" * 5000 + "}"
    await problem(await raw_post(intake.http, "/api/v1/complaints", huge), 422)
    assert await intake.db["complaints"].count_documents({}) == 0


async def test_forged_listing_cursors_are_422_naming_the_cursor(endpoints: Endpoints) -> None:
    async with running_intake(endpoints) as (http, _):
        future = str(ULID.from_datetime(clock.now().replace(year=2090)))
        for forged in (cursor_of("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"), cursor_of(future), "A" * 5000):
            resp = await http.get("/api/v1/complaints", params={"cursor": forged})
            assert fields(await problem(resp, 422)) == {"cursor"}, forged[:40]


async def test_listing_and_open311_reads_are_rate_limited(intake: Intake) -> None:
    http = intake.http
    for _ in range(LIMIT):
        assert (await http.get("/api/v1/complaints")).status == 200
    listing = await problem(await http.get("/api/v1/complaints"), 429)
    assert listing["status"] == 429
    resp = await http.get("/api/v1/complaints", headers={"X-Forwarded-For": "203.0.113.9"})
    await problem(resp, 429)  # no trusted proxy: the header is the client's word
    assert 1 <= int(resp.headers["Retry-After"]) <= 60 // LIMIT
    assert (await http.head("/api/v1/complaints")).status == 429  # HEAD is the same work: counted

    for _ in range(LIMIT):
        assert (await http.get("/open311/v2/services.json")).status == 200
    refused = await http.get("/open311/v2/services.xml")
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    assert xmltodict.parse(await refused.read())["errors"]["error"]["code"] == "429"


async def test_reporter_commands_and_uploads_are_rate_limited(intake: Intake) -> None:
    complaint = await intake.submit()
    base = f"/api/v1/complaints/{complaint}"
    for path, next_path in (("withdraw", "information"), ("attachments", "attachments")):
        # Every attempt counts, also one refused for its credential or its body.
        answers = [(await intake.http.post(f"{base}/{path}", json={})).status for _ in range(LIMIT)]
        assert 429 not in answers and 500 not in answers, (path, answers)
        # The reporter commands share one limit; uploads have their own.
        await problem(await intake.http.post(f"{base}/{next_path}", json={}), 429)


async def test_xff_counts_only_from_a_trusted_proxy(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_RATE_LISTING_PER_MINUTE", "1")
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.0/8,::1")
    async with running_intake(endpoints) as (http, _):
        first = {"X-Forwarded-For": "203.0.113.1"}
        assert (await http.get("/api/v1/complaints", headers=first)).status == 200
        await problem(await http.get("/api/v1/complaints", headers=first), 429)
        # Behind our proxy, another client address is another client.
        assert (
            await http.get("/api/v1/complaints", headers={"X-Forwarded-For": "203.0.113.2"})
        ).status == 200


async def test_open311_filters_are_deduplicated_capped_and_dates_bounded(endpoints: Endpoints) -> None:
    async with running_intake(endpoints) as (http, _):
        codes = ",".join(["kesehatan"] * 50)
        assert (await http.get("/open311/v2/requests.json", params={"service_code": codes})).status == 200
        many = ",".join(["kesehatan"] * 500)
        resp = await http.get("/open311/v2/requests.json", params={"service_code": many})
        assert resp.status == 400 and "service_code" in (await resp.json())[0]["description"]
        for start in ("0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59-23:59"):
            resp = await http.get("/open311/v2/requests.json", params={"start_date": start})
            assert resp.status == 400, (start, await resp.text())
            assert "start_date" in (await resp.json())[0]["description"]


async def test_an_opd_supervisor_reads_only_its_own_opds_identity_audit(intake: Intake) -> None:
    complaint = await intake.seed(clock.now())  # held by 64.01/dinas-kesehatan
    audit = f"/api/v1/complaints/{complaint}/reporter/audit"
    other = await intake.http.get(audit, headers=bearer("supervisor", opd="64.01/dlh"))
    await problem(other, 403)
    own = await intake.http.get(audit, headers=bearer("supervisor", opd="64.01/dinas-kesehatan"))
    assert own.status == 200, await own.text()
    assert (await intake.http.get(audit, headers=bearer("supervisor", pemda="64.01"))).status == 200


# --- sla: the calendar -------------------------------------------------------------------------------


@pytest.fixture
async def sla_http(endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Http]:
    monkeypatch.setenv("SLA_RATE_CALENDAR_PER_MINUTE", "6")
    prefix = f"t{str(ULID()).lower()[-10:]}_"
    client, settings = await start_sla(endpoints, prefix)
    try:
        yield client
    finally:
        await client.close()
        mongo = mongo_client(endpoints.mongo_uri)
        await mongo.drop_database(settings.mongo_db)
        await mongo.close()


async def test_calendar_ranges_are_bounded_and_rate_limited(sla_http: Http) -> None:
    http = sla_http
    working = f"/api/v1/calendar/{SEMARANG}/working-time"
    # 10,000 years held sla's event loop walking the calendar day by day.
    resp = await http.get(
        working, params={"from": "0001-01-01T00:00:00+07:00", "to": "9999-12-31T00:00:00+07:00"}
    )
    assert fields(await problem(resp, 422)) == {"from"}
    resp = await http.get(
        working, params={"from": "2000-01-01T00:00:00+07:00", "to": "2090-01-01T00:00:00+07:00"}
    )
    assert fields(await problem(resp, 422)) == {"to"}
    ok = await http.get(
        working, params={"from": "2027-01-01T00:00:00+07:00", "to": "2027-01-08T00:00:00+07:00"}
    )
    assert ok.status == 200 and (await ok.json())["seconds"] > 0
    due = f"/api/v1/calendar/{SEMARANG}/due"
    resp = await http.get(due, params={"from": "9999-12-31T23:00:00-23:59", "hk": "5"})
    assert fields(await problem(resp, 422)) == {"from"}
    resp = await http.get(due, params={"from": "2027-01-01T00:00:00+07:00", "hk": "9" * 5000})
    assert fields(await problem(resp, 422)) == {"hk"}
    assert (await http.get(due, params={"from": "2027-01-01T00:00:00+07:00", "hk": "3"})).status == 200
    # Six calendar answers a minute from this address (the refused ones counted too).
    refused = await http.get(due, params={"from": "2027-01-01T00:00:00+07:00", "hk": "3"})
    await problem(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1


async def test_processes_with_shared_limits_count_together_in_the_database(routing: Routing) -> None:
    """Two routing processes (two servers) with `ROUTING_RATE_SHARED`: the client's requests to
    either count against one limit, kept in the real database."""
    settings = RoutingRateSettings(explain_per_minute=LIMIT, shared=True)
    clients = []
    for _ in range(2):
        app = web.Application(middlewares=[problem_middleware])
        app[ROUTING] = routing.adapters
        app.router.add_post("/api/v1/routing/explain", explain)
        routing_ratelimit.install(app, settings, database=lambda: routing.db)
        clients.append(TestClient(TestServer(app)))
    first, second = clients
    # Windows are minutes of domain time: pinned 20 s into one, the refusals say "in 40 s".
    minute = clock.now().replace(second=20, microsecond=0)
    async with first, second:
        with clock.pinned(minute, tick=False):
            assert (await first.post("/api/v1/routing/explain", json=EXPLAIN)).status == 200
            assert (await second.post("/api/v1/routing/explain", json=EXPLAIN)).status == 200
            for client in (first, second):
                refused = await client.post("/api/v1/routing/explain", json=EXPLAIN)
                await problem(refused, 429)
                assert refused.headers["Retry-After"] == "40"
        # The next minute is a new window.
        with clock.pinned(minute + timedelta(minutes=1), tick=False):
            assert (await second.post("/api/v1/routing/explain", json=EXPLAIN)).status == 200
    assert await routing.db["rate_limits"].count_documents({}) == 2


async def test_shared_limits_fall_back_to_the_process_when_the_database_does_not_answer() -> None:
    """No database on the other end (a closed port on loopback): the process's own buckets still
    refuse the request over the limit, and nothing answers 500."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=300
    )
    app = web.Application(middlewares=[problem_middleware])

    async def answered(request: web.Request) -> web.Response:
        return web.json_response({})

    app.router.add_post("/api/v1/routing/explain", answered)
    settings = RoutingRateSettings(explain_per_minute=LIMIT, shared=True)
    attempts: list[int] = []

    def nowhere() -> AsyncDatabase[dict[str, Any]]:
        attempts.append(1)
        return mongo["nowhere"]

    routing_ratelimit.install(app, settings, database=nowhere)
    try:
        async with TestClient(TestServer(app)) as http:
            for _ in range(LIMIT):
                assert (await http.post("/api/v1/routing/explain", json=EXPLAIN)).status == 200
            await problem(await http.post("/api/v1/routing/explain", json=EXPLAIN), 429)
        assert attempts == [1], "after a failure the database is left alone for a while"
    finally:
        await mongo.close()
