"""A complaint as submitted: the typed record intake keeps (identity included: it lives only
here, DESIGN §3) and the texts it may show or send without that identity. How it is stored (field
names, the view's starting values) is the store's business (adapters/store.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.intake.domain.identity import identity_pattern, leaving_intake, redact_with, token_hash
from services.intake.domain.notifications import channels_for
from services.intake.models import SubmitComplaint
from shared.calendar import pemda_of


@dataclass(frozen=True)
class NewComplaint:
    id: str
    token_hash: str
    reporter: dict[str, Any] | None
    reporter_ref: str | None
    anonymous: bool
    confidential: bool
    category: str | None
    region_code: str
    pemda: str
    title: str
    description: str
    # What staff and the public may be shown of the text: the reporter's identity taken out.
    staff_title: str
    staff_description: str
    # The place, as it may leave intake (no identity; anonymous: no phone or NIK either).
    outgoing_address: str | None
    submitted_at: datetime
    # The channels the reporter is notified on (domain/notifications.py), resolved at submission.
    notify_channels: tuple[str, ...] = ()
    # The code a person types to follow it (domain/tracking.py); its PIN is kept elsewhere, hashed.
    tracking_code: str | None = None
    # Its PIN sealed, only until the "received" notification has gone out (adapters/tracking.py).
    pin_sealed: bytes | None = None

    @classmethod
    def submitted(
        cls,
        body: SubmitComplaint,
        *,
        complaint_id: str,
        token: str,
        reporter_ref: str | None,
        at: datetime,
        tracking_code: str | None = None,
    ) -> NewComplaint:
        reporter = body.reporter.model_dump() if body.reporter else None
        identity = identity_pattern(reporter)
        return cls(
            id=complaint_id,
            token_hash=token_hash(token),
            reporter=reporter,
            reporter_ref=reporter_ref,
            anonymous=body.anonymous,
            confidential=body.confidential,
            category=body.category,
            region_code=body.region_code,
            pemda=pemda_of(body.region_code),
            title=body.title,
            description=body.description,
            staff_title=redact_with(identity, body.title),
            staff_description=redact_with(identity, body.description),
            outgoing_address=None
            if body.address is None
            else leaving_intake(redact_with(identity, body.address), body.anonymous),
            submitted_at=at,
            notify_channels=tuple(channels_for(body.notify, reporter)),
            tracking_code=tracking_code,
        )

    def outgoing_title(self) -> str:
        """The title as it may travel on Kafka: identity never does (DESIGN §3)."""
        return leaving_intake(self.staff_title, self.anonymous)

    def outgoing_description(self) -> str:
        return leaving_intake(self.staff_description, self.anonymous)


@dataclass(frozen=True)
class ReporterCommand:
    """A reporter's command as intake records it until routing answers (pending → accepted or
    rejected, services/intake/domain/commands.py)."""

    id: str
    complaint_id: str
    command: str  # the message type, e.g. ReopenComplaint
    created_at: datetime


@dataclass(frozen=True)
class KeyClaim:
    """An Idempotency-Key's record, written with what it protects: the raw key (the store keeps
    only its hash), the request body's hash, and the answer to replay."""

    key: str
    body_hash: str
    response: dict[str, Any]
    complaint_id: str | None = None
