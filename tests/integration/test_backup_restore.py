"""`pengaduan backup` / `restore` (devtools/backup.py) against real servers: the test broker and
database as the source, a second, empty Kafka broker started here as the restore target.

A round trip gives the same documents (BSON types kept), the same indexes, every partition's
messages in order with their keys, values and headers, and each group resuming at the same
message; a restore refuses a database or a topic that already holds data, naming it."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from bson import Binary
from pymongo import ASCENDING, AsyncMongoClient

from devtools import backup, infra, ops
from devtools.backup import BackupError, Database, group_offsets
from shared.kafka import ensure_topics
from shared.topics import TopicSpec

pytestmark = pytest.mark.integration

SERVICES = ("intake", "routing", "sla")


@pytest.fixture(scope="module")
def empty_kafka() -> Iterator[str]:
    """A second broker, empty, on ports of this test slot's own."""
    slot = infra.test_slot()
    ports = infra.Ports(kafka=29150 + 100 * slot, kafka_controller=29151 + 100 * slot, mongo=0)
    profile = f"restore{slot}"
    shutil.rmtree(infra.run_dir(profile) / "kafka", ignore_errors=True)
    server = infra.start_kafka(profile, ports, heap="512m")
    bootstrap = f"127.0.0.1:{ports.kafka}"
    try:
        asyncio.run(infra.wait_kafka(bootstrap, server))
        yield bootstrap
    finally:
        server.stop()
        shutil.rmtree(infra.run_dir(profile), ignore_errors=True)


@pytest.fixture
async def mongo(endpoints: infra.Endpoints) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(endpoints.mongo_uri, tz_aware=True)
    yield client
    await client.close()


def _databases(endpoints: infra.Endpoints, prefix: str) -> list[Database]:
    return [Database(service, endpoints.mongo_uri, f"{prefix}{service}") for service in SERVICES]


async def _seed(client: AsyncMongoClient[dict[str, Any]], prefix: str) -> None:
    at = datetime(2026, 6, 13, 3, 0, 0, 123000, tzinfo=UTC)
    intake = client[f"{prefix}intake"]
    await intake["complaints"].insert_many(
        [
            {
                "_id": f"01C{i:05d}",
                "title": f"Jalan rusak {i}",
                "submitted_at": at,
                "seq": i,
                "tags": ["a", {"b": i}],
            }
            for i in range(2500)  # more than one batch
        ]
    )
    await intake["complaints"].create_index([("submitted_at", ASCENDING), ("seq", ASCENDING)], name="by_time")
    await intake["keys"].create_index(
        "key", unique=True, partialFilterExpression={"key": {"$type": "string"}}
    )
    await intake["keys"].insert_one({"_id": "k1", "key": "abc", "sealed": Binary(b"\x00\x01secret")})
    await client[f"{prefix}routing"]["complaints"].insert_one(
        {"_id": "r1", "opd": "33.74/dinas-pupr", "at": at}
    )
    await client[f"{prefix}sla"]["clocks"].insert_one({"_id": "s1", "due": at, "parked": [b"\x00raw"]})


async def _documents(client: AsyncMongoClient[dict[str, Any]], prefix: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for service in SERVICES:
        db = client[f"{prefix}{service}"]
        for name in sorted(await db.list_collection_names()):
            docs = await db[name].find().sort("_id", ASCENDING).to_list()
            indexes = {
                k: {o: v for o, v in spec.items() if o not in ("ns", "v")}
                for k, spec in (await db[name].index_information()).items()
            }
            found[f"{service}.{name}"] = (docs, indexes)
    return found


async def _source_topic(bootstrap: str, prefix: str) -> tuple[str, str]:
    """A topic of this test's own (3 partitions, keyed messages with headers, one transaction
    aborted: the offsets have gaps) and a group that has read part of it."""
    topic, group = f"{prefix}backup.events", f"{prefix}group"
    await ensure_topics(bootstrap, [TopicSpec(topic, 3)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"{prefix}tx")
    await producer.start()
    try:
        for round_ in range(2):
            async with producer.transaction():
                for i in range(300):
                    await producer.send(
                        topic,
                        f"v{round_}-{i}".encode(),
                        key=f"k{i % 17}".encode(),
                        headers=[("h", b"%d" % i)],
                    )
        await producer.begin_transaction()
        await producer.send(topic, b"aborted", key=b"k1")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"after the abort", key=b"k1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(partitions)
        await consumer.commit({partitions[0]: 40, partitions[1]: 0})  # partition 2: never read
    finally:
        await consumer.stop()
    return topic, group


async def _messages(bootstrap: str, topic: str) -> dict[TopicPartition, list[tuple[Any, ...]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed")
    await consumer.start()
    found: dict[TopicPartition, list[tuple[Any, ...]]] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            found[tp] = []
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                found[tp] += [
                    (m.offset, m.key, m.value, tuple(m.headers), m.timestamp)
                    for m in batch.get(tp, [])
                    if m.offset < ends[tp]
                ]
    finally:
        await consumer.stop()
    return found


async def _committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await group_offsets(admin, group)
    finally:
        await admin.close()


def _at(messages: list[tuple[Any, ...]], offset: int) -> tuple[Any, ...] | None:
    """The message (without its offset) a group resumes at, or None past the end."""
    later = [m[1:] for m in messages if m[0] >= offset]
    return later[0] if later else None


async def test_a_round_trip_gives_the_same_documents_messages_and_group_positions(
    endpoints: infra.Endpoints,
    empty_kafka: str,
    mongo: AsyncMongoClient[dict[str, Any]],
    db_prefix: str,
    tmp_path: Path,
) -> None:
    source, target = f"{db_prefix}src_", f"{db_prefix}dst_"
    await _seed(mongo, source)
    topic, group = await _source_topic(endpoints.kafka_bootstrap, db_prefix)
    before = await _documents(mongo, source)
    messages = await _messages(endpoints.kafka_bootstrap, topic)
    committed = await _committed(endpoints.kafka_bootstrap, group)
    assert sum(len(m) for m in messages.values()) == 601  # the aborted one is not a message

    manifest = await backup.backup(
        tmp_path / "b",
        _databases(endpoints, source),
        endpoints.kafka_bootstrap,
        topics=[topic],
        groups=[group],
    )
    assert manifest["databases"]["intake"]["complaints"] == 2500
    assert (tmp_path / "b").stat().st_mode & 0o777 == 0o700  # reporter identity inside
    assert manifest["topics"] == {topic: {"partitions": 3, "messages": 601}}
    await backup.restore(tmp_path / "b", _databases(endpoints, target), empty_kafka)

    assert await _documents(mongo, target) == before
    restored = await _messages(empty_kafka, topic)
    for tp, original in messages.items():
        assert [m[1:] for m in restored[tp]] == [m[1:] for m in original], tp
    now_committed = await _committed(empty_kafka, group)
    assert set(now_committed) == set(committed) and len(committed) == 2
    for tp, offset in committed.items():
        assert _at(restored[tp], now_committed[tp]) == _at(messages[tp], offset), tp


async def test_a_restore_refuses_data_it_would_overwrite_and_names_it(
    endpoints: infra.Endpoints,
    empty_kafka: str,
    mongo: AsyncMongoClient[dict[str, Any]],
    db_prefix: str,
    tmp_path: Path,
) -> None:
    await _seed(mongo, db_prefix)
    databases = _databases(endpoints, db_prefix)
    topic, group = await _source_topic(endpoints.kafka_bootstrap, db_prefix)
    await backup.backup(tmp_path / "b", databases, endpoints.kafka_bootstrap, topics=[topic], groups=[group])
    with pytest.raises(BackupError, match=r"already has documents in .*complaints.*--replace"):
        await backup.restore(tmp_path / "b", databases, empty_kafka, topics=False)
    with pytest.raises(BackupError, match=rf"topics already hold messages: {topic}"):
        await backup.restore(tmp_path / "b", databases, endpoints.kafka_bootstrap, replace=True)
    with pytest.raises(BackupError, match="not empty"):
        await backup.backup(tmp_path / "b", databases, endpoints.kafka_bootstrap, topics=None)
    # --replace drops what the backup has and writes it again: the same documents.
    await mongo[f"{db_prefix}intake"]["complaints"].delete_many({"seq": {"$lt": 100}})
    await backup.restore(tmp_path / "b", databases, empty_kafka, replace=True, topics=False)
    assert await mongo[f"{db_prefix}intake"]["complaints"].count_documents({}) == 2500


def test_the_command_line_backs_up_the_services_databases_and_says_what_it_did(
    endpoints: infra.Endpoints,
    db_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def seed() -> None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(endpoints.mongo_uri, tz_aware=True)
        await _seed(client, db_prefix)
        await client.close()

    asyncio.run(seed())
    monkeypatch.setenv("MONGO_URI", endpoints.mongo_uri)
    monkeypatch.setenv("KAFKA_BOOTSTRAP", endpoints.kafka_bootstrap)
    for service in SERVICES:
        monkeypatch.setenv(f"{service.upper()}_MONGO_DB", f"{db_prefix}{service}")
    assert ops.main(["backup", str(tmp_path / "b"), "--skip-topics"]) == 0
    assert "2503 documents of 3 databases" in capsys.readouterr().out
    assert ops.main(["restore", str(tmp_path / "b"), "--skip-topics"]) == 1
    assert "already has documents" in capsys.readouterr().err
