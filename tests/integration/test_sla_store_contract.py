"""One contract for sla's ClockStore, CalendarStore and report store ports (services/sla/ports.py),
run over the Mongo adapters and over the fakes the handler tests use (tests/sla_fakes.py): what
one does, the other does too."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.sla.adapters.clock_store import MongoClockStore, ensure_indexes
from services.sla.adapters.reference import MongoCalendars
from services.sla.adapters.report_store import MongoReportStore, ensure_report_indexes
from services.sla.domain.reports import ReportChanges
from services.sla.domain.standards import SlaRules
from services.sla.handlers import announce, handle_report_events
from services.sla.ports import BreachFilter, CalendarStore, ClockStore, Reports
from shared.envelope import decode
from shared.events import ClockStarted, ClockStopped, EscalationRaised, SlaBreached
from shared.faults import ConcurrentUpdate
from shared.mongo import mongo_client
from tests import sla_fakes
from tests.unit.test_reports import DLH, PUPR, WIB_MON, Complaint, day
from tests.unit.test_sla_domain import Story, wib

pytestmark = pytest.mark.integration


@dataclass
class Ports:
    clock_store: Callable[[], ClockStore]  # a new store per writing task, one "database"
    calendars: CalendarStore
    reports: Reports


@pytest.fixture
async def ports(contract_mongo_uri: str | None, db_prefix: str) -> AsyncIterator[Ports]:
    if contract_mongo_uri is None:
        saved: dict[str, sla_fakes.StoredClocks] = {}
        yield Ports(
            lambda: sla_fakes.FakeClockStore(saved), sla_fakes.FakeCalendars(), sla_fakes.FakeReportStore()
        )
        return
    client = mongo_client(contract_mongo_uri)
    db: AsyncDatabase[dict[str, Any]] = client[f"{db_prefix}sla_contract"]
    await ensure_indexes(db)
    await ensure_report_indexes(db)
    try:
        yield Ports(lambda: MongoClockStore(db), MongoCalendars(db), MongoReportStore(db))
    finally:
        await client.drop_database(db.name)
        await client.close()


def assigned(complaint_id: str = "C1", pemda: str = "33.74", day: int = 2) -> Story:
    s = Story(complaint_id=complaint_id, pemda=pemda)
    s.received(wib(2026, 2, day, 10))
    s.assigned(wib(2026, 2, day, 11), opd=f"{pemda}/dinas-pupr")
    return s


async def store_new(store: ClockStore, s: Story) -> dict[str, str]:
    await store.load([s.complaint_id])
    outbox = announce(s.announced, s.complaint_id, s.clocks.last_seq)
    saved = await store.save([(s.clocks, outbox)])
    assert [m.value for m in saved.messages] == [m.value for m in outbox]
    return saved.writes


# --- the clock store ------------------------------------------------------------------------------


async def test_saved_clocks_load_back_equal_with_their_pending_outbox(ports: Ports) -> None:
    store = ports.clock_store()
    s = assigned()
    await store_new(store, s)
    loaded = (await ports.clock_store().load(["C1", "missing"]))["C1"]
    assert loaded.clocks == s.clocks and loaded.pending and len(loaded.outbox) == 4
    assert await ports.clock_store().get("C1") == s.clocks
    assert await ports.clock_store().get("missing") is None


async def test_a_confirmed_outbox_is_no_longer_pending_and_an_old_confirmation_clears_nothing(
    ports: Ports,
) -> None:
    store = ports.clock_store()
    s = assigned()
    first = await store_new(store, s)
    again = ports.clock_store()
    record = (await again.load(["C1"]))["C1"]
    carried = await again.save([(record.clocks, [])])
    assert len(carried.messages) == 4  # the earlier change's messages, carried over
    await store.mark_published(first)  # the first write's confirmation: a newer write holds them
    assert (await ports.clock_store().load(["C1"]))["C1"].pending
    await again.mark_published(carried.writes)
    assert not (await ports.clock_store().load(["C1"]))["C1"].pending


async def test_a_complaint_changed_since_it_was_loaded_is_refused_or_skipped(ports: Ports) -> None:
    await store_new(ports.clock_store(), assigned())
    one, other = ports.clock_store(), ports.clock_store()
    mine, theirs = (await one.load(["C1"]))["C1"], (await other.load(["C1"]))["C1"]
    await one.save([(mine.clocks, [])])
    with pytest.raises(ConcurrentUpdate):
        await other.save([(theirs.clocks, [])])
    skipped = ports.clock_store()
    stale = (await skipped.load(["C1"]))["C1"]
    await ports.clock_store().load(["C1"])
    await one.load(["C1"])
    await one.save([(stale.clocks, [])])
    assert (await skipped.save([(stale.clocks, [])], skip_conflicts=True)).writes == {}


async def test_a_first_insert_made_concurrently_is_a_conflict(ports: Ports) -> None:
    s = assigned()
    one, other = ports.clock_store(), ports.clock_store()
    await one.load(["C1"])
    await other.load(["C1"])
    await one.save([(s.clocks, [])])
    with pytest.raises(ConcurrentUpdate):
        await other.save([(s.clocks, [])])


async def test_parked_events_are_kept_until_replaced(ports: Ports) -> None:
    s = assigned()
    store = ports.clock_store()
    await store.load(["C1"])
    await store.save([(s.clocks, [])], parked={"C1": [s.events[0].to_bytes()]})
    later = ports.clock_store()
    record = (await later.load(["C1"]))["C1"]
    assert record.parked == [s.events[0].to_bytes()]
    await later.save([(record.clocks, [])])  # no `parked` given: kept
    last = ports.clock_store()
    record = (await last.load(["C1"]))["C1"]
    assert record.parked == [s.events[0].to_bytes()]
    await last.save([(record.clocks, [])], parked={"C1": []})
    assert (await ports.clock_store().load(["C1"]))["C1"].parked == []


async def test_due_reads_what_time_changes_by_now_earliest_first(ports: Ports) -> None:
    early, late = assigned("C1"), assigned("C2", day=3)
    for s in (late, early):
        await store_new(ports.clock_store(), s)
    first = early.clocks.next_check()
    second = late.clocks.next_check()
    assert first is not None and second is not None and first < second
    store = ports.clock_store()
    assert await store.due(first - timedelta(milliseconds=1), 10) == []
    assert [r.clocks.complaint_id for r in await store.due(second, 10)] == ["C1", "C2"]
    assert [r.clocks.complaint_id for r in await store.due(second, 1)] == ["C1"]
    assert await store.next_check_at(first - timedelta(milliseconds=1)) is None
    assert await store.next_check_at(second) == first


async def test_the_relay_publishes_what_was_stored_and_never_confirmed_and_keeps_it(ports: Ports) -> None:
    writes = await store_new(ports.clock_store(), assigned("C1"))
    await store_new(ports.clock_store(), assigned("C2"))
    store = ports.clock_store()
    await store.mark_published(writes)
    sent = sla_fakes.Sent()
    assert await store.relay(sent, timedelta(hours=1), 10) == 0  # staged just now: its writer publishes
    assert await store.relay(sent, timedelta(0), 10) == 1
    assert {decode(m.value).complaint_id for m in sent.messages} == {"C2"} and len(sent.messages) == 4
    record = (await ports.clock_store().load(["C2"]))["C2"]
    assert not record.pending and [m.value for m in record.outbox] == [m.value for m in sent.messages]
    assert await store.relay(sent, timedelta(0), 10) == 0


async def test_governed_lists_the_complaints_on_a_pemda_s_or_its_province_s_calendar(ports: Ports) -> None:
    await store_new(ports.clock_store(), assigned("C1", "33.74"))
    await store_new(ports.clock_store(), assigned("C2", "33.01"))
    await store_new(ports.clock_store(), assigned("C3", "64.01"))
    store = ports.clock_store()
    assert [ids async for ids in store.governed("33.74")] == [["C1"]]
    assert [ids async for ids in store.governed("33", batch=1)] == [["C1"], ["C2"]]
    assert [ids async for ids in store.with_old_holidays()] == []


# --- the reference data ---------------------------------------------------------------------------


async def test_extra_dates_are_revised_audited_and_loaded_into_the_rules(ports: Ports) -> None:
    calendars = ports.calendars
    assert await calendars.extra_dates("33.74") is None
    who = {"sub": "admin-1", "role": "admin", "pemda": None, "opd": None}
    at = wib(2026, 2, 2, 10)
    first = await calendars.replace_extra_dates("33.74", [date(2026, 8, 18)], at=at, who=who, reason="a")
    second = await calendars.replace_extra_dates("33.74", [date(2026, 8, 19)], at=at, who=who, reason="b")
    assert (first, second) == (1, 2)
    extra = await calendars.extra_dates("33.74")
    assert extra is not None and extra.dates == ["2026-08-19"] and extra.revision == 2
    assert extra.recomputed_revision == 0
    await calendars.mark_recomputed("33.74", 1)  # an older revision: not this one
    assert [e.recomputed_revision for e in await calendars.all_extra_dates()] == [0]
    await calendars.mark_recomputed("33.74", 2)
    assert [e.recomputed_revision for e in await calendars.all_extra_dates()] == [2]
    rules = SlaRules()
    assert await calendars.refresh(rules) == ["33.74"]
    assert rules.calendars.extra_dates("33.74") == {date(2026, 8, 19)}
    assert await calendars.refresh(rules) == []  # nothing new


async def test_the_holidays_pin_is_remembered(ports: Ports) -> None:
    assert await ports.calendars.holidays_version() is None
    await ports.calendars.set_holidays_version("0.99")
    assert await ports.calendars.holidays_version() == "0.99"


# --- the report store -----------------------------------------------------------------------------


async def test_committed_records_load_back_and_a_stale_one_is_refused(ports: Ports) -> None:
    k = Complaint("K1")
    events = [
        k.received(),
        k.assigned(PUPR, WIB_MON),
        k.clock(ClockStarted, "response", PUPR, WIB_MON, WIB_MON, "running"),
    ]
    assert await handle_report_events(events, ports.reports) == []
    complaints, clocks = await ports.reports.load(["K1", "K9"], ["K1/response/1"])
    assert set(complaints) == {"K1"} and set(clocks) == {"K1/response/1"}
    record = complaints["K1"]
    assert record.last_seq == 2 and record.current is not None and record.current.opd_id == PUPR
    assert clocks["K1/response/1"].state == "running"
    record2, clock_list = await ports.reports.complaint("K1")
    assert record2 == record and clock_list == [clocks["K1/response/1"]]
    assert await handle_report_events([k.event(k.assigned(DLH, day(1)).payload, day(1))], ports.reports) == []
    with pytest.raises(ConcurrentUpdate):
        await ports.reports.commit(ReportChanges(complaints=[record]))


async def test_counters_breaches_and_escalations_read_back_in_order(ports: Ports) -> None:
    events = []
    for n, opd in enumerate([PUPR, DLH, PUPR]):
        k = Complaint(f"K{n}")
        start = WIB_MON + timedelta(hours=n)
        events += [
            k.received(),
            k.assigned(opd, start),
            k.clock(ClockStarted, "response", opd, start, start, "running"),
            k.clock(SlaBreached, "response", opd, start, day(7), "breached"),
        ]
        if n == 0:
            events.append(k.clock(ClockStopped, "response", opd, start, day(8), "breached"))
        events.append(
            k.event(EscalationRaised(level=1, opd_id=opd, reason="tenggat terlewati", at=day(7)), day(7))
        )
    assert await handle_report_events(events, ports.reports) == []
    weeks = (date(2026, 3, 2), date(2026, 3, 16))
    weekly = await ports.reports.weekly(level="opd", pemda="33.74", scope=None, weeks=weeks)
    assert {d["scope"] for d in weekly} == {PUPR, DLH}
    gauges = await ports.reports.gauges(level="opd", pemda="33.74", scope=None)
    assert {d["_id"]: d.get("open") for d in gauges} == {PUPR: 2, DLH: 1}
    assert [d["_id"] for d in await ports.reports.gauges(level="opd", pemda=None, scope=DLH)] == [DLH]
    as_of = day(9)
    first = await ports.reports.breaches(BreachFilter(pemda="33.74"), as_of=as_of, cursor=None, limit=2)
    assert first.next_cursor is not None
    rest = await ports.reports.breaches(
        BreachFilter(pemda="33.74"), as_of=as_of, cursor=first.next_cursor, limit=2
    )
    order = [d["_id"] for d in first.items + rest.items]
    lates = [d["late_ms"] for d in first.items + rest.items]
    assert sorted(order) == ["K0/response/1", "K1/response/1", "K2/response/1"] and lates == sorted(
        lates, reverse=True
    )
    assert rest.next_cursor is None
    only_dlh = await ports.reports.breaches(BreachFilter(opd_id=DLH), as_of=as_of, cursor=None, limit=10)
    assert [d["_id"] for d in only_dlh.items] == ["K1/response/1"]
    page = await ports.reports.escalations(pemda="33.74", opd_id=None, cursor=None, limit=2)
    more = await ports.reports.escalations(pemda="33.74", opd_id=None, cursor=page.next_cursor, limit=2)
    assert [d["_id"] for d in page.items + more.items] == ["K0", "K1", "K2"] and more.next_cursor is None
    with pytest.raises(ValueError):
        await ports.reports.escalations(pemda=None, opd_id=None, cursor="not-ours", limit=2)
