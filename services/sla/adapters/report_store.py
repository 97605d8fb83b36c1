"""The MongoDB side of the supervisor reports (domain/reports.py folds events into records and
counter increments; report_docs.py gives their documents; this module stores and queries them).

Writes: one batch's changed records, their projections (`report_breaches`, `report_escalations`)
and the counter increments (`report_weekly`, `report_gauges`) in one transaction, each record
replaced only if its `rev` is still the one that was read (else `ConcurrentUpdate`: retry the batch).

Reads: what the supervisor API asks, each query with its matching index (`ensure_report_indexes`);
the breach and escalation lists page by keyset with an opaque cursor.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, DeleteOne, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.sla.adapters.report_docs import (
    breach_doc,
    clock_doc,
    clock_record,
    complaint_doc,
    complaint_record,
    counter_writes,
    escalation_doc,
    ever_breached,
)
from services.sla.domain.reports import ClockRecord, ComplaintRecord, Doc, ReportChanges
from services.sla.ports import BreachFilter, Page
from shared.faults import ConcurrentUpdate
from shared.mongo import transaction

# The collections (their names and document shapes are the stored format).
COMPLAINTS = "report_complaints"
CLOCKS = "report_clocks"
BREACHES = "report_breaches"
ESCALATIONS = "report_escalations"
WEEKLY = "report_weekly"
MONTHLY = "report_monthly"  # domain/monthly.py: the public page's and the IKM's counters
NAMES = "report_opd_names"  # OPD names by pemda, from routing's catalog.changes
GAUGES = "report_gauges"
COMMIT_TIMEOUT_S = 8.0  # one batch's projections; below the server's transaction lifetime (10 s)


async def ensure_report_indexes(db: AsyncDatabase[Doc]) -> None:
    """Every query the supervisor API serves has its matching index (DESIGN §7): on the database
    we run, a range and sort without one walks the whole collection."""
    await db[CLOCKS].create_index([("complaint_id", ASCENDING)])
    await db[WEEKLY].create_index([("level", ASCENDING), ("pemda", ASCENDING), ("week", ASCENDING)])
    await db[WEEKLY].create_index([("scope", ASCENDING), ("week", ASCENDING)])
    await db[WEEKLY].create_index([("level", ASCENDING), ("week", ASCENDING)])
    await db[GAUGES].create_index([("level", ASCENDING), ("pemda", ASCENDING)])
    await db[MONTHLY].create_index([("level", ASCENDING), ("pemda", ASCENDING), ("month", ASCENDING)])
    await db[MONTHLY].create_index([("scope", ASCENDING), ("month", ASCENDING)])
    await db[MONTHLY].create_index([("level", ASCENDING), ("month", ASCENDING)])
    for prefix in ([], [("pemda", ASCENDING)], [("opd_id", ASCENDING)]):
        await db[BREACHES].create_index(
            [("open", ASCENDING), *prefix, ("due_at", ASCENDING), ("_id", ASCENDING)]
        )
        await db[BREACHES].create_index(
            [("open", ASCENDING), *prefix, ("late_ms", DESCENDING), ("_id", ASCENDING)]
        )
        await db[ESCALATIONS].create_index(
            [*prefix, ("level", DESCENDING), ("raised_at", ASCENDING), ("_id", ASCENDING)]
        )


def encode_cursor(data: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


MAX_CURSOR = 512  # characters; ours are about 100
MAX_MS = 10**14  # epoch milliseconds a cursor may carry (year 5138): datetime and BSON hold them


def decode_cursor(raw: str) -> dict[str, Any]:
    """The cursor's data; ValueError when it is not one of ours (too long, not base64 JSON,
    nested, or a number no instant can be)."""
    if len(raw) > MAX_CURSOR:
        raise ValueError("cursor tidak sah")
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("cursor tidak sah") from exc
    if not isinstance(data, dict):
        raise ValueError("cursor tidak sah")
    return data


def _epoch_ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _cursor_ms(value: Any) -> int:
    """An epoch-millisecond (or duration) field of a cursor; ValueError when no instant is it."""
    try:
        ms = int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError("cursor tidak sah") from exc
    if isinstance(value, bool) or not -MAX_MS <= ms <= MAX_MS:
        raise ValueError("cursor tidak sah")
    return ms


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def projection_writes(
    changes: ReportChanges,
) -> tuple[list[ReplaceOne[Doc] | DeleteOne], list[ReplaceOne[Doc] | DeleteOne]]:
    """The writes to the breach and escalation lists for one batch's changed records. An entry
    is removed only where one can exist — a clock that was ever breached, a complaint that was
    ever escalated — not for every other change (that cost a remove per record per batch)."""
    breach_ops: list[ReplaceOne[Doc] | DeleteOne] = []
    for clock in changes.clocks:
        doc = breach_doc(clock)
        if doc:
            breach_ops.append(ReplaceOne({"_id": clock.clock_id}, doc, upsert=True))
        elif ever_breached(clock):
            breach_ops.append(DeleteOne({"_id": clock.clock_id}))
    escalation_ops: list[ReplaceOne[Doc] | DeleteOne] = []
    for record in changes.complaints:
        doc = escalation_doc(record)
        if doc:
            escalation_ops.append(ReplaceOne({"_id": record.complaint_id}, doc, upsert=True))
        elif record.escalations:
            escalation_ops.append(DeleteOne({"_id": record.complaint_id}))
    return breach_ops, escalation_ops


class MongoReportStore:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db

    # OPD names (routing's `catalog.changes`): one document per pemda, {_id, revision, names}

    async def put_names(self, pemda: str, revision: int, names: dict[str, str]) -> bool:
        # Guarded by the revision: a redelivered or older announcement changes nothing.
        try:
            result = await self._db[NAMES].update_one(
                {"_id": pemda, "revision": {"$lt": revision}},
                {"$set": {"revision": revision, "names": [[k, v] for k, v in names.items()]}},
                upsert=True,
            )
        except DuplicateKeyError:  # the pemda has a revision as new already
            return False
        return result.modified_count > 0 or result.upserted_id is not None

    async def opd_names(self, opd_ids: Iterable[str]) -> dict[str, str]:
        wanted = set(opd_ids)
        pemdas = {opd.split("/", 1)[0] for opd in wanted}
        found: dict[str, str] = {}
        async for doc in self._db[NAMES].find({"_id": {"$in": sorted(pemdas)}}):
            found.update((k, v) for k, v in doc["names"] if k in wanted)
        return found

    # write side

    async def load(
        self, complaint_ids: Iterable[str], clock_ids: Iterable[str]
    ) -> tuple[dict[str, ComplaintRecord], dict[str, ClockRecord]]:
        cids, kids = list(complaint_ids), list(clock_ids)
        complaints = (
            {d["_id"]: complaint_record(d) async for d in self._db[COMPLAINTS].find({"_id": {"$in": cids}})}
            if cids
            else {}
        )
        clocks = (
            {d["_id"]: clock_record(d) async for d in self._db[CLOCKS].find({"_id": {"$in": kids}})}
            if kids
            else {}
        )
        return complaints, clocks

    async def commit(self, changes: ReportChanges) -> None:
        # Bounded, and never left open when it fails (shared.mongo.transaction): a write conflict
        # or a lost server is transient, and the consumer retries the batch.
        await transaction(self._db.client, lambda s: self._write(changes, s), timeout=COMMIT_TIMEOUT_S)

    async def _write(self, changes: ReportChanges, session: AsyncClientSession) -> None:
        await self._records(COMPLAINTS, [(r.rev, complaint_doc(r)) for r in changes.complaints], session)
        await self._records(CLOCKS, [(c.rev, clock_doc(c)) for c in changes.clocks], session)
        breach_ops, escalation_ops = projection_writes(changes)
        if breach_ops:
            await self._db[BREACHES].bulk_write(breach_ops, ordered=False, session=session)
        if escalation_ops:
            await self._db[ESCALATIONS].bulk_write(escalation_ops, ordered=False, session=session)
        writes = counter_writes(changes.deltas)
        for name, grouped in ((WEEKLY, writes.weekly), (GAUGES, writes.gauges), (MONTHLY, writes.monthly)):
            ops: list[UpdateOne] = [
                UpdateOne({"_id": doc_id}, {"$setOnInsert": base, "$inc": dict(incs)}, upsert=True)
                for doc_id, (base, incs) in grouped.items()
            ]
            if name == GAUGES:
                ops += [
                    UpdateOne(
                        {"_id": scope, f"open_days.{day}": {"$lte": 0}}, {"$unset": {f"open_days.{day}": ""}}
                    )
                    for scope, day in sorted(writes.emptied_days)
                ]
            if ops:
                await self._db[name].bulk_write(ops, ordered=True, session=session)

    async def _records(
        self, collection: str, docs: list[tuple[int, Doc]], session: AsyncClientSession
    ) -> None:
        if not docs:
            return
        ops: list[InsertOne[Doc] | ReplaceOne[Doc]] = []
        replaced = 0
        for rev, doc in docs:
            new = {**doc, "rev": rev + 1}
            if rev == 0:
                ops.append(InsertOne(new))
            else:
                ops.append(ReplaceOne({"_id": doc["_id"], "rev": rev}, new))
                replaced += 1
        try:
            result = await self._db[collection].bulk_write(ops, ordered=False, session=session)
        except (BulkWriteError, DuplicateKeyError) as exc:
            raise ConcurrentUpdate(f"{collection}: a record was created concurrently") from exc
        if result.matched_count != replaced:
            raise ConcurrentUpdate(f"{collection}: a record changed since it was read")

    # read side

    async def weekly(
        self, *, level: str, pemda: str | None, scope: str | None, weeks: tuple[date, date]
    ) -> list[Doc]:
        span = {"$gte": weeks[0].isoformat(), "$lte": weeks[1].isoformat()}
        if scope is not None:
            query: Doc = {"scope": scope, "week": span}
        elif pemda is not None:
            query = {"level": level, "pemda": pemda, "week": span}
        else:
            query = {"level": level, "week": span}
        return [d async for d in self._db[WEEKLY].find(query) if d["level"] == level]

    async def monthly(
        self, *, level: str, pemda: str | None, scope: str | None, months: tuple[str, str]
    ) -> list[Doc]:
        span = {"$gte": months[0], "$lte": months[1]}
        if scope is not None:
            query: Doc = {"scope": scope, "month": span}
        elif pemda is not None:
            query = {"level": level, "pemda": pemda, "month": span}
        else:
            query = {"level": level, "month": span}
        return [d async for d in self._db[MONTHLY].find(query) if d["level"] == level]

    async def gauges(self, *, level: str, pemda: str | None, scope: str | None) -> list[Doc]:
        if scope is not None:
            doc = await self._db[GAUGES].find_one({"_id": scope})
            return [doc] if doc else []
        query: Doc = {"level": level, "pemda": pemda} if pemda is not None else {"level": level}
        return [d async for d in self._db[GAUGES].find(query)]

    async def breaches(self, where: BreachFilter, *, as_of: datetime, cursor: str | None, limit: int) -> Page:
        """Breached clocks, the latest first: still-open breaches are late by `as_of − due`,
        stopped ones by `stop − due`. Two index-ordered queries merged; the cursor pins `as_of`
        so that paging through open breaches is stable."""
        after: tuple[int, str] | None = None
        if cursor is not None:
            data = decode_cursor(cursor)
            try:
                as_of_ms, after = _cursor_ms(data["as_of"]), (_cursor_ms(data["late"]), str(data["id"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError("cursor tidak sah") from exc
        else:
            as_of_ms = _epoch_ms(as_of)
        base: Doc = {}
        if where.opd_id is not None:
            base["opd_id"] = where.opd_id
        elif where.pemda is not None:
            base["pemda"] = where.pemda
        if where.clock is not None:
            base["clock"] = where.clock
        due: Doc = {}
        if where.due_from is not None:
            due["$gte"] = where.due_from
        if where.due_to is not None:
            due["$lt"] = where.due_to
        open_q: Doc = {"open": True, **base}
        closed_q: Doc = {"open": False, **base}
        if due:
            open_q["due_at"] = dict(due)
            closed_q["due_at"] = dict(due)
        if after is not None:
            late, last_id = after
            pivot = _from_ms(as_of_ms - late)
            open_q = {
                "$and": [
                    open_q,
                    {"$or": [{"due_at": {"$gt": pivot}}, {"due_at": pivot, "_id": {"$gt": last_id}}]},
                ]
            }
            closed_q = {
                "$and": [
                    closed_q,
                    {"$or": [{"late_ms": {"$lt": late}}, {"late_ms": late, "_id": {"$gt": last_id}}]},
                ]
            }
        open_docs = (
            await self._db[BREACHES]
            .find(open_q)
            .sort([("due_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit + 1)
            .to_list()
        )
        closed_docs = (
            await self._db[BREACHES]
            .find(closed_q)
            .sort([("late_ms", DESCENDING), ("_id", ASCENDING)])
            .limit(limit + 1)
            .to_list()
        )
        for doc in open_docs:
            doc["late_ms"] = as_of_ms - _epoch_ms(doc["due_at"])
        merged = sorted(open_docs + closed_docs, key=lambda d: (-d["late_ms"], d["_id"]))
        items = merged[:limit]
        next_cursor = None
        if len(merged) > limit and items:
            last = items[-1]
            next_cursor = encode_cursor({"as_of": as_of_ms, "late": last["late_ms"], "id": last["_id"]})
        return Page(items, next_cursor)

    async def escalations(
        self, *, pemda: str | None, opd_id: str | None, cursor: str | None, limit: int
    ) -> Page:
        """Open escalated complaints, the highest level first, then the longest escalated."""
        query: Doc = {}
        if opd_id is not None:
            query["opd_id"] = opd_id
        elif pemda is not None:
            query["pemda"] = pemda
        if cursor is not None:
            data = decode_cursor(cursor)
            try:
                level, raised, last_id = _cursor_ms(data["level"]), data["raised"], str(data["id"])
                raised_at = _from_ms(_cursor_ms(raised)) if raised is not None else None
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError("cursor tidak sah") from exc
            query = {
                "$and": [
                    query,
                    {
                        "$or": [
                            {"level": {"$lt": level}},
                            {"level": level, "raised_at": {"$gt": raised_at}},
                            {"level": level, "raised_at": raised_at, "_id": {"$gt": last_id}},
                        ]
                    },
                ]
            }
        docs = (
            await self._db[ESCALATIONS]
            .find(query)
            .sort([("level", DESCENDING), ("raised_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit + 1)
            .to_list()
        )
        items = docs[:limit]
        next_cursor = None
        if len(docs) > limit:
            last = items[-1]
            raised_ms = _epoch_ms(last["raised_at"]) if last["raised_at"] is not None else None
            next_cursor = encode_cursor({"level": last["level"], "raised": raised_ms, "id": last["_id"]})
        return Page(items, next_cursor)

    async def complaint(self, complaint_id: str) -> tuple[ComplaintRecord | None, list[ClockRecord]]:
        doc = await self._db[COMPLAINTS].find_one({"_id": complaint_id})
        clocks = [
            clock_record(d)
            async for d in self._db[CLOCKS].find({"complaint_id": complaint_id}).sort("started_at", ASCENDING)
        ]
        return (complaint_record(doc) if doc else None), clocks


async def figures(db: AsyncDatabase[Doc], now: datetime, day_start: datetime) -> dict[str, Any]:
    """What /metrics shows of the supervisors' lists, each an indexed count: open breaches,
    breaches that fell due since `day_start`, open escalations by level."""
    breaches = db[BREACHES]
    return {
        "open_breaches": await breaches.count_documents({"open": True}),
        "breaches_today": await breaches.count_documents(
            {"open": {"$in": [True, False]}, "due_at": {"$gte": day_start, "$lte": now}}
        ),
        "escalations": {
            level: await db[ESCALATIONS].count_documents({"level": level}) for level in (1, 2, 3)
        },
    }
