"""What routing's use cases and views need from the world, as Protocols: the handlers
(handlers.py) and the HTTP views (entrypoints/) are written against these, the Mongo and Kafka
adapters (adapters/) implement them, and a test fake implements the complaint store and the
catalog too (tests/routing_fakes.py; tests/integration/test_routing_store_contract.py runs the same
cases over both).

A complaint document holds its lifecycle state and the events of its last change not yet on
Kafka, with the OPD feed entries they make: the project's outbox (shared/outbox.py: `outbox`,
`outbox_since`, and `feed_outbox`). Every change is one rev-guarded write of the document, so
state and outbox are atomic; delivery happens after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from services.routing.domain.staff import Account
from services.routing.domain.staff_mail import Audience
from services.routing.domain.suggestions import CountedTransfer, Decision, TransferPair
from shared.calendar import CalendarBook
from shared.kafka import Outgoing

Document = dict[str, Any]
Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]
# (complaint id, rev read, dues, nearest running due): one complaint's dues write.
DuesUpdate = tuple[str, int, Document, datetime]


class ComplaintStore(Protocol):
    """Routing's complaint documents (state, outbox, dues), rev-guarded."""

    async def insert_new(self, docs: Sequence[Document]) -> set[str]:
        """Insert the documents whose `_id` is new; return the ids that already existed."""
        ...

    async def get(self, complaint_id: str) -> Document | None: ...

    async def load(self, ids: Sequence[str], fields: Sequence[str] = ()) -> dict[str, Document]:
        """The complaints with these ids; only `fields` (and `_id`) of each when given."""
        ...

    async def replace(self, docs: Sequence[Document]) -> None:
        """Write changed documents, each guarded by the `rev` it was read at (then +1);
        `ConcurrentUpdate` when one changed meanwhile."""
        ...

    async def mark_published(self, written: Sequence[tuple[str, datetime]]) -> None:
        """The outboxes of these complaints (id, `outbox_since`) are on Kafka and their feed
        entries written: clear them, unless the complaint was staged again since (a later
        change, which its own writer delivers). A dues update does not stage: it never keeps a
        delivered outbox from being cleared."""
        ...

    async def replace_together(self, docs: Sequence[Document]) -> None:
        """`replace`, all or none (one transaction): a merge changes two complaints."""
        ...

    async def duplicate_candidates(self, keys: Sequence[str], since: datetime, limit: int) -> list[Document]:
        """Complaints holding any of these duplicate keys (only open ones hold keys), submitted
        at or after `since`, newest first, with what confirming a duplicate needs."""
        ...

    async def suggested_with(self, complaint_id: str, limit: int) -> list[Document]:
        """Complaints whose stored duplicate suggestions name this one."""
        ...

    async def set_lease(self, complaint_id: str, rev: int, handler: str, until: datetime) -> bool:
        """Take or renew the handler's lease if the complaint is still at `rev`."""
        ...

    async def set_dues(self, updates: Sequence[DuesUpdate]) -> int:
        """Write the dues, each guarded by its rev; the number not written (a newer rev)."""
        ...

    async def queue(
        self,
        *,
        field: str,
        value: str,
        states: Sequence[str],
        limit: int,
        after: tuple[datetime, str] | None,
        category: str | None = None,
    ) -> list[Document]:
        """Complaints of one OPD (`field="opd_id"`) or one pemda's triage (`"pemda"`) in these
        states (and of one `category` when given), by nearest SLA due then id, after the keyset
        cursor `after`."""
        ...


class Catalog(Protocol):
    """The OPDs and the pemdas' rule overrides (category → OPD slug), with their audit trail."""

    async def overrides(self, pemdas: Sequence[str]) -> dict[tuple[str, str], str]:
        """(pemda, category) → OPD slug for these pemdas."""
        ...

    async def opds_of(self, pemdas: Sequence[str]) -> list[Document]:
        """The OPDs of these pemdas (`_id`, `pemda`, `slug`, `name`), by id."""
        ...

    async def rules_of(self, pemda: str) -> list[Document]:
        """One pemda's rule overrides (`category`, `opd_slug`, `note`, `by`, `at`), by category."""
        ...

    async def opd_exists(self, opd_id: str) -> bool: ...
    async def put_rule(
        self, pemda: str, category: str, opd_slug: str, note: str | None, by: str, *, session: Any = None
    ) -> None:
        """`session`: a transaction this write is part of (`TransferPairs.decide`)."""
        ...

    async def delete_rule(self, pemda: str, category: str) -> bool: ...
    def forget_rules(self) -> None:
        """The rules changed: the next read goes to the database."""
        ...

    async def put_opd(self, pemda: str, slug: str, name: str) -> None: ...
    async def audit(self, what: str, by: str, role: str, data: Document, *, session: Any = None) -> None: ...


class Notes(Protocol):
    """Staff's internal notes on a complaint (never on Kafka, never to the reporter)."""

    async def add(self, note: Document) -> None: ...
    async def of(self, complaint_id: str) -> list[Document]: ...


class Feed(Protocol):
    """Per-OPD feed entries, read in the order they were written (adapters/feed.py)."""

    async def add(self, entries: Sequence[Document]) -> None: ...
    async def after(
        self, opd_id: str, cursor: str | None, limit: int, now: datetime | None = None
    ) -> list[Document]: ...
    async def of_complaint(self, opd_id: str, complaint_id: str, limit: int) -> list[Document]:
        """The OPD's entries of one complaint, oldest first (the workbench's timeline)."""
        ...


class Webhooks(Protocol):
    """The OPDs' registered webhooks and their delivery log."""

    async def register(self, opd_id: str, url: str, secret: str, by: str) -> None: ...
    async def deliveries(self, opd_id: str, limit: int) -> list[Document]: ...


class TransferPairs(Protocol):
    """Transfers counted per pemda × category × from × to, with each pair's last decision
    (adapters/transfer_pairs.py)."""

    async def count(
        self, pemda: str, category: str, from_slug: str, to_slug: str, transfer: CountedTransfer
    ) -> bool:
        """Count one transfer (an upsert); False when its event was counted before."""
        ...

    async def of_pemda(self, pemda: str) -> list[TransferPair]: ...
    async def get(self, pemda: str, category: str, from_slug: str, to_slug: str) -> TransferPair | None: ...

    async def decide(
        self, pair: TransferPair, decision: Decision, then: Callable[[Any], Awaitable[None]] | None = None
    ) -> bool:
        """Record a decision unless another was recorded since `pair` was read; `then(session)`
        makes the decision's other writes in the same transaction (all or none)."""
        ...


class Delivery(Protocol):
    """Sends what a change staged: its events to Kafka, its feed entries, then the mark."""

    async def deliver(self, docs: Sequence[Document]) -> None: ...


@dataclass(frozen=True)
class Routing:
    """Everything routing's use cases and HTTP views reach outside the process (built by
    bootstrap.py), with the lifecycle's limits from the settings."""

    complaints: ComplaintStore
    catalog: Catalog
    delivery: Delivery
    feed: Feed
    notes: Notes
    webhooks: Webhooks
    transfer_pairs: TransferPairs
    max_transfers: int = 3
    lease_minutes: int = 30
    # Transfer rules (domain/suggestions.py): a suggestion after this many transfers of one pair
    # within the window.
    suggest_after: int = 3
    suggest_window_days: int = 90
    duplicate_window_days: int = 30  # how far back an open complaint may be a duplicate's original
    duplicate_min_similarity: float = 0.3  # Jaccard of the text shingles a suggestion needs


class StaffDirectory(Protocol):
    """People's staff accounts and sessions (adapters/accounts.py): sign-in, sessions, the
    failures that make sign-in wait, one-time password-reset links."""

    async def create(self, account: Account, password: str | None, by: str) -> None: ...
    async def get(self, username: str) -> Account | None: ...
    async def of_pemda(self, pemda: str | None, limit: int = 500) -> list[Account]: ...
    async def check_password(self, username: str, password: str) -> Account | None: ...
    async def set_password(self, username: str, password: str) -> None: ...
    async def disable(self, username: str, by: str) -> bool: ...
    async def change_email(self, username: str, email: str, by: str, tell_old: bool) -> str | None: ...
    async def open_session(
        self,
        username: str,
        lifetime: timedelta,
        id_token: str | None = None,
        *,
        oidc_subject: str | None = None,
        oidc_sid: str | None = None,
    ) -> tuple[str, str]: ...
    async def session(self, token: str) -> tuple[Account, str] | None: ...
    async def close_session(self, token: str) -> str | None: ...
    async def end_oidc_sessions(self, subject: str | None, sid: str | None) -> int: ...
    async def first_logout(self, jti: str, until: datetime) -> bool: ...
    async def forget_logout(self, jti: str) -> None: ...
    async def begin_oidc(self, state: str, attempt: dict[str, Any], lifetime: timedelta) -> None: ...
    async def take_oidc(self, state: str, binding: str) -> dict[str, Any] | None: ...
    async def oidc_account(self, person: Account, subject: str) -> Account | None: ...
    async def blocked_until(self, keys: list[str]) -> datetime | None: ...
    async def failed(self, keys: list[str]) -> None: ...
    async def succeeded(self, keys: list[str]) -> None: ...
    async def new_reset(self, username: str, lifetime: timedelta, by: str) -> str: ...
    async def reset_account(self, token: str) -> Account | None: ...
    async def use_reset(self, token: str) -> str | None: ...
    async def set_mail_digest(self, username: str, digest: bool) -> bool: ...


class StaffAddresses(Protocol):
    """Whom staff e-mails go to (adapters/accounts.py): the accounts an audience covers, and one
    account as it now is (its address is read when its mail goes)."""

    async def addressed(self, audiences: Sequence[Audience], limit: int = 500) -> list[Account]: ...
    async def get(self, username: str) -> Account | None: ...


class StaffMailbox(Protocol):
    """Staff e-mails waiting to go and what became of them (adapters/staff_mail.py), an outbox."""

    async def stage(self, mails: Sequence[Document]) -> int: ...
    async def complaints(self, ids: Sequence[str]) -> dict[str, Document]: ...
    async def digest_items(self, digest: str, limit: int = 500) -> list[Document]: ...
    async def settle_items(self, ids: Sequence[str], changes: Mapping[str, Any]) -> None: ...
    async def opd_names(self, ids: Sequence[str]) -> dict[str, str]: ...
    async def due(self, limit: int, until: datetime | None = None) -> list[Document]: ...
    async def claim(self, mail: Document, lease_seconds: float) -> datetime | None: ...
    async def settle(self, mail_id: str, claimed: datetime, changes: Mapping[str, Any]) -> bool: ...
    async def retry_later(
        self, mail_id: str, claimed: datetime, after_seconds: float, error: str
    ) -> None: ...


class CalendarCopies(Protocol):
    """The pemdas' extra non-working dates sla announced (shared/calendar_store.py)."""

    async def save(self, pemda: str, revision: int, extra_dates: Sequence[date]) -> None: ...
    async def teach(self, book: CalendarBook) -> None: ...


@dataclass(frozen=True)
class StaffMailing:
    """What staging staff e-mails needs (handlers.stage_staff_mail): off when `on` is False (no
    SMTP host), when the consumer group reads on and stages nothing. `calendars` keeps the pemdas'
    extra dates the group reads on sla.events, so a due in a mail counts the pemda's own days off
    (`book`, this process's copy)."""

    mailbox: StaffMailbox
    addresses: StaffAddresses
    on: bool = True
    digest_hour: int = 7
    max_age: timedelta = timedelta(hours=48)
    calendars: CalendarCopies | None = None
    book: CalendarBook = field(default_factory=CalendarBook)
