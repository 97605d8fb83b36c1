"""A producer survives its broker being SIGKILLed and started again: publishing works again
within seconds of the broker's return (issue: broker restarts are survived)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Awaitable, Callable

import pytest
from aiokafka.errors import KafkaError

from devtools import infra
from shared.envelope import new_event
from shared.events import ComplaintTriaged
from shared.kafka import Outgoing, durable_producer, publish
from shared.topics import COMPLAINTS_EVENTS
from tests.integration.test_intake_durability import lone_kafka, lone_kafka_ports  # noqa: F401
from tests.topics import messages_for
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def _gone(server: infra.Server) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return not server.alive()

    return probe


def _message(n: int) -> Outgoing:
    event = new_event(
        ComplaintTriaged(pemda="33.74", category=None, rule="uncategorised", reason=f"#{n}"),
        producer="test",
        complaint_id=f"RESTART-{n}",
        seq=1,
    )
    return Outgoing.of(COMPLAINTS_EVENTS, event.complaint_id or "", event)


async def test_a_producer_publishes_again_after_the_broker_is_killed_and_restarted(
    lone_kafka: tuple[str, str, infra.Server],  # noqa: F811
) -> None:
    profile, bootstrap, kafka = lone_kafka
    producer = durable_producer(bootstrap, request_timeout_ms=3000)
    await producer.start()
    try:
        await publish(producer, [_message(1)])
        pid = kafka.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await eventually(_gone(kafka), what="the broker gone")
        infra.start_kafka(profile, lone_kafka_ports(), heap="384m")  # same data
        await infra.wait_kafka(bootstrap, kafka)
        back = time.monotonic()
        attempt = iter(range(2, 1000))

        async def published() -> bool:
            try:
                await publish(producer, [_message(next(attempt))])
                return True
            except KafkaError:
                return False

        await eventually(published, within=60, what="a publish through the same producer")
        print(f"the same producer published {time.monotonic() - back:.1f}s after the broker answered")
        assert [m.complaint_id for m in await messages_for(bootstrap, COMPLAINTS_EVENTS, "RESTART-1")] == [
            "RESTART-1"
        ]
    finally:
        await producer.stop()
