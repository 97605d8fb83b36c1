"""SLA's use cases, one function each, written against the ports (ports.py): apply lifecycle
events, apply time (detection), rebuild after a calendar change (recompute) and change a pemda's
extra dates, and fold published events into the supervisor reports. Each loads, lets the domain
decide, stores the result with its outbox, then publishes and confirms.

Idempotency is a record: each complaint's document holds `last_seq`, so a redelivered or replayed
event (seq <= last_seq) changes nothing. The document also keeps the messages of its last change
(`outbox`, shared/outbox.py), staged until they are confirmed published: a redelivery announces
them again with the same event ids, and so does the relay (the clock store's `relay`, run by the
detector loop) after a crash between store and publish.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.sla.domain.complaint import ComplaintClocks
from services.sla.domain.reports import fold, wanted_ids
from services.sla.domain.standards import SlaRules
from services.sla.domain.targets import CalendarFor, Rules, as_rules, ms
from services.sla.ports import ClockStore, Publish, ReportStore, Sla, Stored
from shared import clock
from shared.calendar import HOLIDAYS_VERSION
from shared.envelope import Envelope, Payload, decode, new_event
from shared.events import (
    CalendarChanged,
    CatalogChanged,
    ClockEvent,
    CloseExpired,
    EscalationRaised,
    EscalationRetracted,
)
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing, Rejected
from shared.topics import COMPLAINTS_COMMANDS, SLA_EVENTS

log = logging.getLogger(__name__)

PRODUCER = "sla"
YIELD_EVERY_COMPLAINTS = 10


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
    """Group `sla`: each complaint's new lifecycle events, in `seq` order, move its clocks; the
    result is stored with its outbox, published and confirmed. An event already applied changes
    nothing and announces the complaint's last change again."""
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
    replayed: dict[str, datetime] = {}
    for n, (complaint_id, events) in enumerate(by_complaint.items(), 1):
        if n % YIELD_EVERY_COMPLAINTS == 0:
            # The supervisors' API shares this event loop: a batch of a few hundred complaints
            # must let it answer in between.
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
            if record.since is not None:
                replayed[complaint_id] = record.since
    saved = await store.save(changed, parked=parked)
    await publish(saved.messages + replays)
    await store.mark_published({**replayed, **saved.writes})
    return rejected


# --- time: detection --------------------------------------------------------------------------


async def detect_once(
    store: ClockStore,
    publish: Publish,
    rules: Rules,
    now: datetime,
    limit: int,
    *,
    chunk: int = 50,
    concurrency: int = 2,
) -> int:
    """One pass: apply time up to `now` to the complaints due by then. Returns how many were due.

    Each transition happens at its own instant (the warning instant, the due), never at the moment
    it is detected, so the lag of detection never changes what is recorded. Dues cluster (every
    due without a pause is a local midnight), so a pass works in chunks: the first breaches go out
    after one chunk's write rather than the whole batch's, and one chunk's write and publish
    overlap the next chunk's computation. A complaint the lifecycle consumer changed meanwhile is
    left out (rev guard) and taken again in the next pass."""
    due = await store.due(now, limit)
    if not due:
        return 0
    gate = asyncio.Semaphore(concurrency)

    async def settle(records: Sequence[Stored]) -> None:
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


# --- recompute (DESIGN §5) -----------------------------------------------------------------------

MAX_ATTEMPTS = 5


@dataclass
class Recomputed:
    complaints: int = 0  # rebuilt
    corrected: int = 0  # whose stored clocks, ladder or accountability changed
    announced: int = 0  # messages published

    def add(self, other: Recomputed) -> None:
        self.complaints += other.complaints
        self.corrected += other.corrected
        self.announced += other.announced


def _fingerprint(clocks: ComplaintClocks) -> tuple[Any, ...]:
    return (
        tuple(clocks.clocks),
        tuple(clocks.holdings),
        clocks.escalation.level,
        tuple(clocks.escalation.steps),
        clocks.escalation.level_2_at,
        clocks.next_check(),
    )


async def recompute_ids(
    store: ClockStore,
    publish: Publish,
    rules: SlaRules,
    batches: AsyncIterator[list[str]],
    *,
    reason: str,
    at: datetime,
    rewrite_all: bool = False,
) -> Recomputed:
    """Rebuild the complaints in `batches` with today's calendars; store and announce corrections.
    `rewrite_all` stores even unchanged complaints (to record the new `holidays_version`).
    Idempotent: rebuilding clocks that are already right announces nothing."""
    total = Recomputed()
    async for ids in batches:
        for attempt in range(MAX_ATTEMPTS):
            loaded = await store.load(ids)
            changed: list[tuple[ComplaintClocks, list[Outgoing]]] = []
            done = Recomputed(complaints=len(loaded))
            for record in loaded.values():
                clocks = record.clocks
                before = _fingerprint(clocks)
                payloads = clocks.rebuild(rules, at, reason)
                if payloads or rewrite_all or _fingerprint(clocks) != before:
                    changed.append((clocks, announce(payloads, clocks.complaint_id, clocks.last_seq or None)))
                    done.corrected += bool(payloads) or _fingerprint(clocks) != before
            try:
                saved = await store.save(changed)
            except ConcurrentUpdate:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                continue  # the consumer or the detector moved one of them: load again
            await publish(saved.messages)
            await store.mark_published(saved.writes)
            done.announced = len(saved.messages)
            total.add(done)
            break
    return total


def _calendar_changed(pemda: str, dates: list[date], revision: int, at: datetime) -> Outgoing:
    payload = CalendarChanged(
        pemda=pemda, extra_dates=dates, holidays_version=HOLIDAYS_VERSION, revision=revision
    )
    event = new_event(payload, producer=PRODUCER, complaint_id=None, occurred_at=at)
    return Outgoing.of(SLA_EVENTS, pemda, event)


async def recompute_pemda(sla: Sla, pemda: str, revision: int) -> Recomputed:
    """Announce the pemda's calendar revision (intake's countdowns follow it) and recompute the
    clocks it governs, open and closed; a kab/kota observes its province's dates, so a
    province's change recomputes its kab/kota's complaints too. Idempotent."""
    dates = sorted(sla.rules.calendars.extra_dates(pemda))
    at = ms(clock.now())
    await sla.publish([_calendar_changed(pemda, dates, revision, at)])
    store = sla.clock_store()
    result = await recompute_ids(
        store,
        sla.publish,
        sla.rules,
        store.governed(pemda),
        reason=f"kalender {pemda} diubah (revisi {revision})",
        at=at,
    )
    await sla.calendars.mark_recomputed(pemda, revision)
    return result


async def set_extra_dates(
    sla: Sla, pemda: str, dates: list[date], *, who: dict[str, Any], reason: str | None = None
) -> tuple[int, Recomputed]:
    """Store a pemda's extra dates as a new revision (audited), then recompute."""
    wanted = sorted(set(dates))
    revision = await sla.calendars.replace_extra_dates(pemda, wanted, at=clock.now(), who=who, reason=reason)
    sla.rules.calendars.set(pemda, wanted, revision)
    return revision, await recompute_pemda(sla, pemda, revision)


async def recompute_holidays(sla: Sla) -> Recomputed:
    """Rebuild every complaint computed with another pinned `holidays` version."""
    store = sla.clock_store()
    return await recompute_ids(
        store,
        sla.publish,
        sla.rules,
        store.with_old_holidays(),
        reason=f"versi data hari libur berganti ke {HOLIDAYS_VERSION}",
        at=ms(clock.now()),
        rewrite_all=True,
    )


async def catch_up(sla: Sla) -> None:
    """At start: finish recomputes a crash interrupted, and follow a new `holidays` pin (once:
    the version the stored clocks were computed with is kept)."""
    await sla.calendars.refresh(sla.rules)
    for extra in await sla.calendars.all_extra_dates():
        if extra.recomputed_revision >= extra.revision:
            continue
        result = await recompute_pemda(sla, extra.pemda, extra.revision)
        log.info("recomputed %s after an interrupted calendar change: %s", extra.pemda, result)
    if await sla.calendars.holidays_version() == HOLIDAYS_VERSION:
        return
    result = await recompute_holidays(sla)
    if result.complaints:
        log.info("recomputed for holidays %s: %s", HOLIDAYS_VERSION, result)
    await sla.calendars.set_holidays_version(HOLIDAYS_VERSION)


# --- the supervisor reports -----------------------------------------------------------------------


async def handle_report_events(batch: Sequence[Envelope], store: ReportStore) -> list[Rejected]:
    """The `sla-reports` consumer's handler: load the records the batch touches, fold, commit
    (records, projections and counters at once; `ConcurrentUpdate` retries the batch). A pemda's
    catalog (`CatalogChanged`) replaces the OPD names the reports show."""
    catalogs = [e.payload for e in batch if isinstance(e.payload, CatalogChanged)]
    for catalog in catalogs:
        await store.put_names(catalog.pemda, catalog.revision, {o.opd_id: o.name for o in catalog.opds})
    if catalogs:
        batch = [e for e in batch if not isinstance(e.payload, CatalogChanged)]
    complaint_ids, clock_ids = wanted_ids(batch)
    complaints, clocks = await store.load(complaint_ids, clock_ids)
    changes, refused = fold(batch, complaints, clocks)
    if changes:
        await store.commit(changes)
    return [Rejected(event, reason) for event, reason in refused]
