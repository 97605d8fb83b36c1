"""Routing's database: complaints (state + outbox) and the OPD catalog."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.kafka import Outgoing

DUPLICATE_KEY = 11000


class MongoComplaintStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
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
        found = {
            d["_id"]: d["outbox"]
            async for d in self._complaints.find({"_id": {"$in": list(ids)}}, {"outbox": 1})
        }
        return [Outgoing(m["topic"], m["key"], bytes(m["value"])) for cid in ids for m in found.get(cid, [])]

    async def get(self, complaint_id: str) -> dict[str, Any] | None:
        return await self._complaints.find_one({"_id": complaint_id}, {"outbox": 0})


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    # OPD queues (issue 5) read by OPD and state; the catalog by pemda.
    await db["complaints"].create_index([("opd_id", ASCENDING), ("state", ASCENDING)])
    await db["complaints"].create_index([("pemda", ASCENDING), ("state", ASCENDING)])
    await db["opds"].create_index([("pemda", ASCENDING), ("slug", ASCENDING)], unique=True)


def database(client: AsyncMongoClient[dict[str, Any]], name: str) -> AsyncDatabase[dict[str, Any]]:
    return client[name]
