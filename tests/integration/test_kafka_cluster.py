"""The 3-broker KRaft cluster `make run BROKERS=3` starts (devtools/infra.py), in a form short
enough for every `make test`: the project's topics created on it with replication factor 3 and
min.insync.replicas 2 pass the services' start-up check; a producer publishing as the services do
(idempotent, acks=all, `shared.kafka.Producer`) goes on while one broker is SIGKILLed; the broker
started again on its data rejoins every partition's in-sync replicas; every message acknowledged
before, during and after is on the topic exactly once.

With the services on top (nothing lost, doubled or stuck; submits accepted while the broker is
down): tests/e2e/test_scale.py, which takes longer (README, "Two of each")."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.chaos import in_sync_everywhere
from devtools import infra
from devtools.stack import cluster_layout
from shared.envelope import decode, new_event
from shared.events import ComplaintTriaged
from shared.kafka import Outgoing, Producer, durable_producer, ensure_topics, publish, topic_problems
from shared.topics import COMPLAINTS_EVENTS, TOPICS
from tests.waiting import eventually

pytestmark = pytest.mark.integration

BROKERS = 3


def cluster_ports() -> infra.Ports:
    """Beside the slot's own stack (and the e2e tier's at +50, +60, +70)."""
    base = infra.test_ports()
    return infra.Ports(
        kafka=base.kafka + 80, kafka_controller=base.kafka_controller + 80, mongo=base.mongo + 80
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, str]]:
    """(profile, bootstrap) of a fresh 3-broker cluster (and its idle database server)."""
    profile = f"{infra.test_profile()}-brokers"
    with infra.native_stack(profile, cluster_ports(), fresh=True, brokers=BROKERS) as ends:
        yield profile, ends.kafka_bootstrap


def _message(n: int) -> Outgoing:
    event = new_event(
        ComplaintTriaged(pemda="33.74", category=None, rule="uncategorised", reason=f"#{n}"),
        producer="test",
        complaint_id=f"CLUSTER-{n}",
        seq=1,
    )
    return Outgoing.of(COMPLAINTS_EVENTS, event.complaint_id or "", event)


def _count(acked: list[int], at_least: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return len(acked) >= at_least

    return probe


def _gone(server: infra.Server) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return not server.alive()

    return probe


def _rejoined(bootstrap: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return await in_sync_everywhere(bootstrap, BROKERS)

    return probe


async def test_one_broker_killed_loses_no_acknowledged_message_and_rejoins(cluster: tuple[str, str]) -> None:
    profile, bootstrap = cluster
    layout = cluster_layout(BROKERS)
    await ensure_topics(bootstrap, layout=layout)
    assert await topic_problems(bootstrap, layout=layout) == []  # what each service checks at start-up
    assert (layout.replication_factor, layout.min_insync_replicas) == (3, 2)

    producer = Producer(lambda: durable_producer(bootstrap, request_timeout_ms=5000))
    await producer.start()
    acked: list[int] = []
    stop = asyncio.Event()

    async def load() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            await publish(producer, [_message(n)])  # raises if a publish fails: the test fails
            acked.append(n)
            await asyncio.sleep(0.01)  # a steady trickle, as submits arrive

    loading = asyncio.create_task(load())
    started = time.monotonic()
    try:
        await eventually(_count(acked, 50), within=60, what="messages acknowledged by the cluster")
        broker = infra.kafka_server(profile, 2)
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGKILL)
        await eventually(_gone(broker), what="the broker gone")
        down_from, killed = len(acked), time.monotonic()
        # Two replicas of three in sync: acks=all still succeeds.
        await eventually(_count(acked, down_from + 100), within=90, what="publishing with a broker down")
        carried_on = time.monotonic()
        infra.start_kafka(profile, cluster_ports(), "384m", node=2, brokers=BROKERS)  # on its data
        await eventually(_rejoined(bootstrap), within=150, what="the broker back in every ISR")
        print(
            f"killed after {killed - started:.1f} s; 100 more acknowledged in {carried_on - killed:.1f} s"
            f" with it down; back in every ISR {time.monotonic() - carried_on:.1f} s after its restart;"
            f" {len(acked)} acknowledged in all"
        )
        stop.set()
        await loading
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await loading
        await producer.stop()

    on_topic = await _cluster_messages(bootstrap)
    assert set(on_topic) >= set(acked)  # nothing acknowledged was lost
    assert max(on_topic.values()) == 1  # nor written twice (the idempotent producer)


async def _cluster_messages(bootstrap: str) -> collections.Counter[int]:
    """How many times each CLUSTER-n message is on complaints.events."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    seen: collections.Counter[int] = collections.Counter()
    try:
        count = next(s.partitions for s in TOPICS if s.name == COMPLAINTS_EVENTS)
        partitions = [TopicPartition(COMPLAINTS_EVENTS, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                for records in (await consumer.getmany(tp, timeout_ms=500)).values():
                    for record in records:
                        complaint = decode(record.value or b"").complaint_id or ""
                        if complaint.startswith("CLUSTER-"):
                            seen[int(complaint.removeprefix("CLUSTER-"))] += 1
    finally:
        await consumer.stop()
    return seen
