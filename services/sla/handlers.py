"""SLA's use cases: apply lifecycle events, apply time (detection), rebuild (recompute) — each
loads the complaints' clocks, lets the domain decide, stores the result with its outbox, then
publishes and confirms.

Idempotency is a record: each complaint's document holds `last_seq`, so a redelivered or replayed
event (seq <= last_seq) changes nothing. The document also keeps the messages of its last change
(`outbox`), flagged pending until they are confirmed published: a redelivery announces them again
with the same event ids, and so does the detector's relay after a crash between store and publish.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.sla.domain import CalendarFor, ComplaintClocks, Rules, as_rules
from shared.envelope import Envelope, Payload, decode, new_event
from shared.events import ClockEvent, CloseExpired, EscalationRaised, EscalationRetracted
from shared.kafka import Outgoing, Rejected
from shared.topics import COMPLAINTS_COMMANDS, SLA_EVENTS

log = logging.getLogger(__name__)

PRODUCER = "sla"
YIELD_EVERY_COMPLAINTS = 10


class Stored(Protocol):
    @property
    def clocks(self) -> ComplaintClocks: ...

    @property
    def outbox(self) -> list[Outgoing]: ...

    @property
    def rev(self) -> int: ...

    @property
    def pending(self) -> bool: ...

    @property
    def write(self) -> str: ...

    @property
    def parked(self) -> list[bytes]: ...


@dataclass
class Saved:
    """What a save wrote: the messages to publish now (an outbox still pending from an earlier
    change, carried over, then the new ones) and, per complaint, the token of the write to confirm
    once they are published."""

    messages: list[Outgoing] = field(default_factory=list)
    writes: dict[str, str] = field(default_factory=dict)


class ClockStore(Protocol):
    async def load(self, complaint_ids: Sequence[str]) -> Mapping[str, Stored]: ...

    async def save(
        self,
        changed: Sequence[tuple[ComplaintClocks, list[Outgoing]]],
        *,
        parked: Mapping[str, list[bytes]] | None = None,
    ) -> Saved:
        """Store each complaint's clocks with the outbox of this change and, where given, the
        events it holds after a gap (optimistic: a concurrent writer makes it raise, and the batch
        is retried)."""

    async def mark_published(self, writes: Mapping[str, str]) -> None:
        """The outboxes of these writes (complaint id → write token) are on Kafka."""


Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]


def announce(
    payloads: Sequence[Payload], complaint_id: str, seq: int | None, correlation_id: str | None = None
) -> list[Outgoing]:
    """The domain's payloads as messages: clock events and escalations on `sla.events` at their own
    instant; `CloseExpired` as a command to routing (DESIGN §6: commands carry seq null)."""
    messages = []
    for payload in payloads:
        if isinstance(payload, CloseExpired):
            command = new_event(payload, producer=PRODUCER, complaint_id=complaint_id, seq=None)
            messages.append(Outgoing.of(COMPLAINTS_COMMANDS, complaint_id, command))
            continue
        at: datetime | None = None
        if isinstance(payload, ClockEvent | EscalationRaised | EscalationRetracted):
            at = payload.at
        event = new_event(
            payload,
            producer=PRODUCER,
            complaint_id=complaint_id,
            seq=seq,
            occurred_at=at,
            correlation_id=correlation_id,
        )
        messages.append(Outgoing.of(SLA_EVENTS, complaint_id, event))
    return messages


async def handle_lifecycle(
    batch: Sequence[Envelope], store: ClockStore, publish: Publish, rules: Rules | CalendarFor
) -> list[Rejected]:
    rules = as_rules(rules)
    rejected: list[Rejected] = []
    by_complaint: dict[str, list[Envelope]] = defaultdict(list)
    for event in batch:
        if not event.complaint_id or event.seq is None:
            rejected.append(Rejected(event, "lifecycle event without complaint_id or seq"))
        else:
            by_complaint[event.complaint_id].append(event)
    stored = await store.load(list(by_complaint))
    changed: list[tuple[ComplaintClocks, list[Outgoing]]] = []
    parked: dict[str, list[bytes]] = {}
    replays: list[Outgoing] = []
    replayed: dict[str, str] = {}
    for n, (complaint_id, events) in enumerate(by_complaint.items(), 1):
        if n % YIELD_EVERY_COMPLAINTS == 0:
            # A complaint is about a millisecond of work under load, a batch a few hundred: the
            # supervisors' API shares this event loop. Every 50, sla's /healthz waited p99
            # 130–134 ms under bench/routing's 300/s; every 10, 51–64 ms.
            await asyncio.sleep(0)
        record = stored.get(complaint_id)
        clocks = record.clocks if record else ComplaintClocks(complaint_id)
        # Never past a hole in `seq`: events after a gap wait, stored with the complaint, until the
        # missing one arrives (a redelivery, or a dead letter replayed after a fix).
        held = [decode(value) for value in record.parked] if record else []
        waiting = {e.seq: e for e in held if e.seq is not None}
        for event in events:
            assert event.seq is not None
            if not clocks.already_applied(event.seq):
                waiting.setdefault(event.seq, event)
        outbox: list[Outgoing] = []
        applied = False
        while clocks.last_seq + 1 in waiting:
            event = waiting.pop(clocks.last_seq + 1)
            applied = True
            outbox += announce(clocks.apply(event, rules), complaint_id, event.seq, event.correlation_id)
        still = [waiting[seq] for seq in sorted(waiting) if seq > clocks.last_seq]
        if [e.event_id for e in still] != [e.event_id for e in held]:
            parked[complaint_id] = [e.to_bytes() for e in still]
            if still:
                log.warning(
                    "complaint %s: seq %d missing; %d later event(s) held until it arrives",
                    complaint_id, clocks.last_seq + 1, len(still),
                )  # fmt: skip
        if applied or complaint_id in parked:
            changed.append((clocks, outbox))
        elif record is not None:
            replays.extend(record.outbox)  # nothing new: announce the last change again
            if record.pending:
                replayed[complaint_id] = record.write
    saved = await store.save(changed, parked=parked)
    await publish(saved.messages + replays)
    await store.mark_published({**replayed, **saved.writes})
    return rejected
