"""`pengaduan replay` against the real broker and database: sla's supervisor figures are dropped
and the group rewound to the beginning of its topics; a group with a running member is left
alone, said plainly; a group that keeps a system of record is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from devtools import ops
from devtools.backup import group_offsets, partition_counts
from devtools.infra import Endpoints
from devtools.replay import ReplayError, replay
from shared.topics import GROUP_TOPICS, SLA_REPORTS_GROUP
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def _positions(bootstrap: str) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(committed, beginning) of sla-reports' partitions."""
    counts = await partition_counts(bootstrap, GROUP_TOPICS[SLA_REPORTS_GROUP])
    partitions = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await probe.start()
    try:
        return await group_offsets(admin, SLA_REPORTS_GROUP), await probe.beginning_offsets(partitions)
    finally:
        await probe.stop()
        await admin.close()


def test_replay_rewinds_the_group_and_drops_the_figures(
    endpoints: Endpoints, db_prefix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"{db_prefix}sla"
    monkeypatch.setenv("MONGO_URI", endpoints.mongo_uri)
    monkeypatch.setenv("KAFKA_BOOTSTRAP", endpoints.kafka_bootstrap)
    monkeypatch.setenv("SLA_MONGO_DB", db)

    async def seed() -> None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(endpoints.mongo_uri)
        await client[db]["report_weekly"].insert_one({"_id": "w", "breached": 3})
        await client[db]["complaint_clocks"].insert_one({"_id": "c"})  # not a read model: kept
        await client.close()

    async def collections() -> list[str]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(endpoints.mongo_uri)
        try:
            return sorted(await client[db].list_collection_names())
        finally:
            await client.close()

    asyncio.run(seed())
    assert ops.main(["replay", "sla-reports"]) == 0
    assert "dropped report_complaints" in capsys.readouterr().out
    assert asyncio.run(collections()) == ["complaint_clocks"]
    committed, beginning = asyncio.run(_positions(endpoints.kafka_bootstrap))
    assert beginning and all(committed[tp] == start for tp, start in beginning.items())


async def test_a_running_group_is_not_rewound_and_a_record_keeping_group_is_refused(
    endpoints: Endpoints,
) -> None:
    with pytest.raises(ReplayError, match="system of record"):
        await replay("sla", endpoints.kafka_bootstrap)
    member = AIOKafkaConsumer(
        *GROUP_TOPICS[SLA_REPORTS_GROUP],
        bootstrap_servers=endpoints.kafka_bootstrap,
        group_id=SLA_REPORTS_GROUP,
    )
    await member.start()
    try:
        await eventually(
            lambda: asyncio.sleep(0, bool(member.assignment())), within=30, what="the member joined"
        )
        with pytest.raises(ReplayError, match="stop the service"):
            await replay(SLA_REPORTS_GROUP, endpoints.kafka_bootstrap)
    finally:
        await member.stop()
