"""Routing on the project's outbox relay (shared/outbox.py) against the real database: an outbox a
crash left staged goes out after the grace with its OPD feed entries and is marked; complaints
written before the move (`published: false`) are staged at start-up and go out the same way; a
complaint whose events Kafka refuses is set aside and `pengaduan status` counts it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from pymongo.asynchronous.database import AsyncDatabase

from devtools import ops
from devtools.infra import Endpoints
from services.routing.adapters.delivery import OutboxDelivery
from services.routing.adapters.feed import FeedStore
from services.routing.adapters.store import RELAY_GRACE, MongoComplaintStore, ensure_indexes
from shared import clock, outbox
from shared.kafka import Outgoing
from shared.mongo import mongo_client
from shared.topics import COMPLAINTS_EVENTS
from tests.integration.test_routing_store_contract import routed
from tests.routing_fakes import Sent

pytestmark = pytest.mark.integration

OLD_INDEX = "published_1_updated_at_1"


@pytest.fixture
async def db(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client = mongo_client(endpoints.mongo_uri)
    yield client[f"{db_prefix}routing"]
    await client.drop_database(f"{db_prefix}routing")
    await client.close()


async def relay_once(db: AsyncDatabase[dict[str, Any]], publish: outbox.Publish) -> int:
    """One pass of the relay the service runs (adapters/store.py `run_relay`)."""
    delivery = OutboxDelivery(MongoComplaintStore(db), FeedStore(db), publish)
    return await outbox.relay_once(db["complaints"], publish, RELAY_GRACE, after=delivery.after_publish)


async def feed_of(db: AsyncDatabase[dict[str, Any]], complaint_id: str) -> list[str]:
    return [e["type"] async for e in db["opd_feed"].find({"complaint_id": complaint_id})]


def delivered(doc: dict[str, Any] | None) -> bool:
    return doc is not None and (doc["outbox"], doc["outbox_since"], doc["feed_outbox"]) == ([], None, [])


async def test_an_outbox_left_staged_goes_out_with_its_feed_entries_after_the_grace(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    await ensure_indexes(db)
    store = MongoComplaintStore(db)
    crashed = clock.wall() - RELAY_GRACE - timedelta(seconds=1)
    await store.insert_new([routed("OLD", staged_at=crashed), routed("NEW")])
    sent = Sent()
    assert await relay_once(db, sent) == 1
    assert [(e.complaint_id, e.seq) for e in sent.decoded(COMPLAINTS_EVENTS)] == [("OLD", 1), ("OLD", 2)]
    assert delivered(await store.get("OLD")) and await feed_of(db, "OLD") == ["ComplaintAssigned"]
    new = await store.get("NEW")  # its writer is still delivering it: not the relay's yet
    assert new is not None and new["outbox_since"] is not None and await feed_of(db, "NEW") == []
    assert await relay_once(db, sent) == 0


async def test_complaints_left_unpublished_before_the_move_are_staged_at_start_up_and_delivered(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    # The database as the version before left it: its flag, its index, no `outbox_since`.
    left, done = routed("LEFT"), routed("DONE")
    for doc, flag in ((left, False), (done, True)):
        del doc["outbox_since"]
        doc["published"] = flag
    await db["complaints"].insert_many([left, done])
    await db["complaints"].create_index([("published", 1), ("updated_at", 1)])

    await ensure_indexes(db)  # start-up
    moved = await db["complaints"].find_one({"_id": "LEFT"})
    assert moved is not None and "published" not in moved and moved["outbox_since"] is not None
    assert OLD_INDEX not in await db["complaints"].index_information()
    sent = Sent()
    assert await relay_once(db, sent) == 1  # at its first pass: staged a grace ago
    assert {e.complaint_id for e in sent.decoded(COMPLAINTS_EVENTS)} == {"LEFT"}
    assert delivered(await db["complaints"].find_one({"_id": "LEFT"}))
    assert await feed_of(db, "LEFT") == ["ComplaintAssigned"] and await feed_of(db, "DONE") == []

    await ensure_indexes(db)  # a restart: moved once per database
    assert await relay_once(db, sent) == 0


async def test_a_complaint_whose_events_kafka_refuses_is_set_aside_and_counted(
    endpoints: Endpoints, db: AsyncDatabase[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_indexes(db)
    crashed = clock.wall() - RELAY_GRACE - timedelta(seconds=1)
    await MongoComplaintStore(db).insert_new(
        [routed("BIG", staged_at=crashed), routed("OK", staged_at=crashed)]
    )
    sent = Sent()

    async def publish(messages: Sequence[Outgoing]) -> None:
        if any(m.key == "BIG" for m in messages):
            raise MessageSizeTooLargeError()
        await sent(messages)

    assert await relay_once(db, publish) == 1
    assert {e.complaint_id for e in sent.decoded(COMPLAINTS_EVENTS)} == {"OK"}
    assert delivered(await db["complaints"].find_one({"_id": "OK"}))
    big = await db["complaints"].find_one({"_id": "BIG"})
    assert big is not None and big["outbox_since"] is None  # out of the relay's query
    assert "MessageSizeTooLarge" in big["outbox_refused"]["reason"]
    assert len(big["outbox"]) == 3 and len(big["feed_outbox"]) == 1  # kept for the operator
    assert await feed_of(db, "BIG") == []  # the OPD sees nothing Kafka does not have
    assert await relay_once(db, publish) == 0

    # Its next change stages its own outbox over `outbox`: the refused messages stay with the
    # refusal, for the operator.
    refused_messages = big["outbox"]
    assert big["outbox_refused"]["messages"] == refused_messages
    await db["complaints"].update_one(
        {"_id": "BIG"}, {"$set": {"outbox": [], "outbox_since": crashed, "feed_outbox": []}}
    )
    assert await relay_once(db, publish) == 1
    big = await db["complaints"].find_one({"_id": "BIG"})
    assert big is not None and big["outbox_refused"]["messages"] == refused_messages

    monkeypatch.setenv("MONGO_URI", endpoints.mongo_uri)
    monkeypatch.setenv("ROUTING_MONGO_DB", db.name)
    assert await ops.refused_outboxes("routing") == (1, ["complaints/BIG"])
