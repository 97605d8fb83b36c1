"""The outbox: a change and the messages it causes are written together, in one document (or one
transaction), published at once, then marked; a relay publishes whatever a crash or a Kafka
outage left (DESIGN §6, Delivery).

A document carries its messages in `outbox` ({topic, key, value}) with `outbox_since`, the wall
time they were staged; marking clears both, guarded by that instant, so a later change's messages
are never cleared by an earlier publish. A message may be published twice (the writer and the
relay, or a crash after the publish and before the mark): consumers recognise it by its event id
and the complaint's `seq`, so a duplicate changes nothing.

A message Kafka refuses for what it is (too large for the topic, invalid: `KAFKA_CONTENT_ERRORS`)
would be refused for ever; re-raising it killed the relay, the process was restarted, and every
later outbox waited behind it. The relay sets such a document aside instead: when a batch is
refused for its content it publishes the documents one at a time, and the one refused is marked
`outbox_refused` ({reason, at, since, messages}), its messages copied there for an operator (a
later change of the document stages its own outbox; the refused messages stay) and its
`outbox_since` cleared (out of the relay's query); an error is logged and `pengaduan status` counts them.
Infrastructure faults are waited out; anything else (a bug) still ends the relay task.

A writer may have one more step between the publish and the mark (`AfterPublish`): routing
writes the OPD feed entries a change staged next to its messages (`feed_outbox`); the relay runs
it too, and the mark clears those fields with the outbox. A writer may also keep a change's
messages once they are confirmed (`keep`): sla does, because a redelivered lifecycle event
announces the complaint's last change again.

Intake's submissions and reporter commands, routing's complaints and sla's clocks use it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pymongo import ASCENDING, UpdateMany
from pymongo.asynchronous.collection import AsyncCollection

from shared import clock, metrics
from shared.faults import KAFKA_CONTENT_ERRORS, is_transient
from shared.kafka import Outgoing
from shared.runtime import INFRA

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
RELAY_PUBLISH_TIMEOUT_S = 30.0
# The longest pause between two tries while Kafka or the database is out: what is left goes out
# within this long of their return (a reporter's withdrawal must not wait half a minute).
RELAY_MAX_BACKOFF_S = 5.0
Doc = dict[str, Any]


@dataclass(frozen=True)
class AfterPublish:
    """A step a writer needs once a document's messages are on Kafka and before its mark, e.g.
    routing's OPD feed entries, staged in the document's `fields` next to its messages. It runs on
    the documents just published (with those fields), in the writer's path and in the relay's; a
    crash between it and the mark repeats it, so it must be idempotent. The mark clears `fields`
    together with the outbox."""

    fields: tuple[str, ...]
    run: Callable[[Sequence[Doc]], Awaitable[None]]


def staging_instant(since: datetime | None = None, after: datetime | None = None) -> datetime:
    """`since` (default now) to the millisecond the database keeps, and strictly after `after`
    (the document's previous staging, still unconfirmed): a late confirmation of that one, guarded
    by its own instant, then never clears this one, even within the same millisecond."""
    instant = _millisecond(since or clock.wall())
    if after is not None and instant <= after:
        instant = after + timedelta(milliseconds=1)
    return instant


def stage(
    doc: Doc, messages: Sequence[Outgoing], since: datetime | None = None, *, after: datetime | None = None
) -> datetime:
    """Put `messages` in `doc`'s outbox (written with it); returns the staging instant.

    `since` (default now) lets a writer give a batch of documents one instant, so that
    `mark_published` clears them in one write. `after` is the document's previous staging when
    the writer holds it apart from `doc` (default: `doc`'s own `outbox_since`)."""
    previous = after if after is not None else doc.get("outbox_since")
    since = staging_instant(since, previous)
    doc["outbox"] = [{"topic": m.topic, "key": m.key, "value": m.value} for m in messages]
    doc["outbox_since"] = since
    return since


def _millisecond(instant: datetime) -> datetime:
    """As the database keeps it (BSON dates are milliseconds): equal before and after a write."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def staged(doc: Mapping[str, Any]) -> list[Outgoing]:
    return [Outgoing(m["topic"], m["key"], bytes(m["value"])) for m in doc.get("outbox") or []]


async def mark_published(
    collection: AsyncCollection[Doc],
    written: Sequence[tuple[str, datetime]],
    also_clear: Sequence[str] = (),
    *,
    keep: bool = False,
) -> None:
    """These documents' outboxes (id, staging instant) are on Kafka: clear them (and the fields
    `also_clear`, an `AfterPublish`'s), unless the document was staged again since. `keep` leaves
    the messages in the document and only takes it out of the relay's query.

    One update per distinct instant, not per document, and all of them in one round trip: a
    writer that staged a batch at one instant (routing's consumers) has it marked in one update;
    on this database server that is several times cheaper than an update per document."""
    by_since: dict[datetime, list[str]] = {}
    for doc_id, since in written:
        by_since.setdefault(since, []).append(doc_id)
    if not by_since:
        return
    cleared: dict[str, Any] = {"outbox_since": None} if keep else {"outbox": [], "outbox_since": None}
    cleared.update({field: [] for field in also_clear})
    updates = [
        UpdateMany({"_id": _one_or_any(ids), "outbox_since": since}, {"$set": cleared})
        for since, ids in by_since.items()
    ]
    await collection.bulk_write(updates, ordered=False)


def _one_or_any(ids: list[str]) -> Any:
    return ids[0] if len(ids) == 1 else {"$in": ids}


async def ensure_outbox_index(collection: AsyncCollection[Doc]) -> None:
    """The relay's query: documents with an outbox, oldest first; and the documents set aside
    because Kafka refused their messages (`refused`).

    A full index on (outbox_since, _id), not a partial one on `outbox_since`: the database server
    we run does not use the partial index for the relay's query and scanned the whole collection
    on every pass (39 ms at 40,000 routing complaints against 0.7 ms with this index). The partial
    index earlier versions made is dropped."""
    await collection.create_index([("outbox_since", ASCENDING), ("_id", ASCENDING)])
    if "outbox_since_1" in await collection.index_information():
        await collection.drop_index("outbox_since_1")
    await collection.create_index([(REFUSED_AT, ASCENDING)], partialFilterExpression=_REFUSED)


REFUSED_AT = "outbox_refused.at"
_REFUSED: dict[str, Any] = {REFUSED_AT: {"$type": "date"}}


async def refused(collection: AsyncCollection[Doc], limit: int = 5) -> tuple[int, list[str]]:
    """How many documents were set aside because Kafka refused their messages, and a few ids."""
    count = await collection.count_documents(_REFUSED)
    some = [
        d["_id"] async for d in collection.find(_REFUSED, {"_id": 1}).sort(REFUSED_AT, ASCENDING).limit(limit)
    ]
    return count, some


async def backlog(collection: AsyncCollection[Doc]) -> tuple[int, int]:
    """(documents whose messages wait for Kafka, documents set aside): /metrics and the operator."""
    waiting = await collection.count_documents({"outbox_since": {"$type": "date"}})
    return waiting, await collection.count_documents(_REFUSED)


def watch_backlog(app: web.Application, collections: Sequence[str]) -> None:
    """/metrics of `app` reports these collections' backlog and refused documents at each scrape
    (of the service's database, once it is open)."""

    async def source() -> None:
        infra = app.get(INFRA)
        if infra is None:  # not started yet
            return
        for name in collections:
            waiting, refused_count = await backlog(infra.db[name])
            metrics.OUTBOX_BACKLOG.labels(name).set(waiting)
            metrics.OUTBOX_REFUSED.labels(name).set(refused_count)

    metrics.add_source(app, "outbox", source)


async def _set_aside(collection: AsyncCollection[Doc], doc: Doc, exc: BaseException) -> None:
    """Kafka refuses this document's messages for what they are: out of the relay's query, with
    the reason, and a copy of its messages kept for an operator in `outbox_refused.messages` (the
    document's next change stages its own outbox over `outbox`; every refusal is appended)."""
    reason = repr(exc)[:500]
    since = doc["outbox_since"]
    await collection.update_one(
        {"_id": doc["_id"], "outbox_since": since},
        {
            "$set": {
                "outbox_since": None,
                "outbox_refused.reason": reason,
                "outbox_refused.at": clock.wall(),
                "outbox_refused.since": since,
            },
            "$push": {"outbox_refused.messages": {"$each": doc.get("outbox") or []}},
        },
    )
    log.error(
        "outbox relay: Kafka refuses the messages of %s %s: %s; set aside (outbox_refused), the relay "
        "goes on; `pengaduan status` counts these",
        collection.name,
        doc["_id"],
        reason,
    )


async def relay_once(
    collection: AsyncCollection[Doc],
    publish: Publish,
    older_than: timedelta,
    limit: int = 500,
    after: AfterPublish | None = None,
    *,
    keep: bool = False,
) -> int:
    """Publish the outboxes staged before `older_than` ago, run `after` on them and mark them; how
    many were published. A document whose messages Kafka refuses for their content is set aside
    (`_set_aside`)."""
    cutoff = clock.wall() - older_than
    fields = after.fields if after else ()
    cursor = collection.find(
        {"outbox_since": {"$type": "date", "$lte": cutoff}},
        dict.fromkeys(("outbox", "outbox_since", *fields), 1),
    ).sort("outbox_since", ASCENDING)
    docs = await cursor.limit(limit).to_list()
    if not docs:
        return 0
    try:
        await _publish(publish, [m for d in docs for m in staged(d)])
    except KAFKA_CONTENT_ERRORS:
        # Some message is refused for what it is: find it, one document at a time.
        published = []
        for doc in docs:
            try:
                await _publish(publish, staged(doc))
            except KAFKA_CONTENT_ERRORS as exc:
                await _set_aside(collection, doc, exc)
                continue
            published.append(doc)
        docs = published
    if after is not None:
        await after.run(docs)
    await mark_published(collection, [(d["_id"], d["outbox_since"]) for d in docs], fields, keep=keep)
    return len(docs)


async def _publish(publish: Publish, messages: Sequence[Outgoing]) -> None:
    async with asyncio.timeout(RELAY_PUBLISH_TIMEOUT_S):  # a stuck producer is a fault, not a hang
        await publish(messages)


async def run_relay(
    collection: AsyncCollection[Doc],
    publish: Publish,
    *,
    older_than: timedelta,
    every: float = 2.0,
    after: AfterPublish | None = None,
) -> None:
    """Background: relay what is left, forever; infrastructure faults are waited out, a message
    Kafka refuses is set aside (`relay_once`); any other error is a bug and ends the task."""
    backoff = every
    while True:
        try:
            relayed = await relay_once(collection, publish, older_than, after=after)
            if relayed:
                log.info("outbox relay: published %d outbox(es) left by a crash or an outage", relayed)
            backoff = every
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise  # a bug: the task dies, /readyz says so and the process is restarted
            log.warning("outbox relay: %r; retrying in %.0fs", exc, backoff)
            backoff = min(backoff * 2, RELAY_MAX_BACKOFF_S)
        await asyncio.sleep(backoff)
