"""SLA's database: one document per complaint with its clocks (atomic per complaint), plus the
earliest due of its running clocks (`next_due`, indexed) for breach detection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pymongo import ASCENDING, InsertOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from services.sla.domain import Clock, ComplaintClocks
from shared.kafka import Outgoing, TransientError


class ConcurrentUpdate(TransientError):
    """Another writer changed a complaint's clocks between our read and write."""


@dataclass
class StoredClocks:
    clocks: ComplaintClocks
    outbox: list[Outgoing]
    rev: int


def _to_doc(clocks: ComplaintClocks, outbox: list[Outgoing], rev: int) -> dict[str, Any]:
    running = [c.due_at for c in clocks.clocks if c.state == "running"]
    return {
        "_id": clocks.complaint_id,
        "pemda": clocks.pemda,
        "last_seq": clocks.last_seq,
        "tier": clocks.tier,
        "clocks": [asdict(c) for c in clocks.clocks],
        "next_due": min(running) if running else None,
        "outbox": [{"topic": m.topic, "key": m.key, "value": m.value} for m in outbox],
        "rev": rev,
    }


def _from_doc(doc: dict[str, Any]) -> StoredClocks:
    clocks = ComplaintClocks(
        complaint_id=doc["_id"],
        pemda=doc.get("pemda"),
        last_seq=doc["last_seq"],
        tier=doc.get("tier", "normatif"),
        clocks=[Clock(**c) for c in doc["clocks"]],
    )
    outbox = [Outgoing(m["topic"], m["key"], bytes(m["value"])) for m in doc.get("outbox", [])]
    return StoredClocks(clocks, outbox, doc["rev"])


class MongoClockStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._complaints = db["complaint_clocks"]
        self._revs: dict[str, int] = {}

    async def load(self, complaint_ids: Sequence[str]) -> dict[str, StoredClocks]:
        found = {}
        async for doc in self._complaints.find({"_id": {"$in": list(complaint_ids)}}):
            stored = _from_doc(doc)
            found[doc["_id"]] = stored
            self._revs[doc["_id"]] = stored.rev
        for cid in complaint_ids:
            if cid not in found:
                self._revs[cid] = 0
        return found

    async def save(self, changed: Sequence[tuple[ComplaintClocks, list[Outgoing]]]) -> None:
        if not changed:
            return
        ops: list[InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]]] = []
        replacements = 0
        for clocks, outbox in changed:
            rev = self._revs.pop(clocks.complaint_id, 0)
            doc = _to_doc(clocks, outbox, rev + 1)
            if rev == 0:
                ops.append(InsertOne(doc))
            else:
                ops.append(ReplaceOne({"_id": clocks.complaint_id, "rev": rev}, doc))
                replacements += 1
        result = await self._complaints.bulk_write(ops, ordered=False)
        if result.matched_count != replacements:
            raise ConcurrentUpdate(f"{replacements - result.matched_count} complaint(s) changed concurrently")

    async def get(self, complaint_id: str) -> ComplaintClocks | None:
        doc = await self._complaints.find_one({"_id": complaint_id})
        return _from_doc(doc).clocks if doc else None


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    # Breach detection asks for the earliest due first: an index, not a scan (DESIGN §5, issue 6).
    await db["complaint_clocks"].create_index([("next_due", ASCENDING)])
    await db["complaint_clocks"].create_index([("pemda", ASCENDING)])
