"""`pengaduan status`'s consumer groups against the real broker: a group's lag is what it has not
committed on its topics (all of it for a group that never committed), its dead letters what waits
on `<group>.dlq`; a broker that does not answer is said so."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from ulid import ULID

from devtools import ops
from devtools.infra import Endpoints
from shared.kafka import durable_producer, ensure_topics
from shared.topics import TopicSpec, dlq

pytestmark = pytest.mark.integration


async def test_each_group_shows_its_lag_and_its_dead_letters(endpoints: Endpoints) -> None:
    run = str(ULID()).lower()
    topic, group, idle = f"status-{run}", f"status-group-{run}", f"status-idle-{run}"
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(topic, 2), TopicSpec(dlq(group), 1)])
    producer = durable_producer(endpoints.kafka_bootstrap)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, b"m", partition=n % 2)
        for _ in range(2):
            await producer.send_and_wait(dlq(group), b"dead")
    finally:
        await producer.stop()
    committer = AIOKafkaConsumer(
        bootstrap_servers=endpoints.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await committer.start()
    try:
        first, second = TopicPartition(topic, 0), TopicPartition(topic, 1)
        committer.assign([first, second])
        ends = await committer.end_offsets([first, second])
        await committer.commit({first: OffsetAndMetadata(2, "")})  # partition 1: never committed
    finally:
        await committer.stop()
    assert sum(ends.values()) == 5

    lags = await ops.consumer_lag(endpoints.kafka_bootstrap, {group: (topic,), idle: (topic,)})

    assert lags == {group: (ends[first] - 2 + ends[second], 2), idle: (5, 0)}
    shown = ops.render_groups(lags)
    assert f"dead letters wait in {dlq(group)}" in shown and idle in shown


async def test_a_broker_that_does_not_answer_is_said_so() -> None:
    assert await ops.consumer_lag("127.0.0.1:9", {"g": ("t",)}) is None
    assert "Kafka does not answer" in ops.render_groups(None)
