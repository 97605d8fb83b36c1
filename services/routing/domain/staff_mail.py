"""Which staff are told of what by e-mail (issue 21 item 4), and when. Pure: the consumer stages
what `notice_for` and `mail_documents` say (handlers.stage_staff_mail), the worker sends
(adapters/staff_mailer.py).

Who must act, by event (DESIGN §5, the escalation ladder):
- a new assignment (`ComplaintAssigned`, a transfer's and a reopen's included): the OPD's handlers;
- a complaint waiting for triage (`ComplaintTriaged`: routing could not assign it with confidence,
  or it was transferred too often): the pemda's coordinators, who must dispose of it;
- a clock at its warning (`SlaWarning`, 75 %) or breached (`SlaBreached`): the handlers of the OPD
  the clock runs for; the `verification` clock's (no OPD): the pemda's coordinators; the
  reporter's own clock (`reporter_reply`): nobody on the staff side;
- escalation level 1: the kepala OPD; level 2 and on: the pemda's coordinators and the Inspektorat.

The kepala OPD and the Inspektorat need no role of their own: the kepala OPD is a supervisor
account scoped to the OPD (a supervisor with an `opd` sees that OPD only, shared/auth.py), and the
Inspektorat is an OPD of every pemda (`<pemda>/inspektorat`, DESIGN §4), reached through its
supervisor accounts. The pemda of a level-2 escalation is the pemda of the OPD that holds the
complaint (a province OPD's complaint goes to the province's coordinators and Inspektorat).

Idempotent by key: a mail's id is the event's id and the account's username, staged with
`$setOnInsert`, so a redelivered event stages nothing new and a resend after a crash carries the
same Message-ID. A person who chose the daily digest gets no single mails: their items wait (no
`outbox_since` of their own) for the day's digest, one document per person and day (WIB), due the
next morning at the configured hour.

No identity and no text here: a mail names the complaint's id, its category, the OPD, the due and
the staff page's link (DESIGN §3: what an OPD may see, and less).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from services.routing.domain.staff import Account
from shared.calendar import WIB, WorkingCalendar, calendar_for, pemda_of
from shared.envelope import Envelope
from shared.events import ComplaintAssigned, ComplaintTriaged, EscalationRaised, SlaBreached, SlaWarning

Doc = dict[str, Any]
Kind = Literal["assigned", "triaged", "warning", "breached", "escalated"]
# Not about a complaint: the person's address was changed; told at the address it was changed from.
ADDRESS_CHANGED = "address_changed"
MailRole = Literal["handler", "coordinator", "supervisor"]
INSPEKTORAT = "inspektorat"
# The response clock's statutory budget (DESIGN §5), for the due an assignment's mail names; sla's
# own due (a pemda's service standard may differ) is what its warning and breach mails name.
RESPONSE_HK = 5
STAFF_CLOCKS = frozenset({"response", "resolution"})


@dataclass(frozen=True)
class Audience:
    """Accounts of one role in one scope: an OPD's (`opd`), or a pemda's (`pemda`)."""

    role: MailRole
    opd: str | None = None
    pemda: str | None = None

    def covers(self, account: Account) -> bool:
        if account.role != self.role:
            return False
        if self.opd is not None:
            return account.opd == self.opd
        return account.pemda == self.pemda and account.opd is None


@dataclass(frozen=True)
class StaffNotice:
    """One thing to tell staff, and whom."""

    kind: Kind
    key: str  # the event's id
    complaint_id: str
    audiences: tuple[Audience, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)  # what the mail shows (no identity)


def _pemda_of_opd(opd_id: str | None, fallback: str | None) -> str | None:
    if opd_id and "/" in opd_id:
        return opd_id.split("/", 1)[0]
    return pemda_of(fallback) if fallback else None


def _coordinator_and_inspektorat(pemda: str | None) -> tuple[Audience, ...]:
    if pemda is None:
        return ()
    return (Audience("coordinator", pemda=pemda), Audience("supervisor", opd=f"{pemda}/{INSPEKTORAT}"))


def notice_for(
    event: Envelope,
    complaint: Mapping[str, Any] | None,
    calendar_of: Callable[[str], WorkingCalendar] = calendar_for,
) -> StaffNotice | None:
    """What an event tells staff (None for most events). `complaint` is routing's record of it
    (its category and pemda), None when routing does not know it; `calendar_of` a pemda's
    working-day calendar with the extra dates sla announced (an assignment's due: sla starts the
    response clock on the same calendar)."""
    p, cid = event.payload, event.complaint_id
    if cid is None:
        return None
    complaint = complaint or {}
    category = complaint.get("category")
    facts: dict[str, Any]
    if isinstance(p, ComplaintAssigned):
        due = calendar_of(p.pemda).due(event.occurred_at, RESPONSE_HK)
        facts = {"opd_id": p.opd_id, "category": p.category, "due": due.isoformat(), "clock": "response"}
        return StaffNotice("assigned", event.event_id, cid, (Audience("handler", opd=p.opd_id),), facts)
    if isinstance(p, ComplaintTriaged):
        facts = {"opd_id": None, "category": p.category, "due": None, "clock": "verification"}
        return StaffNotice("triaged", event.event_id, cid, (Audience("coordinator", pemda=p.pemda),), facts)
    if isinstance(p, SlaWarning | SlaBreached):
        kind: Kind = "warning" if isinstance(p, SlaWarning) else "breached"
        facts = {
            "opd_id": p.opd_id,
            "category": category,
            "clock": p.clock,
            "due": p.due_at.isoformat() if p.due_at else None,
        }
        if p.clock in STAFF_CLOCKS and p.opd_id:
            return StaffNotice(kind, event.event_id, cid, (Audience("handler", opd=p.opd_id),), facts)
        if p.clock == "verification":
            return StaffNotice(kind, event.event_id, cid, (Audience("coordinator", pemda=p.pemda),), facts)
        return None
    if isinstance(p, EscalationRaised):
        opd_id = p.opd_id or complaint.get("opd_id")
        pemda = _pemda_of_opd(opd_id, complaint.get("pemda"))
        facts = {"opd_id": opd_id, "category": category, "level": p.level, "due": _nearest_due(complaint)}
        if p.level == 1 and opd_id:
            audiences: tuple[Audience, ...] = (Audience("supervisor", opd=opd_id),)
        elif p.level == 1:
            audiences = (Audience("coordinator", pemda=pemda),) if pemda else ()
        else:
            audiences = _coordinator_and_inspektorat(pemda)
        return StaffNotice("escalated", event.event_id, cid, audiences, facts) if audiences else None
    return None


def _nearest_due(complaint: Mapping[str, Any]) -> str | None:
    """The nearest running due routing keeps for the queues (`sla_due`), when there is one."""
    due = complaint.get("sla_due")
    if isinstance(due, datetime) and due.year < 9000:  # NO_DUE sorts last: a far-future instant
        return due.isoformat()
    return None


def recipients(notice: StaffNotice, accounts: Sequence[Account]) -> list[Account]:
    """The active accounts with an e-mail address that one of the notice's audiences covers,
    each once, by username."""
    chosen = {
        a.id: a
        for a in accounts
        if a.active and a.email and any(audience.covers(a) for audience in notice.audiences)
    }
    return [chosen[k] for k in sorted(chosen)]


def local_day(at: datetime) -> date:
    return at.astimezone(WIB).date()


def digest_id(account: str, day: date) -> str:
    return f"digest:{account}:{day.isoformat()}"


def digest_due(day: date, hour: int) -> datetime:
    """A day's digest goes out the next morning at `hour` (WIB)."""
    return datetime.combine(day + timedelta(days=1), time(hour), tzinfo=WIB)


def mail_documents(notice: StaffNotice, account: Account, now: datetime, digest_hour: int) -> list[Doc]:
    """What to stage for one recipient: the mail (due at once), or, for a person who chose the
    daily digest, the item (never due by itself) and the day's digest it joins."""
    item: Doc = {
        "_id": f"{notice.key}:{account.id}",
        "kind": notice.kind,
        "account": account.id,
        "complaint_id": notice.complaint_id,
        "event_id": notice.key,
        "facts": dict(notice.facts),
        "state": "pending",
        "at": now,
        "attempts": 0,
    }
    if not account.mail_digest:
        return [item]
    day = local_day(now)
    digest = digest_id(account.id, day)
    digest_doc: Doc = {
        "_id": digest,
        "kind": "digest",
        "account": account.id,
        "day": day.isoformat(),
        "not_before": digest_due(day, digest_hour),
        "state": "pending",
        "at": now,
        "attempts": 0,
    }
    return [{**item, "digest": digest, "outbox_since": None}, digest_doc]


def address_changed_mail(account: Account, old_address: str, key: str, now: datetime) -> Doc:
    """The notice to the address a person's staff e-mails went to until now that they go elsewhere
    (due at once, never in a digest). The one staff mail that carries its address: the account
    no longer has it. `key` makes each change its own mail. Nothing in it opens anything: no
    link token, no new address (a stranger who changed it must not learn more by it)."""
    return {
        "_id": f"{ADDRESS_CHANGED}:{account.id}:{key}",
        "kind": ADDRESS_CHANGED,
        "account": account.id,
        "to": old_address,
        "facts": {"pemda": account.pemda, "changed_at": now.isoformat()},
        "state": "pending",
        "at": now,
        "attempts": 0,
    }


@dataclass(frozen=True)
class Gate:
    """What the worker does with a due mail: send it to `to`, or record why not."""

    send: bool
    state: str = "pending"
    reason: str = ""
    to: str = ""


def gate(account: Account | None, mail: Mapping[str, Any] | None = None) -> Gate:
    """The address is read when the mail goes: a disabled account or one without an address
    gets nothing (its mail is recorded as not sent, with the reason). An address-change notice
    goes to the address it names (the old one)."""
    if account is None:
        return Gate(False, "cancelled", "no such account")
    if not account.active:
        return Gate(False, "cancelled", "account disabled")
    if mail is not None and mail.get("kind") == ADDRESS_CHANGED:
        return Gate(True, to=mail["to"]) if mail.get("to") else Gate(False, "no_contact", "no e-mail address")
    if not account.email:
        return Gate(False, "no_contact", "no e-mail address")
    return Gate(True, to=account.email)
