"""Reading a topic back in tests: what a real consumer would see, from the beginning to now."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.envelope import Envelope, decode
from shared.topics import TOPICS
from tests.waiting import eventually


async def messages_for(bootstrap: str, topic: str, key: str) -> list[Envelope]:
    """Every message on `topic` with this key, from the beginning up to the current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[Envelope] = []
    try:
        count = next(s.partitions for s in TOPICS if s.name == topic)
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                for msgs in (await consumer.getmany(tp, timeout_ms=500)).values():
                    found += [
                        decode(m.value or b"") for m in msgs if m.key == key.encode() and m.offset < ends[tp]
                    ]
    finally:
        await consumer.stop()
    return found


def partitions_of(*topics: str) -> list[TopicPartition]:
    counts = {spec.name: spec.partitions for spec in TOPICS}
    return [TopicPartition(topic, p) for topic in topics for p in range(counts[topic])]


async def ends_now(bootstrap: str, *topics: str) -> dict[TopicPartition, int]:
    """The current end offset of every partition of `topics`."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await probe.start()
    try:
        ends: dict[TopicPartition, int] = await probe.end_offsets(partitions_of(*topics))
        return ends
    finally:
        await probe.stop()


async def committed_through(bootstrap: str, group: str, ends: dict[TopicPartition, int]) -> bool:
    """Has consumer group `group` committed (handled) everything before these offsets?"""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return all(end == 0 or (tp in committed and committed[tp].offset >= end) for tp, end in ends.items())


async def published(
    bootstrap: str, topic: str, key: str, count: int = 1, within: float = 30
) -> list[Envelope]:
    """The messages with this key on `topic` once there are at least `count` (a service may publish
    after it answered: intake's `publish_soon`, a relay)."""

    async def enough() -> list[Envelope] | None:
        found = await messages_for(bootstrap, topic, key)
        return found if len(found) >= count else None

    return await eventually(enough, within=within, what=f"{count} message(s) keyed {key} on {topic}")
