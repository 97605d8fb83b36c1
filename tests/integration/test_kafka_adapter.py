"""shared.kafka against the real broker: durable publish, batch consume, commit after handling,
dead-lettering with the reason, and retry (no commit) when the handler fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from pymongo import AsyncMongoClient, WriteConcern
from ulid import ULID

import shared.kafka
import shared.runtime
from devtools.infra import Endpoints
from shared.envelope import Envelope, new_event
from shared.events import ComplaintTriaged
from shared.kafka import (
    BatchConsumer,
    Outgoing,
    Rejected,
    TopicLayoutError,
    durable_producer,
    ensure_topics,
    publish,
    topic_problems,
)
from shared.mongo import mongo_client
from shared.runtime import Health, _background, running
from shared.settings import KafkaLayoutSettings
from shared.topics import KEEP_FOREVER, TOPICS, TopicSpec, dlq
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def producer(endpoints: Endpoints) -> AsyncIterator[AIOKafkaProducer]:
    p = durable_producer(endpoints.kafka_bootstrap)
    await p.start()
    yield p
    await p.stop()


async def _topic_and_group(endpoints: Endpoints) -> tuple[str, str]:
    suffix = str(ULID()).lower()
    topic, group = f"it.{suffix}", f"it-{suffix}"
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(topic, 3), TopicSpec(dlq(group), 1)])
    return topic, group


def _event(n: int) -> Envelope:
    return new_event(
        ComplaintTriaged(pemda="33.74", category=None, rule="uncategorised", reason=f"#{n}"),
        producer="test",
        complaint_id=f"C{n}",
        seq=2,
    )


async def _dlq_messages(endpoints: Endpoints, group: str, count: int) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        dlq(group), bootstrap_servers=endpoints.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        async with asyncio.timeout(20):
            while len(found) < count:
                for msgs in (await consumer.getmany(timeout_ms=200)).values():
                    found += [(m.value or b"", dict(m.headers)) for m in msgs]
    finally:
        await consumer.stop()
    return found


async def test_consumer_handles_good_messages_dead_letters_bad_ones_and_carries_on(
    endpoints: Endpoints, producer: AIOKafkaProducer
) -> None:
    topic, group = await _topic_and_group(endpoints)
    seen: list[str] = []

    async def handler(batch: list[Envelope]) -> list[Rejected]:
        seen.extend(e.complaint_id or "" for e in batch)
        return [Rejected(e, "refused by handler") for e in batch if e.complaint_id == "C2"]

    await publish(
        producer,
        [
            Outgoing.of(topic, "C1", _event(1)),
            Outgoing(topic, "C1", b"{not json"),
            Outgoing.of(topic, "C1", _event(2)),
            Outgoing.of(topic, "C1", _event(3)),
        ],
    )
    consumer = BatchConsumer(
        bootstrap=endpoints.kafka_bootstrap, group=group, topics=[topic], handler=handler, producer=producer
    )
    async with running(consumer, "it-consumer"):
        await eventually(lambda: _done(seen, 3), what="three good messages handled")
        dead = await _dlq_messages(endpoints, group, 2)
    assert seen == ["C1", "C2", "C3"]  # order within the key's partition, the bad one skipped
    reasons = sorted(h["dlq.reason"].decode() for _, h in dead)
    assert reasons[0].startswith("not JSON") and reasons[1] == "refused by handler"
    # Each dead letter says where it was read, after how many attempts, by which group.
    where = sorted((h["dlq.topic"], int(h["dlq.partition"]), int(h["dlq.offset"])) for _, h in dead)
    partition = where[0][1]
    assert where == [(topic.encode(), partition, 1), (topic.encode(), partition, 2)]
    assert {(h["dlq.attempts"], h["dlq.group"]) for _, h in dead} == {(b"1", group.encode())}


async def _done(seen: list[str], n: int) -> bool:
    return len(seen) >= n


async def test_offsets_are_committed_only_after_the_handler_succeeds(
    endpoints: Endpoints, producer: AIOKafkaProducer
) -> None:
    topic, group = await _topic_and_group(endpoints)
    attempts: list[int] = []
    handled: list[str] = []

    async def flaky(batch: list[Envelope]) -> list[Rejected]:
        attempts.append(len(batch))
        if len(attempts) < 3:
            raise ConnectionError("database unavailable")
        handled.extend(e.complaint_id or "" for e in batch)
        return []

    await publish(producer, [Outgoing.of(topic, "K", _event(n)) for n in range(5)])
    first = BatchConsumer(
        bootstrap=endpoints.kafka_bootstrap, group=group, topics=[topic], handler=flaky, producer=producer
    )
    async with running(first, "it-consumer"):
        await eventually(lambda: _done(handled, 5), what="the batch handled after two failures")
    assert len(attempts) >= 3 and handled == [f"C{n}" for n in range(5)]

    # A restarted member of the group resumes after the committed offsets: nothing comes again.
    await publish(producer, [Outgoing.of(topic, "K", _event(99))])
    again: list[str] = []

    async def record(batch: list[Envelope]) -> list[Rejected]:
        again.extend(e.complaint_id or "" for e in batch)
        return []

    second = BatchConsumer(
        bootstrap=endpoints.kafka_bootstrap, group=group, topics=[topic], handler=record, producer=producer
    )
    async with running(second, "it-consumer"):
        await eventually(lambda: _done(again, 1), what="the new message after restart")
    assert again == ["C99"]


async def test_a_consumer_with_nothing_new_commits_what_it_has_handled(
    endpoints: Endpoints, producer: AIOKafkaProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offsets are committed at most every COMMIT_EVERY_S while busy; once the consumer runs out of
    messages it commits at once (here the interval is an hour: only the idle commit can do it)."""
    monkeypatch.setattr(shared.kafka, "COMMIT_EVERY_S", 3600.0)
    topic, group = await _topic_and_group(endpoints)
    handled: list[str] = []

    async def record(batch: list[Envelope]) -> list[Rejected]:
        handled.extend(e.complaint_id or "" for e in batch)
        return []

    await publish(producer, [Outgoing.of(topic, f"K{n}", _event(n)) for n in range(6)])
    consumer = BatchConsumer(
        bootstrap=endpoints.kafka_bootstrap, group=group, topics=[topic], handler=record, producer=producer
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()

    async def committed() -> int:
        offsets = await admin.list_consumer_group_offsets(group)
        return sum(meta.offset for meta in offsets.values() if meta.offset > 0)

    try:
        async with running(consumer, "it-consumer"):
            await eventually(lambda: _done(handled, 6), what="six messages handled")
            await eventually(lambda: _equals(committed, 6), what="all six committed while still running")
    finally:
        await admin.close()
    assert sorted(handled) == [f"C{n}" for n in range(6)]


async def _equals(read: Callable[[], Awaitable[int]], expected: int) -> bool:
    return await read() == expected


async def test_an_infrastructure_fault_of_the_database_pauses_the_consumer_and_loses_nothing(
    endpoints: Endpoints, producer: AIOKafkaProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write concern the real database cannot meet (an operation failure, not a lost connection)
    is the infrastructure's fault: the consumer retries the batch, says it is stalled, dead-letters
    nothing, and applies it once the fault is fixed. Before, after three tries the batch went to
    the dead-letter topic and was committed: accepted complaints silently dropped."""
    monkeypatch.setattr(shared.runtime, "STALL_GRACE_S", 0.0)
    topic, group = await _topic_and_group(endpoints)
    client: AsyncMongoClient[dict[str, Any]] = mongo_client(endpoints.mongo_uri)
    collection = client[f"it_{group.replace('-', '_')}"]["applied"]
    concern = {"w": 2}  # a single-node server cannot meet it: UnsatisfiableWriteConcern (code 100)
    attempts: list[int] = []

    async def store(batch: list[Envelope]) -> list[Rejected]:
        attempts.append(len(batch))
        writer = collection.with_options(write_concern=WriteConcern(**concern))  # type: ignore[arg-type]
        for e in batch:
            await writer.update_one({"_id": e.event_id}, {"$set": {"c": e.complaint_id}}, upsert=True)
        return []

    await publish(producer, [Outgoing.of(topic, "K", _event(n)) for n in range(3)])
    consumer = BatchConsumer(
        bootstrap=endpoints.kafka_bootstrap, group=group, topics=[topic], handler=store, producer=producer
    )
    health = Health(consumers=[consumer])
    try:
        async with running(consumer, "it-consumer", health):
            retries = shared.kafka.MAX_HANDLER_FAILURES + 2
            await eventually(lambda: _done_n(attempts, retries), what="retries past the old limit")
            assert consumer.stalled is not None and "Not enough data-bearing nodes" in consumer.stalled[1]
            assert health.checks() == {"consumers": False, "tasks": True, "topics": True}
            concern["w"] = 1  # the operator fixes the replica set
            await eventually(lambda: _count(collection, 3), what="the batch applied after the fix")
            assert consumer.stalled is None and health.checks() == {
                "consumers": True,
                "tasks": True,
                "topics": True,
            }
        assert await _dlq_count(endpoints, group) == 0
    finally:
        await client.drop_database(collection.database.name)
        await client.close()


async def _done_n(items: list[int], n: int) -> bool:
    return len(items) >= n


async def _count(collection: Any, n: int) -> bool:
    return int(await collection.count_documents({})) == n


async def _dlq_count(endpoints: Endpoints, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    await probe.start()
    try:
        ends = await probe.end_offsets([TopicPartition(dlq(group), 0)])
        return sum(ends.values())
    finally:
        await probe.stop()
        await admin.close()


async def test_a_background_task_that_dies_turns_readiness_off_and_asks_for_a_restart() -> None:
    stopped: list[str] = []
    health = Health(on_dead=stopped.append)

    async def broken() -> None:
        raise RuntimeError("a bug")

    async def finished() -> None:
        return None  # a catch-up that completes is not dead

    async with _background(finished(), "catch-up", health), _background(broken(), "detector", health):
        await eventually(lambda: _done_n(stopped, 1), what="the dead task reported")  # type: ignore[arg-type]
    assert stopped == ["detector"] and health.dead == ["detector"]
    assert health.checks() == {"consumers": True, "tasks": False, "topics": True}


async def test_an_event_topic_that_would_forget_is_found_and_corrected(endpoints: Endpoints) -> None:
    """A topic created elsewhere with a broker's usual 7-day retention: a replay after a week would
    silently miss events. The start-up check names it; ensure_topics (make run, the init job)
    corrects it; the project's own event topics keep everything."""
    name = f"it.retention.{str(ULID()).lower()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        # A week's retention, and a setting of the operator's own that the correction must keep.
        week = {"retention.ms": str(7 * 86400 * 1000), "max.message.bytes": "2000000"}
        created = await admin.create_topics([NewTopic(name, 1, 1, topic_configs=week)])
        assert [error for _, error, *_ in created.topic_errors] == [0], created
    finally:
        await admin.close()
    spec = TopicSpec(name, 1, KEEP_FOREVER)

    async def listed() -> list[str]:  # a new topic reaches the brokers' metadata a moment later
        problems = await topic_problems(endpoints.kafka_bootstrap, [spec])
        return [] if problems == [f"topic {name} is missing"] else problems

    assert await eventually(listed, what="the topic listed") == [
        f"topic {name} needs {{'min.insync.replicas': '1', 'retention.ms': '-1', 'retention.bytes': '-1'}}"
    ]
    assert await ensure_topics(endpoints.kafka_bootstrap, [spec]) == []  # existed: corrected, not created
    assert await topic_problems(endpoints.kafka_bootstrap, [spec]) == []
    kept = await _topic_config(endpoints, name)
    assert (kept["max.message.bytes"], kept["retention.ms"]) == ("2000000", "-1")
    assert await topic_problems(endpoints.kafka_bootstrap, [s for s in TOPICS if s.config]) == []


async def test_a_topic_with_another_partition_count_is_refused_never_altered(endpoints: Endpoints) -> None:
    """A complaint-keyed topic created elsewhere with 3 partitions where the project needs 6: its
    events would no longer share a partition number with the same complaint's other events. The
    start-up check and ensure_topics (make run, the init job) refuse it, naming the topic, what it
    has and what the project needs, and leave it as it is; the right count passes."""
    wrong, right = f"it.layout.{str(ULID()).lower()}", f"it.layout.{str(ULID()).lower()}"
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        created = await admin.create_topics([NewTopic(wrong, 3, 1), NewTopic(right, 6, 1)])
        assert [error for _, error, *_ in created.topic_errors] == [0, 0], created
    finally:
        await admin.close()
    specs = [TopicSpec(wrong, 6), TopicSpec(right, 6)]
    needed = (
        f"topic {wrong} has 3 partitions and replication factor 1; "
        "the project needs 6 partitions and replication factor 1."
    )

    [problem] = await _listed_problems(endpoints, specs)
    assert problem.startswith(needed) and "co-partitioned" in problem, problem
    with pytest.raises(TopicLayoutError) as refused:
        await ensure_topics(endpoints.kafka_bootstrap, specs)
    assert refused.value.problems == [problem]
    assert await _partition_count(endpoints, wrong) == 3  # not altered
    assert await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(right, 6)]) == []
    assert await topic_problems(endpoints.kafka_bootstrap, [TopicSpec(right, 6)]) == []


async def test_a_topic_with_another_replication_factor_is_refused(endpoints: Endpoints) -> None:
    """KAFKA_REPLICATION_FACTOR=3 (production) against a topic with one replica: named, refused."""
    name = f"it.layout.{str(ULID()).lower()}"
    assert await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(name, 1)]) == [name]
    production = KafkaLayoutSettings(replication_factor=3, min_insync_replicas=2)
    problems = await _listed_problems(endpoints, [TopicSpec(name, 1)], production)
    assert problems[0].startswith(
        f"topic {name} has 1 partitions and replication factor 1; "
        "the project needs 1 partitions and replication factor 3."
    ), problems
    with pytest.raises(TopicLayoutError):
        await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(name, 1)], production)


async def _listed_problems(
    endpoints: Endpoints, specs: list[TopicSpec], layout: KafkaLayoutSettings | None = None
) -> list[str]:
    """topic_problems once the new topics are in the broker's metadata (a moment after creation)."""

    async def listed() -> list[str]:
        problems = await topic_problems(endpoints.kafka_bootstrap, specs, layout)
        return [] if any(p.endswith("is missing") for p in problems) else problems

    return await eventually(listed, what="the topics listed")


async def _partition_count(endpoints: Endpoints, name: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        [topic] = await admin.describe_topics([name])
        return len(topic["partitions"])
    finally:
        await admin.close()


async def _topic_config(endpoints: Endpoints, name: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=endpoints.kafka_bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        [(_code, _message, _type, _name, entries)] = response.resources
        return {entry[0]: entry[1] for entry in entries}
    finally:
        await admin.close()
