"""Kafka through the outbox (shared/outbox.py): what a request made durable is published right
after its answer, and a relay publishes what a crash or a Kafka outage left."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from shared import outbox
from shared.kafka import Outgoing
from shared.runtime import Infra

log = logging.getLogger(__name__)

# The collections whose documents carry an outbox: submissions and reporter commands.
OUTBOXES = ("complaints", "commands")


class OutboxPublisher:
    """The Publisher port (services/intake/ports.py) on the process's producer and database."""

    def __init__(self, infra: Infra, timeout_seconds: float) -> None:
        self._infra = infra
        self._timeout = timeout_seconds
        # Publications in flight after their answer (kept referenced until done).
        self._publishing: set[asyncio.Task[None]] = set()

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        await self._infra.publish(messages)

    def publish_soon(
        self, collection: str, doc_id: str, since: datetime, messages: Sequence[Outgoing]
    ) -> None:
        """Publish a durable outbox now, without holding the answer, and mark it; what fails here
        (a Kafka outage) the relay publishes later."""

        async def publish() -> None:
            try:
                async with asyncio.timeout(self._timeout):
                    await self._infra.publish(messages)
                await outbox.mark_published(self._infra.db[collection], [(doc_id, since)])
            except Exception as exc:
                log.warning("%s %s: published later by the relay: %r", collection, doc_id, exc)

        task = asyncio.create_task(publish())
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def relay(self) -> None:
        """Publish, for ever, the outboxes the writers gave up on (older than their wait)."""
        after = timedelta(seconds=self._timeout + 5)
        relays = []
        for name in OUTBOXES:
            await outbox.ensure_outbox_index(self._infra.db[name])
            relays.append(outbox.run_relay(self._infra.db[name], self._infra.publish, older_than=after))
        await asyncio.gather(*relays)
