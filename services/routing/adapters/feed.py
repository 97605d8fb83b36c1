"""The per-OPD feed (the `Feed` of ports.py): the entries an OPD's own systems read, by API
(`GET /api/v1/opd/{pemda}/{slug}/feed`) or pushed by webhook (adapters/webhooks.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError
from ulid import ULID

from shared import clock

DUPLICATE_KEY = 11000
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

    async def of_complaint(self, opd_id: str, complaint_id: str, limit: int) -> list[dict[str, Any]]:
        found = self._feed.find({"complaint_id": complaint_id, "opd_id": opd_id})
        order = [("complaint_id", ASCENDING), ("opd_id", ASCENDING), ("pos", ASCENDING)]
        return [d async for d in found.sort(order).limit(limit)]

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
