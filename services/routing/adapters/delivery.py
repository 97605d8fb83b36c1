"""Delivery of what a change staged (the `Delivery` of ports.py): its events to Kafka
(`complaints.events`, the OPD's entry on `complaints.assigned`), its feed entries, then the
`published` mark — each step idempotent, so the relay may repeat what a crash or an outage
interrupted. Used by the staff actions and by the consumers alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from services.routing.ports import ComplaintStore, Feed, Publish, outbox_messages
from shared import clock

log = logging.getLogger(__name__)


class OutboxDelivery:
    def __init__(
        self, complaints: ComplaintStore, feed: Feed, publish: Publish, *, finish_later: bool = False
    ) -> None:
        self.complaints, self.feed, self._publish = complaints, feed, publish
        # The service hands the feed entries and the published marks of a delivery to `finisher`
        # (a background task) and goes on once Kafka has the events; tests and a dead-letter
        # replay finish inline.
        self.finish_later = finish_later
        self._unfinished: list[dict[str, Any]] = []
        self._wake = asyncio.Event()

    async def deliver(self, docs: Sequence[dict[str, Any]]) -> None:
        """Kafka, the feed entries, then `published`. With `finish_later` only Kafka is awaited
        here: the assignment is out as soon as the broker has it, and the feed and the marks
        follow in `finisher`, off the consumer's path."""
        pending = [d for d in docs if not d.get("published", True)]
        if not pending:
            return
        messages = [m for d in pending for m in outbox_messages(d["outbox"])]
        if self.finish_later:
            await self._publish(messages)
            self._unfinished += [
                {"_id": d["_id"], "seq": d["seq"], "feed_outbox": d.get("feed_outbox") or []} for d in pending
            ]
            self._wake.set()
        else:
            await asyncio.gather(self._publish(messages), self._finish_feed(pending))
            await self.complaints.mark_published({d["_id"]: d["seq"] for d in pending})
        for d in pending:
            d["published"] = True

    async def _finish_feed(self, delivered: Sequence[dict[str, Any]]) -> None:
        await self.feed.add([e for d in delivered for e in d.get("feed_outbox") or []])

    async def finisher(self) -> None:
        """Background: feed entries, then published marks, of what `deliver` sent, in batches
        (all that piled up since the last pass). A failure keeps them for the next pass; a crash
        leaves them to the relay (the outbox stays unpublished)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._unfinished:
                batch, self._unfinished = self._unfinished, []
                try:
                    await self._finish_feed(batch)
                    await self.complaints.mark_published({d["_id"]: d["seq"] for d in batch})
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("finishing %d delivered outbox(es) failed; retrying", len(batch))
                    self._unfinished = batch + self._unfinished
                    await asyncio.sleep(1.0)  # backoff before the database is tried again

    async def relay(self, interval: float = 2.0, grace: timedelta = timedelta(seconds=30)) -> None:
        """Background: deliver outboxes a crash (or a Kafka outage) left unpublished. The grace is
        long so that under load the relay does not race the normal path and send duplicates
        (harmless — consumers dedupe by seq — but load where there is already too much)."""
        while True:
            try:
                stale = await self.complaints.unpublished(clock.now() - grace)
                if stale:
                    full = await self.complaints.load([d["_id"] for d in stale])
                    await self.deliver([d for d in full.values() if not d.get("published", True)])
                    log.info("relay delivered %d unpublished outbox(es)", len(stale))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay pass failed; retrying")
            await asyncio.sleep(interval)
