"""sla's ports in memory, typed to the Protocols of services/sla/ports.py (no `type: ignore`):
the handler tests run the use cases over them, and tests/integration/test_sla_store_contract.py
runs the same cases over these and over the Mongo adapters."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.sla.adapters.report_docs import apply_counter_writes, breach_doc, counter_writes, escalation_doc
from services.sla.adapters.report_store import decode_cursor, encode_cursor
from services.sla.domain.complaint import ComplaintClocks
from services.sla.domain.reports import ClockRecord, ComplaintRecord, Doc, ReportChanges
from services.sla.domain.standards import ServiceStandard, SlaRules, Standards
from services.sla.ports import BreachFilter, ExtraDates, Page, Publish, Saved, Sla
from shared import clock, outbox
from shared.calendar import HOLIDAYS_VERSION
from shared.envelope import Envelope, decode
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing


@dataclass
class StoredClocks:
    clocks: ComplaintClocks
    outbox: list[Outgoing]
    rev: int = 1
    since: datetime | None = None  # the outbox's staging instant while it is unconfirmed
    parked: list[bytes] = field(default_factory=list)
    holidays_version: str = HOLIDAYS_VERSION

    @property
    def pending(self) -> bool:
        return self.since is not None


class FakeClockStore:
    """The clock store's contract in memory: rev-guarded like the Mongo store (the revision each
    complaint had when this store loaded it), a pending outbox carried into the next save. Stores
    made with the same `saved` dict share one "database" (one store per writing task)."""

    def __init__(self, saved: dict[str, StoredClocks] | None = None) -> None:
        self.saved: dict[str, StoredClocks] = {} if saved is None else saved
        self._loaded: dict[str, int] = {}

    def _out(self, cid: str) -> StoredClocks:
        record = copy.deepcopy(self.saved[cid])
        self._loaded[cid] = record.rev
        return record

    async def load(self, complaint_ids: Sequence[str]) -> dict[str, StoredClocks]:
        found = {i: self._out(i) for i in complaint_ids if i in self.saved}
        self._loaded.update({cid: 0 for cid in complaint_ids if cid not in found})
        return found

    async def get(self, complaint_id: str) -> ComplaintClocks | None:
        record = self.saved.get(complaint_id)
        return copy.deepcopy(record.clocks) if record else None

    async def save(
        self,
        changed: Sequence[tuple[ComplaintClocks, list[Outgoing]]],
        *,
        skip_conflicts: bool = False,
        parked: Mapping[str, list[bytes]] | None = None,
    ) -> Saved:
        saved = Saved()
        conflict = False
        for clocks, messages_of_change in changed:
            cid = clocks.complaint_id
            before = self.saved.get(cid)
            if (before.rev if before else 0) != self._loaded.pop(cid, 0):
                conflict = True
                continue
            carried = before.outbox if before is not None and before.pending else []
            held = (parked or {}).get(cid, before.parked if before is not None else [])
            messages = [*carried, *messages_of_change]
            rev = before.rev + 1 if before is not None else 1
            since = outbox.staging_instant(after=before.since if before else None) if messages else None
            self.saved[cid] = StoredClocks(copy.deepcopy(clocks), messages, rev, since, list(held))
            if since is not None:
                saved.messages += messages
                saved.writes[cid] = since
        if conflict and not skip_conflicts:
            raise ConcurrentUpdate("a complaint's clocks changed concurrently")
        return saved

    async def mark_published(self, writes: Mapping[str, datetime]) -> None:
        for cid, since in writes.items():
            record = self.saved.get(cid)
            if record is not None and record.since == since:
                record.since = None

    async def due(self, now: datetime, limit: int) -> list[StoredClocks]:
        checks = [(r.clocks.next_check(), cid) for cid, r in self.saved.items()]
        due = sorted((at, cid) for at, cid in checks if at is not None and at <= now)
        return [self._out(cid) for _, cid in due[:limit]]

    async def next_check_at(self, horizon: datetime) -> datetime | None:
        checks = [r.clocks.next_check() for r in self.saved.values()]
        return min((at for at in checks if at is not None and at <= horizon), default=None)

    async def relay(self, publish: Publish, older_than: timedelta, limit: int) -> int:
        cutoff = clock.wall() - older_than
        stale = sorted(
            (r.since, cid) for cid, r in self.saved.items() if r.since is not None and r.since <= cutoff
        )
        records = [self.saved[cid] for _, cid in stale[:limit]]
        if records:
            await publish([m for r in records for m in r.outbox])
        for record in records:
            record.since = None  # the messages stay: a redelivery announces them again
        return len(records)

    async def governed(self, pemda: str, batch: int = 500) -> AsyncIterator[list[str]]:
        ids = sorted(cid for cid, r in self.saved.items() if pemda in r.clocks.governing_pemdas())
        for i in range(0, len(ids), batch):
            yield ids[i : i + batch]

    async def with_old_holidays(self, batch: int = 500) -> AsyncIterator[list[str]]:
        ids = sorted(cid for cid, r in self.saved.items() if r.holidays_version != HOLIDAYS_VERSION)
        for i in range(0, len(ids), batch):
            yield ids[i : i + batch]


class FakeCalendars:
    """Service standards, extra dates (audited) and the holidays pin in memory."""

    def __init__(self, standards: Iterable[ServiceStandard] = ()) -> None:
        self.standards = list(standards)
        self.extra: dict[str, ExtraDates] = {}
        self.audit: list[dict[str, Any]] = []
        self.holidays: str | None = None

    async def refresh(self, rules: SlaRules) -> list[str]:
        rules.standards = Standards(self.standards)
        changed = []
        for pemda, extra in sorted(self.extra.items()):
            dates = [date.fromisoformat(d) for d in extra.dates]
            if rules.calendars.set(pemda, dates, extra.revision or 1):
                changed.append(pemda)
        return changed

    async def extra_dates(self, pemda: str) -> ExtraDates | None:
        return self.extra.get(pemda)

    async def all_extra_dates(self) -> list[ExtraDates]:
        return list(self.extra.values())

    async def replace_extra_dates(
        self, pemda: str, dates: Sequence[date], *, at: datetime, who: Mapping[str, Any], reason: str | None
    ) -> int:
        before = self.extra.get(pemda)
        revision = (before.revision if before else 0) + 1
        after = [d.isoformat() for d in dates]
        recomputed = before.recomputed_revision if before else 0
        self.extra[pemda] = ExtraDates(pemda, after, revision, recomputed)
        self.audit.append(
            {
                "at": at,
                "who": dict(who),
                "target": pemda,
                "before": before.dates if before else [],
                "after": after,
            }
        )
        return revision

    async def mark_recomputed(self, pemda: str, revision: int) -> None:
        extra = self.extra.get(pemda)
        if extra is not None and extra.revision == revision:
            self.extra[pemda] = ExtraDates(pemda, extra.dates, extra.revision, revision)

    async def holidays_version(self) -> str | None:
        return self.holidays

    async def set_holidays_version(self, version: str) -> None:
        self.holidays = version


class FakeReportStore:
    """The report store's contract in memory: records are copied in and out (like a database),
    writes are checked against the revision that was read, counters applied like the real `$inc`s,
    and the lists read in the Mongo store's order."""

    def __init__(self) -> None:
        self.complaints: dict[str, ComplaintRecord] = {}
        self.clocks: dict[str, ClockRecord] = {}
        self.weekly_docs: dict[str, Doc] = {}
        self.monthly_docs: dict[str, Doc] = {}
        self.gauge_docs: dict[str, Doc] = {}
        self.breach_docs: dict[str, Doc] = {}
        self.escalation_docs: dict[str, Doc] = {}
        self.commits = 0
        self.last_changes: ReportChanges | None = None
        self.names: dict[str, tuple[int, dict[str, str]]] = {}  # pemda → (revision, names)

    async def put_names(self, pemda: str, revision: int, names: dict[str, str]) -> bool:
        if self.names.get(pemda, (0, {}))[0] >= revision:
            return False
        self.names[pemda] = (revision, dict(names))
        return True

    async def opd_names(self, opd_ids: Iterable[str]) -> dict[str, str]:
        known = {k: v for _, names in self.names.values() for k, v in names.items()}
        return {opd: known[opd] for opd in opd_ids if opd in known}

    async def load(
        self, complaint_ids: Iterable[str], clock_ids: Iterable[str]
    ) -> tuple[dict[str, ComplaintRecord], dict[str, ClockRecord]]:
        return (
            {c: copy.deepcopy(self.complaints[c]) for c in complaint_ids if c in self.complaints},
            {k: copy.deepcopy(self.clocks[k]) for k in clock_ids if k in self.clocks},
        )

    async def commit(self, changes: ReportChanges) -> None:
        self.last_changes = changes
        for record in changes.complaints:
            stored = self.complaints.get(record.complaint_id)
            if (stored.rev if stored else 0) != record.rev:
                raise ConcurrentUpdate(record.complaint_id)
        for clock_record in changes.clocks:
            known = self.clocks.get(clock_record.clock_id)
            if (known.rev if known else 0) != clock_record.rev:
                raise ConcurrentUpdate(clock_record.clock_id)
        for record in changes.complaints:
            saved = copy.deepcopy(record)
            saved.rev += 1
            self.complaints[record.complaint_id] = saved
            doc = escalation_doc(record)
            if doc:
                self.escalation_docs[record.complaint_id] = doc
            else:
                self.escalation_docs.pop(record.complaint_id, None)
        for clock_record in changes.clocks:
            saved_clock = copy.deepcopy(clock_record)
            saved_clock.rev += 1
            self.clocks[clock_record.clock_id] = saved_clock
            doc = breach_doc(clock_record)
            if doc:
                self.breach_docs[clock_record.clock_id] = doc
            else:
                self.breach_docs.pop(clock_record.clock_id, None)
        apply_counter_writes(
            self.weekly_docs, self.gauge_docs, counter_writes(changes.deltas), self.monthly_docs
        )
        self.commits += 1

    # read side

    async def weekly(
        self, *, level: str, pemda: str | None, scope: str | None, weeks: tuple[date, date]
    ) -> list[Doc]:
        first, last = weeks[0].isoformat(), weeks[1].isoformat()
        return [
            copy.deepcopy(d)
            for d in self.weekly_docs.values()
            if d["level"] == level
            and first <= d["week"] <= last
            and (d["scope"] == scope if scope is not None else pemda is None or d["pemda"] == pemda)
        ]

    async def monthly(
        self, *, level: str, pemda: str | None, scope: str | None, months: tuple[str, str]
    ) -> list[Doc]:
        return [
            copy.deepcopy(d)
            for d in self.monthly_docs.values()
            if d["level"] == level
            and months[0] <= d["month"] <= months[1]
            and (d["scope"] == scope if scope is not None else pemda is None or d["pemda"] == pemda)
        ]

    async def gauges(self, *, level: str, pemda: str | None, scope: str | None) -> list[Doc]:
        if scope is not None:
            return [copy.deepcopy(self.gauge_docs[scope])] if scope in self.gauge_docs else []
        return [
            copy.deepcopy(d)
            for d in self.gauge_docs.values()
            if d["level"] == level and (pemda is None or d["pemda"] == pemda)
        ]

    async def breaches(self, where: BreachFilter, *, as_of: datetime, cursor: str | None, limit: int) -> Page:
        as_of_ms = int(as_of.timestamp() * 1000)
        after: tuple[int, str] | None = None
        if cursor is not None:
            data = decode_cursor(cursor)
            try:
                as_of_ms, after = int(data["as_of"]), (int(data["late"]), str(data["id"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError("cursor tidak sah") from exc
        docs = []
        for d in self.breach_docs.values():
            if where.opd_id is not None and d["opd_id"] != where.opd_id:
                continue
            if where.opd_id is None and where.pemda is not None and d["pemda"] != where.pemda:
                continue
            if where.clock is not None and d["clock"] != where.clock:
                continue
            if where.due_from is not None and d["due_at"] < where.due_from:
                continue
            if where.due_to is not None and d["due_at"] >= where.due_to:
                continue
            doc = copy.deepcopy(d)
            if doc["open"]:
                doc["late_ms"] = as_of_ms - int(doc["due_at"].timestamp() * 1000)
            docs.append(doc)
        ordered = sorted(docs, key=lambda d: (-d["late_ms"], d["_id"]))
        if after is not None:
            ordered = [d for d in ordered if (-d["late_ms"], d["_id"]) > (-after[0], after[1])]
        items = ordered[:limit]
        next_cursor = None
        if len(ordered) > limit and items:
            last = items[-1]
            next_cursor = encode_cursor({"as_of": as_of_ms, "late": last["late_ms"], "id": last["_id"]})
        return Page(items, next_cursor)

    async def escalations(
        self, *, pemda: str | None, opd_id: str | None, cursor: str | None, limit: int
    ) -> Page:
        def key(d: Doc) -> tuple[int, int, str]:
            raised = d["raised_at"]
            return (-d["level"], int(raised.timestamp() * 1000) if raised is not None else -(2**62), d["_id"])

        docs = [
            copy.deepcopy(d)
            for d in self.escalation_docs.values()
            if (d["opd_id"] == opd_id if opd_id is not None else pemda is None or d["pemda"] == pemda)
        ]
        ordered = sorted(docs, key=key)
        if cursor is not None:
            data = decode_cursor(cursor)
            try:
                raised = data["raised"]
                pivot = (
                    -int(data["level"]),
                    int(raised) if raised is not None else -(2**62),
                    str(data["id"]),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError("cursor tidak sah") from exc
            ordered = [d for d in ordered if key(d) > pivot]
        items = ordered[:limit]
        next_cursor = None
        if len(ordered) > limit:
            last = items[-1]
            raised_ms = int(last["raised_at"].timestamp() * 1000) if last["raised_at"] is not None else None
            next_cursor = encode_cursor({"level": last["level"], "raised": raised_ms, "id": last["_id"]})
        return Page(items, next_cursor)

    async def complaint(self, complaint_id: str) -> tuple[ComplaintRecord | None, list[ClockRecord]]:
        record = self.complaints.get(complaint_id)
        clocks = sorted(
            (c for c in self.clocks.values() if c.complaint_id == complaint_id), key=lambda c: c.started_at
        )
        return copy.deepcopy(record), copy.deepcopy(clocks)


@dataclass
class Sent:
    """A publisher that keeps what it was given."""

    messages: list[Outgoing] = field(default_factory=list)

    async def __call__(self, messages: Sequence[Outgoing]) -> None:
        self.messages.extend(messages)

    def decoded(self, topic: str) -> list[Envelope]:
        return [decode(m.value) for m in self.messages if m.topic == topic]


def fake_sla(
    publish: Publish | None = None,
) -> tuple[Sla, dict[str, StoredClocks], FakeCalendars, FakeReportStore]:
    """sla's ports on fakes: every clock store it hands out shares one in-memory "database"."""
    saved: dict[str, StoredClocks] = {}
    calendars, reports = FakeCalendars(), FakeReportStore()
    sla = Sla(
        clock_store=lambda: FakeClockStore(saved),
        calendars=calendars,
        reports=reports,
        publish=publish or Sent(),
    )
    return sla, saved, calendars, reports
