"""What intake's use cases need from the world, as Protocols: the handlers (handlers.py) are
written against these, the Mongo and Kafka adapters (adapters/) implement them, and a test fake
implements them too (tests/intake_fakes.py; tests/integration/test_intake_store_contract.py runs
the same cases over both).

Documents are still dicts on this boundary: the complaint view's rules (domain/view.py) work on
the stored view in place."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from services.intake.domain.commands import CommandOutcome
from services.intake.domain.complaint import KeyClaim, NewComplaint, ReporterCommand
from services.intake.domain.tracking import Backoff
from shared.kafka import Outgoing

if TYPE_CHECKING:
    from services.intake.adapters.attachments import AttachmentStore
    from services.intake.adapters.listing import PublicComplaints
    from services.intake.adapters.open311 import Open311Records

Document = dict[str, Any]


class ComplaintStore(Protocol):
    """The complaint record (identity included: it lives only here), the citizen's view kept on
    it, the reporter's commands, Idempotency-Key records, the identity-read audit, calendars."""

    # The use cases' writes: a record with its messages (the outbox) and, with a key, the key's
    # record, in one transaction. The instant the outbox was staged (to mark it published), or the
    # earlier key record when the key is taken (then nothing is written).
    async def add(
        self, complaint: NewComplaint, messages: Sequence[Outgoing], claim: KeyClaim | None
    ) -> datetime | Document: ...
    async def add_command(
        self, command: ReporterCommand, messages: Sequence[Outgoing], claim: KeyClaim | None
    ) -> datetime | Document: ...

    # Idempotency-Key records: `claim["_id"]` is the raw key; the store keeps only its hash.
    async def insert_with_key(self, record: Document, claim: Document) -> Document | None: ...
    async def find_key(self, key: str) -> Document | None: ...

    async def insert(self, doc: Document) -> None: ...
    async def get(self, complaint_id: str) -> Document | None: ...
    async def identity_of(self, complaint_id: str) -> Document | None: ...
    async def reporters(self, ids: Sequence[str]) -> dict[str, Document | None]: ...
    async def abandoned(self, ids: Sequence[str]) -> dict[str, Document]: ...
    async def mark_withdrawn(self, ids: Sequence[str]) -> None: ...
    async def load_views(self, ids: Sequence[str]) -> dict[str, Document]: ...
    async def save_views(self, docs: Sequence[Document]) -> None: ...

    async def insert_command(self, record: Document, claim: Document | None = None) -> Document | None: ...
    async def get_command(self, complaint_id: str, command_id: str) -> Document | None: ...
    # The kinds (`AddInformation`, `SubmitSurvey`, …) of the complaint's commands still pending.
    async def pending_commands(self, complaint_id: str) -> set[str]: ...
    async def settle_commands(self, outcomes: Mapping[str, CommandOutcome]) -> None: ...
    async def reject_dead_lettered(self, dead: Mapping[str, Mapping[str, Any]], reason: str) -> int: ...

    async def audit_identity_read(self, record: Document) -> None: ...
    # Erasure of reporter identity (domain/identity.py `erased`): the changes are written only if
    # the complaint still has a reporter (False otherwise), the audit record first.
    async def erase_identity(self, complaint_id: str, changes: Document, audit: Document) -> bool: ...
    async def erasure_texts(self, complaint_id: str) -> Document | None: ...
    async def ended_before(self, cutoff: datetime, limit: int) -> list[str]: ...
    async def reported_by(self, *, email: str | None, phone: str | None) -> list[str]: ...
    async def identity_reads(self, complaint_id: str, limit: int = 200) -> list[Document]: ...

    async def save_calendar(self, pemda: str, revision: int, extra_dates: Sequence[date]) -> None: ...
    async def calendars(self) -> list[tuple[str, int, list[date]]]: ...


class TrackingStore(Protocol):
    """Tracking codes (with the PIN's hash and the wrong-PIN backoff), the devices trusted with a
    code (each with a backoff of its own: `device=True`, the counter its key) and the sessions a
    link or code is exchanged for (domain/tracking.py; adapters/tracking.py)."""

    async def reserve_code(self, complaint_id: str, pin_hash_of: Callable[[str], str]) -> str: ...
    async def release_code(self, code: str) -> None: ...
    async def code(self, code: str) -> Document | None: ...
    async def take_try(
        self, counter: str, failures: int, now: datetime, backoff: Backoff, *, device: bool = False
    ) -> Document | None: ...
    async def right_pin(self, counter: str, *, device: bool = False) -> None: ...
    async def device(self, key: str) -> Document | None: ...
    async def trust_device(self, key: str, ttl: timedelta) -> None: ...
    async def open_session(self, session: str, complaint_id: str, ttl: timedelta) -> None: ...
    async def session_complaint(self, session: str) -> str | None: ...


class Publisher(Protocol):
    """Kafka through the outbox: `publish` waits for the broker's acknowledgement; `publish_soon`
    publishes a durable outbox document after the answer and marks it (the relay does the rest)."""

    async def publish(self, messages: Sequence[Outgoing]) -> None: ...
    def publish_soon(
        self, collection: str, doc_id: str, since: datetime, messages: Sequence[Outgoing]
    ) -> None: ...


# --- notifications to the reporter (issue 20; domain/notifications.py) ----------------------------


class NotificationStore(Protocol):
    """Notifications as an outbox: each one a document keyed by event id + channel, staged by the
    view consumer (idempotently) and drained by the worker: claimed (its `outbox_since` moved on
    by a lease), sent, then marked with what became of it, guarded by that claim."""

    async def stage(self, notifications: Sequence[Document]) -> int: ...
    async def cancel_reminders(self, open_requests: Mapping[str, str | None]) -> None: ...
    async def due(self, limit: int) -> list[Document]: ...
    async def claim(self, notification: Document, lease_seconds: float) -> datetime | None: ...
    async def settle(self, notification_id: str, claimed: datetime, changes: Mapping[str, Any]) -> bool: ...
    async def retry_later(
        self, notification_id: str, claimed: datetime, after_seconds: float, error: str
    ) -> None: ...
    async def recipient(self, complaint_id: str) -> Document | None: ...
    async def count_toward_cap(self, address_key: str, day: str, notification_id: str) -> int: ...
    async def forget_pin(self, complaint_id: str) -> None: ...
    async def opt_out(self, complaint_id: str, at: datetime) -> bool: ...
    async def of_complaint(self, complaint_id: str) -> list[Document]: ...


@dataclass(frozen=True)
class OutgoingMessage:
    """One notification as a sender sends it: `id` is its Message-ID (e-mail) or reference
    (gateway), the same on every resend; `to` is the address, known only here and to the sender."""

    id: str
    channel: str
    kind: str
    to: str
    subject: str
    text: str
    html: str | None
    params: Mapping[str, str]
    unsubscribe_url: str


class NotificationSender(Protocol):
    """Sends on some channels (e-mail over SMTP, SMS/WhatsApp through a gateway); returns the
    reference the receiver knows the message by."""

    channels: frozenset[str]

    async def send(self, message: OutgoingMessage) -> str: ...
    async def close(self) -> None: ...


class OpdNames(Protocol):
    """OPD names from routing's `catalog.changes` (adapters/names.py)."""

    async def put(self, pemda: str, revision: int, names: dict[str, str]) -> bool:
        """Replace the pemda's names unless a revision as new is stored; whether they were."""
        ...

    async def name_of(self, opd_id: str) -> str | None: ...


@dataclass(frozen=True)
class Adapters:
    """Everything the HTTP views and consumers reach outside the process, built by bootstrap.py."""

    complaints: ComplaintStore
    publisher: Publisher
    attachments: AttachmentStore
    listing: PublicComplaints
    open311: Open311Records
    # Only when this deployment sends notifications (an SMTP host or a gateway URL configured).
    notifications: NotificationStore | None = None
    # Tracking codes and sessions (links and code + PIN instead of a bearer header); None in tests
    # that do without (then no code is given and no cookie is accepted).
    tracking: TrackingStore | None = None
    # OPD names for what people read (None: ids are shown, e.g. in tests' in-memory adapters).
    names: OpdNames | None = None
