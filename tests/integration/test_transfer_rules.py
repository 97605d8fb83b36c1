"""Transfers that become rules (issue 22 item 3) against the real broker and database: routing's
staff API transfers complaints, the `routing-transfers` consumer counts the published
`ComplaintTransferred` events from `complaints.events`, and the coordinator is offered, accepts or
rejects the rule override; a redelivered transfer event counts once; an accepted suggestion routes
the next complaint, and the audit says who, when, why and which complaints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools.infra import Endpoints
from services.routing import bootstrap
from services.routing.adapters.store import ensure_indexes
from services.routing.entrypoints.consumers import transfer_batches
from services.routing.entrypoints.edge import ROUTING
from services.routing.handlers import handle_submissions
from services.routing.ports import Routing
from services.routing.settings import RoutingSettings
from shared.auth import STAFF_AUTH, StaffAuth, mint
from shared.envelope import Envelope, decode, new_event
from shared.events import ComplaintSubmitted, ComplaintTransferred
from shared.http import problem_middleware
from shared.kafka import Outgoing, durable_producer, ensure_topics, publish
from shared.runtime import INFRA, ConsumerSpec, Infra, with_consumers
from shared.topics import COMPLAINT_PARTITIONS, COMPLAINTS_EVENTS, TopicSpec, dlq
from tests.topics import committed_through, ends_now
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PEMDA = "33.74"
DISHUB, PUPR, DLH = (f"{PEMDA}/{slug}" for slug in ("dinas-perhubungan", "dinas-pupr", "dlh"))
SUGGESTION = "penerangan-jalan:dinas-perhubungan:dinas-pupr"
BASE = f"/api/v1/pemda/{PEMDA}/rule-suggestions"
COORDINATOR = {"Authorization": f"Bearer {mint('coordinator', pemda=PEMDA, sub='koor-semarang')}"}
DISHUB_HANDLER = {"Authorization": f"Bearer {mint('handler', opd=DISHUB, sub='tono')}"}


@dataclass
class Stack:
    http: TestClient[Any, Any]
    db: AsyncDatabase[dict[str, Any]]
    group: str
    bootstrap: str

    @property
    def routing(self) -> Routing:
        routing: Routing = self.http.app[ROUTING]
        return routing


async def _start_at_end(bootstrap_servers: str, group: str) -> None:
    """The group's first offsets: the end of `complaints.events` now, so that it counts this test's
    transfers only (the topic keeps every earlier run's events)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(COMPLAINTS_EVENTS, p) for p in range(COMPLAINT_PARTITIONS)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


@pytest.fixture
async def stack(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[Stack]:
    """Routing's staff API and its `routing-transfers` consumer (a group of this test's own) on
    the real broker and database; submissions are routed by calling the `routing` group's use case."""
    group = f"routing-transfers-{db_prefix.rstrip('_')}"
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(dlq(group), 1)])
    await _start_at_end(endpoints.kafka_bootstrap, group)
    settings = RoutingSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        mongo_uri=endpoints.mongo_uri,
        mongo_db=f"{db_prefix}routing",
    )
    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = StaffAuth()

    async def build(infra: Infra) -> Any:
        await ensure_indexes(infra.db)
        await infra.db["opds"].insert_many(
            [{"_id": o, "pemda": PEMDA, "slug": o.split("/")[1]} for o in (DISHUB, PUPR, DLH)]
        )
        app[ROUTING] = bootstrap.mongo_routing(
            infra.db, infra.publish, suggest_after=3, suggest_window_days=30
        )
        return transfer_batches(app[ROUTING])

    with_consumers(app, settings, [ConsumerSpec(group, [COMPLAINTS_EVENTS], build)])
    bootstrap.add_staff_routes(app)
    async with TestClient(TestServer(app)) as http:
        db = app[INFRA].db
        try:
            yield Stack(http, db, group, endpoints.kafka_bootstrap)
        finally:
            await db.client.drop_database(db.name)


async def submit(routing: Routing, category: str = "penerangan-jalan") -> str:
    """A submission in Semarang routed for real (the `routing` group's use case)."""
    envelope = new_event(
        ComplaintSubmitted(
            title="Lampu jalan mati",
            description="Lampu PJU di Jl. Pandanaran mati sejak seminggu, jalan gelap dan rawan.",
            category=category,
            region_code="33.74.01.1001",
            classification="pengaduan",
            channel="web",
        ),
        producer="intake",
        complaint_id=str(ULID()),
    )
    assert await handle_submissions([envelope], routing) == []
    assert envelope.complaint_id
    return envelope.complaint_id


async def opd_of(stack: Stack, complaint_id: str) -> tuple[str | None, str]:
    doc = await stack.db["complaints"].find_one({"_id": complaint_id})
    assert doc is not None
    return doc["opd_id"], doc["state"]


async def transfer(stack: Stack, complaint_id: str, reason: str) -> None:
    async with stack.http.post(
        f"/api/v1/staff/complaints/{complaint_id}/transfer",
        json={"to_opd_id": PUPR, "reason": reason},
        headers=DISHUB_HANDLER,
    ) as resp:
        assert resp.status == 200, await resp.text()


async def suggestions(stack: Stack) -> list[dict[str, Any]]:
    async with stack.http.get(BASE, headers=COORDINATOR) as resp:
        assert resp.status == 200, await resp.text()
        items: list[dict[str, Any]] = (await resp.json())["items"]
        return items


async def counted(stack: Stack) -> int:
    """Transfers counted for the pair, once the group has read everything published so far."""
    ends = await ends_now(stack.bootstrap, COMPLAINTS_EVENTS)
    await eventually(
        lambda: committed_through(stack.bootstrap, stack.group, ends), within=60, what="the transfers counted"
    )
    doc = await stack.db["transfer_pairs"].find_one({"_id": f"{PEMDA}|{SUGGESTION}"})
    return len(doc["transfers"]) if doc else 0


async def transferred_events(stack: Stack, complaint_ids: set[str]) -> list[Envelope]:
    """The published `ComplaintTransferred` events of these complaints, read back from the topic."""
    consumer = AIOKafkaConsumer(
        COMPLAINTS_EVENTS, bootstrap_servers=stack.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Envelope] = []
    try:

        async def probe() -> bool:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                for m in messages:
                    if any(cid.encode() in (m.key or b"") for cid in complaint_ids):
                        envelope = decode(m.value or b"")
                        if isinstance(envelope.payload, ComplaintTransferred):
                            found.append(envelope)
            return len(found) >= len(complaint_ids)

        await eventually(probe, within=60, what="the transfer events on the topic")
    finally:
        await consumer.stop()
    return found


async def test_three_transfers_make_a_suggestion_counted_once_and_accepting_routes_the_next(
    stack: Stack,
) -> None:
    routing = stack.routing
    # Street lighting goes to Dishub by the table; Dishub sends three of them to PUPR.
    complaints = [await submit(routing) for _ in range(3)]
    assert [(await opd_of(stack, c))[0] for c in complaints] == [DISHUB] * 3
    reasons = [
        "PJU di kota ini dikelola Dinas PUPR",
        "bukan wewenang: lampu jalan ada di PUPR, hubungi 0812-3456-7890",
        "PJU ranah PUPR",
    ]
    await transfer(stack, complaints[0], reasons[0])
    await transfer(stack, complaints[1], reasons[1])
    assert await counted(stack) == 2
    assert await suggestions(stack) == []  # two transfers are not yet a pattern
    await transfer(stack, complaints[2], reasons[2])
    assert await counted(stack) == 3

    # A redelivery of the published transfer events (as after a consumer crash before its commit):
    # read back from the topic and published again, byte for byte. They count once.
    events = await transferred_events(stack, set(complaints))
    assert {e.payload.category for e in events if isinstance(e.payload, ComplaintTransferred)} == {
        "penerangan-jalan"
    }
    producer = durable_producer(stack.bootstrap)
    await producer.start()
    try:
        await publish(producer, [Outgoing.of(COMPLAINTS_EVENTS, e.complaint_id or "", e) for e in events])
    finally:
        await producer.stop()
    assert await counted(stack) == 3

    [offer] = await suggestions(stack)
    assert (offer["id"], offer["category"], offer["from_opd_id"], offer["to_opd_id"]) == (
        SUGGESTION,
        "penerangan-jalan",
        DISHUB,
        PUPR,
    )
    assert offer["transfers"] == 3 and offer["current_opd_id"] is None
    explained = {e["complaint_id"]: e["reason"] for e in offer["explained_by"]}
    assert set(explained) == set(complaints)
    assert explained[complaints[0]] == reasons[0]
    assert "0812-3456-7890" not in explained[complaints[1]]  # contacts in an OPD's text are masked
    # Only the pemda's coordinator (or an admin) sees and decides them.
    other = {"Authorization": f"Bearer {mint('coordinator', pemda='33.71', sub='koor-lain')}"}
    async with stack.http.get(BASE, headers=other) as resp:
        assert resp.status == 403
    async with stack.http.post(f"{BASE}/{SUGGESTION}/accept", json={}, headers=DISHUB_HANDLER) as resp:
        assert resp.status == 403

    # Accepted: the pemda's rule for street lighting is now PUPR, and the next complaint goes there.
    async with stack.http.post(
        f"{BASE}/{SUGGESTION}/accept", json={"note": "PJU memang di PUPR"}, headers=COORDINATOR
    ) as resp:
        assert resp.status == 200, await resp.text()
        decision = await resp.json()
    assert decision["verdict"] == "accepted" and set(decision["complaint_ids"]) == set(complaints)
    assert decision["rule"] == f"override:{PEMDA}:penerangan-jalan"
    following = await submit(routing)
    assert await opd_of(stack, following) == (PUPR, "assigned")
    audit = await stack.db["audit"].find_one({"what": "rule.suggestion.accept"})
    assert audit is not None
    assert (audit["by"], audit["role"], audit["data"]["note"]) == (
        "koor-semarang",
        "coordinator",
        "PJU memang di PUPR",
    )
    assert set(audit["data"]["complaint_ids"]) == set(complaints)
    assert (audit["data"]["from_opd_id"], audit["data"]["to_opd_id"]) == (DISHUB, PUPR)
    assert "at" in audit
    # Decided: no longer offered, and deciding again is a conflict.
    assert await suggestions(stack) == []
    async with stack.http.post(f"{BASE}/{SUGGESTION}/accept", json={}, headers=COORDINATOR) as resp:
        assert resp.status == 409
    async with stack.http.post(f"{BASE}/bukan:sebuah:usulan/accept", json={}, headers=COORDINATOR) as resp:
        assert resp.status == 404


async def test_a_rejected_suggestion_stays_hidden_until_as_many_new_transfers_follow(stack: Stack) -> None:
    routing = stack.routing
    first = [await submit(routing) for _ in range(3)]
    for c in first:
        await transfer(stack, c, "PJU dikelola Dinas PUPR")
    assert await counted(stack) == 3
    [offer] = await suggestions(stack)
    assert offer["id"] == SUGGESTION
    async with stack.http.post(
        f"{BASE}/{SUGGESTION}/reject", json={"reason": "x"}, headers=COORDINATOR
    ) as resp:
        assert resp.status == 422  # a reason is required (at least 5 characters)
    async with stack.http.post(
        f"{BASE}/{SUGGESTION}/reject",
        json={"reason": "salah kategori, bukan salah OPD"},
        headers=COORDINATOR,
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["verdict"] == "rejected"
    assert await suggestions(stack) == []
    audit = await stack.db["audit"].find_one({"what": "rule.suggestion.reject"})
    assert audit is not None and audit["data"]["note"] == "salah kategori, bukan salah OPD"
    # The table still decides: street lighting keeps going to Dishub.
    later = [await submit(routing) for _ in range(3)]
    assert {(await opd_of(stack, c))[0] for c in later} == {DISHUB}
    # One or two new transfers after the rejection are not enough to ask again; three are.
    await transfer(stack, later[0], "PJU dikelola Dinas PUPR")
    await transfer(stack, later[1], "PJU dikelola Dinas PUPR")
    assert await counted(stack) == 5
    assert await suggestions(stack) == []
    await transfer(stack, later[2], "PJU dikelola Dinas PUPR")
    assert await counted(stack) == 6
    [again] = await suggestions(stack)
    assert {e["complaint_id"] for e in again["explained_by"]} == set(later)
