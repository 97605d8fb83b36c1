"""Executes lifecycle actions: the state machine's decision becomes the next `seq` events, stored
with the complaint (outbox) in one guarded write, then delivered — to the per-OPD feed and to
Kafka — and marked published. Used by staff HTTP actions and by `complaints.commands` alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.routing.adapters import (
    NO_DUE,
    ConcurrentUpdate,
    FeedStore,
    MongoComplaintStore,
    outbox_doc,
    outbox_messages,
)
from services.routing.lifecycle import Action, Complaint, Refused, decide, evolve, lease
from shared import clock
from shared.envelope import Envelope, Payload, new_event
from shared.events import (
    ClockEvent,
    CommandRejected,
    ComplaintAssigned,
    ComplaintTransferred,
    OpdAssignmentNotice,
)
from shared.kafka import Outgoing
from shared.privacy import mask_contacts
from shared.topics import COMPLAINTS_ASSIGNED, COMPLAINTS_EVENTS

log = logging.getLogger(__name__)
PRODUCER = "routing"
Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
COMPLAINT_FIELDS = (
    "state",
    "pemda",
    "region_code",
    "category",
    "opd_id",
    "tier",
    "transfers",
    "reopened",
    "anonymous",
    "confidential",
    "resolved_at",
    "resolved_opd",
    "claimed_by",
    "lease_until",
)
TEXT_FIELDS = ("message", "answer", "comment", "reason")
HANDLED_KEPT = 100  # command ids remembered per complaint (a complaint sees a handful)


def as_complaint(doc: dict[str, Any]) -> Complaint:
    values = {f: doc[f] for f in COMPLAINT_FIELDS if doc.get(f) is not None}
    return Complaint(id=doc["_id"], reply_due=reply_due(doc), **values)


def reply_due(doc: dict[str, Any]) -> datetime | None:
    """The current `reporter_reply` clock's due from sla's clock events (kept in `dues`)."""
    current = [
        d["due"]
        for d in (doc.get("dues") or {}).values()
        if d.get("clock") == "reporter_reply" and d.get("state") in ("running", "breached")
    ]
    if not current:
        return None
    due: datetime = max(current)
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def _store_complaint(doc: dict[str, Any], complaint: Complaint) -> None:
    for f in COMPLAINT_FIELDS:
        doc[f] = getattr(complaint, f)


def shown_text(text: str, anonymous: bool) -> str:
    """Text written by people, as staff and OPD systems see it (DESIGN §3 masking)."""
    return mask_contacts(text) if anonymous else text


def feed_entry(envelope: Envelope, opd_id: str, state: str, anonymous: bool) -> dict[str, Any]:
    data = envelope.payload.model_dump(mode="json")
    for name in TEXT_FIELDS:
        if isinstance(data.get(name), str):
            data[name] = shown_text(data[name], anonymous)
    return {
        "_id": f"{envelope.event_id}:{opd_id}",
        "opd_id": opd_id,
        "complaint_id": envelope.complaint_id,
        "seq": envelope.seq,
        "type": envelope.type,
        "at": envelope.occurred_at,
        "state": state,
        "data": data,
    }


class Lifecycle:
    def __init__(
        self,
        store: MongoComplaintStore,
        feed: FeedStore,
        publish: Publish,
        *,
        max_transfers: int = 3,
        lease_minutes: int = 30,
        finish_later: bool = False,
    ) -> None:
        self.store, self.feed, self._publish = store, feed, publish
        self.max_transfers, self.lease_minutes = max_transfers, lease_minutes
        # The service hands the feed entries and the published marks of a delivery to `finisher`
        # (a background task) and goes on once Kafka has the events; tests finish inline.
        self.finish_later = finish_later
        self._unfinished: list[dict[str, Any]] = []
        self._wake = asyncio.Event()

    # --- one action (HTTP) ---------------------------------------------------------------------

    async def act(
        self,
        complaint_id: str,
        action: Action,
        *,
        correlation_id: str | None = None,
        known_opd: frozenset[str] | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Apply `action` now; the new document. `Refused` → 409, `LookupError` → 404."""
        for _ in range(5):  # a concurrent writer: read again and decide again
            doc = await self.store.get(complaint_id)
            if doc is None:
                raise LookupError(complaint_id)
            instant = at or clock.now()
            complaint = as_complaint(doc)
            payloads = decide(
                complaint, action, instant, max_transfers=self.max_transfers, known_opd=known_opd
            )
            handler = getattr(action, "handler", None)
            if not payloads and handler is not None:  # a claim that only renews/takes the lease
                until = instant + timedelta(minutes=self.lease_minutes)
                if await self.store.set_lease(complaint_id, doc["rev"], handler, until):
                    doc.update(claimed_by=handler, lease_until=until, rev=doc["rev"] + 1)
                    return doc
                continue
            self.transition(doc, payloads, instant, correlation_id)
            if handler is not None and doc["state"] in ("in_progress", "waiting_reporter"):
                complaint = as_complaint(doc)
                lease(complaint, handler, instant, self.lease_minutes)
                _store_complaint(doc, complaint)
            try:
                await self.store.replace([doc])
            except ConcurrentUpdate:
                continue
            await self.deliver([doc])
            return doc
        raise ConcurrentUpdate(f"complaint {complaint_id} keeps changing")

    # --- commands (complaints.commands) --------------------------------------------------------

    async def handle_commands(self, commands: Sequence[Envelope]) -> list[Envelope]:
        """Apply commands in order; the ones about unknown complaints are returned (dead letters)."""
        if not commands:
            return []
        ids = sorted({c.complaint_id for c in commands if c.complaint_id})
        docs = await self.store.load(ids)
        changed: dict[str, dict[str, Any]] = {}
        unknown: list[Envelope] = []
        for command in commands:
            doc = docs.get(command.complaint_id or "")
            if doc is None:
                unknown.append(command)
                continue
            handled: list[str] = doc.setdefault("handled_commands", [])
            if command.event_id in handled:
                continue  # redelivered: already decided (its events are in the outbox or published)
            at = command.occurred_at
            try:
                payloads = decide(as_complaint(doc), command_action(command.payload), at)
            except Refused as refused:
                payloads = [
                    CommandRejected(
                        command_id=command.event_id,
                        command=command.type,
                        state=doc["state"],
                        reason=refused.reason,
                    )
                ]
            self.transition(doc, payloads, at, command.event_id)
            handled.append(command.event_id)
            del handled[:-HANDLED_KEPT]
            changed[doc["_id"]] = doc
        await self.store.replace(list(changed.values()))
        await self.deliver(list(changed.values()))
        return unknown

    # --- shared steps ----------------------------------------------------------------------------

    def transition(
        self, doc: dict[str, Any], payloads: Sequence[Payload], at: datetime, correlation_id: str | None
    ) -> None:
        """Apply payloads to the document: next seqs, new state, outbox (plus any unpublished)."""
        complaint = as_complaint(doc)
        messages = outbox_messages(doc["outbox"]) if not doc.get("published", True) else []
        feed = list(doc.get("feed_outbox") or []) if not doc.get("published", True) else []
        for payload in payloads:
            doc["seq"] += 1
            envelope = new_event(
                payload,
                producer=PRODUCER,
                complaint_id=doc["_id"],
                seq=doc["seq"],
                occurred_at=at,
                correlation_id=correlation_id,
            )
            evolve(complaint, payload, at)
            messages.append(Outgoing.of(COMPLAINTS_EVENTS, doc["_id"], envelope))
            recipients = {complaint.opd_id} if complaint.opd_id else set()
            if isinstance(payload, ComplaintTransferred):
                recipients.add(payload.from_opd_id)
            feed += [
                feed_entry(envelope, opd, complaint.state, complaint.anonymous) for opd in sorted(recipients)
            ]
            if isinstance(payload, ComplaintAssigned):
                messages.append(self._notice(doc, envelope, payload, complaint))
        _store_complaint(doc, complaint)
        if complaint.state not in ("assigned", "in_progress", "waiting_reporter", "triage"):
            doc["sla_due"] = NO_DUE
        doc.update(outbox=outbox_doc(messages), feed_outbox=feed, published=False, updated_at=at)

    def _notice(
        self, doc: dict[str, Any], envelope: Envelope, assigned: ComplaintAssigned, complaint: Complaint
    ) -> Outgoing:
        notice = new_event(
            OpdAssignmentNotice(
                opd_id=assigned.opd_id,
                category=assigned.category,
                region_code=complaint.region_code,
                title=shown_text(doc["title"], complaint.anonymous),
                description=shown_text(doc["description"], complaint.anonymous),
                classification=doc["classification"],
                anonymous=complaint.anonymous,
                confidential=complaint.confidential,
                assigned_at=envelope.occurred_at,
            ),
            producer=PRODUCER,
            complaint_id=doc["_id"],
            seq=envelope.seq,
            occurred_at=envelope.occurred_at,
            correlation_id=envelope.correlation_id,
        )
        return Outgoing.of(COMPLAINTS_ASSIGNED, assigned.opd_id, notice)

    async def deliver(self, docs: Sequence[dict[str, Any]]) -> None:
        """Kafka, the feed entries, then `published` — each step idempotent, so the relay may
        repeat what a crash or an outage interrupted. With `finish_later` only Kafka is awaited
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
            await self.store.mark_published({d["_id"]: d["seq"] for d in pending})
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
                    await self.store.mark_published({d["_id"]: d["seq"] for d in batch})
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
                stale = await self.store.unpublished(clock.now() - grace)
                if stale:
                    full = await self.store.load([d["_id"] for d in stale])
                    await self.deliver([d for d in full.values() if not d.get("published", True)])
                    log.info("relay delivered %d unpublished outbox(es)", len(stale))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay pass failed; retrying")
            await asyncio.sleep(interval)

    # --- sla.events: the queue's "nearest due" ----------------------------------------------------

    async def handle_clock_events(self, events: Sequence[Envelope], attempts: int = 5) -> None:
        by_complaint: dict[str, list[ClockEvent]] = {}
        for e in events:
            if e.complaint_id and isinstance(e.payload, ClockEvent):
                by_complaint.setdefault(e.complaint_id, []).append(e.payload)
        if not by_complaint:
            return
        for _ in range(attempts):
            # Only what the dues need: the whole document (outbox, text) is several times larger.
            docs = await self.store.load(sorted(by_complaint), fields=("dues", "rev"))
            missed = await self.store.set_dues(dues_updates(by_complaint, docs))
            if not missed:
                return
            # A lifecycle write came in between: read again; what is written already is skipped
            # (clock versions), so only the missed complaints are written again.
        raise ConcurrentUpdate(f"{missed} complaint(s) kept changing while their dues were updated")


def dues_updates(
    by_complaint: dict[str, list[ClockEvent]], docs: dict[str, dict[str, Any]]
) -> list[tuple[str, int, dict[str, Any], datetime]]:
    """(complaint id, rev read, dues, nearest running due) of the complaints the clock snapshots
    change; each clock's newest version wins."""
    updates: list[tuple[str, int, dict[str, Any], datetime]] = []
    for complaint_id, clocks in by_complaint.items():
        doc = docs.get(complaint_id)
        if doc is None:
            continue
        dues: dict[str, Any] = dict(doc.get("dues") or {})
        changed = False
        for snap in clocks:
            key = snap.clock_id.replace(".", "_")  # field names must not contain dots
            if dues.get(key, {}).get("v", 0) >= snap.version:
                continue
            changed = True
            dues[key] = {
                "clock": snap.clock,
                "opd_id": snap.opd_id,
                "due": snap.due_at,
                "state": snap.state,
                "v": snap.version,
            }
        if changed:
            running = [
                d["due"]
                for d in dues.values()
                if d["state"] in ("running", "breached")
                and d["due"] is not None
                and d["clock"] != "reporter_reply"
            ]
            updates.append((complaint_id, doc["rev"], dues, min(running) if running else NO_DUE))
    return updates


def command_action(payload: Payload) -> Action:
    from services.routing import lifecycle as lc
    from shared import events as ev

    if isinstance(payload, ev.AddInformation):
        return lc.AddInfo(payload.message)
    if isinstance(payload, ev.GiveFeedback):
        return lc.Feedback(payload.rating, payload.comment)
    if isinstance(payload, ev.ReopenComplaint):
        return lc.Reopen(payload.reason)
    if isinstance(payload, ev.WithdrawComplaint):
        return lc.Withdraw(payload.reason)
    if isinstance(payload, ev.CloseExpired):
        return lc.CloseExpired(payload.clock_id)
    raise ValueError(f"{type(payload).__name__} is not a command")
