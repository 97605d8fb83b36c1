"""sla's background workers: the detector loop and the recompute catch-up at start.

The detector reads the complaints whose next time-driven change has come (earliest first, in
bounded batches) and lets `handlers.detect_once` apply time up to now. Then it sleeps until the
next such instant or `max_sleep`, whichever is sooner; a new complaint written by the consumer is
therefore seen within `max_sleep`. The cost of a pass depends on how many complaints are due, not
on how many are open (an index range; bench/sla.py measures it). The same loop relays outboxes a
crash left unpublished and refreshes the reference data (service standards, calendars) every
`refresh_every` seconds.

With several sla processes the detection and the relay run in the one holding the detector's
lease (shared/lease.py); the others keep refreshing their reference data (their consumers use
it) and try for the lease every pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from services.sla.handlers import catch_up, detect_once
from services.sla.ports import Sla
from shared import clock
from shared.faults import is_transient
from shared.lease import Lease

log = logging.getLogger(__name__)

Now = clock.Now


@dataclass(frozen=True)
class DetectorSettings:
    batch: int = 500  # complaints per pass
    max_sleep: float = 0.25  # seconds: the bound on how late a newly stored due is seen
    relay_after: float = 10.0  # seconds an outbox may stay unconfirmed before the relay sends it
    refresh_every: float = 5.0  # seconds between reloads of standards and calendars


async def run_detector(
    sla: Sla,
    settings: DetectorSettings = DetectorSettings(),
    now: Now = clock.now,
    lease: Lease | None = None,
) -> None:
    """The background loop (wired in bootstrap.py); runs until cancelled. With `lease`, detects
    and relays only while holding it."""
    store = sla.clock_store()
    rules = sla.rules
    next_refresh = next_relay = 0.0
    backoff = 0.2
    while True:
        try:
            tick = time.monotonic()
            if tick >= next_refresh:
                await sla.calendars.refresh(rules)
                next_refresh = tick + settings.refresh_every
            if lease is not None and not await lease.held():
                backoff = 0.2
                await asyncio.sleep(min(settings.max_sleep * 4, lease.ttl.total_seconds() / 3))
                continue
            if tick >= next_relay:
                relayed = await store.relay(
                    sla.publish, timedelta(seconds=settings.relay_after), settings.batch
                )
                if relayed:
                    log.warning("relayed %d unconfirmed outbox(es)", relayed)
                next_relay = tick + settings.relay_after / 2
            current = now()
            if await detect_once(store, sla.publish, rules, current, settings.batch) >= settings.batch:
                await asyncio.sleep(0)  # more are due: next batch at once
                continue
            upcoming = await store.next_check_at(now() + timedelta(seconds=settings.max_sleep))
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


async def run_catch_up(sla: Sla) -> None:
    """Recompute what a crash interrupted or a new `holidays` pin changed, once at start."""
    backoff = 1.0
    while True:  # a database or broker not yet reachable at start: try again
        try:
            await catch_up(sla)
            return
        except Exception as exc:
            if not is_transient(exc):
                # A bug in a one-off catch-up must not take the clocks down with it (a restart
                # would meet it again): said loudly, and left for the recompute command.
                log.exception(
                    "recompute catch-up failed; after a fix: python -m services.sla.entrypoints.cli holidays"
                )
                return
            log.warning("recompute catch-up: %r; retrying in %.0fs", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 60.0)
