"""Webhook push to OPD systems: each registered OPD gets its feed entries POSTed in order, signed
with HMAC-SHA256 over the body (`X-Pengaduan-Signature: sha256=<hex>`), retried with exponential
backoff (capped at 10 minutes), every attempt logged in `webhook_deliveries`.

One loop per routing process walks the registered webhooks whose `next_attempt` has come. Each
push first takes the webhook's lease (`lease_until`, released when the attempt is recorded), so
with several routing processes one webhook is pushed by one of them at a time, in order; a process
that dies mid-push leaves the lease to run out (`LEASE`). Receivers still see an entry twice when
a push succeeded but its acknowledgement was lost: they dedupe by the stable entry ids
(`<event_id>:<opd_id>`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from services.routing.adapters import FeedStore
from shared import clock

log = logging.getLogger(__name__)
BATCH = 50
MAX_BACKOFF = timedelta(minutes=10)
LEASE = timedelta(seconds=60)  # longer than a push can take (10 s timeout) plus its bookkeeping


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _jsonable(entry: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in entry.items()
        if k not in ("_id", "pos")
    }
    out["id"] = entry["_id"]
    return out


async def deliver_once(
    db: AsyncDatabase[dict[str, Any]], feed: FeedStore, session: aiohttp.ClientSession, now: datetime
) -> int:
    """One pass over the webhooks that are due; the number of entries delivered."""
    delivered = 0
    async for due in db["webhooks"].find({"next_attempt": {"$lte": now}}, {"_id": 1}):
        hook = await db["webhooks"].find_one_and_update(
            {
                "_id": due["_id"],
                "next_attempt": {"$lte": now},
                "$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}],
            },
            {"$set": {"lease_until": now + LEASE}},
            return_document=ReturnDocument.AFTER,
        )
        if hook is None:
            continue  # another routing process is pushing it
        entries = await feed.after(hook["_id"], hook.get("cursor"), BATCH, now)
        if not entries:
            await db["webhooks"].update_one({"_id": hook["_id"]}, {"$set": {"lease_until": None}})
            continue
        body = json.dumps({"opd_id": hook["_id"], "items": [_jsonable(e) for e in entries]}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Pengaduan-Signature": signature(hook["secret"], body),
            "X-Pengaduan-Delivery": entries[-1]["_id"],
        }
        status: int | None = None
        error = None
        try:
            async with session.post(hook["url"], data=body, headers=headers) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = repr(exc)
        ok = status is not None and 200 <= status < 300
        failures = 0 if ok else hook.get("failures", 0) + 1
        backoff = min(timedelta(seconds=2**failures), MAX_BACKOFF) if failures else timedelta(0)
        update: dict[str, Any] = {"failures": failures, "next_attempt": now + backoff, "lease_until": None}
        if ok:
            update["cursor"] = entries[-1]["pos"]
            delivered += len(entries)
        await db["webhooks"].update_one({"_id": hook["_id"]}, {"$set": update})
        await db["webhook_deliveries"].insert_one(
            {
                "opd_id": hook["_id"],
                "at": now,
                "url": hook["url"],
                "entries": len(entries),
                "first": entries[0]["_id"],
                "last": entries[-1]["_id"],
                "status": status,
                "error": error,
                "ok": ok,
                "attempt": failures if not ok else 0,
            }
        )
    return delivered


async def run(db: AsyncDatabase[dict[str, Any]], interval: float = 1.0) -> None:
    feed = FeedStore(db)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            try:
                await deliver_once(db, feed, session, clock.wall())  # the feed's time
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook pass failed; retrying")
            await asyncio.sleep(interval)
