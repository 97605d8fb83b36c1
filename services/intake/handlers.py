"""Intake's use cases, one function each, written against the ports (ports.py): submit (and its
replay by Idempotency-Key), a reporter's command, the audited identity read, the view events and
routing's dead commands. The HTTP views and consumers (entrypoints/) only decode, call one of
these and encode; rules are in domain/."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from ulid import ULID

from services.intake.adapters.idempotency import seal, unseal
from services.intake.adapters.tracking import seal_pin
from services.intake.domain import notifications
from services.intake.domain import tracking as tracking_rules
from services.intake.domain.commands import check, command_outcomes
from services.intake.domain.complaint import KeyClaim, NewComplaint, ReporterCommand
from services.intake.domain.errors import Forbidden, KeyInFlight, KeyReused, NotFound
from services.intake.domain.identity import (
    erased,
    identity_pattern,
    may_read_identity,
    outgoing_text,
    redact_with,
)
from services.intake.domain.view import CalendarFor, Redact, apply, is_lifecycle
from services.intake.models import (
    CommandAccepted,
    NotificationState,
    ReporterIdentity,
    SubmitAccepted,
    SubmitComplaint,
)
from services.intake.ports import ComplaintStore, NotificationStore, OpdNames, Publisher, TrackingStore
from shared import clock
from shared.auth import Staff
from shared.calendar import CalendarBook
from shared.calendar import calendar_for as default_calendar
from shared.deadletters import Letter
from shared.envelope import Envelope, Payload, decode, new_event
from shared.events import (
    CalendarChanged,
    CatalogChanged,
    ComplaintAbsorbed,
    ComplaintSubmitted,
    WithdrawComplaint,
)
from shared.kafka import Outgoing, Rejected
from shared.topics import COMPLAINTS_COMMANDS, COMPLAINTS_SUBMITTED

log = logging.getLogger(__name__)

PRODUCER = "intake"
Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]


# --- Idempotency-Key replays ---------------------------------------------------------------------


def replayed(earlier: Mapping[str, Any], digest: str) -> dict[str, Any]:
    """The stored answer of an Idempotency-Key, or the error a reuse of it deserves."""
    if earlier.get("body_hash") != digest:
        raise KeyReused("Idempotency-Key ini sudah dipakai untuk permintaan lain")
    if not earlier.get("done"):
        raise KeyInFlight("Permintaan dengan kunci ini masih diproses")
    response: dict[str, Any] = earlier["response"]
    return response


def body_hash(kind: str, body: BaseModel) -> str:
    return hashlib.sha256(f"{kind}:{body.model_dump_json()}".encode()).hexdigest()


# --- submit --------------------------------------------------------------------------------------


async def submit(
    body: SubmitComplaint,
    key: str | None,
    base_url: str,
    *,
    store: ComplaintStore,
    publisher: Publisher,
    secret: str,
    tracking: TrackingStore | None = None,
    tracking_key: str = "",
    notify_channels: frozenset[str] = frozenset(),
) -> SubmitAccepted:
    """Store and publish one validated submission; the 202 answer once it is durable.

    Shared by the JSON API and Open311. With an Idempotency-Key, a retry gets the original answer
    (or KeyReused: another body; KeyInFlight: still in flight). With `tracking`, the answer carries
    a tracking code and PIN (domain/tracking.py), the PIN shown this once (and to a retry)."""
    now = clock.now()
    token = secrets.token_urlsafe(32)
    # The id's time part is the submission instant: listings page by id windows.
    complaint_id = str(ULID.from_datetime(now))
    code = pin = None
    if tracking is not None:
        pin = tracking_rules.new_pin()
        code = await tracking.reserve_code(
            complaint_id, lambda c: tracking_rules.pin_hash(tracking_key, c, pin)
        )
    complaint = NewComplaint.submitted(
        body,
        complaint_id=complaint_id,
        token=token,
        reporter_ref=f"rep_{ULID()}" if body.reporter else None,
        at=now,
        tracking_code=code,
    )
    if pin is not None and set(complaint.notify_channels) & notify_channels:
        # Sent again in the "received" notification: kept sealed until it is out.
        complaint = dataclasses.replace(complaint, pin_sealed=seal_pin(tracking_key, complaint_id, pin))
    event = new_event(
        ComplaintSubmitted(
            title=complaint.outgoing_title(),
            description=complaint.outgoing_description(),
            category=body.category,
            region_code=body.region_code,
            location=body.location,
            address=complaint.outgoing_address,
            incident_date=body.incident_date,
            classification=body.classification,
            anonymous=body.anonymous,
            confidential=body.confidential,
            reporter_ref=complaint.reporter_ref,
            channel=body.channel,
        ),
        producer=PRODUCER,
        complaint_id=complaint.id,
        occurred_at=now,
    )
    submitted = Outgoing.of(COMPLAINTS_SUBMITTED, complaint.id, event)
    accepted = SubmitAccepted(
        id=complaint.id,
        access_token=token,
        status_url=f"{base_url}/api/v1/complaints/{complaint.id}",
        tracking_code=code,
        pin=pin,
    )
    claim = None
    # Without `notify` when unset: a body of before that field hashes as it did (a retry across
    # the deploy still gets its replay, not a 422 for a reused key).
    unset = {"notify"} if body.notify is None else None
    digest = hashlib.sha256(body.model_dump_json(exclude=unset).encode()).hexdigest()
    if key is not None:
        response = seal(accepted.model_dump(), key, secret)
        claim = KeyClaim(key, digest, response, complaint_id=complaint.id)
    # The complaint, its ComplaintSubmitted (the outbox) and the key's record: durable together.
    try:
        stored = await store.add(complaint, [submitted], claim)
    except BaseException:
        if tracking is not None and code is not None:  # the code would lead nowhere: free it
            with contextlib.suppress(Exception):
                await tracking.release_code(code)
        raise
    if isinstance(stored, dict):  # a retry: the complaint of the first request is stored already
        assert key is not None
        if tracking is not None and code is not None:
            await tracking.release_code(code)
        return SubmitAccepted.model_validate(unseal(replayed(stored, digest), key, secret))
    # Durable: the answer goes out now. Publishing does not hold it: a Kafka outage delays
    # routing, never the citizen; what is not published now the relay publishes.
    publisher.publish_soon("complaints", complaint.id, stored, [submitted])
    return accepted


# --- the reporter's commands ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReporterTexts:
    """The reporter's free text as it may go on Kafka (see domain.identity.outgoing_text)."""

    reporter: Mapping[str, Any] | None
    anonymous: bool

    def __call__(self, text: str | None) -> str | None:
        return None if text is None else outgoing_text(text, self.reporter, self.anonymous)

    def required(self, text: str) -> str:
        return outgoing_text(text, self.reporter, self.anonymous)


async def send_command(
    doc: dict[str, Any],
    body: BaseModel,
    build: Callable[[Any, ReporterTexts], Payload],
    key: str | None,
    base_url: str,
    *,
    store: ComplaintStore,
    publisher: Publisher,
    calendars: CalendarBook,
) -> CommandAccepted:
    """Check a reporter's command against intake's view and send it to routing durably (the
    command record, its message and its key's record in one transaction): accepted once durable,
    a Kafka outage delays it, never refuses it. A retried key gets the first answer."""
    complaint_id = doc["_id"]
    owner = await store.identity_of(complaint_id) or {}
    command = build(body, ReporterTexts(owner.get("reporter"), bool(doc.get("anonymous"))))
    now = clock.now()
    command_id = str(ULID())
    accepted = CommandAccepted(
        command_id=command_id,
        status_url=f"{base_url}/api/v1/complaints/{complaint_id}/commands/{command_id}",
    )
    scoped_key = f"command:{complaint_id}:{key}" if key is not None else None
    digest = body_hash(command.TYPE, body)
    if scoped_key is not None:
        earlier = await store.find_key(scoped_key)
        if earlier is not None:  # a retry: the first request's answer (or an error)
            return CommandAccepted.model_validate(replayed(earlier, digest))
    check(doc, command, now, calendars.calendar_for)
    envelope = new_event(
        command,
        producer=PRODUCER,
        complaint_id=complaint_id,
        occurred_at=now,
        event_id=command_id,
        correlation_id=command_id,
    )
    message = Outgoing.of(COMPLAINTS_COMMANDS, complaint_id, envelope)
    claim = None if scoped_key is None else KeyClaim(scoped_key, digest, accepted.model_dump())
    stored = await store.add_command(
        ReporterCommand(command_id, complaint_id, command.TYPE, now), [message], claim
    )
    if isinstance(stored, dict):  # the same key won by a concurrent request
        return CommandAccepted.model_validate(replayed(stored, digest))
    publisher.publish_soon("commands", command_id, stored, [message])
    return accepted


# --- the reporter's identity, audited ------------------------------------------------------------


async def read_identity(complaint_id: str, staff: Staff, *, store: ComplaintStore) -> ReporterIdentity:
    """Every attempt, allowed or refused, even for an unknown id, is audited before anything is
    answered; if the audit cannot be written, nothing is shown."""
    doc = await store.identity_of(complaint_id)
    allowed, reason = may_read_identity(staff, doc)
    await store.audit_identity_read(
        {
            "_id": str(ULID()),
            "complaint_id": complaint_id,
            "who": staff.sub,
            "who_name": staff.name,  # the person signed in (routing's token), None for a system
            "role": staff.role,
            "pemda": staff.pemda,
            "opd": staff.opd,
            "at": clock.now(),
            "allowed": allowed,
            "reason": reason,
        }
    )
    if doc is None:
        raise NotFound()
    if not allowed:
        raise Forbidden(reason)
    reporter = doc.get("reporter") or {}
    return ReporterIdentity(
        complaint_id=complaint_id,
        reporter_ref=doc.get("reporter_ref"),
        anonymous=bool(doc.get("anonymous")),
        name=reporter.get("name"),
        phone=reporter.get("phone"),
        email=reporter.get("email"),
    )


async def erase_reporter(complaint_id: str, *, by: str, reason: str, store: ComplaintStore) -> bool:
    """Erase one complaint's reporter identity (domain/identity.py `erased`), audited in the same
    trail as identity reads; False when there was none left to erase."""
    doc = await store.erasure_texts(complaint_id)
    if doc is None or not doc.get("reporter"):
        return False
    now = clock.now()
    audit = {
        # One erasure per complaint: a second sweep (two processes, or a crash between the audit
        # and the update) writes the same entry again, so the trail holds it once.
        "_id": f"erase:{complaint_id}",
        "complaint_id": complaint_id,
        "who": by,
        "role": "operator",
        "at": now,
        "allowed": True,
        "action": "erase",
        "reason": reason,
    }
    return await store.erase_identity(complaint_id, erased(doc, at=now, by=by, reason=reason), audit)


RETENTION_BATCH = 200


async def erase_expired(retention_years: int, *, store: ComplaintStore) -> int:
    """Erase the reporter identity of every complaint closed or archived more than
    `retention_years` ago (the INTAKE_RETENTION_YEARS setting); how many were erased."""
    cutoff = clock.now() - timedelta(days=round(365.25 * retention_years))
    reason = f"retensi: ditutup lebih dari {retention_years} tahun"
    total = 0
    while ids := await store.ended_before(cutoff, RETENTION_BATCH):
        done = [await erase_reporter(i, by="retention", reason=reason, store=store) for i in ids]
        total += sum(done)
        if not any(done):  # nothing of this batch could be erased: stop rather than spin
            break
    return total


# --- notifications: the reporter's opt-out and what became of each one ---------------------------


async def opt_out(complaint_id: str, token: str, *, secret: str, store: NotificationStore) -> bool:
    """The opt-out link's token checked, the opt-out recorded at once (NotFound for a wrong
    token: the link opens nothing else). True the first time."""
    if not notifications.opt_out_valid(secret, complaint_id, token):
        raise NotFound()
    return await store.opt_out(complaint_id, clock.now())


async def notification_states(complaint_id: str, store: NotificationStore) -> list[NotificationState]:
    """The reporter's own view of their notifications: kind, channel, state, when (no address)."""
    return [
        NotificationState(kind=n["kind"], channel=n["channel"], state=n["state"], at=n["at"])
        for n in await store.of_complaint(complaint_id)
    ]


# --- the view consumer: complaints.events + sla.events -------------------------------------------


async def redactors(store: ComplaintStore, ids: set[str | None]) -> dict[str, Redact]:
    """For each complaint, the function that takes its reporter's identity out of a text."""
    wanted = sorted(i for i in ids if i)
    found = await store.reporters(wanted) if wanted else {}
    return {cid: _redactor(found.get(cid)) for cid in wanted}


def _redactor(reporter: Mapping[str, Any] | None) -> Redact:
    pattern = identity_pattern(reporter)
    return lambda text: redact_with(pattern, text)


async def calendar_changed(
    events: Sequence[Envelope], store: ComplaintStore, calendars: CalendarBook | None
) -> None:
    """A pemda's extra non-working dates (sla): kept, and learnt by this process's calendars."""
    for event in events:
        p = event.payload
        assert isinstance(p, CalendarChanged)
        await store.save_calendar(p.pemda, p.revision, p.extra_dates)
        if calendars is not None:
            calendars.learn(p.pemda, p.revision, p.extra_dates)


@dataclass(frozen=True)
class Notifying:
    """Notifications are on: where they are staged, and the channels this deployment sends on."""

    store: NotificationStore
    channels: frozenset[str]


async def complaint_events(
    events: Sequence[Envelope],
    store: ComplaintStore,
    publish: Publish | None,
    calendars: CalendarBook | None = None,
    notifying: Notifying | None = None,
) -> list[Rejected]:
    """Lifecycle, clock and escalation events → the citizen's views, the outcome of the
    reporter's commands and the notifications they cause. Idempotent: a redelivered batch
    changes nothing and stages no notification again."""
    ids = sorted({e.complaint_id for e in events if e.complaint_id})
    docs = await store.load_views(ids)
    missing = [cid for cid in ids if cid not in docs]
    abandoned = await store.abandoned(missing) if missing else {}
    changed: dict[str, dict[str, Any]] = {}
    rejected = []
    # Notes' texts are kept with a copy without the reporter's identity (view.apply).
    redact = await redactors(
        store, {e.complaint_id for e in events if e.complaint_id in docs and is_lifecycle(e.payload)}
    )
    staged: list[dict[str, Any]] = []
    answered: set[str] = set()
    calendar_for = calendars.calendar_for if calendars else default_calendar
    followers = await _follower_channels(store, docs, events) if notifying is not None else {}
    applied = _notices(staged, answered, notifying, calendar_for, followers)
    lifecycle: dict[str, list[Envelope]] = {}
    for event in events:
        if event.complaint_id is None:
            continue
        doc = docs.get(event.complaint_id)
        if doc is None:
            if event.complaint_id not in abandoned:
                rejected.append(Rejected(event, "complaint unknown to intake"))
        elif is_lifecycle(event.payload) and event.seq is not None:
            lifecycle.setdefault(doc["_id"], []).append(event)  # in seq order, below
        elif apply(doc, event, redact.get(event.complaint_id)):
            changed[doc["_id"]] = doc
            applied(doc, event)
    for complaint_id, held in lifecycle.items():
        if apply_in_order(docs[complaint_id], held, redact.get(complaint_id), applied):
            changed[complaint_id] = docs[complaint_id]
    if notifying is not None:
        # Before the views: a crash between the two stages the same notifications again (by id).
        await notifying.store.stage(staged)
        # Reminders of a request now answered show as cancelled at once (the worker's gate
        # would skip them at their day anyway).
        await notifying.store.cancel_reminders({cid: docs[cid].get("awaiting_reply") for cid in answered})
    await store.save_views(list(changed.values()))
    await store.settle_commands(command_outcomes(events))
    await withdraw_abandoned(store, abandoned, publish)
    return rejected


Applied = Callable[[dict[str, Any], Envelope], None]


async def _follower_channels(
    store: ComplaintStore, docs: Mapping[str, dict[str, Any]], events: Sequence[Envelope]
) -> dict[str, list[str]]:
    """The notification channels of the reporters following a survivor (complaints merged into
    one of these), by their complaint's id: the survivor's events are told to them too."""
    ids = {f for doc in docs.values() for f in doc.get("followers") or ()}
    ids |= {e.payload.absorbed_id for e in events if isinstance(e.payload, ComplaintAbsorbed)}
    if not ids:
        return {}
    found = await store.load_views(sorted(ids))
    return {cid: list(doc.get("notify_channels") or ()) for cid, doc in found.items()}


def _notices(
    staged: list[dict[str, Any]],
    answered: set[str],
    notifying: Notifying | None,
    calendar_for: CalendarFor,
    followers: Mapping[str, list[str]] | None = None,
) -> Applied:
    """What to do with each event a view has just applied: note the open information request
    (and the complaints whose request was answered), and stage the notifications it causes on
    the reporter's channels, and on those of the reporters following it (merged complaints)."""

    def on_applied(doc: dict[str, Any], event: Envelope) -> None:
        if notifications.track_reply(doc, event):
            answered.add(doc["_id"])
        if notifying is None or event.complaint_id is None:
            return
        now = clock.now()
        notices = notifications.notices_for(event, doc, calendar_for)
        channels = [c for c in doc.get("notify_channels") or () if c in notifying.channels]
        for notice in notices:
            staged.extend(
                notifications.notification_document(notice, channel, event, now) for channel in channels
            )
        for follower in doc.get("followers") or ():
            theirs = [c for c in (followers or {}).get(follower, ()) if c in notifying.channels]
            for notice in notifications.follower_notices(notices, doc["_id"], follower):
                staged.extend(
                    notifications.notification_document(notice, channel, event, now, follower)
                    for channel in theirs
                )

    return on_applied


# Which use case a view event goes to, by its message type; every other type goes to
# `complaint_events` (one batch read and one write of the views it touches).
VIEW_HANDLERS: dict[type[Payload], Callable[..., Awaitable[None]]] = {CalendarChanged: calendar_changed}


async def handle_view_events(
    batch: list[Envelope],
    store: ComplaintStore,
    calendars: CalendarBook | None = None,
    publish: Publish | None = None,
    notifying: Notifying | None = None,
    names: OpdNames | None = None,
) -> list[Rejected]:
    """complaints.events + sla.events + catalog.changes → the citizen's views, the outcome of the
    reporter's commands, the pemdas' calendars and the OPDs' names. Idempotent: a redelivered
    batch changes nothing."""
    catalogs = [e.payload for e in batch if isinstance(e.payload, CatalogChanged)]
    if catalogs:
        batch = [e for e in batch if not isinstance(e.payload, CatalogChanged)]
    if catalogs and names is not None:
        for catalog in catalogs:
            await names.put(catalog.pemda, catalog.revision, {o.opd_id: o.name for o in catalog.opds})
    for payload_type, handler in VIEW_HANDLERS.items():
        events = [e for e in batch if isinstance(e.payload, payload_type)]
        if events:
            await handler(events, store, calendars)
    return await complaint_events(batch, store, publish, calendars, notifying)


def apply_in_order(
    doc: dict[str, Any], events: list[Envelope], redact: Redact | None, applied: Applied | None = None
) -> bool:
    """A complaint's lifecycle events, in seq order and never past a hole: events after a missing
    seq wait in the view (`parked`) until it arrives. True when the view changed. `applied` is
    told of each event applied, with the view after it."""
    held = [decode(bytes(value)) for value in doc.get("parked") or []]
    waiting = {e.seq: e for e in [*held, *events] if e.seq is not None and e.seq > doc.get("last_seq", 0)}
    changed = False
    while doc.get("last_seq", 0) + 1 in waiting:
        event = waiting.pop(doc.get("last_seq", 0) + 1)
        if apply(doc, event, redact):
            changed = True
            if applied is not None:
                applied(doc, event)
    still = [waiting[seq] for seq in sorted(waiting)]
    if [e.event_id for e in still] != [e.event_id for e in held]:
        doc["parked"] = [e.to_bytes() for e in still]
        doc["parked_count"] = len(still)
        changed = True
        if still:
            log.warning(
                "complaint %s: seq %d missing; %d later event(s) held until it arrives",
                doc["_id"], doc.get("last_seq", 0) + 1, len(still),
            )  # fmt: skip
    return changed


async def withdraw_abandoned(
    store: ComplaintStore, abandoned: dict[str, dict[str, Any]], publish: Publish | None
) -> None:
    """A submission answered 503 that reached Kafka after all: nobody holds its token, so ask
    the lifecycle owner to withdraw it (once)."""
    pending = sorted(cid for cid, t in abandoned.items() if not t.get("withdrawn"))
    if not pending or publish is None:
        return
    reason = "Pengiriman tidak dikonfirmasi ke pelapor (antrean pesan sempat tidak tersedia)"
    await publish(
        [
            Outgoing.of(
                COMPLAINTS_COMMANDS,
                cid,
                new_event(WithdrawComplaint(reason=reason), producer=PRODUCER, complaint_id=cid),
            )
            for cid in pending
        ]
    )
    await store.mark_withdrawn(pending)


async def refresh_calendars(store: ComplaintStore, calendars: CalendarBook) -> None:
    """What any instance stored of the pemdas' calendars, learnt by this one."""
    for pemda, revision, dates in await store.calendars():
        calendars.learn(pemda, revision, dates)


# --- routing's dead letters ----------------------------------------------------------------------

# What the reporter is told of a command routing dead-lettered: nothing internal, and that the
# status may still change (an operator replays the letter once the cause is fixed).
DEAD_LETTER_REASON = (
    "Permintaan ini belum dapat diproses karena kendala pada sistem; petugas sudah diberi tahu. "
    "Setelah kendala diatasi, permintaan Anda diproses ulang dan status ini diperbarui."
)
# A command id is a ULID (26 characters); anything much longer is not one of intake's.
_MAX_ID = 64


def command_id_of(value: bytes) -> str | None:
    """The envelope's `event_id` (a command's id) in a dead letter's raw value, read without
    validating the rest: a command routing could not decode still names its id. None when the
    value is not a JSON object with a string `event_id`."""
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        return None
    event_id = data.get("event_id") if isinstance(data, dict) else None
    return event_id if isinstance(event_id, str) and 0 < len(event_id) <= _MAX_ID else None


def dead_commands(letters: Sequence[Letter]) -> dict[str, dict[str, Any]]:
    """The commands among a group's dead letters (those read from `complaints.commands`): command
    id → the marker kept with the rejection (the group, the letter's offset in its `.dlq`, when
    it was dead-lettered). A letter without a readable id is skipped with a log line."""
    found: dict[str, dict[str, Any]] = {}
    for letter in letters:
        if letter.headers.get("dlq.topic") != COMPLAINTS_COMMANDS:
            continue  # a submission or another topic's event: not a command
        command_id = command_id_of(letter.value)
        if command_id is None:
            log.warning(
                "%s.dlq@%d: a dead command without a readable id; skipped", letter.group, letter.offset
            )
            continue
        found[command_id] = {"group": letter.group, "offset": letter.offset, "at": letter.at}
    return found


async def reject_dead_commands(letters: Sequence[Letter], store: ComplaintStore) -> None:
    """Routing's dead letters → its pending commands rejected (idempotent: a redelivered letter,
    or one whose command has its outcome already, changes nothing)."""
    dead = dead_commands(letters)
    if not dead:
        return
    rejected = await store.reject_dead_lettered(dead, DEAD_LETTER_REASON)
    if rejected:
        log.warning("%d command(s) dead-lettered by routing: shown to the reporter as rejected", rejected)
