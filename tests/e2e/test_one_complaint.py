"""One complaint end to end through real Kafka and the real database: POST → routed → clocks
stored → the citizen's status shows the OPD and the deadlines; a redelivery changes nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from devtools.infra import Endpoints
from devtools.services import ServiceSet
from shared.calendar import calendar_for
from shared.kafka import Outgoing, durable_producer, publish
from shared.mongo import mongo_client
from shared.topics import COMPLAINTS_EVENTS, COMPLAINTS_SUBMITTED, ROUTING_DUES_GROUP, SLA_EVENTS, TOPICS
from tests.e2e.conftest import DB_PREFIX, E2E_DAY
from tests.topics import committed_through, ends_now
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

SUBMISSION = {
    "title": "Jalan berlubang di depan SD",
    "description": "Lubang besar di Jl. Pemuda depan SD Negeri 2 sudah dua minggu membahayakan motor.",
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "reporter": {"name": "Sari Wulandari", "phone": "0812-3456-7890", "email": "sari@example.id"},
}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


@pytest.fixture
async def mongo(endpoints: Endpoints) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client = mongo_client(endpoints.mongo_uri)
    yield client
    await client.close()


async def _status(http: aiohttp.ClientSession, url: str, token: str) -> dict[str, Any]:
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body


async def test_every_service_answers_health_readiness_and_openapi(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    for name in ("intake", "routing", "sla"):
        for path in ("/healthz", "/readyz", "/openapi.json"):
            async with http.get(services.url(name) + path) as resp:
                assert resp.status == 200, (name, path)
        async with http.get(services.url(name) + "/openapi.json") as resp:
            assert (await resp.json())["openapi"].startswith("3.")


async def test_invalid_submission_is_a_422_naming_the_fields(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    bad = {**SUBMISSION, "category": "parkir-liar", "region_code": "33.99"}
    async with http.post(services.url("intake") + "/api/v1/complaints", json=bad) as resp:
        assert resp.status == 422
        assert resp.content_type == "application/problem+json"
        fields = {e["field"] for e in (await resp.json())["errors"]}
    assert fields == {"category", "region_code"}


async def test_one_complaint_from_post_to_stored_clocks(
    services: ServiceSet,
    http: aiohttp.ClientSession,
    mongo: AsyncMongoClient[dict[str, Any]],
    endpoints: Endpoints,
) -> None:
    async with http.post(services.url("intake") + "/api/v1/complaints", json=SUBMISSION) as resp:
        assert resp.status == 202
        accepted = await resp.json()
    complaint_id, token = accepted["id"], accepted["access_token"]
    status_url = services.url("intake") + f"/api/v1/complaints/{complaint_id}"
    assert accepted["status_url"] == status_url

    async def assigned_with_deadlines() -> dict[str, Any] | None:
        view = await _status(http, status_url, token)
        states = {d["clock"]: d["state"] for d in view["deadlines"]}
        done = view["status"] == "assigned" and states == {
            "verification": "met",
            "response": "running",
            "resolution": "running",
        }
        return view if done else None

    view = await eventually(assigned_with_deadlines, within=60, what="assigned with its three clocks")
    assert view["opd_id"] == "33.74/dinas-pupr"
    assert [t["type"] for t in view["timeline"]] == ["ComplaintReceived", "ComplaintAssigned"]
    assert "Sari" not in str(view) and "0812" not in str(view)

    # The dues shown are the ones of DESIGN §5, in Semarang's local offset.
    semarang = calendar_for("33.74")
    response = next(d for d in view["deadlines"] if d["clock"] == "response")
    started = semarang.local(datetime.fromisoformat(response["started_at"]))
    assert response["due_at"] == semarang.due(started, 5).isoformat()
    # The stack runs on Idul Fitri 2027 (its CLOCK_START setting): Wed 10 Mar is a holiday inside
    # the cuti bersama of 9-15 Mar, so 5 HK are Tue 16 to Mon 22 Mar (worked out by hand).
    assert started.date() == E2E_DAY.date()
    assert response["due_at"] == "2027-03-23T00:00:00+07:00"
    assert response["remaining_seconds"] == 5 * 86400  # no working time has passed on a holiday
    assert response["due_at"].endswith("+07:00")
    assert 0 < response["remaining_seconds"] <= 6 * 86400
    assert re.fullmatch(r"sisa [4-6] hari kerja", response["remaining_text"])
    assert view["status_label"] == "Terdisposisi, belum ditindaklanjuti"

    stored = await mongo[f"{DB_PREFIX}sla"]["complaint_clocks"].find_one({"_id": complaint_id})
    assert stored is not None and stored["last_seq"] == 2
    assert sorted((c["clock"], c["state"], c["opd_id"]) for c in stored["clocks"]) == [
        ("resolution", "running", "33.74/dinas-pupr"),
        ("response", "running", "33.74/dinas-pupr"),
        ("verification", "met", None),
    ]

    # Redeliver the submission and the lifecycle events: nothing changes anywhere. First the state
    # settles: routing's dues group has read sla's clock events so far (it writes the dues on
    # routing's record), and each service's relay has marked what it published.
    clock_events = await ends_now(endpoints.kafka_bootstrap, SLA_EVENTS)
    await eventually(
        lambda: committed_through(endpoints.kafka_bootstrap, ROUTING_DUES_GROUP, clock_events),
        what="routing's dues group past sla's clock events",
    )

    async def marked() -> bool:
        docs = [
            await mongo[f"{DB_PREFIX}{service}"][collection].find_one({"_id": complaint_id})
            for service, collection in (("sla", "complaint_clocks"), ("routing", "complaints"))
        ]
        return all(doc is not None and doc.get("outbox_since") is None for doc in docs)

    await eventually(marked, what="the relays to have marked their messages published")
    stored = await mongo[f"{DB_PREFIX}sla"]["complaint_clocks"].find_one({"_id": complaint_id})
    routing_doc = await mongo[f"{DB_PREFIX}routing"]["complaints"].find_one({"_id": complaint_id})
    intake_doc = await mongo[f"{DB_PREFIX}intake"]["complaints"].find_one({"_id": complaint_id})
    replayed = await _messages_for(endpoints, complaint_id, [COMPLAINTS_SUBMITTED, COMPLAINTS_EVENTS])
    producer = durable_producer(endpoints.kafka_bootstrap)
    await producer.start()
    try:
        await publish(producer, [Outgoing(topic, complaint_id, value) for topic, value in replayed])
    finally:
        await producer.stop()
    for group, topic in (
        ("routing", COMPLAINTS_SUBMITTED),
        ("sla", COMPLAINTS_EVENTS),
        ("intake", COMPLAINTS_EVENTS),
    ):
        ends = await ends_now(endpoints.kafka_bootstrap, topic)
        await eventually(
            lambda g=group, e=ends: committed_through(endpoints.kafka_bootstrap, g, e),
            what=f"{group} past the replay",
        )
    assert await mongo[f"{DB_PREFIX}sla"]["complaint_clocks"].find_one({"_id": complaint_id}) == stored
    assert await mongo[f"{DB_PREFIX}routing"]["complaints"].find_one({"_id": complaint_id}) == routing_doc
    assert await mongo[f"{DB_PREFIX}intake"]["complaints"].find_one({"_id": complaint_id}) == intake_doc


def _all_partitions(topics: list[str]) -> list[TopicPartition]:
    counts = {spec.name: spec.partitions for spec in TOPICS}  # the project creates them so
    return [TopicPartition(t, p) for t in topics for p in range(counts[t])]


async def _messages_for(endpoints: Endpoints, key: str, topics: list[str]) -> list[tuple[str, bytes]]:
    """Every message on `topics` with this key, read from the beginning up to the current end."""
    # No group, so no committed offsets: every assigned partition starts at its beginning.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=endpoints.kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[tuple[str, bytes]] = []
    scanned = 0
    try:
        partitions = _all_partitions(topics)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                for msgs in (await consumer.getmany(tp, timeout_ms=500)).values():
                    scanned += len(msgs)
                    found += [
                        (tp.topic, m.value or b"")
                        for m in msgs
                        if m.key == key.encode() and m.offset < ends[tp]
                    ]
    finally:
        await consumer.stop()
    assert found, f"the complaint's messages are on the topics (scanned {scanned}, ends {ends})"
    return found
