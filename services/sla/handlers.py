"""SLA's handler for lifecycle events: apply them to each complaint's clocks, store, announce.

Idempotency is a record: each complaint's document holds `last_seq`, so a redelivered or replayed
event (seq <= last_seq) changes nothing. The document also keeps the clock events of its last
change (`outbox`): if the process died after storing but before announcing, the redelivery
announces them again, with the same event ids.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from services.sla.domain import CalendarFor, ComplaintClocks
from shared.envelope import Envelope, new_event
from shared.kafka import Outgoing, Rejected
from shared.topics import SLA_EVENTS

PRODUCER = "sla"


class Stored(Protocol):
    clocks: ComplaintClocks
    outbox: list[Outgoing]


class ClockStore(Protocol):
    async def load(self, complaint_ids: Sequence[str]) -> Mapping[str, Stored]: ...

    async def save(self, changed: Sequence[tuple[ComplaintClocks, list[Outgoing]]]) -> None:
        """Store each complaint's clocks with the outbox of this change (optimistic: a concurrent
        writer makes it raise, and the batch is retried)."""


Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]


async def handle_lifecycle(
    batch: Sequence[Envelope], store: ClockStore, publish: Publish, calendar_for: CalendarFor
) -> list[Rejected]:
    rejected: list[Rejected] = []
    by_complaint: dict[str, list[Envelope]] = defaultdict(list)
    for event in batch:
        if not event.complaint_id or event.seq is None:
            rejected.append(Rejected(event, "lifecycle event without complaint_id or seq"))
        else:
            by_complaint[event.complaint_id].append(event)
    stored = await store.load(list(by_complaint))
    changed: list[tuple[ComplaintClocks, list[Outgoing]]] = []
    replays: list[Outgoing] = []
    for complaint_id, events in by_complaint.items():
        record = stored.get(complaint_id)
        clocks = record.clocks if record else ComplaintClocks(complaint_id)
        outbox: list[Outgoing] = []
        applied = False
        for event in sorted(events, key=lambda e: e.seq or 0):
            assert event.seq is not None
            if clocks.already_applied(event.seq):
                continue
            applied = True
            for payload in clocks.apply(event, calendar_for):
                announcement = new_event(
                    payload,
                    producer=PRODUCER,
                    complaint_id=complaint_id,
                    seq=event.seq,
                    occurred_at=event.occurred_at,
                    correlation_id=event.correlation_id,
                )
                outbox.append(Outgoing.of(SLA_EVENTS, complaint_id, announcement))
        if applied:
            changed.append((clocks, outbox))
        elif record is not None:
            replays.extend(record.outbox)  # nothing new: re-announce the last change
    await store.save(changed)
    await publish([m for _, outbox in changed for m in outbox] + replays)
    return rejected
