"""A producer stuck for good is replaced (shared.kafka.Producer): once the real broker refuses a
send with OutOfOrderSequenceNumber (its sequence numbers and the producer's out of step, as after
a broker outage: aio-libs/aiokafka#1017), aiokafka's idempotent producer refuses every later send
too; the service's producer is replaced, so the next publish goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from devtools.infra import Endpoints
from shared.envelope import new_event
from shared.events import ComplaintTriaged
from shared.faults import is_transient
from shared.kafka import STUCK_PRODUCER_ERRORS, Outgoing, Producer, durable_producer, key_partitioner, publish
from shared.topics import COMPLAINTS_EVENTS, TOPICS
from tests.topics import messages_for

pytestmark = pytest.mark.integration


def _message(key: str, n: int) -> Outgoing:
    event = new_event(
        ComplaintTriaged(pemda="33.74", category=None, rule="uncategorised", reason=f"#{n}"),
        producer="test",
        complaint_id=key,
        seq=n,
    )
    return Outgoing.of(COMPLAINTS_EVENTS, key, event)


def _desync(producer: AIOKafkaProducer, key: str) -> None:
    """Put the producer's sequence number for the key's partition out of step with the broker's."""
    partitions = next(t.partitions for t in TOPICS if t.name == COMPLAINTS_EVENTS)
    partition = key_partitioner(key.encode(), list(range(partitions)), list(range(partitions)))
    producer._txn_manager.increment_sequence_number(TopicPartition(COMPLAINTS_EVENTS, partition), 5)


async def _refused(send: Callable[[], Awaitable[None]]) -> BaseException:
    with pytest.raises(KafkaError) as refused:
        await send()
    return refused.value


async def test_a_stuck_producer_is_replaced_and_the_next_publish_goes_through(endpoints: Endpoints) -> None:
    key = "RENEW-1"
    producer = Producer(lambda: durable_producer(endpoints.kafka_bootstrap, request_timeout_ms=5000))
    await producer.start()
    try:
        await publish(producer, [_message(key, 1)])
        _desync(producer._current, key)

        failure = await _refused(lambda: publish(producer, [_message(key, 2)]))
        assert isinstance(failure, STUCK_PRODUCER_ERRORS) and is_transient(failure)  # the batch is retried
        assert producer.renewals == 1

        await publish(producer, [_message(key, 2)])  # the retry, by the new producer
    finally:
        await producer.stop()
    assert [e.seq for e in await messages_for(endpoints.kafka_bootstrap, COMPLAINTS_EVENTS, key)] == [1, 2]


async def test_without_replacing_it_the_stuck_producer_refuses_every_send(endpoints: Endpoints) -> None:
    """What the replacement is for: aiokafka's producer alone stays stuck."""
    key = "RENEW-2"
    plain = durable_producer(endpoints.kafka_bootstrap, request_timeout_ms=5000)
    await plain.start()
    try:
        await publish(plain, [_message(key, 1)])
        _desync(plain, key)
        assert isinstance(await _refused(lambda: publish(plain, [_message(key, 2)])), STUCK_PRODUCER_ERRORS)
        assert isinstance(await _refused(lambda: publish(plain, [_message(key, 2)])), KafkaError)
    finally:
        await plain.stop()
