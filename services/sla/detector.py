"""Time-driven detection: warnings, breaches, escalations and `reporter_reply` expiry, in time.

The loop reads the complaints whose indexed `next_check` has come (earliest first, in bounded
batches), lets the domain apply every transition up to now — each at its own instant, so the lag
of this loop never changes what is recorded — stores them with a revision guard (a complaint the
lifecycle consumer changed meanwhile is simply taken again in the next pass), publishes, and
confirms. Then it sleeps until the next `next_check` or `max_sleep`, whichever is sooner; a new
complaint written by the consumer is therefore seen within `max_sleep`.

The cost of a pass depends on how many complaints are due, not on how many are open: the query
is a range on the `next_check` index (bench/sla.py measures it at 10k and 1M open clocks).

The same loop relays outboxes a crash left unpublished and refreshes the reference data
(service standards, calendars) every `refresh_every` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.sla.adapters import COLLECTION, MongoClockStore, StoredClocks
from services.sla.domain import ComplaintClocks
from services.sla.handlers import Publish, announce
from services.sla.standards import SlaRules
from shared import clock
from shared.faults import is_transient
from shared.kafka import Outgoing

log = logging.getLogger(__name__)

Now = clock.Now


@dataclass(frozen=True)
class DetectorSettings:
    batch: int = 500  # complaints per pass
    max_sleep: float = 0.25  # seconds: the bound on how late a newly stored due is seen
    relay_after: float = 10.0  # seconds an outbox may stay unconfirmed before the relay sends it
    refresh_every: float = 5.0  # seconds between reloads of standards and calendars


async def detect_once(
    store: MongoClockStore,
    publish: Publish,
    rules: SlaRules,
    now: datetime,
    limit: int,
    *,
    chunk: int = 50,
    concurrency: int = 2,
) -> int:
    """One pass: apply time up to `now` to the complaints due by then. Returns how many were due.

    Dues cluster (every due without a pause is a local midnight), so a pass works in chunks: the
    first breaches go out after one chunk's write rather than the whole batch's, and one chunk's
    write and publish overlap the next chunk's computation."""
    due = await store.due(now, limit)
    if not due:
        return 0
    gate = asyncio.Semaphore(concurrency)

    async def settle(records: list[StoredClocks]) -> None:
        async with gate:
            changed: list[tuple[ComplaintClocks, list[Outgoing]]] = []
            for record in records:
                if record.pending:
                    # Its writer is publishing right now (or crashed: then the relay will). Taking
                    # it over would announce that outbox twice; take it in a later pass instead.
                    continue
                clocks = record.clocks
                try:
                    payloads = clocks.advance(now, rules)
                except Exception:
                    # One complaint the domain cannot advance (a bug) must not hold up the others.
                    log.exception("detector: complaint %s could not be advanced", clocks.complaint_id)
                    continue
                changed.append((clocks, announce(payloads, clocks.complaint_id, clocks.last_seq or None)))
            saved = await store.save(changed, skip_conflicts=True)
            await publish(saved.messages)
            await store.mark_published(saved.writes)

    await asyncio.gather(*(settle(due[i : i + chunk]) for i in range(0, len(due), chunk)))
    return len(due)


async def relay_once(store: MongoClockStore, publish: Publish, older_than: datetime, limit: int) -> int:
    """Publish the outboxes stored before `older_than` and never confirmed (a crash between the
    write and the publish). Same event ids: a consumer sees at most a duplicate."""
    records = await store.unpublished(older_than, limit)
    if not records:
        return 0
    await publish([m for r in records for m in r.outbox])
    await store.mark_published({r.clocks.complaint_id: r.write for r in records})
    return len(records)


async def next_check_at(db: AsyncDatabase[dict[str, Any]], horizon: datetime) -> datetime | None:
    """The earliest `next_check` up to `horizon`: a bounded range on the index (an open-ended
    "not null" query makes this database walk every document)."""
    doc = await db[COLLECTION].find_one(
        {"next_check": {"$lte": horizon}}, {"next_check": 1}, sort=[("next_check", ASCENDING)]
    )
    return doc["next_check"] if doc else None


async def run_detector(
    db: AsyncDatabase[dict[str, Any]],
    publish: Publish,
    rules: SlaRules,
    settings: DetectorSettings = DetectorSettings(),
    now: Now = clock.now,
) -> None:
    """The background loop (wired in app.py); runs until cancelled."""
    store = MongoClockStore(db)
    next_refresh = next_relay = 0.0
    backoff = 0.2
    while True:
        try:
            tick = time.monotonic()
            if tick >= next_refresh:
                await rules.refresh(db)
                next_refresh = tick + settings.refresh_every
            if tick >= next_relay:
                relayed = await relay_once(
                    store, publish, now() - timedelta(seconds=settings.relay_after), settings.batch
                )
                if relayed:
                    log.warning("relayed %d unconfirmed outbox(es)", relayed)
                next_relay = tick + settings.relay_after / 2
            current = now()
            if await detect_once(store, publish, rules, current, settings.batch) >= settings.batch:
                await asyncio.sleep(0)  # more are due: next batch at once
                continue
            upcoming = await next_check_at(db, now() + timedelta(seconds=settings.max_sleep))
            pause = settings.max_sleep
            if upcoming is not None:
                # Still due right after a pass: skipped on a conflict (or failing); try again soon.
                until = (upcoming - now()).total_seconds()
                pause = min(pause, until if until > 0 else 0.05)
            backoff = 0.2
            await asyncio.sleep(pause)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_transient(exc):
                log.warning("detector: %r; retrying in %.1fs", exc, backoff)
            else:
                # A bug must not stop detection for every other complaint: log it loudly, go on.
                log.exception("detector pass failed; retrying in %.1fs", backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
