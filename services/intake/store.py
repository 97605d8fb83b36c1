"""Intake's database: the complaint record (reporter identity lives only here, DESIGN §3) with
the citizen's view maintained on it by the events consumer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.mongo import GroupWriter

# Never leaves intake's database through a view.
IDENTITY_FIELDS = ("reporter",)
# An Idempotency-Key replays its original answer for 24 h (DESIGN §3); the TTL index expires it.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


class ConcurrentUpdate(RuntimeError):
    pass


class ComplaintStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._complaints = db["complaints"]
        self._idempotency = db["idempotency_keys"]
        # Submits arrive concurrently: their writes are grouped into batches (group commit).
        self._complaint_writes = GroupWriter(self._complaints)
        self._key_writes = GroupWriter(self._idempotency)

    async def claim_key(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """Reserve an Idempotency-Key with the answer it will replay; the earlier record if taken."""
        try:
            await self._key_writes.insert(record)
            return None
        except DuplicateKeyError:
            return await self._idempotency.find_one({"_id": record["_id"]}) or {}

    async def complete_key(self, key: str) -> None:
        await self._key_writes.update_one({"_id": key}, {"$set": {"done": True}})

    async def release_key(self, key: str) -> None:
        await self._idempotency.delete_one({"_id": key, "done": False})

    async def insert(self, doc: dict[str, Any]) -> None:
        await self._complaint_writes.insert(doc)

    async def delete(self, complaint_id: str) -> None:
        await self._complaints.delete_one({"_id": complaint_id})

    async def get(self, complaint_id: str) -> dict[str, Any] | None:
        return await self._complaints.find_one({"_id": complaint_id}, {f: 0 for f in IDENTITY_FIELDS})

    async def load_views(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        projection = {"last_seq": 1, "deadlines": 1, "timeline": 1, "status": 1, "opd_id": 1, "rev": 1}
        return {d["_id"]: d async for d in self._complaints.find({"_id": {"$in": list(ids)}}, projection)}

    async def save_views(self, docs: Sequence[dict[str, Any]]) -> None:
        """Write the view fields back, each guarded by the revision it was read at."""
        if not docs:
            return
        ops = []
        for doc in docs:
            fields = {k: v for k, v in doc.items() if k not in ("_id", "rev")}
            ops.append(
                UpdateOne({"_id": doc["_id"], "rev": doc["rev"]}, {"$set": {**fields, "rev": doc["rev"] + 1}})
            )
        result = await self._complaints.bulk_write(ops, ordered=False)
        if result.matched_count != len(ops):
            raise ConcurrentUpdate(f"{len(ops) - result.matched_count} view(s) changed concurrently")


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db["idempotency_keys"].create_index("created_at", expireAfterSeconds=IDEMPOTENCY_TTL_SECONDS)
    # Public listing (issue 4) pages by region and status, newest first.
    await db["complaints"].create_index(
        [("region_code", ASCENDING), ("status", ASCENDING), ("_id", ASCENDING)]
    )
