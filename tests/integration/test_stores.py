"""The services' database adapters against the real MongoDB-wire server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from devtools.infra import Endpoints
from services.intake.adapters.store import MongoComplaintStore as IntakeStore
from services.routing.adapters.catalog import load_catalog
from services.routing.adapters.store import MongoComplaintStore
from services.sla.adapters.clock_store import MongoClockStore, ensure_indexes
from services.sla.domain.complaint import ComplaintClocks
from shared.envelope import new_event
from shared.events import ComplaintReceived
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing
from shared.mongo import mongo_client

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = mongo_client(endpoints.mongo_uri)
    yield client[f"{db_prefix}store"]
    await client.drop_database(f"{db_prefix}store")
    await client.close()


async def test_routing_store_inserts_new_complaints_and_names_the_existing_ones(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoComplaintStore(db)
    outbox = [{"topic": "complaints.events", "key": "A", "value": b"event-a"}]
    assert await store.insert_new([{"_id": "A", "outbox": outbox}, {"_id": "B", "outbox": []}]) == set()
    assert await store.insert_new([{"_id": "A", "outbox": []}, {"_id": "C", "outbox": []}]) == {"A"}
    assert await store.outboxes(["A"]) == [Outgoing("complaints.events", "A", b"event-a")]
    assert await db["complaints"].count_documents({}) == 3


async def test_sla_store_round_trips_clocks_and_refuses_a_stale_write(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    await ensure_indexes(db)
    received = new_event(
        ComplaintReceived(
            submitted_at=datetime(2026, 3, 13, 9, tzinfo=UTC),
            title="t",
            description="d",
            category=None,
            region_code="33.74",
            pemda="33.74",
            classification="pengaduan",
            channel="web",
            anonymous=False,
            confidential=False,
        ),
        producer="routing",
        complaint_id="K1",
        seq=1,
    )
    from shared.calendar import calendar_for

    writer_a, writer_b = MongoClockStore(db), MongoClockStore(db)
    clocks = ComplaintClocks("K1")
    clocks.apply(received, calendar_for)
    await writer_a.load(["K1"])
    await writer_a.save([(clocks, [Outgoing("sla.events", "K1", b"x")])])
    loaded = (await writer_b.load(["K1"]))["K1"]
    assert loaded.clocks.clocks == clocks.clocks and loaded.clocks.last_seq == 1
    assert loaded.outbox == [Outgoing("sla.events", "K1", b"x")]
    stored = await db["complaint_clocks"].find_one({"_id": "K1"})
    assert stored is not None and stored["next_due"] == clocks.clocks[0].due_at

    await writer_a.load(["K1"])
    await writer_b.save([(loaded.clocks, [])])  # B writes first…
    with pytest.raises(ConcurrentUpdate):
        await writer_a.save([(clocks, [])])  # …so A's write, based on an older read, is refused


async def test_intake_store_hides_identity_and_guards_view_writes(db: AsyncDatabase[dict[str, Any]]) -> None:
    store = IntakeStore(db)
    await store.insert(
        {"_id": "I1", "reporter": {"name": "Sari"}, "region_code": "33.74", "rev": 0, "last_seq": 0}
    )
    doc = await store.get("I1")
    assert doc is not None and "reporter" not in doc
    views = await store.load_views(["I1"])
    views["I1"]["status"] = "assigned"
    await store.save_views([views["I1"]])
    with pytest.raises(ConcurrentUpdate):
        await store.save_views([views["I1"]])  # same revision twice: the second is stale
    saved = await db["complaints"].find_one({"_id": "I1"})
    assert saved is not None and (saved["status"], saved["rev"], saved["reporter"]) == (
        "assigned",
        1,
        {"name": "Sari"},
    )


async def test_catalog_loads_every_pemda_with_the_standard_opds_idempotently(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    counts = await load_catalog(db)
    assert counts == {"pemda": 552, "opds": 552 * 14}
    await load_catalog(db)
    assert await db["opds"].count_documents({}) == 552 * 14
    assert await db["opds"].find_one({"_id": "64.01/disdukcapil"}) is not None
    assert await db["pemda"].count_documents({"level": 1}) == 38


async def test_group_writer_writes_concurrent_inserts_and_fails_only_the_duplicate(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    import asyncio

    from pymongo.errors import DuplicateKeyError

    from shared.mongo import GroupWriter

    await db["grouped"].insert_one({"_id": "taken"})
    writer = GroupWriter(db["grouped"], max_batch=50)
    ids = [f"d{i}" for i in range(300)] + ["taken"]
    outcomes = await asyncio.gather(*(writer.insert({"_id": i}) for i in ids), return_exceptions=True)
    errors = {ids[n]: o for n, o in enumerate(outcomes) if o is not None}
    assert list(errors) == ["taken"] and isinstance(errors["taken"], DuplicateKeyError)
    assert await db["grouped"].count_documents({}) == 301
    await asyncio.gather(*(writer.update_one({"_id": i}, {"$set": {"seen": True}}) for i in ids))
    assert await db["grouped"].count_documents({"seen": True}) == 301


async def test_group_writer_batches_are_not_bound_by_the_deadline_of_the_caller_that_started_them(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    """`pymongo.timeout` is a contextvar, and a task inherits its creator's context: the writer
    task a caller starts must not carry that caller's deadline into a batch others share."""
    import asyncio

    import pymongo

    from shared.mongo import GroupWriter

    writer = GroupWriter(db["grouped"])
    with pymongo.timeout(1e-6):  # expired by the time the batch is written
        first = asyncio.ensure_future(writer.insert({"_id": "first"}))
        await asyncio.sleep(0)  # the writer task starts inside this caller's timeout
    others = [writer.insert({"_id": f"other{i}"}) for i in range(10)]
    await asyncio.gather(first, *others)
    assert await db["grouped"].count_documents({}) == 11
