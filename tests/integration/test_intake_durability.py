"""Durability (issue 4 item 9): a 2xx means Kafka has the complaint. With the broker stopped,
submit answers 503 with Retry-After within the publish timeout and keeps no complaint; once the
broker is back, submits succeed again without restarting intake. A submission answered 503 that
still reaches Kafka later (the idempotent producer keeps retrying it) is withdrawn by intake.

This test stops a broker, so it runs its own: a second Kafka on ports of this slot's block that
no other test uses, with its data kept across the stop (the same broker comes back).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from ulid import ULID

from devtools import infra
from services.intake.idempotency import key_id
from shared.envelope import new_event
from shared.events import ComplaintReceived
from shared.kafka import Outgoing, durable_producer, ensure_topics, publish
from shared.topics import COMPLAINTS_COMMANDS, COMPLAINTS_EVENTS
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


async def test_submit_is_503_while_kafka_is_down_and_works_again_when_it_is_back(
    lone_kafka: tuple[str, str, infra.Server], endpoints: infra.Endpoints
) -> None:
    profile, bootstrap, kafka = lone_kafka
    # A hang fails the request at this bound instead of passing: the answer must come first.
    bounded = aiohttp.ClientTimeout(total=PUBLISH_TIMEOUT + 10)
    lone = infra.Endpoints(kafka_bootstrap=bootstrap, mongo_uri=endpoints.mongo_uri)
    async with running_intake(lone, publish_timeout_seconds=PUBLISH_TIMEOUT) as (client, db):
        before = await client.post("/api/v1/complaints", json=SUBMISSION, timeout=bounded)
        assert before.status == 202

        kafka.stop()
        key = str(ULID())
        started = time.monotonic()
        down = await client.post(
            "/api/v1/complaints", json=SUBMISSION, headers={"Idempotency-Key": key}, timeout=bounded
        )
        waited = time.monotonic() - started
        assert down.status == 503, await down.text()
        assert down.content_type == "application/problem+json"
        assert int(down.headers["Retry-After"]) > 0
        print(f"503 after {waited:.2f}s (publish timeout {PUBLISH_TIMEOUT}s)")
        assert await db["complaints"].count_documents({}) == 1  # only the one from before
        assert await db["idempotency_keys"].find_one({"_id": key_id(key)}) is None  # the retry may reuse it
        [tombstone] = [t async for t in db["abandoned_submissions"].find({})]
        assert set(tombstone) == {"_id", "at", "withdrawn"}  # an id and an instant: no identity, no text

        infra.start_kafka(profile, lone_kafka_ports(), heap="384m")  # the same broker, same data

        async def accepted_again() -> dict[str, Any] | None:
            resp = await client.post(
                "/api/v1/complaints", json=SUBMISSION, headers={"Idempotency-Key": key}, timeout=bounded
            )
            return await resp.json() if resp.status == 202 else None

        answer = await eventually(accepted_again, within=120, what="a submit accepted after Kafka returned")
        assert await db["complaints"].count_documents({"_id": answer["id"]}) == 1
        assert [
            m.complaint_id for m in await messages_for(bootstrap, "complaints.submitted", answer["id"])
        ] == [answer["id"]]

        # If the abandoned submission reaches routing after all, its first lifecycle event comes
        # back to intake, which asks for the complaint to be withdrawn: nobody holds its token.
        ghost = tombstone["_id"]
        late = await messages_for(bootstrap, "complaints.submitted", ghost)
        print(f"the abandoned submission reached Kafka after the restart: {len(late)} time(s)")
        received = new_event(
            ComplaintReceived(
                submitted_at=tombstone["at"],
                title=SUBMISSION["title"],
                description=SUBMISSION["description"],
                category=SUBMISSION["category"],
                region_code=SUBMISSION["region_code"],
                pemda="33.74",
                classification="pengaduan",
                channel="web",
                anonymous=False,
                confidential=False,
            ),
            producer="routing",
            complaint_id=ghost,
            seq=1,
        )
        producer = durable_producer(bootstrap)
        await producer.start()
        try:
            await publish(producer, [Outgoing.of(COMPLAINTS_EVENTS, ghost, received)])
        finally:
            await producer.stop()

        async def withdrawn() -> list[Any] | None:
            found = await messages_for(bootstrap, COMPLAINTS_COMMANDS, ghost)
            return found or None

        [command] = await eventually(withdrawn, within=60, what="intake withdrawing the abandoned complaint")
        assert command.type == "WithdrawComplaint" and command.seq is None
        assert await db["complaints"].count_documents({"_id": ghost}) == 0
