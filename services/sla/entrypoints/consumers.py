"""sla's consumer groups, thin: decode is done by the consumer loop (shared/kafka.py); each batch
goes to its use case in handlers.py. Group `sla` reads `complaints.events` into the clocks; group
`sla-reports` reads `sla.events` and `complaints.events` into the supervisor reports."""

from __future__ import annotations

from services.sla.handlers import handle_lifecycle, handle_report_events
from services.sla.ports import Sla
from shared.envelope import Envelope
from shared.kafka import BatchHandler, Rejected


def lifecycle_batches(sla: Sla) -> BatchHandler:
    store = sla.clock_store()  # one per consumer: it remembers the revisions it loaded

    async def on_lifecycle(batch: list[Envelope]) -> list[Rejected]:
        return await handle_lifecycle(batch, store, sla.publish, sla.rules)

    return on_lifecycle


def report_batches(sla: Sla) -> BatchHandler:
    async def on_events(batch: list[Envelope]) -> list[Rejected]:
        return await handle_report_events(batch, sla.reports)

    return on_events
