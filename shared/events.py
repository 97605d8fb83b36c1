"""Message payloads that cross service boundaries (DESIGN §6). Events are past tense.

No payload carries reporter identity (DESIGN §3): only the opaque `reporter_ref` and the privacy
flags travel on Kafka.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.envelope import Payload, register, upcaster

Classification = Literal["pengaduan", "aspirasi", "permintaan-informasi"]
Channel = Literal["web", "app", "sms", "open311", "other"]
ClockName = Literal["verification", "response", "resolution", "reporter_reply"]
# The `reporter_reply` window's DESIGN default (§5), in working days: sla runs the clock with it
# (unless a service standard says otherwise), and routing's reopen check and intake's countdown
# fall back on it until sla's due for the complaint is known.
REPORTER_REPLY_HK = 10
ClockOutcome = Literal["met", "breached", "transferred", "cancelled"]
Tier = Literal["ringan", "normatif", "tidak-berkadar-pengawasan", "berkadar-pengawasan"]


class GeoPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    lat: float
    lon: float


# --- complaints.submitted (intake → routing) ---------------------------------------------------


@register
class ComplaintSubmitted(Payload):
    """A citizen's submission, durable in Kafka before intake answers 202."""

    TYPE = "ComplaintSubmitted"
    VERSION = 2

    title: str
    description: str
    category: str | None = None
    region_code: str
    location: GeoPoint | None = None
    address: str | None = None
    incident_date: date | None = None
    classification: Classification
    anonymous: bool = False
    confidential: bool = False
    reporter_ref: str | None = None
    channel: Channel


@upcaster("ComplaintSubmitted", 1)
def _submitted_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 (the first draft of the contract) had no classification and no channel: the web form
    was the only channel and every submission was a `pengaduan`."""
    payload.setdefault("classification", "pengaduan")
    payload.setdefault("channel", "web")
    return payload


# --- complaints.events (routing, the lifecycle owner; key = complaint id, seq 1, 2, …) ---------


@register
class ComplaintReceived(Payload):
    """seq 1 of every complaint; carries the submission instant so clocks start from it."""

    TYPE = "ComplaintReceived"

    submitted_at: AwareDatetime
    title: str
    description: str
    category: str | None
    region_code: str
    pemda: str
    classification: Classification
    channel: Channel
    anonymous: bool
    confidential: bool
    reporter_ref: str | None = None


Via = Literal["routing", "disposition", "transfer", "reopen"]


@register
class ComplaintAssigned(Payload):
    """The complaint is now with `opd_id` (state `assigned`): its response and resolution clocks
    start from this event's `occurred_at`. `via` says why: routed at intake, disposed by a
    coordinator, transferred by another OPD (preceded by `ComplaintTransferred`) or reopened by the
    reporter (preceded by `ComplaintReopened`)."""

    TYPE = "ComplaintAssigned"

    opd_id: str
    pemda: str  # the pemda whose OPD holds it: its calendar governs the clocks
    category: str
    level: Literal["kabkota", "provinsi"]
    rule: str
    tier: Tier = "normatif"
    via: Via = "routing"
    # What the text classifier said when routing decided an uncategorised complaint (`via`
    # "routing" only): its category and calibrated confidence. Absent (None) when the reporter
    # chose the category, and on messages written before these fields existed.
    guess: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)


@register
class ComplaintTriaged(Payload):
    """The pemda's coordinator must decide (state `triage`): routing could not assign with
    confidence (`via="routing"`), or the complaint was transferred too often (`via="transfer"`,
    which starts a new verification clock)."""

    TYPE = "ComplaintTriaged"

    pemda: str
    category: str | None
    rule: str
    reason: str
    via: Literal["routing", "transfer"] = "routing"
    # The classifier's best category and its confidence when it was below the threshold (the
    # coordinator decides; `category` stays None). None as in `ComplaintAssigned`.
    guess: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)


@register
class ComplaintUpdated(Payload):
    """A coordinator corrected what routing decides on, or tightened the privacy flags (never
    loosened, DESIGN §3). Only while in `triage`; the state does not change."""

    TYPE = "ComplaintUpdated"

    category: str | None
    region_code: str
    pemda: str
    anonymous: bool
    confidential: bool


@register
class ComplaintClaimed(Payload):
    """A handler of the OPD took the complaint up (`assigned` → `in_progress`). Not an answer: no
    clock stops."""

    TYPE = "ComplaintClaimed"

    opd_id: str
    handler: str


@register
class ComplaintAnswered(Payload):
    """The OPD's answer to the reporter (*tindak lanjut*); the first one stops `response`."""

    TYPE = "ComplaintAnswered"

    opd_id: str
    handler: str
    message: str


@register
class InformationRequested(Payload):
    """The OPD asks the reporter (→ `waiting_reporter`): stops `response`, pauses `resolution`."""

    TYPE = "InformationRequested"

    opd_id: str
    handler: str
    message: str


@register
class InformationAdded(Payload):
    """The reporter answered (→ `in_progress` when waiting; otherwise the state stays)."""

    TYPE = "InformationAdded"

    message: str
    resumed: bool  # True when this ended a `waiting_reporter`


@register
class TierChanged(Payload):
    """A handler set the complaint's tier: the resolution due is recomputed from its start."""

    TYPE = "TierChanged"

    opd_id: str
    tier: Tier


@register
class ComplaintTransferred(Payload):
    """*Bukan wewenang*: `from_opd_id` gives the complaint away; its clocks end `transferred`.
    Always followed by `ComplaintAssigned(via="transfer")` or, after too many transfers,
    `ComplaintTriaged(via="transfer")`, with the same `occurred_at`."""

    TYPE = "ComplaintTransferred"

    from_opd_id: str
    to_opd_id: str | None  # None when it goes to the coordinator instead
    reason: str
    transfers: int = Field(ge=1)  # transfers of this complaint so far, this one included
    # The complaint's category when it was transferred (routing's transfer rules count transfers
    # per pemda × category × from × to). None on messages written before the field existed.
    category: str | None = None


@register
class ComplaintResolved(Payload):
    """The OPD resolved it with an answer (→ `resolved`): stops `response` and `resolution`,
    starts `reporter_reply`."""

    TYPE = "ComplaintResolved"

    opd_id: str
    handler: str
    answer: str


@register
class ComplaintReopened(Payload):
    """The reporter reopened a resolved complaint (once, within `reporter_reply`). Always followed
    by `ComplaintAssigned(via="reopen")` to the last OPD with the same `occurred_at`."""

    TYPE = "ComplaintReopened"

    opd_id: str
    reason: str


CloseOutcome = Literal["feedback", "expired", "withdrawn", "merged"]


@register
class ComplaintClosed(Payload):
    """→ `closed`: the reporter's feedback, the `reporter_reply` window expiring (sla's command),
    the reporter withdrawing an open complaint, or a coordinator merging it into another open
    complaint of its pemda (`merged`, `merged_into` names the survivor, which carries on with a
    `ComplaintAbsorbed`). Withdrawn or merged, every running clock ends `cancelled`; a breach
    already recorded stays."""

    TYPE = "ComplaintClosed"

    outcome: CloseOutcome
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = None
    merged_into: str | None = None  # the survivor, when `outcome` is `merged`


@register
class ComplaintAbsorbed(Payload):
    """A coordinator merged the duplicate `absorbed_id` into this complaint (the survivor; the
    duplicate closed `merged` at the same instant). The survivor now carries the strictest privacy
    flags of the two (DESIGN §3): `anonymous`/`confidential` are its flags after the merge. The
    state does not change; the absorbed complaint's reporter follows this one from now on."""

    TYPE = "ComplaintAbsorbed"

    absorbed_id: str
    anonymous: bool
    confidential: bool


@register
class SurveySubmitted(Payload):
    """The reporter answered the Survei Kepuasan Masyarakat (PermenPANRB 14/2017, shared/survey.py)
    of a resolved or closed complaint, once per complaint. No state change; `opd_id` is the OPD
    that resolved it, whose IKM the answers count for. Never identity, never free text."""

    TYPE = "SurveySubmitted"

    opd_id: str
    version: str
    scores: dict[str, int]  # element code (u1 … u9) → score on the questionnaire's scale


@register
class ComplaintArchived(Payload):
    """A coordinator archived it from `received`/`triage` (spam, or outside the pemda's authority,
    with the body it was forwarded to): every running clock ends `cancelled`."""

    TYPE = "ComplaintArchived"

    reason: str
    forwarded_to: str | None = None


@register
class CommandRejected(Payload):
    """A command on `complaints.commands` that the state does not allow. It takes the next `seq`
    like every lifecycle event (so all consumers see it in order) but changes no state."""

    TYPE = "CommandRejected"

    command_id: str
    command: str
    state: str
    reason: str


# --- complaints.assigned (OPD-facing; key = OPD id; never identity) ----------------------------


@register
class OpdAssignmentNotice(Payload):
    TYPE = "OpdAssignmentNotice"

    opd_id: str
    category: str
    region_code: str
    title: str
    description: str  # masked for anonymous complaints (DESIGN §3)
    classification: Classification
    anonymous: bool
    confidential: bool
    assigned_at: AwareDatetime


# --- complaints.commands (intake, sla → routing; key = complaint id; seq null) -----------------


@register
class AddInformation(Payload):
    """The reporter adds information (answers a request, or just adds)."""

    TYPE = "AddInformation"

    message: str


@register
class GiveFeedback(Payload):
    """The reporter rates the answer of a resolved complaint, which closes it."""

    TYPE = "GiveFeedback"

    rating: int = Field(ge=1, le=5)
    comment: str | None = None


@register
class SubmitSurvey(Payload):
    """The reporter's SKM answers for a resolved or closed complaint (checked against the
    questionnaire `version` by intake before it is sent)."""

    TYPE = "SubmitSurvey"

    version: str
    scores: dict[str, int]


@register
class ReopenComplaint(Payload):
    TYPE = "ReopenComplaint"

    reason: str


@register
class WithdrawComplaint(Payload):
    TYPE = "WithdrawComplaint"

    reason: str | None = None


@register
class CloseExpired(Payload):
    """sla: the `reporter_reply` window of a resolved complaint has passed."""

    TYPE = "CloseExpired"

    clock_id: str


COMMANDS = (AddInformation, GiveFeedback, SubmitSurvey, ReopenComplaint, WithdrawComplaint, CloseExpired)

# --- sla.events (sla; key = complaint id; seq = the lifecycle event it derives from) ----------

ClockState = Literal["running", "paused", "met", "breached", "transferred", "cancelled"]


class ClockEvent(Payload):
    """Every clock event carries the clock's whole state after the change, so a reader (intake's
    countdown, a dashboard) keeps the snapshot with the highest `version` and needs nothing else.
    A breached clock keeps running (state `breached`) until it stops; `due_at` is null while
    paused, when `remaining_seconds` holds the working time left."""

    clock_id: str
    clock: ClockName
    opd_id: str | None  # None for `verification` (the pemda's coordinator) and `reporter_reply`
    pemda: str  # whose calendar computes the due
    started_at: AwareDatetime
    due_at: AwareDatetime | None  # in the pemda's local offset
    budget_seconds: int = Field(ge=0)
    remaining_seconds: int | None = None
    state: ClockState
    at: AwareDatetime  # the instant of this change (an event's occurred_at, or the due itself)
    version: int = Field(ge=1)  # per clock; a consumer keeps the highest


@register
class ClockStarted(ClockEvent):
    TYPE = "ClockStarted"


@register
class ClockPaused(ClockEvent):
    TYPE = "ClockPaused"


@register
class ClockResumed(ClockEvent):
    TYPE = "ClockResumed"


@register
class ClockRescheduled(ClockEvent):
    """The due moved: a tier change, or a recompute after the pemda's calendar changed."""

    TYPE = "ClockRescheduled"
    reason: str


@register
class SlaWarning(ClockEvent):
    """75 % of the clock's budget is used."""

    TYPE = "SlaWarning"


@register
class SlaBreached(ClockEvent):
    """The due passed with the clock still running."""

    TYPE = "SlaBreached"


@register
class BreachRetracted(ClockEvent):
    """A recompute found that a recorded breach was not one."""

    TYPE = "BreachRetracted"
    reason: str


@register
class ClockStopped(ClockEvent):
    """`state` is the outcome: met, breached, transferred or cancelled."""

    TYPE = "ClockStopped"


@register
class EscalationRaised(Payload):
    """The complaint's escalation level rose (DESIGN §5 ladder; never goes down except by a
    recompute's `EscalationRetracted`). Level 3: the reporter may go to the Ombudsman."""

    TYPE = "EscalationRaised"

    level: int = Field(ge=1, le=3)
    opd_id: str | None
    reason: str
    at: AwareDatetime


@register
class EscalationRetracted(Payload):
    TYPE = "EscalationRetracted"

    level: int = Field(ge=0, le=3)  # the level after the retraction
    reason: str
    at: AwareDatetime


@register
class CalendarChanged(Payload):
    """A pemda's working-day calendar changed (extra dates, or a new pinned `holidays`); key =
    pemda, complaint_id null. Countdowns computed with the shared calendar should reload it."""

    TYPE = "CalendarChanged"

    pemda: str
    extra_dates: list[date]
    holidays_version: str
    revision: int = Field(ge=1)


# --- catalog.changes (routing → whoever shows OPD names) ---------------------------------------


class OpdEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    opd_id: str
    name: str


@register
class CatalogChanged(Payload):
    """A pemda's OPD catalog as it now is (issue 21 item 5): every OPD with its current name, so a
    consumer rebuilds its names of the pemda from this one message (the topic is compacted by
    pemda). Key = pemda, complaint_id null. `revision` grows with each change of the pemda's
    catalog (routing uses wall-clock milliseconds): a consumer keeps the highest it applied and
    ignores older or repeated ones."""

    TYPE = "CatalogChanged"

    pemda: str
    pemda_name: str
    revision: int = Field(ge=1)
    opds: list[OpdEntry]
