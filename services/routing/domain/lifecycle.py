"""The complaint lifecycle state machine (DESIGN §2, normative). Routing is its only writer.

Pure: `decide(complaint, action, at)` returns the lifecycle payloads an allowed action produces
(in order; each becomes the next `seq` on `complaints.events`) or raises `Refused` with a reason
people can read. Staff actions over HTTP and commands from `complaints.commands` go through the
same function, so a table-driven test covers every (state, action) pair once.

Decisions worth knowing:
- A claim is a lease, not an answer. Claiming an `assigned` complaint moves it to `in_progress`
  (`ComplaintClaimed`); claiming one already `in_progress`/`waiting_reporter` only renews or takes
  over an expired lease (no event). While another handler's lease runs, that handler's colleagues
  get 409 on every action of the complaint.
- Transfers: the N-th transfer (`max_transfers`, default 3) goes to the pemda's coordinator
  (`ComplaintTriaged(via="transfer")`) instead of the named OPD.
- Reopen: within the `reporter_reply` window — `REPORTER_REPLY_HK` (DESIGN default) from the resolution on the
  calendar of the pemda whose OPD resolved it — and at most once; back to the last OPD.
- `CloseExpired` (sla) is honoured only while the complaint is still `resolved`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from shared.calendar import calendar_for, pemda_of
from shared.categories import CATEGORIES, COORDINATOR_SLUG
from shared.envelope import Payload
from shared.events import (
    REPORTER_REPLY_HK,
    ComplaintAnswered,
    ComplaintArchived,
    ComplaintAssigned,
    ComplaintClaimed,
    ComplaintClosed,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintTransferred,
    ComplaintTriaged,
    ComplaintUpdated,
    InformationAdded,
    InformationRequested,
    Tier,
    TierChanged,
    Via,
)
from shared.states import OPEN_STATES, STATE_LABELS, WITH_OPD, State


class Refused(Exception):
    """The action is not allowed now; `reason` is shown to the person who asked (409)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Complaint:
    """What the state machine needs of a complaint (a view of routing's document)."""

    id: str
    state: State
    pemda: str  # the pemda of the complaint's region: whose coordinator triages it
    region_code: str
    category: str | None = None
    opd_id: str | None = None
    tier: Tier = "normatif"
    transfers: int = 0
    reopened: bool = False
    anonymous: bool = False
    confidential: bool = False
    resolved_at: datetime | None = None
    resolved_opd: str | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    # The current `reporter_reply` clock's due as sla announced it (sla's calendar has the pemda's
    # extra non-working dates); None until sla has spoken.
    reply_due: datetime | None = None
    extra: dict[str, object] = field(default_factory=dict)


# --- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    handler: str


@dataclass(frozen=True)
class Answer:
    handler: str
    message: str


@dataclass(frozen=True)
class RequestInfo:
    handler: str
    message: str


@dataclass(frozen=True)
class SetTier:
    handler: str
    tier: Tier


@dataclass(frozen=True)
class Resolve:
    handler: str
    answer: str


@dataclass(frozen=True)
class Transfer:
    handler: str
    to_opd_id: str
    reason: str


@dataclass(frozen=True)
class Dispose:
    coordinator: str
    opd_id: str
    category: str | None = None


@dataclass(frozen=True)
class Archive:
    coordinator: str
    reason: str
    forwarded_to: str | None = None


@dataclass(frozen=True)
class Update:
    """A coordinator's correction in triage: category/region, and tightening privacy flags."""

    coordinator: str
    category: str | None = None
    region_code: str | None = None
    anonymous: bool | None = None
    confidential: bool | None = None


@dataclass(frozen=True)
class AddInfo:
    message: str


@dataclass(frozen=True)
class Feedback:
    rating: int
    comment: str | None = None


@dataclass(frozen=True)
class Reopen:
    reason: str


@dataclass(frozen=True)
class Withdraw:
    reason: str | None = None


@dataclass(frozen=True)
class CloseExpired:
    clock_id: str


Action = (
    Claim
    | Answer
    | RequestInfo
    | SetTier
    | Resolve
    | Transfer
    | Dispose
    | Archive
    | Update
    | AddInfo
    | Feedback
    | Reopen
    | Withdraw
    | CloseExpired
)

# Where each action may start (DESIGN §2). Claim in in_progress/waiting_reporter is a lease only.
ALLOWED: dict[type, frozenset[str]] = {
    Claim: WITH_OPD,
    Answer: frozenset({"assigned", "in_progress"}),
    RequestInfo: frozenset({"assigned", "in_progress"}),
    SetTier: WITH_OPD,
    Resolve: WITH_OPD,
    Transfer: WITH_OPD,
    Dispose: frozenset({"triage"}),
    Archive: frozenset({"received", "triage"}),
    Update: OPEN_STATES,  # privacy tightening in any open state; category/region only in triage
    AddInfo: WITH_OPD,
    Feedback: frozenset({"resolved"}),
    Reopen: frozenset({"resolved"}),
    Withdraw: OPEN_STATES,
    CloseExpired: frozenset({"resolved"}),
}

_NAMES: dict[type, str] = {
    Claim: "mengambil (klaim)",
    Answer: "menjawab pelapor",
    RequestInfo: "meminta informasi",
    SetTier: "mengubah tingkat",
    Resolve: "menyelesaikan",
    Transfer: "mengalihkan (bukan wewenang)",
    Dispose: "mendisposisikan",
    Archive: "mengarsipkan",
    Update: "mengubah data",
    AddInfo: "menambah informasi",
    Feedback: "memberi penilaian",
    Reopen: "membuka kembali",
    Withdraw: "mencabut",
    CloseExpired: "menutup otomatis",
}

HANDLER_ACTIONS = (Claim, Answer, RequestInfo, SetTier, Resolve, Transfer)


def level_of(pemda: str) -> Literal["kabkota", "provinsi"]:
    return "kabkota" if "." in pemda else "provinsi"


def check_lease(complaint: Complaint, handler: str, at: datetime) -> None:
    if (
        complaint.claimed_by not in (None, handler)
        and complaint.lease_until is not None
        and complaint.lease_until > at
    ):
        until = complaint.lease_until.isoformat(timespec="minutes")
        raise Refused(f"sedang dikerjakan oleh {complaint.claimed_by} sampai {until}")


def reopen_window_end(complaint: Complaint) -> datetime | None:
    """sla's `reporter_reply` due when known, else `REPORTER_REPLY_HK` from the resolution (national
    calendar)."""
    if complaint.resolved_at is None:
        return None
    if complaint.reply_due is not None and complaint.reply_due > complaint.resolved_at:
        return complaint.reply_due
    pemda = (complaint.resolved_opd or complaint.opd_id or complaint.pemda).split("/", 1)[0]
    return calendar_for(pemda).due(complaint.resolved_at, REPORTER_REPLY_HK)


def decide(
    complaint: Complaint,
    action: Action,
    at: datetime,
    *,
    max_transfers: int = 3,
    known_opd: frozenset[str] | None = None,
) -> list[Payload]:
    """The lifecycle payloads `action` produces now, or `Refused`. Does not mutate `complaint`."""
    allowed = ALLOWED[type(action)]
    if complaint.state not in allowed:
        raise Refused(
            f"tidak dapat {_NAMES[type(action)]}: status pengaduan "
            f"'{complaint.state}' ({STATE_LABELS[complaint.state]})"
        )
    if isinstance(action, HANDLER_ACTIONS):
        check_lease(complaint, action.handler, at)
    opd = complaint.opd_id or ""
    if isinstance(action, Claim):
        return [ComplaintClaimed(opd_id=opd, handler=action.handler)] if complaint.state == "assigned" else []
    if isinstance(action, Answer):
        _text(action.message, "jawaban")
        return [ComplaintAnswered(opd_id=opd, handler=action.handler, message=action.message)]
    if isinstance(action, RequestInfo):
        _text(action.message, "permintaan informasi")
        return [InformationRequested(opd_id=opd, handler=action.handler, message=action.message)]
    if isinstance(action, SetTier):
        if action.tier == complaint.tier:
            raise Refused(f"tingkat sudah {action.tier}")
        return [TierChanged(opd_id=opd, tier=action.tier)]
    if isinstance(action, Resolve):
        _text(action.answer, "jawaban penyelesaian")
        return [ComplaintResolved(opd_id=opd, handler=action.handler, answer=action.answer)]
    if isinstance(action, Transfer):
        return _transfer(complaint, action, max_transfers, known_opd)
    if isinstance(action, Dispose):
        return _dispose(complaint, action, known_opd)
    if isinstance(action, Archive):
        _text(action.reason, "alasan")
        return [ComplaintArchived(reason=action.reason, forwarded_to=action.forwarded_to)]
    if isinstance(action, Update):
        return [_update(complaint, action)]
    if isinstance(action, AddInfo):
        _text(action.message, "informasi")
        return [InformationAdded(message=action.message, resumed=complaint.state == "waiting_reporter")]
    if isinstance(action, Feedback):
        return [ComplaintClosed(outcome="feedback", rating=action.rating, comment=action.comment)]
    if isinstance(action, Reopen):
        return _reopen(complaint, action, at)
    if isinstance(action, Withdraw):
        return [ComplaintClosed(outcome="withdrawn", comment=action.reason)]
    if isinstance(action, CloseExpired):
        end = reopen_window_end(complaint)
        if end is not None and at < end:
            raise Refused("jendela tanggapan pelapor belum berakhir")
        return [ComplaintClosed(outcome="expired")]
    raise AssertionError(f"unhandled action {action!r}")


def _text(value: str, what: str) -> None:
    if not value or not value.strip():
        raise Refused(f"{what} tidak boleh kosong")


def _assigned(complaint: Complaint, opd_id: str, category: str, rule: str, via: Via) -> ComplaintAssigned:
    pemda = opd_id.split("/", 1)[0]
    return ComplaintAssigned(
        opd_id=opd_id,
        pemda=pemda,
        category=category,
        level=level_of(pemda),
        rule=rule,
        tier=complaint.tier,
        via=via,
    )


def _check_opd(opd_id: str, known_opd: frozenset[str] | None) -> None:
    if "/" not in opd_id or opd_id.endswith(f"/{COORDINATOR_SLUG}"):
        raise Refused(f"{opd_id!r} bukan OPD tujuan yang sah")
    if known_opd is not None and opd_id not in known_opd:
        raise Refused(f"OPD {opd_id!r} tidak ada dalam katalog")


def _transfer(
    complaint: Complaint, action: Transfer, max_transfers: int, known_opd: frozenset[str] | None
) -> list[Payload]:
    _text(action.reason, "alasan pengalihan")
    if action.to_opd_id == complaint.opd_id:
        raise Refused("tidak dapat mengalihkan ke OPD yang sama")
    _check_opd(action.to_opd_id, known_opd)
    transfers = complaint.transfers + 1
    to_coordinator = transfers >= max_transfers
    moved = ComplaintTransferred(
        from_opd_id=complaint.opd_id or "",
        to_opd_id=None if to_coordinator else action.to_opd_id,
        reason=action.reason,
        transfers=transfers,
    )
    if to_coordinator:
        return [
            moved,
            ComplaintTriaged(
                pemda=complaint.pemda,
                category=complaint.category,
                rule=f"transfers>={max_transfers}",
                reason=f"dialihkan {transfers} kali: Admin Koordinator memutuskan",
                via="transfer",
            ),
        ]
    category = complaint.category or "lainnya"
    return [moved, _assigned(complaint, action.to_opd_id, category, "transfer", "transfer")]


def _dispose(complaint: Complaint, action: Dispose, known_opd: frozenset[str] | None) -> list[Payload]:
    _check_opd(action.opd_id, known_opd)
    category = action.category or complaint.category
    if category is None:
        raise Refused("tetapkan kategori sebelum mendisposisikan")
    if category not in CATEGORIES:
        raise Refused(f"kategori {category!r} tidak dikenal")
    return [_assigned(complaint, action.opd_id, category, "disposition", "disposition")]


def _update(complaint: Complaint, action: Update) -> ComplaintUpdated:
    moves = (action.category is not None and action.category != complaint.category) or (
        action.region_code is not None and action.region_code != complaint.region_code
    )
    if moves and complaint.state != "triage":
        raise Refused("kategori dan wilayah hanya dapat diubah saat triage")
    if action.anonymous is False and complaint.anonymous:
        raise Refused("status anonim yang dipilih pelapor tidak boleh dilonggarkan")
    if action.confidential is False and complaint.confidential:
        raise Refused("status rahasia yang dipilih pelapor tidak boleh dilonggarkan")
    category = action.category if action.category is not None else complaint.category
    if category is not None and category not in CATEGORIES:
        raise Refused(f"kategori {category!r} tidak dikenal")
    region = action.region_code or complaint.region_code
    return ComplaintUpdated(
        category=category,
        region_code=region,
        pemda=pemda_of(region),
        anonymous=complaint.anonymous or bool(action.anonymous),
        confidential=complaint.confidential or bool(action.confidential),
    )


def _reopen(complaint: Complaint, action: Reopen, at: datetime) -> list[Payload]:
    _text(action.reason, "alasan membuka kembali")
    if complaint.reopened:
        raise Refused("pengaduan hanya dapat dibuka kembali satu kali")
    end = reopen_window_end(complaint)
    if end is not None and at > end:
        raise Refused(f"jendela {REPORTER_REPLY_HK} hari kerja untuk membuka kembali sudah lewat")
    last = complaint.resolved_opd or complaint.opd_id
    if last is None:
        raise Refused("tidak ada OPD terakhir untuk pengaduan ini")
    category = complaint.category or "lainnya"
    return [
        ComplaintReopened(opd_id=last, reason=action.reason),
        _assigned(complaint, last, category, "reopen", "reopen"),
    ]


def evolve(complaint: Complaint, payload: Payload, at: datetime) -> None:
    """Apply one produced payload to the complaint (the new state routing stores)."""
    c = complaint
    if isinstance(payload, ComplaintAssigned):
        c.state, c.opd_id, c.category = "assigned", payload.opd_id, payload.category
        c.claimed_by = c.lease_until = None
    elif isinstance(payload, ComplaintTriaged):
        c.state, c.opd_id = "triage", None
        c.claimed_by = c.lease_until = None
    elif isinstance(payload, ComplaintTransferred):
        c.transfers = payload.transfers
    elif isinstance(payload, ComplaintClaimed | ComplaintAnswered):
        c.state = "in_progress"
    elif isinstance(payload, InformationRequested):
        c.state = "waiting_reporter"
    elif isinstance(payload, InformationAdded):
        if payload.resumed:
            c.state = "in_progress"
    elif isinstance(payload, TierChanged):
        c.tier = payload.tier
    elif isinstance(payload, ComplaintResolved):
        c.state, c.resolved_at, c.resolved_opd = "resolved", at, payload.opd_id
    elif isinstance(payload, ComplaintReopened):
        c.reopened = True
    elif isinstance(payload, ComplaintClosed):
        c.state = "closed"
    elif isinstance(payload, ComplaintArchived):
        c.state = "archived"
    elif isinstance(payload, ComplaintUpdated):
        c.category, c.region_code, c.pemda = payload.category, payload.region_code, payload.pemda
        c.anonymous, c.confidential = payload.anonymous, payload.confidential


def lease(complaint: Complaint, handler: str, at: datetime, minutes: int) -> None:
    complaint.claimed_by, complaint.lease_until = handler, at + timedelta(minutes=minutes)
