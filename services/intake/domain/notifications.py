"""Which notification the reporter gets for which event, and whether a staged one may still go
out (issue 20, item 1). Pure: no I/O; the consumer stages what `notices_for` says with the view it
keeps (handlers.complaint_events), the worker asks `gate` before it sends (adapters/notifier.py).

Idempotent by key: a notification's id is the id of the event it derives from (with a suffix for
a reminder) and its channel, so a redelivered event stages nothing new and a resend after a crash
carries the same id (the e-mail's Message-ID, the gateway's reference).

No identity here: a notice names the complaint, the kind and a few facts of the event (the OPD,
a due); the address is read by the worker at send time, in intake, and goes to the sender only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.calendar import WorkingCalendar, pemda_of
from shared.envelope import Envelope
from shared.events import (
    ComplaintAbsorbed,
    ComplaintAnswered,
    ComplaintArchived,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintReceived,
    ComplaintResolved,
    EscalationRaised,
    InformationRequested,
)

Doc = dict[str, Any]
CalendarFor = Callable[[str], WorkingCalendar]
Kind = Literal[
    "received",
    "assigned",
    "information_requested",
    "information_reminder",
    "answered",
    "resolved",
    "closed",
    "archived",
    "escalated",
    "merged",
    "followed",
]
Channel = Literal["email", "sms", "whatsapp"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "whatsapp")
# What became of a notification: `pending` until the worker decides; the rest are final.
State = Literal["pending", "sent", "failed", "opted_out", "capped", "cancelled", "no_contact"]

# Reminders of an information request without a reply (working days after the request).
REMINDER_HK = (3, 7)
# The statutory resolution target by tier (DESIGN §5), for the deadline the "assigned" notice
# names; sla's clock may differ where a pemda's service standard overrides it, and the reporter's
# view shows sla's due as soon as sla has announced it.
RESOLUTION_HK = {"ringan": 2, "normatif": 5, "tidak-berkadar-pengawasan": 14, "berkadar-pengawasan": 60}
REPORTER_REPLY_HK = 10


@dataclass(frozen=True)
class Notice:
    """One thing to tell the reporter, on each of their channels."""

    kind: Kind
    key: str  # the event id, or the event id and the reminder's day count
    facts: Mapping[str, Any] = field(default_factory=dict)  # what the templates show (no identity)
    not_before: datetime | None = None  # a reminder's instant (domain time); None: at once


def notices_for(event: Envelope, view: Doc, calendar_for: CalendarFor) -> list[Notice]:
    """What an event the view has just applied tells the reporter (nothing for most events).
    `view` is the complaint's view after the event."""
    p = event.payload
    at = event.occurred_at
    key = event.event_id
    if isinstance(p, ComplaintReceived):
        return [Notice("received", key)]
    if isinstance(p, ComplaintAssigned):
        due = calendar_for(p.pemda).due(at, RESOLUTION_HK[p.tier])
        return [Notice("assigned", key, {"opd_id": p.opd_id, "due": due.isoformat(), "via": p.via})]
    if isinstance(p, InformationRequested):
        calendar = calendar_for(_pemda_of_opd(p.opd_id, view))
        reminders = [
            Notice("information_reminder", f"{key}:r{hk}", {"opd_id": p.opd_id, "days": hk},
                   not_before=calendar.due(at, hk))
            for hk in REMINDER_HK
        ]  # fmt: skip
        return [Notice("information_requested", key, {"opd_id": p.opd_id}), *reminders]
    if isinstance(p, ComplaintAnswered):
        return [Notice("answered", key, {"opd_id": p.opd_id})]
    if isinstance(p, ComplaintResolved):
        until = calendar_for(_pemda_of_opd(p.opd_id, view)).due(at, REPORTER_REPLY_HK)
        return [Notice("resolved", key, {"opd_id": p.opd_id, "reply_until": until.isoformat()})]
    if isinstance(p, ComplaintClosed):
        facts = {"outcome": p.outcome, "rating": p.rating}
        return [Notice("closed", key, {**facts, "merged_into": p.merged_into} if p.merged_into else facts)]
    if isinstance(p, ComplaintAbsorbed):
        return [Notice("merged", key)]
    if isinstance(p, ComplaintArchived):
        return [Notice("archived", key, {"forwarded_to": p.forwarded_to})]
    if isinstance(p, EscalationRaised) and p.level == 3:
        return [Notice("escalated", key, {"level": p.level})]
    return []


# What the reporters of complaints merged into this one (its followers) are told of it.
FOLLOWED: frozenset[str] = frozenset({"assigned", "answered", "resolved", "closed", "archived", "escalated"})


def follower_notices(notices: Sequence[Notice], survivor_id: str, follower_id: str) -> list[Notice]:
    """The survivor's notices as one follower gets them: kind `followed`, naming the survivor and
    what happened, keyed per follower (idempotent like the others)."""
    return [
        Notice("followed", f"{n.key}:{follower_id}", {**n.facts, "what": n.kind, "survivor": survivor_id})
        for n in notices
        if n.kind in FOLLOWED and n.not_before is None
    ]


def _pemda_of_opd(opd_id: str, view: Doc) -> str:
    code = opd_id.split("/", 1)[0] if "/" in opd_id else str(view.get("pemda") or view["region_code"])
    return pemda_of(code)


def track_reply(view: Doc, event: Envelope) -> bool:
    """Remember which information request the reporter has not answered yet (`awaiting_reply`):
    a reminder goes out only while that request is still the open one. True when a request
    stopped being open (answered, or the complaint moved on): its reminders are void."""
    before = view.get("awaiting_reply")
    if isinstance(event.payload, InformationRequested):
        view["awaiting_reply"] = event.event_id
    elif view.get("status") != "waiting_reporter":
        view["awaiting_reply"] = None
    return before is not None and view.get("awaiting_reply") != before


def channels_for(choice: Sequence[str] | None, reporter: Mapping[str, Any] | None) -> list[Channel]:
    """The reporter's channels: those they chose (validated at submission to have their contact),
    or by default e-mail when they gave one, else SMS when they gave a phone number."""
    reporter = reporter or {}
    reachable = {
        "email": bool(reporter.get("email")),
        "sms": bool(reporter.get("phone")),
        "whatsapp": bool(reporter.get("phone")),
    }
    if choice is not None:
        return [c for c in CHANNELS if c in choice and reachable[c]]
    if reachable["email"]:
        return ["email"]
    return ["sms"] if reachable["sms"] else []


def notification_id(notice: Notice, channel: str) -> str:
    return f"{notice.key}:{channel}"


def notification_document(
    notice: Notice, channel: str, event: Envelope, now: datetime, complaint_id: str | None = None
) -> Doc:
    """A notification as staged: pending, due at once or at the notice's instant. `when` orders
    the reporter's list: the event's instant (a reminder's own), then its seq. `complaint_id`:
    whose reporter is told (a follower's, for a survivor's event); the event's by default."""
    return {
        "_id": notification_id(notice, channel),
        "complaint_id": complaint_id or event.complaint_id,
        "event_id": event.event_id,
        "when": [notice.not_before or event.occurred_at, event.seq or 0],
        "kind": notice.kind,
        "channel": channel,
        "facts": dict(notice.facts),
        "not_before": notice.not_before,
        "state": "pending",
        "at": now,
        "attempts": 0,
    }


@dataclass(frozen=True)
class Gate:
    """What the worker does with a due notification: send it, or record why not."""

    send: bool
    state: State = "pending"
    reason: str = ""


SEND = Gate(True)


def gate(notification: Mapping[str, Any], complaint: Mapping[str, Any] | None) -> Gate:
    """May this notification still go out? `complaint` is the stored record (the worker's read):
    an opt-out counts at once, a reminder only while its request is unanswered."""
    if complaint is None:
        return Gate(False, "cancelled", "complaint gone")
    if complaint.get("notify_opt_out_at") is not None:
        return Gate(False, "opted_out", "the reporter opted out")
    if notification["kind"] == "information_reminder" and not (
        complaint.get("status") == "waiting_reporter"
        and complaint.get("awaiting_reply") == notification["event_id"]
    ):
        return Gate(False, "cancelled", "the request was answered or left behind")
    reachable = channels_for(complaint.get("notify_channels"), complaint.get("reporter"))
    if notification["channel"] not in reachable:
        return Gate(False, "no_contact", "no address for this channel")
    return SEND


def address_for(channel: str, reporter: Mapping[str, Any]) -> str:
    value = reporter.get("email") if channel == "email" else reporter.get("phone")
    return str(value or "")


# --- the opt-out link: a signed token per complaint ----------------------------------------------


def opt_out_token(secret: str, complaint_id: str) -> str:
    """The token of a complaint's opt-out link (HMAC-SHA256, 128 bits shown): only intake can make
    one, and it opens nothing but the opt-out."""
    mac = hmac.new(secret.encode(), f"opt-out:{complaint_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:16]).decode().rstrip("=")


def opt_out_valid(secret: str, complaint_id: str, token: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a False).
    return hmac.compare_digest(opt_out_token(secret, complaint_id).encode(), token.encode())


def address_key(secret: str, address: str) -> str:
    """The daily cap's counter is kept per address under this key, not the address itself."""
    return hmac.new(secret.encode(), f"cap:{address.lower()}".encode(), hashlib.sha256).hexdigest()
