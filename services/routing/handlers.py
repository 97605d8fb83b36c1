"""Routing's use cases, one function each, over the ports of ports.py: route new submissions,
apply a staff action (`act`), apply reporters' commands, keep the queues' nearest due from sla's
clock events. `BATCH_HANDLERS` is the {message type: handler} table the consumer groups dispatch
through (entrypoints/consumers.py).

Idempotency is a record: a complaint's document is written together with the events its
transition produced (its outbox, shared/outbox.py); the document's existence means "already
routed". A redelivered submission never routes again: it only delivers an outbox a crash left
unpublished (same event ids, same seq), which downstream consumers recognise by seq. A batch's
changes are staged at one instant, so that their outboxes are marked published in one write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from services.routing.deciding import CPU_SECONDS, Text, decide_batch, fingerprint_batch
from services.routing.domain import duplicates as dup
from services.routing.domain import staff_mail
from services.routing.domain.catalog_import import CatalogPlan
from services.routing.domain.complaint import (
    FEED_OUTBOX,
    HANDLED_KEPT,
    NO_DUE,
    QUEUED_STATES,
    Document,
    as_complaint,
    command_action,
    dues_updates,
    duplicate_keys,
    feed_entry,
    new_complaint,
    place_of,
    shown_text,
    store_complaint,
    suggest,
)
from services.routing.domain.lifecycle import (
    Action,
    Complaint,
    Merge,
    Refused,
    decide,
    decide_merge,
    evolve,
    lease,
)
from services.routing.domain.staff import Account
from services.routing.domain.suggestions import (
    CountedTransfer,
    Decision,
    Suggestion,
    Verdict,
    offered,
    on_offer,
    pair_key,
    parse_suggestion_id,
)
from services.routing.domain.table import Overrides, RouteDecision, route_text, with_overrides
from services.routing.ports import Catalog, Routing, StaffMailing
from shared import clock, outbox
from shared.calendar import pemda_of, province_of
from shared.envelope import Envelope, Payload, new_event
from shared.events import (
    COMMANDS,
    CalendarChanged,
    ClockEvent,
    CommandRejected,
    ComplaintAssigned,
    ComplaintReceived,
    ComplaintSubmitted,
    ComplaintTransferred,
    ComplaintTriaged,
    EscalationRaised,
    OpdAssignmentNotice,
    SlaBreached,
    SlaWarning,
    SurveySubmitted,
)
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing, Rejected
from shared.regions import lookup
from shared.states import OPEN_STATES
from shared.topics import COMPLAINTS_ASSIGNED, COMPLAINTS_EVENTS

PRODUCER = "routing"
Now = Callable[[], datetime]


# --- recording a change: the next seqs, the new state, the outbox ---------------------------------


def record(
    doc: Document,
    payloads: Sequence[Payload],
    at: datetime,
    correlation_id: str | None,
    staged_at: datetime | None = None,
) -> None:
    """Apply payloads to the document: next seqs, new state, outbox (plus any unpublished), staged
    at `staged_at` (a wall instant; default now)."""
    complaint = as_complaint(doc)
    unpublished = doc.get("outbox_since") is not None
    messages = outbox.staged(doc) if unpublished else []
    feed = list(doc.get(FEED_OUTBOX) or []) if unpublished else []
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
        if isinstance(payload, SurveySubmitted):
            recipients = set()  # one reporter's scores are not the OPD's to read: only its IKM
        if isinstance(payload, ComplaintTransferred):
            recipients.add(payload.from_opd_id)
        feed += [
            feed_entry(envelope, opd, complaint.state, complaint.anonymous) for opd in sorted(recipients)
        ]
        if isinstance(payload, ComplaintAssigned):
            messages.append(_notice(doc, envelope, payload, complaint))
    store_complaint(doc, complaint)
    doc["dup_keys"] = duplicate_keys(doc)
    if complaint.state not in QUEUED_STATES:
        doc["sla_due"] = NO_DUE
    outbox.stage(doc, messages, staged_at)
    doc.update({FEED_OUTBOX: feed, "updated_at": at})


def _notice(doc: Document, envelope: Envelope, assigned: ComplaintAssigned, complaint: Complaint) -> Outgoing:
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


# --- submissions (complaints.submitted) ---------------------------------------------------------


def route_submission(
    envelope: Envelope,
    submitted: ComplaintSubmitted,
    now: datetime,
    overrides: Overrides | None = None,
    decision: RouteDecision | None = None,
    staged_at: datetime | None = None,
    fingerprint: dup.Fingerprint | None = None,
) -> Document:
    """The first two lifecycle events of a complaint: received (seq 1, at the submission
    instant), then assigned or triage (seq 2, at routing's decision; computed here if not given),
    staged at `staged_at` (default now)."""
    if decision is None:
        decision = route_text(
            submitted.category, submitted.region_code, submitted.title, submitted.description
        )
    decision = with_overrides(decision, overrides or {})
    doc = new_complaint(envelope, submitted, decision, fingerprint)
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
    record(doc, [received], envelope.occurred_at, correlation, staged_at)
    second: Payload
    # The classifier's word, when it spoke: supervisors' accuracy figures compare it with the
    # category a coordinator settles on (sla, issue 22 item 4).
    guessed = {"guess": decision.guess, "confidence": round(decision.confidence, 4)} if decision.guess else {}
    if guessed:  # kept on the document too: the coordinator's triage page shows it
        doc["classifier"] = guessed
    if decision.assigns:
        assert decision.category is not None
        second = ComplaintAssigned(
            opd_id=decision.opd_id,
            pemda=decision.pemda,
            category=decision.category,
            level=decision.level,
            rule=decision.rule,
            **guessed,
        )
    else:
        second = ComplaintTriaged(
            pemda=decision.pemda,
            category=decision.category,
            rule=decision.rule,
            reason=decision.triage_reason or "",
            **guessed,
        )
    record(doc, [second], now, correlation, staged_at)
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
    batch: Sequence[Envelope], routing: Routing, now: Now = clock.now, cpu_seconds: float = CPU_SECONDS
) -> list[Rejected]:
    """Route new submissions. Their classification runs on the classifier thread (`deciding`); a
    text that exceeds its CPU budget, like an unknown category, is dead-lettered with the reason."""
    rejected: list[Rejected] = []
    routed: dict[str, Document] = {}
    instant, staged_at = now(), clock.wall()
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
    overrides = await routing.catalog.overrides(sorted(pemdas)) if pemdas else {}
    texts: list[Text] = []
    for envelope in valid.values():
        assert isinstance(envelope.payload, ComplaintSubmitted)
        p = envelope.payload
        texts.append((p.category, p.region_code, p.title, p.description))
    decisions = await decide_batch(texts, cpu_seconds)
    fingerprints = await fingerprint_batch([(title, text) for *_, title, text in texts])
    for (complaint_id, envelope), decided, printed in zip(
        valid.items(), decisions, fingerprints, strict=True
    ):
        assert isinstance(envelope.payload, ComplaintSubmitted)
        if isinstance(decided, str):
            rejected.append(Rejected(envelope, decided))
            continue
        routed[complaint_id] = route_submission(
            envelope, envelope.payload, instant, overrides, decided, staged_at, printed
        )
    if not routed:
        return rejected
    await suggest_duplicates(list(routed.values()), routing)
    existing = await routing.complaints.insert_new(list(routed.values()))
    await routing.delivery.deliver([doc for cid, doc in routed.items() if cid not in existing])
    if existing:
        # Already routed earlier (a redelivery): the stored document decides, not a new routing;
        # its unpublished outbox (if a crash interrupted it) goes out now, else nothing does.
        stored = await routing.complaints.load(sorted(existing))
        await routing.delivery.deliver(list(stored.values()))
    return rejected


async def suggest_duplicates(docs: Sequence[Document], routing: Routing) -> None:
    """Each new complaint's likely duplicates among the open complaints (and the batch's earlier
    ones): found by key (domain/duplicates.py), confirmed by text similarity and distance, stored
    on it (`duplicates`) for its handler and coordinator to see. The look-ups of a batch run
    concurrently (one indexed read each)."""

    async def candidates(doc: Document) -> list[Document]:
        keys = dup.lookup_keys(place_of(doc), doc.get("dup_bands") or ())
        if not keys:
            return []
        since = dup.window_start(doc["submitted_at"], routing.duplicate_window_days)
        return await routing.complaints.duplicate_candidates(keys, since, dup.MAX_CANDIDATES)

    found = await asyncio.gather(*(candidates(doc) for doc in docs))
    for i, (doc, stored) in enumerate(zip(docs, found, strict=True)):
        wanted = set(dup.lookup_keys(place_of(doc), doc.get("dup_bands") or ()))
        since = dup.window_start(doc["submitted_at"], routing.duplicate_window_days)
        earlier = [d for d in docs[:i] if wanted.intersection(d["dup_keys"]) and d["submitted_at"] >= since]
        doc["duplicates"] = suggest(doc, [*stored, *earlier], routing.duplicate_min_similarity)


# --- one staff action (HTTP) --------------------------------------------------------------------


async def act(
    routing: Routing,
    complaint_id: str,
    action: Action,
    *,
    correlation_id: str | None = None,
    known_opd: frozenset[str] | None = None,
    at: datetime | None = None,
) -> Document:
    """Apply `action` now; the new document. `Refused` → 409, `LookupError` → 404."""
    for _ in range(5):  # a concurrent writer: read again and decide again
        doc = await routing.complaints.get(complaint_id)
        if doc is None:
            raise LookupError(complaint_id)
        instant = at or clock.now()
        complaint = as_complaint(doc)
        payloads = decide(
            complaint, action, instant, max_transfers=routing.max_transfers, known_opd=known_opd
        )
        handler = getattr(action, "handler", None)
        if not payloads and handler is not None:  # a claim that only renews/takes the lease
            until = instant + timedelta(minutes=routing.lease_minutes)
            if await routing.complaints.set_lease(complaint_id, doc["rev"], handler, until):
                doc.update(claimed_by=handler, lease_until=until, rev=doc["rev"] + 1)
                return doc
            continue
        compared_as = (doc.get("category"), doc.get("region_code"))
        record(doc, payloads, instant, correlation_id)
        if handler is not None and doc["state"] in ("in_progress", "waiting_reporter"):
            complaint = as_complaint(doc)
            lease(complaint, handler, instant, routing.lease_minutes)
            store_complaint(doc, complaint)
        if (doc.get("category"), doc.get("region_code")) != compared_as and doc["state"] in OPEN_STATES:
            # Another category or place than at submission (a triaged complaint had no category,
            # hence no duplicates, until the coordinator's disposition): compared again.
            await suggest_duplicates([doc], routing)
        try:
            await routing.complaints.replace([doc])
        except ConcurrentUpdate:
            continue
        await routing.delivery.deliver([doc])
        return doc
    raise ConcurrentUpdate(f"complaint {complaint_id} keeps changing")


async def merge(
    routing: Routing, absorbed_id: str, action: Merge, *, correlation_id: str | None = None
) -> tuple[Document, Document]:
    """Merge a duplicate into its survivor (both documents in one transaction); the two
    documents after. `Refused` → 409, `LookupError` → 404 (the duplicate) or the survivor's id."""
    for _ in range(5):  # a concurrent writer on either: read both again and decide again
        docs = await routing.complaints.load(sorted({absorbed_id, action.into}))
        absorbed, survivor = docs.get(absorbed_id), docs.get(action.into)
        if absorbed is None:
            raise LookupError(absorbed_id)
        if survivor is None:
            raise LookupError(action.into)
        instant = clock.now()
        closing, absorbing = decide_merge(as_complaint(absorbed), as_complaint(survivor), action)
        if not closing:
            return absorbed, survivor  # merged already: nothing changes
        record(absorbed, closing, instant, correlation_id)
        record(survivor, absorbing, instant, correlation_id)
        try:
            await routing.complaints.replace_together([absorbed, survivor])
        except ConcurrentUpdate:
            continue
        await routing.delivery.deliver([absorbed, survivor])
        return absorbed, survivor
    raise ConcurrentUpdate(f"complaints {absorbed_id} and {action.into} keep changing")


# --- commands (complaints.commands) -------------------------------------------------------------


async def handle_commands(commands: Sequence[Envelope], routing: Routing) -> list[Rejected]:
    """Apply commands in order; the ones about unknown complaints are dead letters."""
    if not commands:
        return []
    ids = sorted({c.complaint_id for c in commands if c.complaint_id})
    docs = await routing.complaints.load(ids)
    changed: dict[str, Document] = {}
    unknown: list[Envelope] = []
    staged_at = clock.wall()
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
        record(doc, payloads, at, command.event_id, staged_at)
        handled.append(command.event_id)
        del handled[:-HANDLED_KEPT]
        changed[doc["_id"]] = doc
    await routing.complaints.replace(list(changed.values()))
    await routing.delivery.deliver(list(changed.values()))
    return [Rejected(e, "command for a complaint routing does not know") for e in unknown]


# --- sla.events: the queue's "nearest due" --------------------------------------------------------


async def handle_clock_events(
    events: Sequence[Envelope], routing: Routing, attempts: int = 5
) -> list[Rejected]:
    by_complaint: dict[str, list[ClockEvent]] = {}
    for e in events:
        if e.complaint_id and isinstance(e.payload, ClockEvent):
            by_complaint.setdefault(e.complaint_id, []).append(e.payload)
    if not by_complaint:
        return []
    for _ in range(attempts):
        # Only what the dues need: the whole document (outbox, text) is several times larger.
        docs = await routing.complaints.load(sorted(by_complaint), fields=("dues", "rev"))
        missed = await routing.complaints.set_dues(dues_updates(by_complaint, docs))
        if not missed:
            return []
        # A lifecycle write came in between: read again; what is written already is skipped
        # (clock versions), so only the missed complaints are written again.
    raise ConcurrentUpdate(f"{missed} complaint(s) kept changing while their dues were updated")


# --- the consumer groups' dispatch ----------------------------------------------------------------

BatchUseCase = Callable[[Sequence[Envelope], Routing], Awaitable[list[Rejected]]]
# In the order a batch is applied: submissions, then commands, then clock events.
BATCH_HANDLERS: dict[type | tuple[type, ...], BatchUseCase] = {
    ComplaintSubmitted: handle_submissions,
    COMMANDS: handle_commands,
    ClockEvent: handle_clock_events,
}
# sla's other announcements (escalations, calendar changes) are not routing's concern.
IGNORED_PREFIXES = ("Escalation", "CalendarChanged")


async def handle_routing_batch(batch: Sequence[Envelope], routing: Routing) -> list[Rejected]:
    """Group `routing`: submissions and commands (and, if given, clock events)."""
    parts = {kind: [e for e in batch if isinstance(e.payload, kind)] for kind in BATCH_HANDLERS}
    known = {id(e) for part in parts.values() for e in part}
    rejected = [
        Rejected(e, f"routing does not handle {e.type}")
        for e in batch
        if id(e) not in known and not e.type.startswith(IGNORED_PREFIXES)
    ]
    for kind, handler in BATCH_HANDLERS.items():
        rejected += await handler(parts[kind], routing)
    return rejected


async def handle_dues_batch(batch: Sequence[Envelope], routing: Routing) -> list[Rejected]:
    """Group `routing-dues`: sla's clock events set each complaint's nearest due (queue order);
    sla's other announcements are not routing's concern."""
    return await handle_clock_events([e for e in batch if isinstance(e.payload, ClockEvent)], routing)


async def import_catalog(plan: CatalogPlan, catalog: Catalog, by: str) -> dict[str, int]:
    """A pemda's OPD list and its category rules from a checked file (domain/catalog_import.py):
    each OPD added or renamed, each category given to its OPD, one audit entry for the import."""
    for opd in plan.opds:
        await catalog.put_opd(opd.pemda, opd.slug, opd.name)
    for pemda, category, slug in plan.rules:
        await catalog.put_rule(pemda, category, slug, "impor katalog", by)
    counts = {"opds": len(plan.opds), "rules": len(plan.rules), "pemdas": len(plan.pemdas)}
    await catalog.audit("catalog.import", by, "operator", {**counts, "pemda": plan.pemdas[:50]})
    return counts


# --- transfers that become rules (complaints.events; the coordinator's suggestions) ---------------


async def count_transfers(batch: Sequence[Envelope], routing: Routing) -> list[Rejected]:
    """Group `routing-transfers`: each transfer between two OPDs of one pemda counted once per
    pair (an upsert keyed by pemda × category × from × to; a redelivered event is recognised by
    its id). The other lifecycle events are not this group's concern."""
    for envelope in batch:
        payload = envelope.payload
        if not isinstance(payload, ComplaintTransferred) or not envelope.complaint_id:
            continue
        key = pair_key(payload.category, payload.from_opd_id, payload.to_opd_id)
        if key is None:
            continue
        transfer = CountedTransfer(
            envelope.event_id, envelope.complaint_id, envelope.occurred_at, payload.reason
        )
        await routing.transfer_pairs.count(*key, transfer)
    return []


def _window(routing: Routing) -> timedelta:
    return timedelta(days=routing.suggest_window_days)


async def rule_suggestions(routing: Routing, pemda: str, now: datetime) -> list[Suggestion]:
    """The rule overrides a pemda's coordinator is offered now."""
    pairs = await routing.transfer_pairs.of_pemda(pemda)
    overrides = await routing.catalog.overrides([pemda])
    return offered(pairs, now, threshold=routing.suggest_after, window=_window(routing), overrides=overrides)


async def decide_suggestion(
    routing: Routing,
    pemda: str,
    suggestion: str,
    verdict: Verdict,
    *,
    by: str,
    role: str,
    note: str | None,
    now: datetime,
) -> tuple[Suggestion, Decision]:
    """Accept (the pemda's rule for the category becomes the OPD the complaints were transferred
    to) or reject a suggestion on offer, audited with who, when, why and the complaints that led
    to it. `LookupError` for an unknown one, `Refused` for one not on offer (decided already, too
    few transfers since, or the rule already says so)."""
    parts = parse_suggestion_id(suggestion)
    pair = await routing.transfer_pairs.get(pemda, *parts) if parts else None
    if pair is None:
        raise LookupError(suggestion)
    overrides = await routing.catalog.overrides([pemda])
    offer = on_offer(pair, now, threshold=routing.suggest_after, window=_window(routing), overrides=overrides)
    if offer is None:
        raise Refused("usulan ini tidak sedang ditawarkan (sudah diputuskan atau pengalihan belum cukup)")
    complaint_ids = tuple(dict.fromkeys(t.complaint_id for t in offer.counted))
    decision = Decision(verdict, by, role, now, note, complaint_ids)

    async def consequences(session: Any) -> None:
        if verdict == "accepted":
            note_text = f"usulan dari pengalihan: {note}" if note else "usulan dari pengalihan"
            await routing.catalog.put_rule(pemda, pair.category, pair.to_slug, note_text, by, session=session)
        await routing.catalog.audit(
            f"rule.suggestion.{'accept' if verdict == 'accepted' else 'reject'}",
            by,
            role,
            {
                "pemda": pemda,
                "suggestion": pair.id,
                "category": pair.category,
                "from_opd_id": pair.from_opd_id,
                "to_opd_id": pair.to_opd_id,
                "replaced_slug": offer.current_slug,
                "note": note,
                "complaint_ids": list(complaint_ids),
            },
            session=session,
        )

    if not await routing.transfer_pairs.decide(pair, decision, consequences):
        raise Refused("usulan ini baru saja diputuskan oleh orang lain")
    routing.catalog.forget_rules()  # read again after the commit, not the rule from before it
    return offer, decision


# --- staff e-mails (issue 21 item 4) --------------------------------------------------------------


async def stage_staff_mail(batch: Sequence[Envelope], mailing: StaffMailing) -> list[Rejected]:
    """Group `routing-staff-mail`: lifecycle and clock events that staff must act on become
    e-mails to the people who must (domain/staff_mail.py), staged before the batch is committed,
    so none is lost across a restart, and keyed by event and person, so a redelivery stages
    nothing twice. An event older than `max_age` when read tells nobody (a late start would
    otherwise mail the history). The pemdas' calendar announcements on sla.events are kept (also
    while mail is off, so that turning it on finds them) for the dues the mails name."""
    if mailing.calendars is not None:
        for event in batch:
            if isinstance(event.payload, CalendarChanged):
                p = event.payload
                await mailing.calendars.save(p.pemda, p.revision, p.extra_dates)
    if not mailing.on:
        return []
    now = clock.now()
    relevant = [
        e
        for e in batch
        if e.complaint_id
        and isinstance(
            e.payload, ComplaintAssigned | ComplaintTriaged | SlaWarning | SlaBreached | EscalationRaised
        )
        and now - e.occurred_at <= mailing.max_age
    ]
    if not relevant:
        return []
    complaints = await mailing.mailbox.complaints(
        sorted({e.complaint_id for e in relevant if e.complaint_id})
    )
    if mailing.calendars is not None:  # what any process of this group kept, this batch included
        await mailing.calendars.teach(mailing.book)
    mails: list[Document] = []
    audiences: dict[tuple[staff_mail.Audience, ...], list[Account]] = {}  # one read per audience
    for event in relevant:
        notice = staff_mail.notice_for(
            event, complaints.get(event.complaint_id or ""), mailing.book.calendar_for
        )
        if notice is None:
            continue
        if notice.audiences not in audiences:
            audiences[notice.audiences] = await mailing.addresses.addressed(notice.audiences)
        people = staff_mail.recipients(notice, audiences[notice.audiences])
        for person in people:
            mails += staff_mail.mail_documents(notice, person, now, mailing.digest_hour)
    await mailing.mailbox.stage(mails)
    return []
