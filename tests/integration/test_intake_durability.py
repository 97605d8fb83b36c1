"""Durability: a 2xx means the complaint is durable, with its event, in intake's database (the
outbox). With the broker stopped, submits are still answered 202 at once; once the broker is
back, the relay publishes every one of them, without restarting intake, and marks them.

This test stops a broker, so it runs its own: a second Kafka on ports of this slot's block that
no other test uses, with its data kept across the stop (the same broker comes back).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from ulid import ULID

from devtools import infra
from shared.kafka import ensure_topics
from tests.e2e.test_one_complaint import SUBMISSION
from tests.intake_app import running_intake
from tests.integration.test_intake_api import messages_for
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PUBLISH_TIMEOUT = 3.0


def lone_kafka_ports() -> infra.Ports:
    base = infra.test_ports().kafka  # 29092 + 100 × slot; +2/+3 are unused by the slot's stack
    return infra.Ports(kafka=base + 2, kafka_controller=base + 3, mongo=infra.test_ports().mongo)


def _start_fresh(profile: str, ports: infra.Ports) -> infra.Server:
    # devtools.infra formats the storage with a random cluster id; one starting with "-" is read
    # as an option by StorageTool (about 1 start in 64): format again with another id.
    for attempt in range(3):
        try:
            return infra.start_kafka(profile, ports, heap="384m")
        except subprocess.CalledProcessError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
async def lone_kafka() -> AsyncIterator[tuple[str, str, infra.Server]]:
    """(profile, bootstrap, server) of a fresh broker of its own; stopped at the end in any case."""
    profile = f"{infra.test_profile()}-kafka-down"
    ports = lone_kafka_ports()
    infra.stop_stale(profile)
    shutil.rmtree(infra.run_dir(profile) / "kafka", ignore_errors=True)
    bootstrap = infra.endpoints(ports).kafka_bootstrap
    server = _start_fresh(profile, ports)
    try:
        await infra.wait_kafka(bootstrap, server)
        await ensure_topics(bootstrap)
        yield profile, bootstrap, server
    finally:
        infra.stop_stale(profile)


async def test_a_kafka_outage_refuses_no_citizen_and_every_complaint_reaches_kafka_once_it_is_back(
    lone_kafka: tuple[str, str, infra.Server], endpoints: infra.Endpoints
) -> None:
    """A 2xx means the complaint is durable in intake's database with its event (the outbox);
    Kafka being down delays routing, never the citizen. Before, every submit waited for a 503 and
    some of those refused still reached Kafka later (ghosts, withdrawn again)."""
    profile, bootstrap, kafka = lone_kafka
    # A hang fails the request at this bound instead of passing: the answer must come first.
    bounded = aiohttp.ClientTimeout(total=PUBLISH_TIMEOUT + 10)
    lone = infra.Endpoints(kafka_bootstrap=bootstrap, mongo_uri=endpoints.mongo_uri)
    async with running_intake(lone, publish_timeout_seconds=PUBLISH_TIMEOUT) as (client, db):
        before = await client.post("/api/v1/complaints", json=SUBMISSION, timeout=bounded)
        assert before.status == 202
        first = await before.json()
        # As routing would have it: recorded and assigned (so the reporter may send commands).
        await db["complaints"].update_one(
            {"_id": first["id"]}, {"$set": {"last_seq": 2, "status": "assigned"}}
        )

        kafka.stop()
        answered: list[str] = []
        for n in range(3):
            key = {"Idempotency-Key": str(ULID())} if n else {}
            started = time.monotonic()
            down = await client.post("/api/v1/complaints", json=SUBMISSION, headers=key, timeout=bounded)
            print(f"answered {down.status} in {time.monotonic() - started:.2f}s with Kafka down")
            assert down.status == 202, await down.text()
            answered.append((await down.json())["id"])
        withdraw = await client.post(
            f"/api/v1/complaints/{first['id']}/withdraw",
            json={"reason": "sudah diperbaiki warga"},
            headers={"Authorization": f"Bearer {first['access_token']}", "Idempotency-Key": str(ULID())},
            timeout=bounded,
        )
        assert withdraw.status == 202, await withdraw.text()  # a reporter's command is not refused either
        command_id = (await withdraw.json())["command_id"]
        for complaint_id in answered:  # durable with its event, waiting for the broker
            doc = await db["complaints"].find_one({"_id": complaint_id})
            assert doc is not None and len(doc["outbox"]) == 1 and doc["outbox_since"] is not None
        assert await db["abandoned_submissions"].count_documents({}) == 0  # no ghosts to withdraw

        infra.start_kafka(profile, lone_kafka_ports(), heap="384m")  # the same broker, same data
        await infra.wait_kafka(bootstrap, kafka)

        async def all_published() -> bool:
            sent = [await messages_for(bootstrap, "complaints.submitted", cid) for cid in answered]
            return all(sent)

        await eventually(all_published, within=120, what="every complaint on Kafka after the outage")
        for complaint_id in answered:
            sent = await messages_for(bootstrap, "complaints.submitted", complaint_id)
            assert {e.event_id for e in sent} == {sent[0].event_id}  # once, or the same event again

        async def command_published() -> bool:
            sent = await messages_for(bootstrap, "complaints.commands", first["id"])
            # Once, or the same command again (shared/outbox.py: the timed-out send the producer
            # still delivers once the broker is back, and the relay's): routing decides it once.
            return bool(sent) and {e.event_id for e in sent} == {command_id}

        await eventually(command_published, within=60, what="the withdrawal on Kafka after the outage")

        async def cleared() -> bool:
            waiting = {"outbox_since": {"$type": "date"}}
            return (
                await db["complaints"].count_documents(waiting),
                await db["commands"].count_documents(waiting),
            ) == (0, 0)

        await eventually(cleared, within=60, what="every outbox marked published")
