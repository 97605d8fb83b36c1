"""The outbox relay against a real broker and database: a document whose message Kafka refuses
for what it is (larger than the topic takes) is set aside, marked and counted for the operator,
and the relay goes on publishing the others; a bug still ends the relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools import ops
from devtools.infra import Endpoints
from shared import clock, outbox
from shared.kafka import Outgoing, durable_producer, ensure_topics, publish
from shared.mongo import mongo_client
from shared.topics import TopicSpec
from tests.waiting import eventually

pytestmark = pytest.mark.integration

MAX_MESSAGE_BYTES = 4096


@pytest.fixture
async def db(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client = mongo_client(endpoints.mongo_uri)
    yield client[f"{db_prefix}outbox"]
    await client.drop_database(f"{db_prefix}outbox")
    await client.close()


async def _stage(db: AsyncDatabase[dict[str, Any]], doc_id: str, message: Outgoing) -> None:
    doc: dict[str, Any] = {"_id": doc_id}
    outbox.stage(doc, [message])
    await db["commands"].insert_one(doc)


async def _on_topic(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        values: list[bytes] = []
        while await consumer.position(tp) < end:
            for messages in (await consumer.getmany(tp, timeout_ms=500)).values():
                values += [m.value or b"" for m in messages if m.offset < end]
        return values
    finally:
        await consumer.stop()


async def test_a_message_kafka_refuses_is_set_aside_counted_and_the_relay_goes_on(
    endpoints: Endpoints, db: AsyncDatabase[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    topic = f"it.outbox.{str(ULID()).lower()}"
    await ensure_topics(bootstrap, [TopicSpec(topic, 1, (("max.message.bytes", str(MAX_MESSAGE_BYTES)),))])
    collection = db["commands"]
    await outbox.ensure_outbox_index(collection)
    # Staged first (oldest): a message larger than the topic takes; then an ordinary one.
    await _stage(db, "big", Outgoing(topic, "k", b"x" * (4 * MAX_MESSAGE_BYTES)))
    await _stage(db, "normal", Outgoing(topic, "k", b"normal"))
    producer = durable_producer(bootstrap)
    await producer.start()

    async def send(messages: Sequence[Outgoing]) -> None:
        await publish(producer, messages)

    relay = asyncio.create_task(outbox.run_relay(collection, send, older_than=timedelta(0), every=0.1))
    try:

        async def relayed() -> bool:
            if relay.done():  # it died: the failure is the test's answer
                relay.result()
            normal = await collection.find_one({"_id": "normal"})
            big = await collection.find_one({"_id": "big"})
            return bool(normal and normal["outbox"] == [] and big and big.get("outbox_refused"))

        await eventually(relayed, within=60, what="the normal outbox published, the big one set aside")
        big = await collection.find_one({"_id": "big"})
        assert big is not None and big["outbox_since"] is None  # out of the relay's query
        assert "MessageSizeTooLarge" in big["outbox_refused"]["reason"]
        assert len(big["outbox"]) == 1  # its message kept for the operator
        assert b"normal" in await _on_topic(bootstrap, topic)

        # The relay goes on: a later outbox is published too.
        await _stage(db, "later", Outgoing(topic, "k", b"later"))

        async def later_published() -> bool:
            if relay.done():
                relay.result()
            later = await collection.find_one({"_id": "later"})
            return bool(later and later["outbox"] == [])

        await eventually(later_published, within=60, what="a later outbox published")
        assert not relay.done()
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await producer.stop()

    # `pengaduan status` counts it (intake's database: here this test's).
    monkeypatch.setenv("MONGO_URI", endpoints.mongo_uri)
    monkeypatch.setenv("INTAKE_MONGO_DB", db.name)
    assert await ops.refused_outboxes() == (1, ["commands/big"])
    # And sla's, in its clocks documents (here in this test's database too).
    monkeypatch.setenv("SLA_MONGO_DB", db.name)
    assert await ops.refused_outboxes("sla") == (0, [])
    await db["complaint_clocks"].insert_one({"_id": "C9", "outbox_refused": {"at": clock.wall()}})
    assert await ops.refused_outboxes("sla") == (1, ["complaint_clocks/C9"])
    assert b"x" * 100 not in b"".join(await _on_topic(bootstrap, topic))


async def test_a_bug_still_ends_the_relay(db: AsyncDatabase[dict[str, Any]]) -> None:
    await _stage(db, "one", Outgoing("it.outbox.unused", "k", b"one"))

    async def broken(messages: Sequence[Outgoing]) -> None:
        raise TypeError("a bug")

    with pytest.raises(TypeError):
        await outbox.run_relay(db["commands"], broken, older_than=timedelta(0), every=0.1)
    one = await db["commands"].find_one({"_id": "one"})
    assert one is not None and one["outbox_since"] is not None and "outbox_refused" not in one
