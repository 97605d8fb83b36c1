"""What sla's use cases and views need from the world, as Protocols: the handlers (handlers.py),
the background workers and the HTTP views (entrypoints/) are written against these; the Mongo
adapters (adapters/) implement them, and so do the test fakes (tests/sla_fakes.py;
tests/integration/test_sla_store_contract.py runs the same cases over both).

A complaint's clocks are one document: its clocks, facts, ladder and stays, and the messages of
its last change (its outbox, shared/outbox.py) with the instant they were staged while they are
not confirmed published. Every change is one rev-guarded write, so clocks and outbox are atomic;
publishing happens after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from services.sla.domain.complaint import ComplaintClocks
from services.sla.domain.reports import ClockRecord, ComplaintRecord, Doc, ReportChanges
from services.sla.domain.standards import SlaRules
from shared.kafka import Outgoing

Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]


class Stored(Protocol):
    """A complaint's clocks as loaded, with its outbox and the events it holds after a gap."""

    @property
    def clocks(self) -> ComplaintClocks: ...

    @property
    def outbox(self) -> list[Outgoing]: ...

    @property
    def rev(self) -> int: ...

    @property
    def pending(self) -> bool:
        """The outbox is not yet confirmed published."""
        ...

    @property
    def since(self) -> datetime | None:
        """When the outbox was staged, while it is not confirmed published."""
        ...

    @property
    def parked(self) -> list[bytes]:
        """Lifecycle events that came after a gap in `seq`, held until it fills (encoded)."""
        ...


@dataclass
class Saved:
    """What a save wrote: the messages to publish now (an outbox still pending from an earlier
    change, carried over, then the new ones) and, per complaint, the staging instant of the outbox
    to confirm once they are published."""

    messages: list[Outgoing] = field(default_factory=list)
    writes: dict[str, datetime] = field(default_factory=dict)


class ClockStore(Protocol):
    """Complaints' clocks, rev-guarded. One per task that writes: it remembers the revision each
    loaded complaint had, and a save is refused if that changed meanwhile."""

    async def load(self, complaint_ids: Sequence[str]) -> Mapping[str, Stored]: ...

    async def get(self, complaint_id: str) -> ComplaintClocks | None: ...

    async def save(
        self,
        changed: Sequence[tuple[ComplaintClocks, list[Outgoing]]],
        *,
        skip_conflicts: bool = False,
        parked: Mapping[str, list[bytes]] | None = None,
    ) -> Saved:
        """Store each complaint's clocks with the outbox of this change (after any outbox still
        pending) and, where given, the events it holds after a gap. A complaint changed by another
        writer since it was loaded: `ConcurrentUpdate`, or with `skip_conflicts` left out of what
        was saved (its caller takes it again later)."""
        ...

    async def mark_published(self, writes: Mapping[str, datetime]) -> None:
        """The outboxes of these writes (complaint id → staging instant) are on Kafka; one staged
        again since stays pending."""
        ...

    async def due(self, now: datetime, limit: int) -> Sequence[Stored]:
        """Complaints whose next time-driven change has come, earliest first."""
        ...

    async def next_check_at(self, horizon: datetime) -> datetime | None:
        """The earliest instant, up to `horizon`, at which time alone changes some complaint."""
        ...

    async def relay(self, publish: Publish, older_than: timedelta, limit: int) -> int:
        """Publish the outboxes staged more than `older_than` ago and never confirmed (a crash
        between the write and the publish), keeping the messages; how many complaints."""
        ...

    def governed(self, pemda: str, batch: int = 500) -> AsyncIterator[list[str]]:
        """Ids of the complaints with a clock on `pemda`'s calendar (or a kab/kota's of this
        province), in batches."""
        ...

    def with_old_holidays(self, batch: int = 500) -> AsyncIterator[list[str]]:
        """Ids of the complaints computed with another pinned `holidays` version, in batches."""
        ...


@dataclass(frozen=True)
class BreachFilter:
    pemda: str | None = None
    opd_id: str | None = None
    clock: str | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None


@dataclass(frozen=True)
class Page:
    items: list[Doc]
    next_cursor: str | None


class ReportStore(Protocol):
    """The supervisor reports' records and counters: written by the `sla-reports` consumer."""

    async def load(
        self, complaint_ids: Iterable[str], clock_ids: Iterable[str]
    ) -> tuple[dict[str, ComplaintRecord], dict[str, ClockRecord]]: ...

    async def commit(self, changes: ReportChanges) -> None:
        """Write the records (optimistically), their projections and counter increments at once;
        `ConcurrentUpdate` when a record changed since it was loaded."""
        ...

    async def put_names(self, pemda: str, revision: int, names: dict[str, str]) -> bool:
        """A pemda's OPD names as routing announced them (`CatalogChanged`): replace the pemda's
        names unless a revision as new was applied already; whether they were applied."""
        ...


class ReportReader(Protocol):
    """What the supervisor API reads: counters, the breach and escalation lists, one complaint."""

    async def weekly(
        self, *, level: str, pemda: str | None, scope: str | None, weeks: tuple[date, date]
    ) -> list[Doc]: ...

    async def monthly(
        self, *, level: str, pemda: str | None, scope: str | None, months: tuple[str, str]
    ) -> list[Doc]:
        """Monthly counters (domain/monthly.py) of `level` ("opd" or "pemda") rows, months
        `YYYY-MM` from–to inclusive: one scope's, a pemda's rows, or every row of the level."""
        ...

    async def gauges(self, *, level: str, pemda: str | None, scope: str | None) -> list[Doc]: ...

    async def breaches(self, where: BreachFilter, *, as_of: datetime, cursor: str | None, limit: int) -> Page:
        """ValueError for a cursor that is not one of ours."""
        ...

    async def escalations(
        self, *, pemda: str | None, opd_id: str | None, cursor: str | None, limit: int
    ) -> Page:
        """ValueError for a cursor that is not one of ours."""
        ...

    async def complaint(self, complaint_id: str) -> tuple[ComplaintRecord | None, list[ClockRecord]]: ...

    async def opd_names(self, opd_ids: Iterable[str]) -> dict[str, str]:
        """The current names of these OPDs, of those announced (issue 21 item 5)."""
        ...


@dataclass(frozen=True)
class ExtraDates:
    pemda: str
    dates: list[str]  # ISO dates, as stored
    revision: int
    recomputed_revision: int = 0


class CalendarStore(Protocol):
    """The reference data the clocks are computed with (service standards, pemdas' extra dates),
    the audit of its changes, and what the last recompute covered."""

    async def refresh(self, rules: SlaRules) -> list[str]:
        """Load standards and calendars into `rules`; the pemdas whose calendar changed."""
        ...

    async def extra_dates(self, pemda: str) -> ExtraDates | None: ...

    async def all_extra_dates(self) -> list[ExtraDates]: ...

    async def replace_extra_dates(
        self, pemda: str, dates: Sequence[date], *, at: datetime, who: Mapping[str, Any], reason: str | None
    ) -> int:
        """Store a pemda's extra dates as a new revision, audited (who, when, before, after);
        the new revision."""
        ...

    async def mark_recomputed(self, pemda: str, revision: int) -> None: ...

    async def holidays_version(self) -> str | None:
        """The pinned `holidays` version the stored clocks were last computed with."""
        ...

    async def set_holidays_version(self, version: str) -> None: ...


class Reports(ReportStore, ReportReader, Protocol):
    """The report store as the `sla-reports` consumer writes it and the supervisor API reads it."""


@dataclass(frozen=True)
class Sla:
    """Everything sla's use cases, workers and views reach outside the process (built by
    bootstrap.py): a fresh clock store per writing task (each remembers the revisions it loaded),
    the reference data, the report store, the publisher, and the rules every clock is computed
    with (one `SlaRules` per process, refreshed from `calendars`)."""

    clock_store: Callable[[], ClockStore]
    calendars: CalendarStore
    reports: Reports
    publish: Publish
    rules: SlaRules = field(default_factory=SlaRules)
