"""Dead letters come back: a message its handler refused is read from `<group>.dlq` with where it
came from, replayed after the fix into that group's handler only (not onto the topic), once.
Real broker and database; the group runs inside an app as a service's does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools import ops
from devtools.infra import Endpoints
from services.routing.adapters.delivery import OutboxDelivery
from services.routing.entrypoints.edge import ROUTING
from shared.deadletters import read_letters, replay_group
from shared.envelope import Envelope, new_event
from shared.events import ComplaintTriaged
from shared.kafka import BatchHandler, Outgoing, Rejected, durable_producer, ensure_topics, publish
from shared.mongo import mongo_client
from shared.runtime import CONSUMER_SPECS, ConsumerSpec, Infra, with_consumers
from shared.topics import GROUPS, TopicSpec, dlq
from tests.waiting import eventually

pytestmark = pytest.mark.integration


class Settings:
    def __init__(self, endpoints: Endpoints, db: str) -> None:
        self.kafka_bootstrap, self.mongo_uri, self.mongo_db = (
            endpoints.kafka_bootstrap,
            endpoints.mongo_uri,
            db,
        )


def _event(complaint_id: str) -> Envelope:
    triaged = ComplaintTriaged(pemda="33.74", category=None, rule="uncategorised", reason="uji")
    return new_event(triaged, producer="test", complaint_id=complaint_id, seq=1)


@pytest.fixture
async def db(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client = mongo_client(endpoints.mongo_uri)
    yield client[f"{db_prefix}dlq"]
    await client.drop_database(f"{db_prefix}dlq")
    await client.close()


async def test_a_refused_message_is_replayed_after_the_fix_into_its_group_only_and_once(
    endpoints: Endpoints, db: AsyncDatabase[dict[str, Any]]
) -> None:
    suffix = str(ULID()).lower()
    topic, group = f"it.dlq.{suffix}", f"it-dlq-{suffix}"
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(topic, 2), TopicSpec(dlq(group), 1)])
    broken = {"C-BAD"}  # the handler's bug: it cannot take this complaint yet

    async def build(infra: Infra) -> BatchHandler:
        async def handle(batch: list[Envelope]) -> list[Rejected]:
            good = [e for e in batch if e.complaint_id not in broken]
            for e in good:  # idempotent: one document per event, counting how often it was applied
                await infra.db["applied"].update_one({"_id": e.event_id}, {"$inc": {"n": 1}}, upsert=True)
            return [Rejected(e, "kategori tidak dikenal (bug)") for e in batch if e.complaint_id in broken]

        return handle

    settings = Settings(endpoints, db.name)
    app = web.Application()
    with_consumers(app, settings, [ConsumerSpec(group, [topic], build)])
    events = [_event("C-1"), _event("C-BAD"), _event("C-2")]
    producer = durable_producer(endpoints.kafka_bootstrap)
    await producer.start()
    try:
        await publish(producer, [Outgoing.of(topic, e.complaint_id or "", e) for e in events])
    finally:
        await producer.stop()

    server = TestServer(app)
    await server.start_server()
    try:
        await eventually(lambda: _count(db, 2), what="the two good events applied")
        dead = await eventually(lambda: read_letters(endpoints.kafka_bootstrap, group), what="a dead letter")
    finally:
        await server.close()  # the group's consumer stops: only the replay can apply it now
    [letter] = dead
    assert letter.envelope() == events[1] and letter.reason == "kategori tidak dikenal (bug)"
    assert letter.headers["dlq.topic"] == topic and letter.headers["dlq.group"] == group
    assert letter.headers["dlq.attempts"] == "1" and letter.origin.startswith(f"{topic}/")

    # Still broken: the replay hands it over, the handler refuses again, nothing is recorded.
    first = await replay_group(app, settings, group)
    assert first.refused == [(letter.key, "kategori tidak dikenal (bug)")] and first.replayed == []
    broken.clear()  # the fix
    second = await replay_group(app, settings, group, [letter.offset])
    assert second.replayed == [letter.key]
    third = await replay_group(app, settings, group)
    assert third.skipped == [letter.key] and third.replayed == []
    applied = {d["_id"]: d["n"] async for d in db["applied"].find()}
    assert applied == {e.event_id: 1 for e in events}  # each once; the good ones not again
    assert await _topic_size(endpoints, topic) == 3  # nothing went back onto the topic


async def test_the_cli_lists_the_dead_letters(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    group = f"it-dlq-cli-{str(ULID()).lower()}"
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(dlq(group), 1)])
    producer = durable_producer(endpoints.kafka_bootstrap)
    await producer.start()
    try:
        headers = [("dlq.reason", b"not JSON"), ("dlq.topic", b"complaints.events"), ("dlq.partition", b"4"),
                   ("dlq.offset", b"17"), ("dlq.attempts", b"1"), ("dlq.group", group.encode())]  # fmt: skip
        await producer.send_and_wait(dlq(group), value=b"{broken", headers=headers)
    finally:
        await producer.stop()
    monkeypatch.setenv("KAFKA_BOOTSTRAP", endpoints.kafka_bootstrap)
    assert await ops.dlq_list([group]) == 1
    out = capsys.readouterr().out
    assert f"{dlq(group)}: 1 dead letter(s)" in out and "complaints.events/4@17" in out and "not JSON" in out
    assert await ops.dlq_show(group, 0) == 0
    assert "dlq.reason: not JSON" in capsys.readouterr().out


async def _count(db: AsyncDatabase[dict[str, Any]], n: int) -> bool:
    return await db["applied"].count_documents({}) >= n


async def _topic_size(endpoints: Endpoints, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=endpoints.kafka_bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(2)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


@pytest.mark.parametrize("group", GROUPS)
async def test_every_group_replays_into_its_own_services_handler(
    group: str, endpoints: Endpoints, db_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's way: the group's service app, its consumer's handler built for a replay (no
    background task finishes deferred work), its dead letters handed over (none here)."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP", endpoints.kafka_bootstrap)
    monkeypatch.setenv("MONGO_URI", endpoints.mongo_uri)
    for prefix in ("INTAKE", "ROUTING", "SLA"):
        monkeypatch.setenv(f"{prefix}_MONGO_DB", f"{db_prefix}{prefix.lower()}")
    app, settings = ops._service_app(group)
    assert group in {spec.group for spec in app[CONSUMER_SPECS]}
    try:
        result = await replay_group(app, settings, group)
        assert result.skipped == []  # a fresh database: nothing was replayed into it before
        if ROUTING in app:
            delivery = app[ROUTING].delivery
            assert isinstance(delivery, OutboxDelivery) and delivery.finish_later is False
    finally:
        client = mongo_client(endpoints.mongo_uri)
        await client.drop_database(settings.mongo_db)
        await client.close()
