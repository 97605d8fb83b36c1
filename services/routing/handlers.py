"""Routing's handlers: one function per message kind, over a store and a publisher port.

Idempotency is a record: a complaint's document is written together with the events its
transition produced (`outbox`); the document's existence means "already routed". A redelivered
submission therefore republishes the stored events (same event ids, same seq) instead of deciding
again, and downstream consumers recognise them by seq.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from services.routing.domain import UnknownCategory, route
from shared.calendar import pemda_of
from shared.envelope import Envelope, new_event
from shared.events import (
    ComplaintAssigned,
    ComplaintReceived,
    ComplaintSubmitted,
    ComplaintTriaged,
    OpdAssignmentNotice,
)
from shared.kafka import Outgoing, Rejected
from shared.privacy import mask_contacts
from shared.regions import lookup
from shared.topics import COMPLAINTS_ASSIGNED, COMPLAINTS_EVENTS

PRODUCER = "routing"


class ComplaintStore(Protocol):
    async def insert_new(self, docs: Sequence[dict[str, Any]]) -> set[str]:
        """Insert the documents whose `_id` is new; return the ids that already existed."""

    async def outboxes(self, ids: Sequence[str]) -> list[Outgoing]:
        """The stored outbox messages of these complaints, in order."""


Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
Now = Callable[[], datetime]


@dataclass(frozen=True)
class Routed:
    doc: dict[str, Any]
    outbox: list[Outgoing]


def route_submission(envelope: Envelope, submitted: ComplaintSubmitted, now: datetime) -> Routed:
    """The first two lifecycle events of a complaint: received (seq 1), then assigned or triage."""
    complaint_id = envelope.complaint_id
    assert complaint_id is not None
    decision = route(submitted.category, submitted.region_code)
    correlation = envelope.correlation_id or envelope.event_id
    received = new_event(
        ComplaintReceived(
            submitted_at=envelope.occurred_at,
            title=submitted.title,
            description=submitted.description,
            category=submitted.category,
            region_code=submitted.region_code,
            pemda=pemda_of(submitted.region_code),
            classification=submitted.classification,
            channel=submitted.channel,
            anonymous=submitted.anonymous,
            confidential=submitted.confidential,
            reporter_ref=submitted.reporter_ref,
        ),
        producer=PRODUCER,
        complaint_id=complaint_id,
        seq=1,
        occurred_at=envelope.occurred_at,
        correlation_id=correlation,
    )
    outbox = [Outgoing.of(COMPLAINTS_EVENTS, complaint_id, received)]
    if decision.assigns:
        assert decision.category is not None
        assigned = new_event(
            ComplaintAssigned(
                opd_id=decision.opd_id,
                pemda=decision.pemda,
                category=decision.category,
                level=decision.level,
                rule=decision.rule,
            ),
            producer=PRODUCER,
            complaint_id=complaint_id,
            seq=2,
            occurred_at=now,
            correlation_id=correlation,
        )
        text = mask_contacts(submitted.description) if submitted.anonymous else submitted.description
        notice = new_event(
            OpdAssignmentNotice(
                opd_id=decision.opd_id,
                category=decision.category,
                region_code=submitted.region_code,
                title=mask_contacts(submitted.title) if submitted.anonymous else submitted.title,
                description=text,
                classification=submitted.classification,
                anonymous=submitted.anonymous,
                confidential=submitted.confidential,
                assigned_at=now,
            ),
            producer=PRODUCER,
            complaint_id=complaint_id,
            seq=2,
            occurred_at=now,
            correlation_id=correlation,
        )
        outbox += [
            Outgoing.of(COMPLAINTS_EVENTS, complaint_id, assigned),
            Outgoing.of(COMPLAINTS_ASSIGNED, decision.opd_id, notice),
        ]
        state, seq, opd_id = "assigned", 2, decision.opd_id
    else:
        triaged = new_event(
            ComplaintTriaged(
                pemda=decision.pemda,
                category=decision.category,
                rule=decision.rule,
                reason=decision.triage_reason or "",
            ),
            producer=PRODUCER,
            complaint_id=complaint_id,
            seq=2,
            occurred_at=now,
            correlation_id=correlation,
        )
        outbox.append(Outgoing.of(COMPLAINTS_EVENTS, complaint_id, triaged))
        state, seq, opd_id = "triage", 2, None
    doc = {
        "_id": complaint_id,
        "state": state,
        "seq": seq,
        "opd_id": opd_id,
        "pemda": decision.pemda,
        "region_code": submitted.region_code,
        "category": decision.category,
        "classification": submitted.classification,
        "anonymous": submitted.anonymous,
        "confidential": submitted.confidential,
        "reporter_ref": submitted.reporter_ref,
        "title": submitted.title,
        "description": submitted.description,
        "submitted_at": envelope.occurred_at,
        "updated_at": now,
        "transfers": 0,
        "outbox": [{"topic": m.topic, "key": m.key, "value": m.value} for m in outbox],
    }
    return Routed(doc, outbox)


def _validate(envelope: Envelope) -> str | None:
    """Why this submission can never be routed, or None."""
    if not isinstance(envelope.payload, ComplaintSubmitted):
        return f"unexpected type {envelope.type} on complaints.submitted"
    if not envelope.complaint_id:
        return "complaint_id missing"
    if lookup(envelope.payload.region_code) is None:
        return f"unknown region_code {envelope.payload.region_code!r}"
    return None


async def handle_submissions(
    batch: Sequence[Envelope], store: ComplaintStore, publish: Publish, now: Now = lambda: datetime.now(UTC)
) -> list[Rejected]:
    rejected: list[Rejected] = []
    routed: dict[str, Routed] = {}
    instant = now()
    for envelope in batch:
        reason = _validate(envelope)
        if reason is None:
            assert isinstance(envelope.payload, ComplaintSubmitted) and envelope.complaint_id
            if envelope.complaint_id in routed:
                continue  # the same submission twice in one batch
            try:
                routed[envelope.complaint_id] = route_submission(envelope, envelope.payload, instant)
            except UnknownCategory as exc:
                reason = f"unknown category {exc}"
        if reason is not None:
            rejected.append(Rejected(envelope, reason))
    if not routed:
        return rejected
    existing = await store.insert_new([r.doc for r in routed.values()])
    outgoing = [m for cid, r in routed.items() if cid not in existing for m in r.outbox]
    if existing:
        # Already routed earlier (a redelivery): send what was decided then, not a new decision.
        outgoing += await store.outboxes(sorted(existing))
    await publish(outgoing)
    return rejected
