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
- The SKM survey (PermenPANRB 14/2017) is accepted once per complaint, from `resolved` or
  `closed`, and only when an OPD resolved it (its IKM is that OPD's): `SurveySubmitted`, which
  changes no state.
- Merge (`decide_merge`) is the one action on two complaints: the duplicate closes `merged`
  pointing at the survivor, the survivor records `ComplaintAbsorbed` and takes the strictest
  privacy flags. Both must be open and of one pemda; merging again into the same survivor
  produces nothing (a redelivered request), into anything else is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.calendar import calendar_for, local_text, pemda_of
from shared.categories import CATEGORIES, COORDINATOR_SLUG
from shared.envelope import Payload
from shared.events import (
    REPORTER_REPLY_HK,
    ComplaintAbsorbed,
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
    SurveySubmitted,
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
    surveyed: bool = False
    anonymous: bool = False
    confidential: bool = False
    resolved_at: datetime | None = None
    resolved_opd: str | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    # The current `reporter_reply` clock's due as sla announced it (sla's calendar has the pemda's
    # extra non-working dates); None until sla has spoken.
    reply_due: datetime | None = None
    merged_into: str | None = None  # the survivor, once merged (closed)
    # Why it waits for the coordinator, while in triage: the `ComplaintTriaged` event's `rule`,
    # `reason` and `via` (the triage page says it in plain words, complaint.py `triage_explained`).
    triage: dict[str, str] | None = None
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
class Survey:
    version: str
    scores: dict[str, int]


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
    | Survey
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
    Survey: frozenset({"resolved", "closed"}),
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
    Survey: "mengisi survei kepuasan masyarakat",
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
        until = local_text(complaint.lease_until, complaint.pemda)
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
    context = _Context(at, complaint.opd_id or "", max_transfers, known_opd)
    return _DECISIONS[type(action)](complaint, action, context)


@dataclass(frozen=True)
class _Context:
    at: datetime
    opd: str  # the complaint's current OPD ("" when it has none)
    max_transfers: int
    known_opd: frozenset[str] | None


_Decision = Callable[[Complaint, Any, _Context], list[Payload]]
# One function per action (the same {type: handler} table style as the services' handlers).
_DECISIONS: dict[type, _Decision] = {}


def _decides(kind: type) -> Callable[[_Decision], _Decision]:
    def register(fn: _Decision) -> _Decision:
        _DECISIONS[kind] = fn
        return fn

    return register


@_decides(Claim)
def _claim(c: Complaint, action: Claim, x: _Context) -> list[Payload]:
    return [ComplaintClaimed(opd_id=x.opd, handler=action.handler)] if c.state == "assigned" else []


@_decides(Answer)
def _answer(c: Complaint, action: Answer, x: _Context) -> list[Payload]:
    _text(action.message, "jawaban")
    return [ComplaintAnswered(opd_id=x.opd, handler=action.handler, message=action.message)]


@_decides(RequestInfo)
def _request_info(c: Complaint, action: RequestInfo, x: _Context) -> list[Payload]:
    _text(action.message, "permintaan informasi")
    return [InformationRequested(opd_id=x.opd, handler=action.handler, message=action.message)]


@_decides(SetTier)
def _set_tier(c: Complaint, action: SetTier, x: _Context) -> list[Payload]:
    if action.tier == c.tier:
        raise Refused(f"tingkat sudah {action.tier}")
    return [TierChanged(opd_id=x.opd, tier=action.tier)]


@_decides(Resolve)
def _resolve(c: Complaint, action: Resolve, x: _Context) -> list[Payload]:
    _text(action.answer, "jawaban penyelesaian")
    return [ComplaintResolved(opd_id=x.opd, handler=action.handler, answer=action.answer)]


@_decides(Transfer)
def _transfer_action(c: Complaint, action: Transfer, x: _Context) -> list[Payload]:
    return _transfer(c, action, x.max_transfers, x.known_opd)


@_decides(Dispose)
def _dispose_action(c: Complaint, action: Dispose, x: _Context) -> list[Payload]:
    return _dispose(c, action, x.known_opd)


@_decides(Archive)
def _archive(c: Complaint, action: Archive, x: _Context) -> list[Payload]:
    _text(action.reason, "alasan")
    return [ComplaintArchived(reason=action.reason, forwarded_to=action.forwarded_to)]


@_decides(Update)
def _update_action(c: Complaint, action: Update, x: _Context) -> list[Payload]:
    return [_update(c, action)]


@_decides(AddInfo)
def _add_info(c: Complaint, action: AddInfo, x: _Context) -> list[Payload]:
    _text(action.message, "informasi")
    return [InformationAdded(message=action.message, resumed=c.state == "waiting_reporter")]


@_decides(Feedback)
def _feedback(c: Complaint, action: Feedback, x: _Context) -> list[Payload]:
    return [ComplaintClosed(outcome="feedback", rating=action.rating, comment=action.comment)]


@_decides(Survey)
def _survey(c: Complaint, action: Survey, x: _Context) -> list[Payload]:
    if c.surveyed:
        raise Refused("survei kepuasan masyarakat untuk pengaduan ini sudah diisi")
    if c.resolved_opd is None:
        raise Refused("survei kepuasan masyarakat hanya untuk pengaduan yang diselesaikan OPD")
    return [SurveySubmitted(opd_id=c.resolved_opd, version=action.version, scores=dict(action.scores))]


@_decides(Reopen)
def _reopen_action(c: Complaint, action: Reopen, x: _Context) -> list[Payload]:
    return _reopen(c, action, x.at)


@_decides(Withdraw)
def _withdraw(c: Complaint, action: Withdraw, x: _Context) -> list[Payload]:
    return [ComplaintClosed(outcome="withdrawn", comment=action.reason)]


@_decides(CloseExpired)
def _close_expired(c: Complaint, action: CloseExpired, x: _Context) -> list[Payload]:
    end = reopen_window_end(c)
    if end is not None and x.at < end:
        raise Refused("jendela tanggapan pelapor belum berakhir")
    return [ComplaintClosed(outcome="expired")]


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
        category=complaint.category,
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


@dataclass(frozen=True)
class Merge:
    """A coordinator merges a complaint (the duplicate) into `into` (the survivor)."""

    coordinator: str
    into: str
    reason: str | None = None


def decide_merge(
    absorbed: Complaint, survivor: Complaint, action: Merge
) -> tuple[list[Payload], list[Payload]]:
    """The payloads of the duplicate and of the survivor, or `Refused`; ([], []) when the duplicate
    is already merged into this survivor (the same request again)."""
    if absorbed.merged_into is not None:
        if absorbed.merged_into == survivor.id:
            return [], []
        raise Refused(f"pengaduan ini sudah digabungkan ke {absorbed.merged_into}")
    if absorbed.id == survivor.id:
        raise Refused("pengaduan tidak dapat digabungkan ke dirinya sendiri")
    if survivor.merged_into is not None:
        raise Refused(f"pengaduan tujuan sudah digabungkan ke {survivor.merged_into}; gabungkan ke sana")
    if absorbed.pemda != survivor.pemda:
        raise Refused(f"pengaduan tujuan milik pemda {survivor.pemda}, bukan {absorbed.pemda}")
    for which, c in (("ini", absorbed), ("tujuan", survivor)):
        if c.state not in OPEN_STATES:
            raise Refused(
                f"tidak dapat menggabungkan: status pengaduan {which} '{c.state}' ({STATE_LABELS[c.state]})"
            )
    closed = ComplaintClosed(outcome="merged", comment=action.reason, merged_into=survivor.id)
    absorbing = ComplaintAbsorbed(
        absorbed_id=absorbed.id,
        anonymous=survivor.anonymous or absorbed.anonymous,
        confidential=survivor.confidential or absorbed.confidential,
    )
    return [closed], [absorbing]


def evolve(complaint: Complaint, payload: Payload, at: datetime) -> None:
    """Apply one produced payload to the complaint (the new state routing stores); a payload that
    changes nothing routing keeps (a notice) has no step."""
    step = _EVOLUTIONS.get(type(payload))
    if step is not None:
        step(complaint, payload, at)


_Evolution = Callable[[Complaint, Any, datetime], None]
_EVOLUTIONS: dict[type[Payload], _Evolution] = {}


def _evolves(*kinds: type[Payload]) -> Callable[[_Evolution], _Evolution]:
    def register(fn: _Evolution) -> _Evolution:
        _EVOLUTIONS.update(dict.fromkeys(kinds, fn))
        return fn

    return register


@_evolves(ComplaintAssigned)
def _assigned_to(c: Complaint, p: ComplaintAssigned, at: datetime) -> None:
    c.state, c.opd_id, c.category = "assigned", p.opd_id, p.category
    c.claimed_by = c.lease_until = c.triage = None


@_evolves(ComplaintTriaged)
def _triaged(c: Complaint, p: ComplaintTriaged, at: datetime) -> None:
    c.state, c.opd_id = "triage", None
    c.claimed_by = c.lease_until = None
    c.triage = {"rule": p.rule, "reason": p.reason, "via": p.via}


@_evolves(ComplaintTransferred)
def _transferred(c: Complaint, p: ComplaintTransferred, at: datetime) -> None:
    c.transfers = p.transfers


@_evolves(ComplaintClaimed, ComplaintAnswered)
def _in_progress(c: Complaint, p: Payload, at: datetime) -> None:
    c.state = "in_progress"


@_evolves(InformationRequested)
def _waiting(c: Complaint, p: InformationRequested, at: datetime) -> None:
    c.state = "waiting_reporter"


@_evolves(InformationAdded)
def _informed(c: Complaint, p: InformationAdded, at: datetime) -> None:
    if p.resumed:
        c.state = "in_progress"


@_evolves(TierChanged)
def _tier(c: Complaint, p: TierChanged, at: datetime) -> None:
    c.tier = p.tier


@_evolves(ComplaintResolved)
def _resolved(c: Complaint, p: ComplaintResolved, at: datetime) -> None:
    c.state, c.resolved_at, c.resolved_opd = "resolved", at, p.opd_id


@_evolves(ComplaintReopened)
def _reopened(c: Complaint, p: ComplaintReopened, at: datetime) -> None:
    c.reopened = True


@_evolves(ComplaintClosed)
def _closed(c: Complaint, p: ComplaintClosed, at: datetime) -> None:
    c.state, c.merged_into, c.triage = "closed", p.merged_into, None


@_evolves(ComplaintAbsorbed)
def _absorbed(c: Complaint, p: ComplaintAbsorbed, at: datetime) -> None:
    c.anonymous, c.confidential = c.anonymous or p.anonymous, c.confidential or p.confidential


@_evolves(SurveySubmitted)
def _surveyed(c: Complaint, p: SurveySubmitted, at: datetime) -> None:
    c.surveyed = True


@_evolves(ComplaintArchived)
def _archived(c: Complaint, p: ComplaintArchived, at: datetime) -> None:
    c.state, c.triage = "archived", None


@_evolves(ComplaintUpdated)
def _updated(c: Complaint, p: ComplaintUpdated, at: datetime) -> None:
    c.category, c.region_code, c.pemda = p.category, p.region_code, p.pemda
    c.anonymous, c.confidential = p.anonymous, p.confidential


def lease(complaint: Complaint, handler: str, at: datetime, minutes: int) -> None:
    complaint.claimed_by, complaint.lease_until = handler, at + timedelta(minutes=minutes)
