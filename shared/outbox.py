"""The outbox: a change and the messages it causes are written together, in one document (or one
transaction), published at once, then marked; a relay publishes whatever a crash or a Kafka
outage left (DESIGN §6, Delivery).

A document carries its messages in `outbox` ({topic, key, value}) with `outbox_since`, the wall
time they were staged; marking clears both, guarded by that instant, so a later change's messages
are never cleared by an earlier publish. A message may be published twice (the writer and the
relay, or a crash after the publish and before the mark): consumers recognise it by its event id
and the complaint's `seq`, so a duplicate changes nothing.

Intake's submissions use it; routing and sla keep their own outbox fields for now and move onto
this one in the renovation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from shared import clock
from shared.faults import is_transient
from shared.kafka import Outgoing

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
RELAY_PUBLISH_TIMEOUT_S = 30.0
Doc = dict[str, Any]


def stage(doc: Doc, messages: Sequence[Outgoing]) -> datetime:
    """Put `messages` in `doc`'s outbox (written with it); returns the staging instant."""
    since = clock.wall()
    doc["outbox"] = [{"topic": m.topic, "key": m.key, "value": m.value} for m in messages]
    doc["outbox_since"] = since
    return since


def staged(doc: Doc) -> list[Outgoing]:
    return [Outgoing(m["topic"], m["key"], bytes(m["value"])) for m in doc.get("outbox") or []]


async def mark_published(collection: AsyncCollection[Doc], written: Sequence[tuple[str, datetime]]) -> None:
    """These documents' outboxes (id, staging instant) are on Kafka: clear them, unless the
    document was staged again since."""
    for doc_id, since in written:
        await collection.update_one(
            {"_id": doc_id, "outbox_since": since}, {"$set": {"outbox": [], "outbox_since": None}}
        )


async def ensure_outbox_index(collection: AsyncCollection[Doc]) -> None:
    """The relay's query: documents with an outbox, oldest first (few at any time: partial)."""
    await collection.create_index(
        [("outbox_since", ASCENDING)], partialFilterExpression={"outbox_since": {"$type": "date"}}
    )


async def relay_once(
    collection: AsyncCollection[Doc], publish: Publish, older_than: timedelta, limit: int = 500
) -> int:
    """Publish the outboxes staged before `older_than` ago and mark them; how many there were."""
    cutoff = clock.wall() - older_than
    cursor = collection.find(
        {"outbox_since": {"$type": "date", "$lte": cutoff}}, {"outbox": 1, "outbox_since": 1}
    ).sort("outbox_since", ASCENDING)
    docs = await cursor.limit(limit).to_list()
    if not docs:
        return 0
    async with asyncio.timeout(RELAY_PUBLISH_TIMEOUT_S):  # a stuck producer is a fault, not a hang
        await publish([m for d in docs for m in staged(d)])
    await mark_published(collection, [(d["_id"], d["outbox_since"]) for d in docs])
    return len(docs)


async def run_relay(
    collection: AsyncCollection[Doc], publish: Publish, *, older_than: timedelta, every: float = 2.0
) -> None:
    """Background: relay what is left, forever; infrastructure faults are waited out."""
    backoff = every
    while True:
        try:
            relayed = await relay_once(collection, publish, older_than)
            if relayed:
                log.info("outbox relay: published %d outbox(es) left by a crash or an outage", relayed)
            backoff = every
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise  # a bug: the task dies, /readyz says so and the process is restarted
            log.warning("outbox relay: %r; retrying in %.0fs", exc, backoff)
            backoff = min(backoff * 2, 30.0)
        await asyncio.sleep(backoff)
