"""What a citizen sends and what they get back (DESIGN §6, HTTP surface)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

import re2
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from shared import clock
from shared.calendar import WIT
from shared.categories import CATEGORIES
from shared.events import Channel, Classification, GeoPoint
from shared.regions import lookup

# Linear on any input (issue 15): no nested or overlapping quantifiers in Python's engine; the
# e-mail's (``[^@\s]+`` may also take the dot before the domain) on google-re2.
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
# Mobile (08xx…) and landline (0xx…) numbers, written with 0, 62 or +62.
_PHONE = re.compile(r"^(?:\+62|62|0)([2-9]\d{7,11})$")
_EMAIL = re2.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")

NotifyChannel = Literal["email", "sms", "whatsapp"]

# Indonesia's extent, with a margin for its outer islands.
LAT_RANGE = (-11.5, 6.5)
LON_RANGE = (94.5, 141.5)


class Reporter(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)

    @field_validator("phone")
    @classmethod
    def _indonesian_phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _PHONE.match(_PHONE_SEPARATORS.sub("", value))
        if not match:
            raise ValueError(
                "nomor telepon Indonesia tidak valid (contoh: 0812-3456-7890 atau +62 812 3456 7890)"
            )
        return f"+62{match.group(1)}"

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("alamat email tidak valid")
        return value


class Location(GeoPoint):
    @model_validator(mode="after")
    def _inside_indonesia(self) -> Location:
        if not (LAT_RANGE[0] <= self.lat <= LAT_RANGE[1] and LON_RANGE[0] <= self.lon <= LON_RANGE[1]):
            raise ValueError("lokasi berada di luar wilayah Indonesia")
        return self


class SubmitComplaint(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=5, max_length=150)
    description: str = Field(min_length=20, max_length=4000)
    category: str | None = None
    region_code: str
    location: Location | None = None
    address: str | None = Field(default=None, max_length=500)
    incident_date: date | None = None
    classification: Classification = "pengaduan"
    anonymous: bool = False
    confidential: bool = False
    reporter: Reporter | None = None
    channel: Channel = "web"
    # Where the reporter wants to be told of each change (issue 20): any of `email`, `sms`,
    # `whatsapp`, each needing its contact in `reporter`; `[]` for none. Unset: e-mail when an
    # address is given, else SMS when a phone number is.
    notify: list[NotifyChannel] | None = Field(default=None, max_length=3)

    @field_validator("notify")
    @classmethod
    def _reachable(
        cls, value: list[NotifyChannel] | None, info: ValidationInfo
    ) -> list[NotifyChannel] | None:
        if value is None:
            return None
        reporter = info.data.get("reporter")
        need = {"email": "reporter.email", "sms": "reporter.phone", "whatsapp": "reporter.phone"}
        for channel in value:
            contact = need[channel].split(".", 1)[1]
            if reporter is None or getattr(reporter, contact) is None:
                raise ValueError(f"saluran {channel} memerlukan {need[channel]}")
        return sorted(set(value), key=value.index)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str | None) -> str | None:
        if value is not None and value not in CATEGORIES:
            raise ValueError(f"kategori tidak dikenal; pilih salah satu: {', '.join(CATEGORIES)}")
        return value

    @field_validator("region_code")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if lookup(value) is None:
            raise ValueError("kode wilayah Kemendagri tidak dikenal (contoh: 33.74 atau 33.74.01.1001)")
        return value

    @field_validator("incident_date")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        # Compared with the latest calendar date anywhere in Indonesia (WIT, UTC+9).
        if value is not None and value > clock.now().astimezone(WIT).date():
            raise ValueError("tanggal kejadian tidak boleh di masa depan")
        if value is not None and value < date(1900, 1, 1):
            raise ValueError("tanggal kejadian paling awal 1900-01-01")
        return value


class SubmitAccepted(BaseModel):
    id: str
    access_token: str
    status_url: str
    # To follow it by hand (POST /api/v1/tracking): shown this once; null where not offered.
    tracking_code: str | None = None
    pin: str | None = None


class TrackingLogin(BaseModel):
    """A tracking code and its PIN, exchanged for the session cookie."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=20)
    pin: str = Field(pattern=r"^[0-9]{6}$")


class Deadline(BaseModel):
    clock: str
    opd_id: str | None
    started_at: datetime
    due_at: datetime | None  # in the pemda's local offset; null while paused
    remaining_seconds: int | None  # working time left (negative once overdue); null once stopped
    state: Literal["running", "paused", "met", "breached", "transferred", "cancelled"]
    # The countdown for people: "sisa 2 hari kerja", "lewat 1 hari kerja", "dijeda, sisa 4 jam".
    remaining_text: str | None = None


class TimelineEntry(BaseModel):
    at: datetime
    type: str
    summary: str


class NotificationState(BaseModel):
    """What became of one notification to the reporter (issue 20): `pending`, `sent`, `failed`,
    `opted_out`, `capped`, `cancelled` (a reminder whose request was answered), `no_contact`."""

    kind: str
    channel: str
    state: str
    at: datetime


class MergedInto(BaseModel):
    """The complaint a reporter's merged complaint now lives on, as that reporter may see it."""

    id: str
    status: str
    status_label: str | None = None
    opd_id: str | None
    escalation_level: int
    deadlines: list[Deadline]
    timeline: list[TimelineEntry]


class ComplaintView(BaseModel):
    id: str
    status: str
    status_label: str | None = None
    category: str | None
    region_code: str
    opd_id: str | None
    escalation_level: int
    # Level 3: the reporter may now take the complaint to the Ombudsman (DESIGN §5).
    escalation_note: str | None = None
    deadlines: list[Deadline]
    timeline: list[TimelineEntry]
    # The reporter's own text (masked for anonymous complaints); null in the public view.
    title: str | None = None
    description: str | None = None
    anonymous: bool = False
    confidential: bool = False
    # The reporter's own view only: what became of each notification sent to them (no addresses).
    notifications: list[NotificationState] | None = None
    # The reporter's own view of a complaint merged into another (issue 22): the survivor.
    merged_into: MergedInto | None = None

    @model_serializer(mode="wrap")
    def _without_absent_notifications(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only the reporter's view has these fields: the others' answers stay as they were.
        data: dict[str, Any] = handler(self)
        for name in ("notifications", "merged_into"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


# --- the reporter's commands (DESIGN §2, §6) ----------------------------------------------------


class _CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddInformationBody(_CommandBody):
    message: str = Field(min_length=1, max_length=4000)


class FeedbackBody(_CommandBody):
    rating: StrictInt = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class SurveyBody(_CommandBody):
    """The reporter's answers to the Survei Kepuasan Masyarakat (shared/survey.py): the
    questionnaire's version and a score for each of its elements."""

    version: str = Field(min_length=1, max_length=40)
    answers: dict[str, StrictInt] = Field(max_length=20)


class ReopenBody(_CommandBody):
    reason: str = Field(min_length=5, max_length=2000)


class WithdrawBody(_CommandBody):
    reason: str | None = Field(default=None, max_length=2000)


class CommandAccepted(BaseModel):
    command_id: str
    status_url: str


class CommandStatus(BaseModel):
    command_id: str
    command: str
    # pending: sent to the lifecycle owner; accepted: its lifecycle event arrived; rejected: see reason
    # (also a command routing dead-lettered: commands.DEAD_LETTER_REASON, until a replay decides it).
    status: Literal["pending", "accepted", "rejected"]
    reason: str | None = None
    submitted_at: datetime


# --- attachments and identity ---------------------------------------------------------------------


class AttachmentInfo(BaseModel):
    id: str
    content_type: str
    size: int
    filename: str | None  # never kept for anonymous complaints
    uploaded_at: datetime
    url: str


class AttachmentList(BaseModel):
    items: list[AttachmentInfo]
    next_cursor: str | None = None


class ReporterIdentity(BaseModel):
    complaint_id: str
    reporter_ref: str | None
    anonymous: bool
    name: str | None
    phone: str | None
    email: str | None


class ComplaintPage(BaseModel):
    items: list[ComplaintView]
    next_cursor: str | None


class RegionItem(BaseModel):
    code: str
    name: str


class RegionLevel(BaseModel):
    """One level of the Kemendagri region list, as the citizen's region picker loads it."""

    parent: str | None
    level: Literal["provinsi", "kabkota", "kecamatan", "desa"]
    items: list[RegionItem]
