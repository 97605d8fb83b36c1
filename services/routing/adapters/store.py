"""Routing's complaint documents in its database (the `ComplaintStore` of ports.py): state,
outbox and dues, every change one rev-guarded write, so state and outbox are atomic; delivery
happens after (adapters/delivery.py), and the project's outbox relay (shared/outbox.py, here
`run_relay`) re-publishes what a crash left staged (consumers recognise duplicates by seq). Also
the indexes of every routing collection, and the one-time moves of its documents.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, OperationFailure

from services.routing.adapters import transfer_pairs
from services.routing.adapters.feed import DUPLICATE_KEY, FeedStore
from services.routing.domain.complaint import FEED_OUTBOX
from services.routing.ports import DuesUpdate, Publish
from shared import clock, outbox
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing
from shared.mongo import transaction

log = logging.getLogger(__name__)

# The relay takes an outbox staged this long ago: long, so that under load it does not race the
# writer's own delivery (or the finisher behind it) and send duplicates — harmless, consumers
# dedupe by seq, but load where there is already too much.
RELAY_GRACE = timedelta(seconds=30)
RELAY_EVERY_S = 2.0
INDEX_NOT_FOUND = 27
MERGE_TIMEOUT_S = 10.0
# What confirming a duplicate reads of a candidate (never its outbox or text).
CANDIDATE_FIELDS = dict.fromkeys(
    ("state", "pemda", "category", "region_code", "location", "dup_shingles", "submitted_at"), 1
)


class MongoComplaintStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._client = db.client
        self._complaints = db["complaints"]

    async def insert_new(self, docs: Sequence[dict[str, Any]]) -> set[str]:
        if not docs:
            return set()
        try:
            await self._complaints.insert_many(list(docs), ordered=False)
            return set()
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}

    async def outboxes(self, ids: Sequence[str]) -> list[Outgoing]:
        found = {d["_id"]: d async for d in self._complaints.find({"_id": {"$in": list(ids)}}, {"outbox": 1})}
        return [m for cid in ids for m in outbox.staged(found.get(cid, {}))]

    async def get(self, complaint_id: str) -> dict[str, Any] | None:
        return await self._complaints.find_one({"_id": complaint_id})

    async def load(self, ids: Sequence[str], fields: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
        """The complaints with these ids; only `fields` (and `_id`) of each when given."""
        if not ids:
            return {}  # not a database round trip for nothing (a batch without commands)
        projection = dict.fromkeys(fields, 1) if fields else None
        return {d["_id"]: d async for d in self._complaints.find({"_id": {"$in": list(ids)}}, projection)}

    async def replace(self, docs: Sequence[dict[str, Any]]) -> None:
        """Write changed documents, each guarded by the `rev` it was read at (then +1)."""
        if not docs:
            return
        ops = []
        for doc in docs:
            rev = doc["rev"]
            ops.append(UpdateOne({"_id": doc["_id"], "rev": rev}, {"$set": {**doc, "rev": rev + 1}}))
        result = await self._complaints.bulk_write(ops, ordered=False)
        if result.matched_count != len(ops):
            raise ConcurrentUpdate(f"{len(ops) - result.matched_count} complaint(s) changed concurrently")
        for doc in docs:
            doc["rev"] += 1

    async def replace_together(self, docs: Sequence[dict[str, Any]]) -> None:
        """`replace` in one transaction: every document written (each rev-guarded) or none."""

        async def work(session: AsyncClientSession) -> None:
            for doc in docs:
                rev = doc["rev"]
                result = await self._complaints.update_one(
                    {"_id": doc["_id"], "rev": rev}, {"$set": {**doc, "rev": rev + 1}}, session=session
                )
                if result.matched_count != 1:
                    raise ConcurrentUpdate(f"complaint {doc['_id']} changed concurrently")

        await transaction(self._client, work, timeout=MERGE_TIMEOUT_S)
        for doc in docs:
            doc["rev"] += 1

    async def duplicate_candidates(
        self, keys: Sequence[str], since: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Point reads on the (dup_keys, submitted_at) index: one per key, each a range from
        `since`; only open complaints hold keys."""
        cursor = (
            self._complaints.find(
                {"dup_keys": {"$in": list(keys)}, "submitted_at": {"$gte": since}}, CANDIDATE_FIELDS
            )
            .sort("submitted_at", DESCENDING)
            .limit(limit)
        )
        return [d async for d in cursor]

    async def suggested_with(self, complaint_id: str, limit: int) -> list[dict[str, Any]]:
        cursor = self._complaints.find(
            {"duplicates.id": complaint_id},
            {"state": 1, "category": 1, "opd_id": 1, "submitted_at": 1, "duplicates": 1},
        ).limit(limit)
        return [d async for d in cursor]

    async def mark_published(self, written: Sequence[tuple[str, datetime]]) -> None:
        """Guarded by `outbox_since`, not `rev`: a dues update (sla.events) changes `rev` but not
        the outbox, while a newer outbox (a later transition) was staged at a later instant.
        A batch staged at one instant is one write (shared/outbox.py `mark_published`)."""
        await outbox.mark_published(self._complaints, written, also_clear=(FEED_OUTBOX,))

    async def set_lease(self, complaint_id: str, rev: int, handler: str, until: datetime) -> bool:
        result = await self._complaints.update_one(
            {"_id": complaint_id, "rev": rev},
            {"$set": {"claimed_by": handler, "lease_until": until}, "$inc": {"rev": 1}},
        )
        return result.matched_count == 1

    async def set_dues(self, updates: Sequence[DuesUpdate]) -> int:
        """Write (complaint id, rev read, dues, nearest due) in one bulk write, each guarded by its
        rev; the number that found a newer rev (and were not written)."""
        if not updates:
            return 0
        ops = [
            UpdateOne({"_id": cid, "rev": rev}, {"$set": {"dues": dues, "sla_due": due}, "$inc": {"rev": 1}})
            for cid, rev, dues, due in updates
        ]
        result = await self._complaints.bulk_write(ops, ordered=False)
        return len(ops) - result.matched_count

    async def queue(
        self,
        *,
        field: str,
        value: str,
        states: Sequence[str],
        limit: int,
        after: tuple[datetime, str] | None,
        category: str | None = None,
    ) -> list[dict[str, Any]]:
        """Complaints of one OPD (or one pemda's triage) by nearest SLA due, then id; keyset paged.

        One indexed range per state (the index is field, state, sla_due, _id), merged here: never
        a scan of the OPD's complaints."""
        items: list[dict[str, Any]] = []
        for state in states:
            query: dict[str, Any] = {field: value, "state": state}
            if category is not None:
                query["category"] = category
            if after is not None:
                due, last = after
                query["$or"] = [{"sla_due": {"$gt": due}}, {"sla_due": due, "_id": {"$gt": last}}]
            cursor = (
                self._complaints.find(query, {"outbox": 0})
                .sort([(field, ASCENDING), ("state", ASCENDING), ("sla_due", ASCENDING), ("_id", ASCENDING)])
                .limit(limit)
            )
            items += [d async for d in cursor]
        items.sort(key=lambda d: (d["sla_due"], d["_id"]))
        return items[:limit]


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    complaints = db["complaints"]
    # OPD queues and the coordinator's triage list, nearest SLA due first (DESIGN §7: every served
    # query needs a matching index on this database server).
    await complaints.create_index(
        [("opd_id", ASCENDING), ("state", ASCENDING), ("sla_due", ASCENDING), ("_id", ASCENDING)]
    )
    await complaints.create_index(
        [("pemda", ASCENDING), ("state", ASCENDING), ("sla_due", ASCENDING), ("_id", ASCENDING)]
    )
    # The workbench's queue filtered by category (entrypoints/workbench_pages.py).
    await complaints.create_index(
        [
            ("opd_id", ASCENDING),
            ("category", ASCENDING),
            ("state", ASCENDING),
            ("sla_due", ASCENDING),
            ("_id", ASCENDING),
        ]
    )
    await outbox.ensure_outbox_index(complaints)  # the relay's (outbox_since, _id)
    # Duplicate search (domain/duplicates.py): exact keys of open complaints, then time; and the
    # reverse look-up of the suggestions naming a complaint.
    await complaints.create_index([("dup_keys", ASCENDING), ("submitted_at", ASCENDING)])
    await complaints.create_index([("duplicates.id", ASCENDING)])
    await outbox.ensure_outbox_index(db["pemda"])  # the catalog announcements' relay (adapters/catalog.py)
    await db["opd_feed"].create_index([("opd_id", ASCENDING), ("pos", ASCENDING)])
    await db["opd_feed"].create_index(
        [("complaint_id", ASCENDING), ("opd_id", ASCENDING), ("pos", ASCENDING)]
    )
    # Once per database, not at every start: entries written before feed positions existed.
    if await db["migrations"].find_one({"_id": "feed-positions"}) is None:
        await FeedStore(db).backfill_positions()
        await db["migrations"].update_one(
            {"_id": "feed-positions"}, {"$set": {"at": clock.wall()}}, upsert=True
        )
    # Once per database too: complaints written before routing used the project's outbox.
    if await db["migrations"].find_one({"_id": "shared-outbox"}) is None:
        await move_to_shared_outbox(complaints)
        await db["migrations"].update_one(
            {"_id": "shared-outbox"}, {"$set": {"at": clock.wall()}}, upsert=True
        )
    await db["notes"].create_index([("complaint_id", ASCENDING), ("at", ASCENDING)])
    await db["webhook_deliveries"].create_index([("opd_id", ASCENDING), ("at", DESCENDING)])
    await db["opds"].create_index([("pemda", ASCENDING), ("slug", ASCENDING)], unique=True)
    await db["rules"].create_index([("pemda", ASCENDING), ("category", ASCENDING)], unique=True)
    await transfer_pairs.ensure_indexes(db)


async def move_to_shared_outbox(complaints: AsyncCollection[dict[str, Any]]) -> int:
    """Complaints written before routing used the project's outbox carry `published: false` when
    their outbox never reached Kafka (a crash, an outage): stage them for the relay's next pass
    (`outbox_since` a grace ago: their real staging instant is not known, only that it is past)
    and drop the old flag and its index. How many were staged.

    The published ones keep their old `outbox` and `published: true`: `outbox_since` absent, so
    neither the relay nor the next change reads them, and rewriting every complaint at start-up
    would cost more than the bytes it saves. Run at start-up before the consumers and the relay,
    once per database: the routing processes of the old version are stopped before the new ones
    start (an old process still running would mark with the old flag only)."""
    since = clock.wall() - RELAY_GRACE
    moved = await complaints.update_many(
        {"published": False}, {"$set": {"outbox_since": since}, "$unset": {"published": ""}}
    )
    try:
        await complaints.drop_index([("published", ASCENDING), ("updated_at", ASCENDING)])
    except OperationFailure as exc:
        if exc.code != INDEX_NOT_FOUND:
            raise
    if moved.modified_count:
        log.info("staged %d complaint outbox(es) left unpublished before the upgrade", moved.modified_count)
    return moved.modified_count


async def run_relay(db: AsyncDatabase[dict[str, Any]], publish: Publish, after: outbox.AfterPublish) -> None:
    """Background: the project's relay (shared/outbox.py `run_relay`) over routing's complaints,
    with the delivery's step after the publish (the feed entries, adapters/delivery.py)."""
    await outbox.run_relay(
        db["complaints"], publish, older_than=RELAY_GRACE, every=RELAY_EVERY_S, after=after
    )


def database(client: AsyncMongoClient[dict[str, Any]], name: str) -> AsyncDatabase[dict[str, Any]]:
    return client[name]
