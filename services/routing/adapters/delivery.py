"""Delivery of what a change staged (the `Delivery` of ports.py), on the project's outbox
(shared/outbox.py): its events to Kafka (`complaints.events`, the OPD's entry on
`complaints.assigned`), its feed entries (`feed_outbox`, the outbox's `AfterPublish` step), then
the mark — each step idempotent, so the relay (adapters/store.py `run_relay`) may repeat what a
crash or an outage interrupted. Used by the staff actions and by the consumers alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from services.routing.domain.complaint import FEED_OUTBOX
from services.routing.ports import ComplaintStore, Feed, Publish
from shared import outbox

log = logging.getLogger(__name__)


class OutboxDelivery:
    def __init__(
        self, complaints: ComplaintStore, feed: Feed, publish: Publish, *, finish_later: bool = False
    ) -> None:
        self.complaints, self.feed, self._publish = complaints, feed, publish
        # The step between the publish and the mark, here and in the relay.
        self.after_publish = outbox.AfterPublish((FEED_OUTBOX,), self._write_feed)
        # The service hands the feed entries and the marks of a delivery to `finisher` (a
        # background task) and goes on once Kafka has the events; tests and a dead-letter replay
        # finish inline.
        self.finish_later = finish_later
        self._unfinished: list[dict[str, Any]] = []
        self._wake = asyncio.Event()

    async def deliver(self, docs: Sequence[dict[str, Any]]) -> None:
        """Kafka, the feed entries, then the mark. With `finish_later` only Kafka is awaited here:
        the assignment is out as soon as the broker has it, and the feed and the marks follow in
        `finisher`, off the consumer's path."""
        pending = [d for d in docs if d.get("outbox_since") is not None]
        if not pending:
            return
        messages = [m for d in pending for m in outbox.staged(d)]
        delivered = [
            {"_id": d["_id"], "outbox_since": d["outbox_since"], FEED_OUTBOX: d.get(FEED_OUTBOX) or []}
            for d in pending
        ]
        if self.finish_later:
            await self._publish(messages)
            self._unfinished += delivered
            self._wake.set()
        else:
            await asyncio.gather(self._publish(messages), self._write_feed(delivered))
            await self._mark(delivered)
        for d in pending:  # as the mark leaves the stored document
            d.update({"outbox": [], "outbox_since": None, FEED_OUTBOX: []})

    async def _write_feed(self, delivered: Sequence[dict[str, Any]]) -> None:
        await self.feed.add([e for d in delivered for e in d.get(FEED_OUTBOX) or []])

    async def _mark(self, delivered: Sequence[dict[str, Any]]) -> None:
        await self.complaints.mark_published([(d["_id"], d["outbox_since"]) for d in delivered])

    async def finisher(self) -> None:
        """Background: feed entries, then marks, of what `deliver` sent, in batches (all that
        piled up since the last pass). A failure keeps them for the next pass; a crash leaves them
        to the relay (the outbox stays staged)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._unfinished:
                batch, self._unfinished = self._unfinished, []
                try:
                    await self._write_feed(batch)
                    await self._mark(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("finishing %d delivered outbox(es) failed; retrying", len(batch))
                    self._unfinished = batch + self._unfinished
                    await asyncio.sleep(1.0)  # backoff before the database is tried again
