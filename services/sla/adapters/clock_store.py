"""SLA's database: one document per complaint (`complaint_clocks`) holding its clocks, the compact
lifecycle facts they are rebuilt from, the escalation ladder and the per-OPD accountability —
atomic per complaint, guarded by a revision.

Indexed fields that keep every periodic job a range read, never a scan:
- `next_check`: the earliest instant at which time alone changes the complaint (a warning, a due,
  an escalation, the `reporter_reply` expiry); the detector reads `next_check <= now` in order.
- `outbox_since` (shared/outbox.py): set while the document's `outbox` (the messages of its last
  change) is not yet confirmed published; cleared after the publish, the messages kept (a
  redelivered event announces them again). A crash in between leaves it set and the detector's
  relay (`relay`, shared/outbox.py `relay_once`) publishes it again (same event ids, so consumers
  see a duplicate at most).
- `governing`: the pemdas (and their provinces) whose calendars compute the clocks: what a
  calendar change recomputes. (`holidays_version`, what a new pinned `holidays` recomputes, is
  read once per new pin, so it has no index.)

A query on this database that matches many documents costs as many documents even with a sort
and a limit on an indexed field, so every periodic read is bounded by its range (what is due now,
what falls due within the next 250 ms), never "the smallest non-null".
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, InsertOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from services.sla.domain.clock import Clock
from services.sla.domain.complaint import ComplaintClocks
from services.sla.domain.facts import Fact
from services.sla.domain.holdings import Holding
from services.sla.domain.ladder import Escalation, EscalationStep
from services.sla.ports import Publish, Saved
from shared import outbox as outbox_
from shared.calendar import HOLIDAYS_VERSION
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing

COLLECTION = "complaint_clocks"


@dataclass
class StoredClocks:
    clocks: ComplaintClocks
    outbox: list[Outgoing]
    rev: int
    since: datetime | None = None  # when the outbox was staged, while it is not confirmed published
    # Lifecycle events that came after a gap in `seq`, held until it fills (encoded envelopes).
    parked: list[bytes] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return self.since is not None


@dataclass(frozen=True)
class _Loaded:
    rev: int = 0
    parked: list[bytes] = field(default_factory=list)
    carried: list[Outgoing] = field(default_factory=list)
    since: datetime | None = None


# --- documents -------------------------------------------------------------------------------------


_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _names(cls: type[Any]) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _plain(obj: Any) -> dict[str, Any]:
    """A domain dataclass as a document. Shallow on purpose (`asdict` deep-copies every datetime,
    the bulk of a replay's time): the fields are immutable values, or a dict of them (targets)."""
    return {name: getattr(obj, name) for name in _names(type(obj))}


def _known(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    names = _names(cls)
    return {k: v for k, v in data.items() if k in names}


def _clock_from(data: Mapping[str, Any]) -> Clock:
    values = _known(Clock, data)
    if "budget_ms" not in values:  # documents written before clocks kept milliseconds
        values["budget_ms"] = int(data.get("budget_seconds", 0)) * 1000
    return Clock(**values)


def to_doc(
    clocks: ComplaintClocks,
    outbox: Sequence[Outgoing],
    rev: int,
    *,
    after: datetime | None = None,
    parked: Sequence[bytes] = (),
) -> dict[str, Any]:
    """The complaint's document; its outbox staged (shared/outbox.py `stage`, after `after`, the
    previous staging still unconfirmed) when there are messages."""
    doc = {
        "_id": clocks.complaint_id,
        "pemda": clocks.pemda,
        "last_seq": clocks.last_seq,
        "tier": clocks.tier,
        "category": clocks.category,
        "submitted_at": clocks.submitted_at,
        "status": clocks.status,
        "unresolved_since": clocks.unresolved_since,
        "clocks": [_plain(c) for c in clocks.clocks],
        "history": [_plain(f) for f in clocks.history],
        "checked_until": clocks.checked_until,
        "escalation": {
            "level": clocks.escalation.level,
            "steps": [_plain(step) for step in clocks.escalation.steps],
            "level_2_at": clocks.escalation.level_2_at,
        },
        "escalation_level": clocks.escalation.level,
        "holder": clocks.holder,
        "holder_pemda": clocks.holder_pemda,
        "holdings": [_plain(h) for h in clocks.holdings],
        "transfers": clocks.transfers,
        "accountability": [_plain(a) for a in clocks.accountability()],
        "next_check": clocks.next_check(),
        "next_due": clocks.next_due(),
        "governing": clocks.governing_pemdas(),
        "holidays_version": HOLIDAYS_VERSION,
        "outbox": [],
        "outbox_since": None,
        "parked": list(parked),
        "parked_count": len(parked),
        "rev": rev,
    }
    if outbox:
        outbox_.stage(doc, outbox, after=after)
    return doc


def from_doc(doc: Mapping[str, Any]) -> StoredClocks:
    esc = doc.get("escalation") or {}
    clocks = ComplaintClocks(
        complaint_id=doc["_id"],
        pemda=doc.get("pemda"),
        last_seq=doc["last_seq"],
        tier=doc.get("tier", "normatif"),
        category=doc.get("category"),
        submitted_at=doc.get("submitted_at"),
        status=doc.get("status", "open"),
        unresolved_since=doc.get("unresolved_since"),
        clocks=[_clock_from(c) for c in doc.get("clocks", [])],
        history=[Fact(**_known(Fact, f)) for f in doc.get("history", [])],
        checked_until=doc.get("checked_until"),
        escalation=Escalation(
            level=esc.get("level", 0),
            steps=[EscalationStep(**_known(EscalationStep, s)) for s in esc.get("steps", [])],
            level_2_at=esc.get("level_2_at"),
        ),
        holder=doc.get("holder"),
        holder_pemda=doc.get("holder_pemda"),
        holdings=[Holding(**_known(Holding, h)) for h in doc.get("holdings", [])],
        transfers=doc.get("transfers", 0),
    )
    parked = [bytes(value) for value in doc.get("parked") or []]
    return StoredClocks(clocks, outbox_.staged(doc), doc["rev"], doc.get("outbox_since"), parked)


# --- the store -------------------------------------------------------------------------------------


class MongoClockStore:
    """One per task that writes (the lifecycle consumer, the detector, a recompute): it remembers
    the revision each loaded document had, and a save is refused if that changed meanwhile."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._complaints = db[COLLECTION]
        # id → (rev, parked events, unconfirmed outbox and its staging instant) as loaded: a save
        # carries the last two over.
        self._loaded: dict[str, _Loaded] = {}

    def _remember(self, doc: Mapping[str, Any]) -> StoredClocks:
        stored = from_doc(doc)
        pending = stored.outbox if stored.pending else []
        self._loaded[stored.clocks.complaint_id] = _Loaded(stored.rev, stored.parked, pending, stored.since)
        return stored

    async def load(self, complaint_ids: Sequence[str]) -> dict[str, StoredClocks]:
        found = {}
        async for doc in self._complaints.find({"_id": {"$in": list(complaint_ids)}}):
            found[doc["_id"]] = self._remember(doc)
        for cid in complaint_ids:
            if cid not in found:
                self._loaded[cid] = _Loaded()
        return found

    async def get(self, complaint_id: str) -> ComplaintClocks | None:
        doc = await self._complaints.find_one({"_id": complaint_id})
        return from_doc(doc).clocks if doc else None

    async def due(self, now: datetime, limit: int) -> list[StoredClocks]:
        """Complaints whose `next_check` has come, earliest first (an index range, not a scan)."""
        cursor = (
            self._complaints.find({"next_check": {"$lte": now}}).sort("next_check", ASCENDING).limit(limit)
        )
        return [self._remember(doc) async for doc in cursor]

    async def next_check_at(self, horizon: datetime) -> datetime | None:
        """The earliest `next_check` up to `horizon`: a bounded range on the index (an open-ended
        "not null" query makes this database walk every document)."""
        doc = await self._complaints.find_one(
            {"next_check": {"$lte": horizon}}, {"next_check": 1}, sort=[("next_check", ASCENDING)]
        )
        return doc["next_check"] if doc else None

    async def relay(self, publish: Publish, older_than: timedelta, limit: int) -> int:
        """Publish the outboxes staged before `older_than` ago and never confirmed (a crash between
        the write and the publish), keeping the messages; how many."""
        return await outbox_.relay_once(self._complaints, publish, older_than, limit, keep=True)

    async def governed(self, pemda: str, batch: int = 500) -> AsyncIterator[list[str]]:
        """Ids of the complaints with a clock on `pemda`'s calendar (or a kab/kota's of this
        province), in batches."""
        async for ids in self._ids_in_batches({"governing": pemda}, batch):
            yield ids

    async def with_old_holidays(self, batch: int = 500) -> AsyncIterator[list[str]]:
        """Ids of the complaints computed with another pinned `holidays` version."""
        async for ids in self._ids_in_batches({"holidays_version": {"$ne": HOLIDAYS_VERSION}}, batch):
            yield ids

    async def _ids_in_batches(self, query: dict[str, Any], batch: int) -> AsyncIterator[list[str]]:
        ids: list[str] = []
        async for doc in self._complaints.find(query, {"_id": 1}).sort("_id", ASCENDING):
            ids.append(doc["_id"])
            if len(ids) >= batch:
                yield ids
                ids = []
        if ids:
            yield ids

    async def save(
        self,
        changed: Sequence[tuple[ComplaintClocks, list[Outgoing]]],
        *,
        skip_conflicts: bool = False,
        parked: Mapping[str, list[bytes]] | None = None,
    ) -> Saved:
        """Store each complaint with the outbox of this change, after any outbox still pending.
        Its parked events are `parked[id]` when given, else those it had when loaded.

        A complaint changed by another writer since it was loaded is refused: ConcurrentUpdate,
        or, with `skip_conflicts`, left out of what was saved (its caller retries later)."""
        saved = Saved()
        if not changed:
            return saved
        # Tells this save's documents from another writer's when some were refused.
        token = uuid.uuid4().hex
        ops: list[InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]]] = []
        planned: dict[str, tuple[datetime | None, list[Outgoing]]] = {}
        replacements = 0
        for clocks, outbox in changed:
            cid = clocks.complaint_id
            loaded = self._loaded.pop(cid, _Loaded())
            rev, held = loaded.rev, loaded.parked
            if parked is not None and cid in parked:
                held = parked[cid]
            messages = [*loaded.carried, *outbox]
            doc = to_doc(clocks, messages, rev + 1, after=loaded.since, parked=held)
            doc["write"] = token
            planned[cid] = (doc["outbox_since"], messages)
            if rev == 0:
                ops.append(InsertOne(doc))
            else:
                ops.append(ReplaceOne({"_id": cid, "rev": rev}, doc))
                replacements += 1
        conflict = False
        try:
            result = await self._complaints.bulk_write(ops, ordered=False)
            conflict = result.matched_count != replacements
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors) or exc.details.get("writeConcernErrors"):
                raise
            conflict = True  # a concurrent first insert of the same complaint
        written = set(planned)
        if conflict:
            if not skip_conflicts:
                raise ConcurrentUpdate("a complaint's clocks changed concurrently")
            written = {
                d["_id"]
                async for d in self._complaints.find(
                    {"_id": {"$in": list(planned)}, "write": token}, {"_id": 1}
                )
            }
        for cid, (since, messages) in planned.items():
            if cid in written and since is not None:
                saved.writes[cid] = since
                saved.messages.extend(messages)
        return saved

    async def mark_published(self, writes: Mapping[str, datetime]) -> None:
        """The outboxes of these writes (complaint id → staging instant) are on Kafka: nothing left
        for the relay; a complaint staged again since keeps its outbox pending."""
        await outbox_.mark_published(self._complaints, list(writes.items()), keep=True)

    async def insert_replayed(self, replayed: Iterable[ComplaintClocks], chunk: int = 1000) -> int:
        """Bulk-insert complaints rebuilt by a replay into an empty database (nothing to announce)."""
        count = 0
        docs: list[dict[str, Any]] = []
        for clocks in replayed:
            docs.append(to_doc(clocks, [], 1))
            if len(docs) >= chunk:
                await self._complaints.insert_many(docs, ordered=False)
                count += len(docs)
                docs = []
        if docs:
            await self._complaints.insert_many(docs, ordered=False)
            count += len(docs)
        return count


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    complaints = db[COLLECTION]
    # Detection reads the earliest next_check first: an index range, never a scan (issue 6 item 3).
    await complaints.create_index([("next_check", ASCENDING)])
    await outbox_.ensure_outbox_index(complaints)
    await complaints.create_index([("governing", ASCENDING)])
    # Complaints waiting for a missing lifecycle event (`pengaduan status`): few, so a partial index.
    await complaints.create_index(
        [("parked_count", ASCENDING)], partialFilterExpression={"parked_count": {"$gt": 0}}
    )
    # No more: every index is one more entry to rewrite with each of the detector's writes.


async def detection_lag(db: AsyncDatabase[dict[str, Any]], now: datetime) -> timedelta:
    """How long the earliest due check has waited (zero when the detector is up to date)."""
    oldest = await db[COLLECTION].find_one(
        {"next_check": {"$lte": now}}, {"next_check": 1}, sort=[("next_check", 1)]
    )
    return now - oldest["next_check"] if oldest else timedelta(0)
