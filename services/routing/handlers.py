"""Routing's handlers: one function per message kind, over a store and a publisher port.

Idempotency is a record: a complaint's document is written together with the events its
transition produced (`outbox`); the document's existence means "already routed". A redelivered
submission never routes again: it only delivers an outbox a crash left unpublished (same event
ids, same seq), which downstream consumers recognise by seq.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from services.routing.adapters import NO_DUE
from services.routing.deciding import CPU_SECONDS, Text, decide_batch
from services.routing.domain import Overrides, RouteDecision, route_text, with_overrides
from services.routing.service import Lifecycle
from shared import clock
from shared.calendar import pemda_of, province_of
from shared.envelope import Envelope, Payload
from shared.events import (
    COMMANDS,
    ClockEvent,
    ComplaintAssigned,
    ComplaintReceived,
    ComplaintSubmitted,
    ComplaintTriaged,
)
from shared.kafka import Outgoing, Rejected
from shared.regions import lookup

PRODUCER = "routing"


class ComplaintStore(Protocol):
    async def insert_new(self, docs: Sequence[dict[str, Any]]) -> set[str]:
        """Insert the documents whose `_id` is new; return the ids that already existed."""

    async def outboxes(self, ids: Sequence[str]) -> list[Outgoing]:
        """The stored outbox messages of these complaints, in order."""


Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
Now = Callable[[], datetime]


def new_complaint(
    envelope: Envelope, submitted: ComplaintSubmitted, decision: RouteDecision
) -> dict[str, Any]:
    """Routing's document of a complaint before its first event (state `received`, seq 0)."""
    assert envelope.complaint_id is not None
    return {
        "_id": envelope.complaint_id,
        "state": "received",
        "seq": 0,
        "opd_id": None,
        "pemda": pemda_of(submitted.region_code),
        "region_code": submitted.region_code,
        "category": decision.category,
        "classification": submitted.classification,
        "anonymous": submitted.anonymous,
        "confidential": submitted.confidential,
        "reporter_ref": submitted.reporter_ref,
        "title": submitted.title,
        "description": submitted.description,
        "submitted_at": envelope.occurred_at,
        "tier": "normatif",
        "transfers": 0,
        "reopened": False,
        "sla_due": NO_DUE,
        "dues": {},
        "handled_commands": [],
        "outbox": [],
        "feed_outbox": [],
        "published": True,
        "rev": 0,
    }


def route_submission(
    envelope: Envelope,
    submitted: ComplaintSubmitted,
    now: datetime,
    lifecycle: Lifecycle,
    overrides: Overrides | None = None,
    decision: RouteDecision | None = None,
) -> dict[str, Any]:
    """The first two lifecycle events of a complaint: received (seq 1, at the submission
    instant), then assigned or triage (seq 2, at routing's decision; computed here if not given)."""
    if decision is None:
        decision = route_text(
            submitted.category, submitted.region_code, submitted.title, submitted.description
        )
    decision = with_overrides(decision, overrides or {})
    doc = new_complaint(envelope, submitted, decision)
    correlation = envelope.correlation_id or envelope.event_id
    received = ComplaintReceived(
        submitted_at=envelope.occurred_at,
        title=submitted.title,
        description=submitted.description,
        category=submitted.category,
        region_code=submitted.region_code,
        pemda=doc["pemda"],
        classification=submitted.classification,
        channel=submitted.channel,
        anonymous=submitted.anonymous,
        confidential=submitted.confidential,
        reporter_ref=submitted.reporter_ref,
    )
    lifecycle.transition(doc, [received], envelope.occurred_at, correlation)
    second: Payload
    if decision.assigns:
        assert decision.category is not None
        second = ComplaintAssigned(
            opd_id=decision.opd_id,
            pemda=decision.pemda,
            category=decision.category,
            level=decision.level,
            rule=decision.rule,
        )
    else:
        second = ComplaintTriaged(
            pemda=decision.pemda,
            category=decision.category,
            rule=decision.rule,
            reason=decision.triage_reason or "",
        )
    lifecycle.transition(doc, [second], now, correlation)
    return doc


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
    batch: Sequence[Envelope], lifecycle: Lifecycle, now: Now = clock.now, cpu_seconds: float = CPU_SECONDS
) -> list[Rejected]:
    """Route new submissions. Their classification runs on the classifier thread (`deciding`); a
    text that exceeds its CPU budget, like an unknown category, is dead-lettered with the reason."""
    rejected: list[Rejected] = []
    routed: dict[str, dict[str, Any]] = {}
    instant = now()
    pemdas = set()
    valid: dict[str, Envelope] = {}
    for envelope in batch:
        reason = _validate(envelope)
        if reason is not None:
            rejected.append(Rejected(envelope, reason))
            continue
        assert isinstance(envelope.payload, ComplaintSubmitted) and envelope.complaint_id
        region = envelope.payload.region_code
        pemdas |= {pemda_of(region), province_of(region)}
        valid.setdefault(envelope.complaint_id, envelope)  # the same submission twice in one batch
    overrides = await lifecycle.store.overrides(sorted(pemdas)) if pemdas else {}
    texts: list[Text] = []
    for envelope in valid.values():
        assert isinstance(envelope.payload, ComplaintSubmitted)
        p = envelope.payload
        texts.append((p.category, p.region_code, p.title, p.description))
    decisions = await decide_batch(texts, cpu_seconds)
    for (complaint_id, envelope), decided in zip(valid.items(), decisions, strict=True):
        assert isinstance(envelope.payload, ComplaintSubmitted)
        if isinstance(decided, str):
            rejected.append(Rejected(envelope, decided))
            continue
        routed[complaint_id] = route_submission(
            envelope, envelope.payload, instant, lifecycle, overrides, decided
        )
    if not routed:
        return rejected
    existing = await lifecycle.store.insert_new(list(routed.values()))
    await lifecycle.deliver([doc for cid, doc in routed.items() if cid not in existing])
    if existing:
        # Already routed earlier (a redelivery): the stored document decides, not a new routing;
        # its unpublished outbox (if a crash interrupted it) goes out now, else nothing does.
        stored = await lifecycle.store.load(sorted(existing))
        await lifecycle.deliver(list(stored.values()))
    return rejected


async def handle_dues_batch(batch: Sequence[Envelope], lifecycle: Lifecycle) -> list[Rejected]:
    """Group `routing-dues`: sla's clock events set each complaint's nearest due (queue order);
    sla's other announcements (escalations, calendar changes) are not routing's concern."""
    await lifecycle.handle_clock_events([e for e in batch if isinstance(e.payload, ClockEvent)])
    return []


async def handle_routing_batch(batch: Sequence[Envelope], lifecycle: Lifecycle) -> list[Rejected]:
    """Group `routing`: submissions and commands (and, if given, clock events)."""
    submissions = [e for e in batch if isinstance(e.payload, ComplaintSubmitted)]
    commands = [e for e in batch if isinstance(e.payload, COMMANDS)]
    clocks = [e for e in batch if isinstance(e.payload, ClockEvent)]
    known = {id(e) for e in (*submissions, *commands, *clocks)}
    rejected = [
        Rejected(e, f"routing does not handle {e.type}")
        for e in batch
        if id(e) not in known and not e.type.startswith(("Escalation", "CalendarChanged"))
    ]
    rejected += await handle_submissions(submissions, lifecycle)
    unknown = await lifecycle.handle_commands(commands)
    rejected += [Rejected(e, "command for a complaint routing does not know") for e in unknown]
    await lifecycle.handle_clock_events(clocks)
    return rejected
