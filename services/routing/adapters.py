"""Routing's database: complaints (state + outbox), the OPD feed, notes, webhooks, the catalog.

A complaint document holds its lifecycle state, the events of its last change (`outbox`) and
whether they reached Kafka (`published`). Every change is one rev-guarded write of the document,
so state and outbox are atomic; publishing happens after, and a relay re-publishes what a crash
left unpublished (consumers recognise duplicates by seq).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from ulid import ULID

from shared import clock
from shared.faults import TransientError
from shared.kafka import Outgoing

DUPLICATE_KEY = 11000
# `sla_due` of a complaint without a running clock: sorts last, keeps the queue index total.
NO_DUE = datetime(9999, 1, 1, tzinfo=UTC)
# The per-pemda rule overrides are re-read at most this often (a read per batch cost a database
# round trip on every submission batch). A change through this process's admin API is seen at
# once; another routing process sees it within this many seconds.
RULES_TTL_SECONDS = 1.0


class ConcurrentUpdate(TransientError):
    """Another writer changed the complaint between our read and our write."""


def outbox_doc(messages: Sequence[Outgoing]) -> list[dict[str, Any]]:
    return [{"topic": m.topic, "key": m.key, "value": m.value} for m in messages]


def outbox_messages(stored: Sequence[dict[str, Any]]) -> list[Outgoing]:
    return [Outgoing(m["topic"], m["key"], bytes(m["value"])) for m in stored]


class MongoComplaintStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self._complaints = db["complaints"]
        self._rules: dict[tuple[str, str], str] | None = None
        self._rules_read_at = 0.0

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
        found = {
            d["_id"]: d["outbox"]
            async for d in self._complaints.find({"_id": {"$in": list(ids)}}, {"outbox": 1})
        }
        return [m for cid in ids for m in outbox_messages(found.get(cid, []))]

    async def overrides(self, pemdas: Sequence[str]) -> dict[tuple[str, str], str]:
        """Per-pemda rule overrides (a few per pemda at most, all held in memory), re-read when
        older than `RULES_TTL_SECONDS`: a change takes effect without a restart."""
        if self._rules is None or time.monotonic() - self._rules_read_at > RULES_TTL_SECONDS:
            read_at = time.monotonic()
            found = self.db["rules"].find({}, {"pemda": 1, "category": 1, "opd_slug": 1})
            self._rules = {(r["pemda"], r["category"]): r["opd_slug"] async for r in found}
            self._rules_read_at = read_at
        wanted = set(pemdas)
        return {key: slug for key, slug in self._rules.items() if key[0] in wanted}

    def forget_rules(self) -> None:
        """The rules changed (admin API): the next batch reads them again."""
        self._rules = None

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

    async def mark_published(self, seqs: dict[str, int]) -> None:
        """The outbox of these complaints (ending at these seqs) is in Kafka. Guarded by `seq`, not
        `rev`: a dues update (sla.events) changes `rev` but not the outbox, while a newer outbox
        (a later transition, which its own writer publishes) has a higher seq and stays pending."""
        by_seq: dict[int, list[str]] = {}
        for cid, seq in seqs.items():
            by_seq.setdefault(seq, []).append(cid)
        # One update per distinct seq (a batch of new submissions is all seq 2): several times
        # cheaper on this database server than one update per complaint.
        for seq, ids in by_seq.items():
            await self._complaints.update_many(
                {"_id": {"$in": ids}, "seq": seq}, {"$set": {"published": True}}
            )

    async def unpublished(self, older_than: datetime, limit: int = 200) -> list[dict[str, Any]]:
        cursor = self._complaints.find(
            {"published": False, "updated_at": {"$lt": older_than}},
            {"outbox": 1, "rev": 1, "opd_id": 1, "anonymous": 1},
        ).limit(limit)
        return [d async for d in cursor]

    async def set_lease(self, complaint_id: str, rev: int, handler: str, until: datetime) -> bool:
        result = await self._complaints.update_one(
            {"_id": complaint_id, "rev": rev},
            {"$set": {"claimed_by": handler, "lease_until": until}, "$inc": {"rev": 1}},
        )
        return result.matched_count == 1

    async def set_dues(self, updates: Sequence[tuple[str, int, dict[str, Any], datetime]]) -> int:
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
        self, *, field: str, value: str, states: Sequence[str], limit: int, after: tuple[datetime, str] | None
    ) -> list[dict[str, Any]]:
        """Complaints of one OPD (or one pemda's triage) by nearest SLA due, then id; keyset paged.

        One indexed range per state (the index is field, state, sla_due, _id), merged here: never
        a scan of the OPD's complaints."""
        items: list[dict[str, Any]] = []
        for state in states:
            query: dict[str, Any] = {field: value, "state": state}
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


# Feed entries become readable this long after they were stamped, so that a reader never pages
# past an entry whose write was still in flight (see FeedStore).
FEED_SETTLE = timedelta(seconds=2)
_POS_END = "~"  # sorts after every character of an entry id


def feed_pos(at: datetime, entry_id: str) -> str:
    """An entry's place in its OPD's feed: write instant (ms) first, then its id."""
    return f"{int(at.timestamp() * 1000):013d}:{entry_id}"


def _legacy_pos(entry_id: str) -> str:
    """The place of an entry written before positions existed: its event's own instant."""
    try:
        ms = ULID.from_str(entry_id.split(":", 1)[0]).milliseconds
    except ValueError:
        ms = 0
    return f"{ms:013d}:{entry_id}"


class FeedStore:
    """Per-OPD feed entries (`_id` = `<event_id>:<opd_id>`, so writing one twice is a no-op).

    Readers page by `pos` (write instant, then id), not by the event id: an entry created earlier
    but written later (a concurrent transition, the relay) gets a later position instead of one
    behind a reader's cursor. Only entries stamped at least `settle` ago are read, and a write
    that took longer than half of that is stamped again after it, so a reader never passes an
    entry that was not yet there; the price is that a reader may, rarely, see an entry twice.
    """

    def __init__(self, db: AsyncDatabase[dict[str, Any]], settle: timedelta = FEED_SETTLE) -> None:
        self._feed = db["opd_feed"]
        self._settle = settle

    async def add(self, entries: Sequence[dict[str, Any]]) -> None:
        if not entries:
            return
        began = clock.wall()
        try:
            # Inserts, not upserts: on this database server an insert costs a fraction of an
            # upsert; an entry written before (the relay repeating a delivery) is a duplicate key.
            await self._feed.insert_many(
                [{**e, "written_at": began, "pos": feed_pos(began, e["_id"])} for e in entries], ordered=False
            )
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise
            if exc.details.get("writeConcernErrors"):
                raise
        if clock.wall() - began > self._settle / 2:
            again = clock.wall()
            await self._feed.bulk_write(
                [
                    UpdateOne(
                        {"_id": e["_id"]}, {"$set": {"written_at": again, "pos": feed_pos(again, e["_id"])}}
                    )
                    for e in entries
                ],
                ordered=False,
            )

    async def after(
        self, opd_id: str, cursor: str | None, limit: int, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Up to `limit` settled entries of the OPD after `cursor` (a `pos`; an entry id, the
        cursor format before positions, is accepted too)."""
        upper = feed_pos((now or clock.wall()) - self._settle, _POS_END)
        window: dict[str, Any] = {"$lte": upper}
        if cursor:
            window["$gt"] = await self._position(cursor)
        found = self._feed.find({"opd_id": opd_id, "pos": window})
        return [d async for d in found.sort([("opd_id", ASCENDING), ("pos", ASCENDING)]).limit(limit)]

    async def _position(self, cursor: str) -> str:
        if len(cursor) > 14 and cursor[:13].isdigit() and cursor[13] == ":":
            return cursor
        entry = await self._feed.find_one({"_id": cursor}, {"pos": 1})
        return str(entry["pos"]) if entry and entry.get("pos") else _legacy_pos(cursor)

    async def backfill_positions(self) -> int:
        """Give entries written before positions existed their event's instant as position."""
        ops = [
            UpdateOne({"_id": d["_id"]}, {"$set": {"pos": _legacy_pos(d["_id"])}})
            async for d in self._feed.find({"pos": {"$exists": False}}, {"_id": 1})
        ]
        for i in range(0, len(ops), 500):
            await self._feed.bulk_write(ops[i : i + 500], ordered=False)
        return len(ops)


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
    await complaints.create_index([("published", ASCENDING), ("updated_at", ASCENDING)])
    await db["opd_feed"].create_index([("opd_id", ASCENDING), ("pos", ASCENDING)])
    # Once per database, not at every start: entries written before feed positions existed.
    if await db["migrations"].find_one({"_id": "feed-positions"}) is None:
        await FeedStore(db).backfill_positions()
        await db["migrations"].update_one(
            {"_id": "feed-positions"}, {"$set": {"at": clock.wall()}}, upsert=True
        )
    await db["notes"].create_index([("complaint_id", ASCENDING), ("at", ASCENDING)])
    await db["webhook_deliveries"].create_index([("opd_id", ASCENDING), ("at", DESCENDING)])
    await db["opds"].create_index([("pemda", ASCENDING), ("slug", ASCENDING)], unique=True)
    await db["rules"].create_index([("pemda", ASCENDING), ("category", ASCENDING)], unique=True)


def database(client: AsyncMongoClient[dict[str, Any]], name: str) -> AsyncDatabase[dict[str, Any]]:
    return client[name]
