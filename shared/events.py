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


@register
class ComplaintAssigned(Payload):
    TYPE = "ComplaintAssigned"

    opd_id: str
    pemda: str  # the pemda whose OPD holds it: its calendar governs the clocks
    category: str
    level: Literal["kabkota", "provinsi"]
    rule: str
    tier: Tier = "normatif"


@register
class ComplaintTriaged(Payload):
    """Routing could not assign with confidence: the pemda's coordinator must decide."""

    TYPE = "ComplaintTriaged"

    pemda: str
    category: str | None
    rule: str
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


# --- sla.events (sla; key = complaint id; seq = the lifecycle event it derives from) ----------


@register
class ClockStarted(Payload):
    TYPE = "ClockStarted"

    clock_id: str
    clock: ClockName
    opd_id: str | None  # None for `verification`, which the pemda's coordinator answers for
    pemda: str  # whose calendar computes the due
    started_at: AwareDatetime
    due_at: AwareDatetime  # in the pemda's local offset
    budget_seconds: int = Field(ge=0)
    version: int = Field(ge=1)  # per clock; a consumer keeps the highest


@register
class ClockStopped(Payload):
    TYPE = "ClockStopped"

    clock_id: str
    clock: ClockName
    opd_id: str | None
    stopped_at: AwareDatetime
    outcome: ClockOutcome
    version: int = Field(ge=1)
