"""The citizen's view of a complaint, built from `complaints.events` and `sla.events` (intake
reads no other service's database, DESIGN §6). Pure: the store loads and saves the documents.

Idempotent by record: lifecycle events apply only above the view's `last_seq`; a clock event
only above the stored clock's `version`; an escalation only once per event id.

What is stored and what is shown are separate steps. `apply` keeps every lifecycle event as a
timeline note with its text unmasked and who wrote it; `render` decides per audience:
- `reporter` (access token): everything, including the `CommandRejected` notes (only the
  reporter asked for those commands, so only the reporter is told why one was refused).
- `staff` (JWT in scope): everything but those notes; full region code; no identity.
- `public`: region at kab/kota, no title/description, and text only for the OPD's answers and
  resolution (DESIGN §3: status changes and OPD answers); reporter-written text never.
Every audience but the reporter reads a note's text without the reporter's identity (`shown`,
made by `apply`'s `redact` when the event arrives): an OPD answer quoting the reporter's name or
phone shows neither; the OPD's own numbers stay.
For an anonymous complaint every text shown, to every audience, goes through `mask_contacts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from services.intake.models import ComplaintView, Deadline, MergedInto, TimelineEntry
from shared.calendar import WorkingCalendar, pemda_of
from shared.envelope import Envelope, Payload
from shared.events import (
    REPORTER_REPLY_HK,
    CalendarChanged,
    ClockEvent,
    ClockStopped,
    CommandRejected,
    ComplaintAbsorbed,
    ComplaintAnswered,
    ComplaintArchived,
    ComplaintAssigned,
    ComplaintClaimed,
    ComplaintClosed,
    ComplaintReceived,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintTransferred,
    ComplaintTriaged,
    ComplaintUpdated,
    EscalationRaised,
    EscalationRetracted,
    InformationAdded,
    InformationRequested,
    SurveySubmitted,
    TierChanged,
)
from shared.privacy import mask_contacts
from shared.states import STATE_LABELS

Doc = dict[str, Any]
Audience = Literal["reporter", "staff", "public"]
CalendarFor = Callable[[str], WorkingCalendar]

# Commands the reporter sends through intake: only their rejections are shown, to the reporter.
REPORTER_COMMANDS: dict[str, str] = {
    "AddInformation": "menambah informasi",
    "GiveFeedback": "memberi penilaian",
    "SubmitSurvey": "mengisi survei kepuasan masyarakat",
    "ReopenComplaint": "membuka kembali",
    "WithdrawComplaint": "mencabut pengaduan",
}
OMBUDSMAN_NOTE = (
    "Pengaduan ini belum selesai lebih dari 60 hari sejak diajukan meskipun sudah dieskalasi. "
    "Anda dapat melaporkannya ke Ombudsman Republik Indonesia (ombudsman.go.id, telepon 137)."
)
_ESCALATION_SUMMARY = {
    1: "Eskalasi tingkat 1: tenggat terlewati, diteruskan ke kepala OPD",
    2: "Eskalasi tingkat 2: Inspektorat dan Admin Koordinator pemda dilibatkan",
    3: "Eskalasi tingkat 3: pengaduan dapat dilaporkan ke Ombudsman RI",
}
_CLOSED_SUMMARY = {
    "feedback": "Selesai setelah pelapor memberi penilaian",
    "expired": f"Selesai: batas waktu tanggapan pelapor ({REPORTER_REPLY_HK} hari kerja) berakhir",
    "withdrawn": "Dicabut oleh pelapor",
    "merged": "Digabungkan oleh Admin Koordinator ke pengaduan lain tentang hal yang sama",
}
_DAY = 86400
_HOUR = 3600


# --- apply: events → the stored view ------------------------------------------------------------

Author = Literal["system", "opd", "coordinator", "reporter"]


@dataclass(frozen=True)
class Note:
    """One timeline entry as stored: the summary without text, the text apart."""

    summary: str
    text: str | None = None
    author: Author = "system"
    public_text: bool = False  # may the public read `text` (the OPD's answers)?
    reporter_only: bool = False


P = TypeVar("P", bound=Payload)
Step = Callable[[Doc, Any, datetime], Note | None]
_STEPS: dict[type[Payload], Step] = {}


def _on(cls: type[P]) -> Callable[[Callable[[Doc, P, datetime], Note | None]], Step]:
    def deco(fn: Callable[[Doc, P, datetime], Note | None]) -> Step:
        _STEPS[cls] = fn
        return fn

    return deco


@_on(ComplaintReceived)
def _received(doc: Doc, p: ComplaintReceived, at: datetime) -> Note:
    doc["status"], doc["pemda"] = "received", p.pemda
    return Note("Pengaduan diterima dan menunggu verifikasi")


@_on(ComplaintAssigned)
def _assigned(doc: Doc, p: ComplaintAssigned, at: datetime) -> Note:
    doc["status"], doc["opd_id"], doc["category"] = "assigned", p.opd_id, p.category
    summary = {
        "routing": f"Didisposisikan ke {p.opd_id}",
        "disposition": f"Didisposisikan oleh Admin Koordinator ke {p.opd_id}",
        "transfer": f"Dialihkan ke {p.opd_id}",
        "reopen": f"Dikembalikan ke {p.opd_id} untuk ditangani ulang",
    }[p.via]
    return Note(summary)


@_on(ComplaintTriaged)
def _triaged(doc: Doc, p: ComplaintTriaged, at: datetime) -> Note:
    doc["status"], doc["opd_id"], doc["pemda"] = "triage", None, p.pemda
    if p.category is not None:
        doc["category"] = p.category
    if p.via == "transfer":
        return Note("Diteruskan ke Admin Koordinator setelah beberapa kali dialihkan")
    return Note("Diteruskan ke Admin Koordinator untuk verifikasi")


@_on(ComplaintUpdated)
def _updated(doc: Doc, p: ComplaintUpdated, at: datetime) -> Note:
    doc["category"], doc["region_code"], doc["pemda"] = p.category, p.region_code, p.pemda
    # Flags only ever tighten (DESIGN §3), even if an event said otherwise.
    doc["anonymous"] = bool(doc.get("anonymous")) or p.anonymous
    doc["confidential"] = bool(doc.get("confidential")) or p.confidential
    return Note("Data pengaduan diperbarui oleh Admin Koordinator")


@_on(ComplaintClaimed)
def _claimed(doc: Doc, p: ComplaintClaimed, at: datetime) -> Note:
    doc["status"] = "in_progress"
    return Note(f"Mulai ditangani oleh {p.opd_id}")


@_on(ComplaintAnswered)
def _answered(doc: Doc, p: ComplaintAnswered, at: datetime) -> Note:
    doc["status"] = "in_progress"
    return Note(f"Tanggapan dari {p.opd_id}", p.message, "opd", public_text=True)


@_on(InformationRequested)
def _info_requested(doc: Doc, p: InformationRequested, at: datetime) -> Note:
    doc["status"] = "waiting_reporter"
    return Note(f"{p.opd_id} meminta informasi tambahan dari pelapor", p.message, "opd")


@_on(InformationAdded)
def _info_added(doc: Doc, p: InformationAdded, at: datetime) -> Note:
    if p.resumed:
        doc["status"] = "in_progress"
    return Note("Pelapor menambahkan informasi", p.message, "reporter")


@_on(TierChanged)
def _tier(doc: Doc, p: TierChanged, at: datetime) -> Note:
    return Note(f"Tingkat penanganan diubah menjadi {p.tier}")


@_on(ComplaintTransferred)
def _transferred(doc: Doc, p: ComplaintTransferred, at: datetime) -> Note:
    return Note(f"{p.from_opd_id} menyatakan bukan wewenangnya", p.reason, "opd")


@_on(ComplaintResolved)
def _resolved(doc: Doc, p: ComplaintResolved, at: datetime) -> Note:
    doc["status"], doc["resolved_at"], doc["resolved_by"] = "resolved", at, p.opd_id
    return Note(f"Diselesaikan oleh {p.opd_id}", p.answer, "opd", public_text=True)


@_on(ComplaintReopened)
def _reopened(doc: Doc, p: ComplaintReopened, at: datetime) -> Note:
    doc["reopened"] = True
    return Note("Dibuka kembali oleh pelapor", p.reason, "reporter")


@_on(ComplaintClosed)
def _closed(doc: Doc, p: ComplaintClosed, at: datetime) -> Note:
    doc["status"], doc["closed_outcome"], doc["closed_at"] = "closed", p.outcome, at
    summary = _CLOSED_SUMMARY[p.outcome]
    if p.rating is not None:
        summary += f" ({p.rating}/5)"
    if p.outcome == "merged":
        # The reporter follows the survivor from now on (render's `merged_into`).
        doc["merged_into"] = p.merged_into
        return Note(f"{summary} ({p.merged_into})", p.comment, "coordinator")
    return Note(summary, p.comment, "reporter")


@_on(SurveySubmitted)
def _surveyed(doc: Doc, p: SurveySubmitted, at: datetime) -> Note:
    doc["surveyed"] = True
    # The scores stay with sla's counters; the timeline only says it was done, to the reporter.
    return Note("Pelapor mengisi Survei Kepuasan Masyarakat", reporter_only=True)


@_on(ComplaintAbsorbed)
def _absorbed(doc: Doc, p: ComplaintAbsorbed, at: datetime) -> Note:
    # Flags only ever tighten (DESIGN §3): the survivor takes the strictest of the two.
    doc["anonymous"] = bool(doc.get("anonymous")) or p.anonymous
    doc["confidential"] = bool(doc.get("confidential")) or p.confidential
    followers: list[str] = doc.setdefault("followers", [])
    if p.absorbed_id not in followers:
        followers.append(p.absorbed_id)
    # Not the other complaint's id: its reporter is a stranger to this one.
    return Note("Laporan lain tentang hal yang sama digabungkan ke pengaduan ini")


@_on(ComplaintArchived)
def _archived(doc: Doc, p: ComplaintArchived, at: datetime) -> Note:
    doc["status"], doc["closed_at"] = "archived", at
    summary = "Diarsipkan oleh Admin Koordinator"
    if p.forwarded_to:
        summary += f"; diteruskan ke {p.forwarded_to}"
    return Note(summary, p.reason, "coordinator")


@_on(CommandRejected)
def _rejected(doc: Doc, p: CommandRejected, at: datetime) -> Note | None:
    action = REPORTER_COMMANDS.get(p.command)
    if action is None:
        return None  # another service's command (sla's auto-close): nothing to tell anyone
    return Note(f"Permintaan {action} ditolak", p.reason, reporter_only=True)


def is_lifecycle(payload: Payload) -> bool:
    """An event of complaints.events (routing's), not one derived from it on sla.events."""
    return type(payload) in _STEPS


Redact = Callable[[str], str]


def apply(doc: Doc, event: Envelope, redact: Redact | None = None) -> bool:
    """Apply one event to a view document in place; False when it changes nothing. `redact` takes
    the reporter's identity out of a text: the copy kept beside it (`shown`) is what every
    audience but the reporter reads, OPD answers included (DESIGN §3)."""
    payload = event.payload
    if isinstance(payload, ClockEvent):
        return _apply_clock(doc, payload)
    if isinstance(payload, EscalationRaised | EscalationRetracted):
        return _apply_escalation(doc, event.event_id, payload)
    if isinstance(payload, CalendarChanged):
        return False  # pemda-wide, kept by the CalendarBook, not by a complaint's view
    if event.seq is None or event.seq <= doc.get("last_seq", 0):
        return False
    doc["last_seq"] = event.seq
    step = _STEPS.get(type(payload))
    note = step(doc, payload, event.occurred_at) if step is not None else None
    if note is not None:
        doc.setdefault("timeline", []).append(
            {
                "at": event.occurred_at,
                "type": event.type,
                "summary": note.summary,
                "text": note.text,
                "shown": None if note.text is None or redact is None else redact(note.text),
                "author": note.author,
                "public_text": note.public_text,
                "reporter_only": note.reporter_only,
            }
        )
    return True


def _apply_clock(doc: Doc, clock: ClockEvent) -> bool:
    deadlines: dict[str, Any] = doc.setdefault("deadlines", {})
    current = deadlines.get(clock.clock_id)
    if current is not None and current["version"] >= clock.version:
        return False
    snapshot = clock.model_dump(exclude={"clock_id"})
    # A clock never restarts (a new one gets a new id); a recompute may still reschedule a
    # stopped clock, so "stopped" is sticky rather than read from the latest event's type.
    snapshot["stopped"] = (
        isinstance(clock, ClockStopped)
        or bool(current and current.get("stopped"))
        or clock.state in ("met", "transferred", "cancelled")
    )
    deadlines[clock.clock_id] = snapshot
    return True


def _apply_escalation(doc: Doc, event_id: str, p: EscalationRaised | EscalationRetracted) -> bool:
    seen: list[str] = doc.setdefault("escalations", [])
    if event_id in seen:
        return False
    seen.append(event_id)
    level = doc.get("escalation_level", 0)
    if isinstance(p, EscalationRaised):
        doc["escalation_level"] = max(level, p.level)
        summary = _ESCALATION_SUMMARY[p.level]
    else:
        doc["escalation_level"] = p.level
        summary = f"Eskalasi dikoreksi menjadi tingkat {p.level} setelah perhitungan ulang kalender"
    doc.setdefault("timeline", []).append(
        {"at": p.at, "type": type(p).TYPE, "summary": summary, "text": None, "author": "system"}
    )
    return True


# --- render: the stored view → what one audience sees --------------------------------------------


def render_survivor(survivor: Doc, now: datetime, calendar_for: CalendarFor) -> MergedInto:
    """What the reporter of a merged complaint sees of the survivor they now follow: its status,
    deadlines and timeline as the public sees them (OPD answers without identity), whatever its
    flags — never its reporter, their text, additions or attachments."""
    public = render(survivor, now, calendar_for, "public")
    return MergedInto(
        id=public.id,
        status=public.status,
        status_label=public.status_label,
        opd_id=public.opd_id,
        escalation_level=public.escalation_level,
        deadlines=public.deadlines,
        timeline=public.timeline,
    )


def render(
    doc: Doc, now: datetime, calendar_for: CalendarFor, audience: Audience = "public"
) -> ComplaintView:
    """The view for `audience`; the default is the most restricted one."""
    anonymous = bool(doc.get("anonymous"))

    def shown(text: str | None) -> str | None:
        return mask_contacts(text) if anonymous and text is not None else text

    timeline = []
    for entry in sorted(doc.get("timeline", []), key=lambda t: t["at"]):
        if entry.get("reporter_only") and audience != "reporter":
            continue
        text = entry.get("text")
        if audience != "reporter" and entry.get("shown") is not None:
            text = entry["shown"]  # without the reporter's identity
        elif audience != "reporter" and "shown" not in entry:
            text = None  # stored before texts were redacted: never checked, so not shown
        if audience == "public" and not entry.get("public_text"):
            text = None
        summary = entry["summary"] if not text else f"{entry['summary']}: {shown(text)}"
        timeline.append(TimelineEntry(at=entry["at"], type=entry["type"], summary=summary))
    level = doc.get("escalation_level", 0)
    status = doc.get("status", "received")
    public = audience == "public"
    return ComplaintView(
        id=doc["_id"],
        status=status,
        status_label=STATE_LABELS.get(status),
        category=doc.get("category"),
        # The public sees where (kab/kota), not the reporter's street or village.
        region_code=pemda_of(doc["region_code"]) if public else doc["region_code"],
        opd_id=doc.get("opd_id"),
        escalation_level=level,
        escalation_note=OMBUDSMAN_NOTE if level >= 3 else None,
        deadlines=render_deadlines(doc.get("deadlines", {}), now, calendar_for),
        timeline=timeline,
        title=None if public else shown(_text_for(doc, "title", audience)),
        description=None if public else shown(_text_for(doc, "description", audience)),
        anonymous=anonymous,
        confidential=bool(doc.get("confidential")),
    )


def _text_for(doc: Doc, field: str, audience: Audience) -> str | None:
    """The reporter reads their own text; anyone else the copy without their identity."""
    if audience == "reporter":
        return doc.get(field)
    redacted: str | None = doc.get(f"staff_{field}")
    return redacted if redacted is not None else doc.get(field)


def render_deadlines(snapshots: dict[str, Doc], now: datetime, calendar_for: CalendarFor) -> list[Deadline]:
    result = []
    for snap in sorted(snapshots.values(), key=lambda d: d["started_at"]):
        calendar = calendar_for(snap["pemda"])
        state = snap["state"]
        due = calendar.local(snap["due_at"]) if snap.get("due_at") else None
        remaining: int | None = None
        if state == "paused":
            due = None
            remaining = snap.get("remaining_seconds")
            text = f"dijeda, {countdown(remaining)}" if remaining is not None else "dijeda"
        elif not snap.get("stopped") and due is not None:
            remaining = signed_working_seconds(calendar, now, due)
            text = countdown(remaining)
        else:
            text = _stopped_text(state, calendar, due, snap.get("at"))
        result.append(
            Deadline(
                clock=snap["clock"],
                opd_id=snap.get("opd_id"),
                started_at=calendar.local(snap["started_at"]),
                due_at=due,
                remaining_seconds=remaining,
                state=state,
                remaining_text=text,
            )
        )
    return result


def signed_working_seconds(calendar: WorkingCalendar, now: datetime, due: datetime) -> int:
    """Working time from now to the due; negative (how late) once it has passed."""
    if now <= due:
        return int(calendar.working_time(now, due).total_seconds())
    return -int(calendar.working_time(due, now).total_seconds())


def countdown(seconds: int) -> str:
    """People's words for working time left: "sisa 2 hari kerja", "lewat 5 jam"."""
    if seconds == 0:
        return "jatuh tempo sekarang"
    word, size = ("sisa", seconds) if seconds > 0 else ("lewat", -seconds)
    if size >= _DAY:
        return f"{word} {size // _DAY} hari kerja"
    if size >= _HOUR:
        return f"{word} {size // _HOUR} jam"
    return f"{word} {max(1, size // 60)} menit"


def _stopped_text(state: str, calendar: WorkingCalendar, due: datetime | None, at: datetime | None) -> str:
    if state == "breached":
        if due is not None and at is not None:
            late = int(calendar.working_time(due, at).total_seconds())
            if late > 0:
                return f"terlambat, {countdown(-late)}"
        return "terlambat"
    return {"met": "terpenuhi tepat waktu", "transferred": "dialihkan", "cancelled": "dibatalkan"}.get(
        state, state
    )


def reopen_window_end(
    doc: Doc, calendar_for: CalendarFor, reporter_reply_hk: int = REPORTER_REPLY_HK
) -> datetime | None:
    """End of the `reporter_reply` window: the running clock's due from sla, else (sla not heard
    from yet) `REPORTER_REPLY_HK` from the resolution on the resolving OPD's calendar, as routing
    computes it."""
    clocks = [
        c
        for c in doc.get("deadlines", {}).values()
        if c["clock"] == "reporter_reply" and not c.get("stopped")
    ]
    if clocks:
        latest = max(clocks, key=lambda c: c["started_at"])
        if latest.get("due_at") is not None:
            due: datetime = latest["due_at"]
            return due
    resolved_at = doc.get("resolved_at")
    if resolved_at is None:
        return None
    pemda = str(doc.get("resolved_by") or doc.get("opd_id") or doc["region_code"]).split("/", 1)[0]
    return calendar_for(pemda).due(resolved_at, reporter_reply_hk)
