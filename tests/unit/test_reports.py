"""Supervisor counters with an in-memory store: idempotency, attribution, percentiles, aging."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pymongo import AsyncMongoClient, DeleteOne

from devtools.seed_reports import reports_app
from services.sla.adapters.report_store import MongoReportStore, projection_writes
from services.sla.domain.figures import summarize
from services.sla.domain.reports import (
    HK,
    RT_EDGES,
    ReportChanges,
    aging_buckets,
    percentile,
    rt_bucket,
    week_start,
)
from services.sla.handlers import handle_report_events
from shared.auth import mint
from shared.calendar import calendar_for
from shared.envelope import Envelope, Payload, new_event
from shared.events import (
    BreachRetracted,
    CalendarChanged,
    ClockEvent,
    ClockStarted,
    ClockStopped,
    ComplaintAnswered,
    ComplaintAssigned,
    ComplaintClaimed,
    ComplaintClosed,
    ComplaintReceived,
    ComplaintResolved,
    ComplaintTransferred,
    EscalationRaised,
    SlaBreached,
)
from shared.faults import ConcurrentUpdate
from tests import sla_fakes

WIB_MON = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Monday 2 March 2026, 10:00 WIB (week 2026-W10)
PEMDA = "33.74"
PUPR, DLH = "33.74/dinas-pupr", "33.74/dlh"
CAL = calendar_for(PEMDA)
WEEK = "2026-03-02"


class FakeReportStore(sla_fakes.FakeReportStore):
    """The shared fake (tests/sla_fakes.py) with readings of its counters for these tests."""

    def counters(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return copy.deepcopy(self.weekly_docs), copy.deepcopy(self.gauge_docs)

    def week(self, scope: str, monday: str = WEEK) -> dict[str, Any]:
        return self.weekly_docs.get(f"{scope}|{monday}", {})

    def gauge(self, scope: str) -> dict[str, Any]:
        return self.gauge_docs.get(scope, {})


class Complaint:
    """Builds one complaint's lifecycle events (seq numbered) and its clocks' snapshots."""

    def __init__(self, complaint_id: str) -> None:
        self.id = complaint_id
        self.seq = 0
        self.versions: dict[str, int] = {}

    def event(self, payload: Payload, at: datetime) -> Envelope:
        self.seq += 1
        return new_event(payload, producer="routing", complaint_id=self.id, seq=self.seq, occurred_at=at)

    def received(self, at: datetime = WIB_MON) -> Envelope:
        return self.event(
            ComplaintReceived(
                submitted_at=at,
                title="Jalan berlubang",
                description="Lubang besar di Jl. Pemuda depan SD Negeri 2.",
                category="jalan-jembatan",
                region_code="33.74.01.1001",
                pemda=PEMDA,
                classification="pengaduan",
                channel="web",
                anonymous=False,
                confidential=False,
            ),
            at,
        )

    def assigned(self, opd: str, at: datetime, via: str = "routing") -> Envelope:
        return self.event(
            ComplaintAssigned(
                opd_id=opd, pemda=PEMDA, category="jalan-jembatan", level="kabkota", rule="r", via=via
            ),
            at,
        )

    def transferred(self, old: str, new: str, at: datetime, n: int = 1) -> Envelope:
        return self.event(
            ComplaintTransferred(from_opd_id=old, to_opd_id=new, reason="bukan wewenang", transfers=n), at
        )

    def resolved(self, opd: str, at: datetime) -> Envelope:
        return self.event(ComplaintResolved(opd_id=opd, handler="h1", answer="Sudah diperbaiki."), at)

    def closed(self, at: datetime, rating: int | None = None, outcome: str = "feedback") -> Envelope:
        return self.event(ComplaintClosed(outcome=outcome, rating=rating), at)  # type: ignore[arg-type]

    def clock(
        self,
        kind: type[ClockEvent],
        name: str,
        opd: str | None,
        start: datetime,
        at: datetime,
        state: str,
        number: int = 1,
        hk: int = 5,
        version: int | None = None,
        **extra: Any,
    ) -> Envelope:
        clock_id = f"{self.id}/{name}/{number}"
        if version is None:
            version = self.versions.get(clock_id, 0) + 1
        self.versions[clock_id] = max(version, self.versions.get(clock_id, 0))
        due = CAL.due(start, hk)
        payload = kind(
            clock_id=clock_id,
            clock=name,
            opd_id=opd,
            pemda=PEMDA,
            started_at=start,
            due_at=due,
            budget_seconds=int(CAL.working_time(start, due).total_seconds()),
            state=state,
            at=at,
            version=version,
            **extra,
        )
        return new_event(payload, producer="sla", complaint_id=self.id, seq=self.seq or 1, occurred_at=at)


def day(n: int, hour: int = 10) -> datetime:
    """n days after Monday 2 March 2026, at `hour` WIB."""
    return WIB_MON + timedelta(days=n, hours=hour - 10)


async def run(store: FakeReportStore, *batches: Sequence[Envelope]) -> None:
    for batch in batches:
        assert await handle_report_events(list(batch), store) == []


def answered_on_time(k: Complaint, opd: str, answered: datetime) -> list[Envelope]:
    return [
        k.received(),
        k.assigned(opd, WIB_MON),
        k.clock(ClockStarted, "response", opd, WIB_MON, WIB_MON, "running"),
        k.clock(ClockStarted, "resolution", opd, WIB_MON, WIB_MON, "running"),
        k.event(ComplaintClaimed(opd_id=opd, handler="h1"), answered - timedelta(hours=1)),
        k.event(ComplaintAnswered(opd_id=opd, handler="h1", message="Sedang ditangani."), answered),
        k.clock(ClockStopped, "response", opd, WIB_MON, answered, "met"),
    ]


# --- idempotency --------------------------------------------------------------------------------


async def test_a_redelivered_batch_changes_no_counter() -> None:
    store = FakeReportStore()
    events = answered_on_time(Complaint("K1"), PUPR, day(1))
    await run(store, events)
    before = store.counters()
    assert store.week(PUPR)["response_met"] == 1 and store.week(PEMDA)["response_met"] == 1
    await run(store, events, events[2:5], events[::-1])
    assert store.counters() == before


async def test_one_event_at_a_time_or_all_at_once_gives_the_same_counters() -> None:
    events = answered_on_time(Complaint("K1"), PUPR, day(1)) + answered_on_time(Complaint("K2"), DLH, day(2))
    together, apart = FakeReportStore(), FakeReportStore()
    await run(together, events)
    await run(apart, *[[e] for e in events])
    assert together.counters() == apart.counters()
    assert together.gauge(PUPR)["open"] == 1 and together.gauge(PEMDA)["open"] == 2


async def test_an_older_clock_snapshot_after_a_newer_one_is_ignored() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    started = k.clock(ClockStarted, "response", PUPR, WIB_MON, WIB_MON, "running")
    stopped = k.clock(ClockStopped, "response", PUPR, WIB_MON, day(1), "met")
    await run(store, [started, stopped], [started])
    assert store.clocks["K1/response/1"].state == "met"
    assert store.week(PUPR)["response_met"] == 1


async def test_a_stale_write_is_refused_so_the_batch_is_retried() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    await run(store, [k.received()])
    stale = (await store.load(["K1"], []))[0]["K1"]
    await run(store, [k.assigned(PUPR, WIB_MON)])
    stale.last_seq = 5
    with pytest.raises(ConcurrentUpdate):
        await store.commit(ReportChanges(complaints=[stale]))


# --- clocks: met, breached, attribution -----------------------------------------------------------


async def test_a_breach_counts_in_the_week_of_its_due_and_stays_with_the_opd_through_a_transfer() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    due = CAL.due(WIB_MON, 5)  # end of Mon 9 March: a breach in week 2026-W11
    await run(
        store,
        [
            k.received(),
            k.assigned(DLH, WIB_MON),
            k.clock(ClockStarted, "response", DLH, WIB_MON, WIB_MON, "running"),
            k.clock(SlaBreached, "response", DLH, WIB_MON, due, "breached"),
        ],
    )
    assert store.week(DLH, "2026-03-09")["response_breached"] == 1
    assert store.gauge(DLH)["breached_response"] == 1 and store.gauge(PEMDA)["breached_response"] == 1
    late = due + timedelta(days=1)
    await run(
        store,
        [
            k.transferred(DLH, PUPR, late),
            k.clock(ClockStopped, "response", DLH, WIB_MON, late, "transferred"),
            k.assigned(PUPR, late, via="transfer"),
            k.clock(ClockStarted, "response", PUPR, late, late, "running", number=2),
        ],
    )
    assert store.week(DLH, "2026-03-09")["response_breached"] == 1  # the breach stays with DLH
    assert store.gauge(DLH)["breached_response"] == 0  # but it is no longer an open breached clock
    assert store.week(PUPR, "2026-03-09").get("response_breached", 0) == 0
    breach = store.breach_docs["K1/response/1"]
    assert breach["opd_id"] == DLH and breach["late_ms"] == 86400 * 1000 and not breach["open"]


async def test_a_retracted_breach_leaves_the_counters_and_the_breach_list() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    due = CAL.due(WIB_MON, 5)
    await run(
        store,
        [
            k.clock(ClockStarted, "resolution", PUPR, WIB_MON, WIB_MON, "running"),
            k.clock(SlaBreached, "resolution", PUPR, WIB_MON, due, "breached"),
        ],
    )
    assert "K1/resolution/1" in store.breach_docs
    await run(
        store,
        [
            k.clock(
                BreachRetracted, "resolution", PUPR, WIB_MON, due, "running", hk=6, reason="kalender berubah"
            ),
            k.clock(ClockStopped, "resolution", PUPR, WIB_MON, due + timedelta(hours=5), "met", hk=6),
        ],
    )
    assert store.week(PUPR, "2026-03-09")["resolution_breached"] == 0
    assert store.week(PUPR, "2026-03-09")["resolution_met"] == 1
    assert store.gauge(PUPR)["breached_resolution"] == 0
    assert "K1/resolution/1" not in store.breach_docs


async def test_the_stored_lists_are_written_only_where_an_entry_exists_or_may_exist() -> None:
    """MongoDB side: a retracted breach is removed; a clock never breached and a complaint never
    escalated get no write to the lists at all."""
    store = FakeReportStore()
    k, calm = Complaint("K1"), Complaint("K2")
    due = CAL.due(WIB_MON, 5)
    await run(
        store,
        [
            k.received(),
            k.assigned(PUPR, WIB_MON),
            k.clock(ClockStarted, "resolution", PUPR, WIB_MON, WIB_MON, "running"),
            k.clock(SlaBreached, "resolution", PUPR, WIB_MON, due, "breached"),
            calm.received(),
            calm.assigned(PUPR, WIB_MON),
            calm.clock(ClockStarted, "resolution", PUPR, WIB_MON, WIB_MON, "running"),
        ],
    )
    assert store.last_changes is not None
    breaches, escalations = projection_writes(store.last_changes)
    assert [type(op).__name__ for op in breaches] == ["ReplaceOne"] and escalations == []
    await run(
        store,
        [
            k.clock(
                BreachRetracted, "resolution", PUPR, WIB_MON, due, "running", hk=6, reason="kalender berubah"
            ),
            calm.clock(ClockStopped, "resolution", PUPR, WIB_MON, day(2), "met"),
        ],
    )
    assert store.last_changes is not None
    breaches, escalations = projection_writes(store.last_changes)
    assert breaches == [DeleteOne({"_id": "K1/resolution/1"})] and escalations == []


async def test_verification_clocks_count_for_the_pemda_coordinator() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    await run(
        store,
        [
            k.clock(ClockStarted, "verification", None, WIB_MON, WIB_MON, "running", hk=3),
            k.clock(ClockStopped, "verification", None, WIB_MON, day(1), "met", hk=3),
            k.clock(ClockStarted, "reporter_reply", None, WIB_MON, WIB_MON, "running", hk=10),
        ],
    )
    assert store.week(f"{PEMDA}/admin-koordinator")["verification_met"] == 1
    assert store.week(PEMDA)["verification_met"] == 1
    assert all("reporter_reply" not in key for key in store.week(PEMDA))


# --- transfers, misrouting, satisfaction ----------------------------------------------------------


async def test_a_transfer_counts_for_the_opd_that_gave_the_complaint_away_with_its_working_time() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    await run(store, [k.received(), k.assigned(DLH, WIB_MON)])
    assert store.gauge(DLH)["open_days"] == {"2026-03-02": 1}
    await run(
        store,
        [
            k.transferred(DLH, PUPR, day(2)),  # Mon 10:00 → Wed 10:00 WIB: 2 HK held
            k.assigned(PUPR, day(2), via="transfer"),
        ],
    )
    assert store.week(DLH)["transfers_out"] == 1
    assert store.week(DLH)["misrouted_s"] == 2 * HK
    assert store.week(PEMDA)["assigned"] == 2 and store.week(PUPR)["assigned"] == 1
    assert store.gauge(DLH).get("open", 0) == 0 and store.gauge(PUPR)["open"] == 1
    assert store.gauge(PUPR)["open_days"] == {"2026-03-04": 1}
    assert store.gauge(DLH)["open_days"] == {}  # emptied dates are dropped
    assert store.complaints["K1"].holdings[0].working_ms == 2 * HK * 1000


async def test_a_rating_counts_for_the_opd_that_resolved_the_complaint() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    await run(
        store,
        [
            k.received(),
            k.assigned(DLH, WIB_MON),
            k.transferred(DLH, PUPR, day(1)),
            k.assigned(PUPR, day(1), via="transfer"),
            k.resolved(PUPR, day(2)),
            k.closed(day(3), rating=4),
        ],
    )
    assert store.week(PUPR)["rating"] == {"4": 1}
    assert store.week(PUPR)["rating_n"] == 1 and store.week(PUPR)["rating_sum"] == 4
    assert "rating" not in store.week(DLH)
    assert store.gauge(PUPR).get("open", 0) == 0


async def test_a_withdrawal_is_no_rating_and_ends_the_open_holding() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    await run(store, [k.received(), k.assigned(PUPR, WIB_MON), k.closed(day(1), outcome="withdrawn")])
    assert store.gauge(PUPR).get("open", 0) == 0 and "rating_n" not in store.week(PUPR)


# --- escalations --------------------------------------------------------------------------------


async def test_an_escalated_complaint_counts_until_resolved_and_a_redelivered_raise_changes_nothing() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    raised = new_event(
        EscalationRaised(level=1, opd_id=PUPR, reason="respons terlambat", at=day(8)),
        producer="sla",
        complaint_id="K1",
        seq=2,
        occurred_at=day(8),
    )
    await run(store, [k.received(), k.assigned(PUPR, WIB_MON), raised], [raised])
    assert store.gauge(PUPR)["escalated"] == 1 and store.gauge(PUPR)["level_1"] == 1
    assert store.escalation_docs["K1"]["level"] == 1 and store.escalation_docs["K1"]["opd_id"] == PUPR
    await run(store, [k.resolved(PUPR, day(9))])
    assert store.gauge(PUPR)["escalated"] == 0 and "K1" not in store.escalation_docs


# --- what is refused or ignored -------------------------------------------------------------------


async def test_malformed_codes_go_to_the_dead_letter_topic_and_calendar_changes_are_ignored() -> None:
    store = FakeReportStore()
    k = Complaint("K1")
    bad = k.assigned("99.99/dinas-x", WIB_MON)
    calendar = new_event(
        CalendarChanged(pemda=PEMDA, extra_dates=[date(2026, 3, 5)], holidays_version="0.108", revision=1),
        producer="sla",
        complaint_id=None,
    )
    rejected = await handle_report_events([bad, calendar], store)
    assert [r.envelope for r in rejected] == [bad]
    assert store.commits == 0


# --- reading: percentiles, aging, rows ------------------------------------------------------------


def test_percentiles_interpolate_inside_the_bucket() -> None:
    hist = [0] * len(RT_EDGES)
    one_day = rt_bucket(HK)  # [1 HK, 1.5 HK)
    hist[one_day] = 10
    assert percentile(hist, 0.5) == pytest.approx(HK + 0.5 * HK / 2)
    assert percentile(hist, 0.9) == pytest.approx(HK + 0.9 * HK / 2)
    hist[rt_bucket(3 * HK)] = 10  # half the answers at [3, 3.5) HK
    assert percentile(hist, 0.5) == pytest.approx(1.5 * HK)  # the top of the lower bucket
    assert percentile(hist, 0.9) == pytest.approx(3 * HK + 0.8 * HK / 2)
    assert percentile([0] * len(RT_EDGES), 0.5) is None
    assert rt_bucket(0) == 0 and rt_bucket(10**9) == len(RT_EDGES) - 1


async def test_response_times_fill_the_histogram_of_the_week_they_stopped_in() -> None:
    store = FakeReportStore()
    for i, hours in enumerate((2, 30, 50)):  # answered after 2 h, 30 h and 50 h of working time
        await run(store, answered_on_time(Complaint(f"K{i}"), PUPR, WIB_MON + timedelta(hours=hours)))
    week = store.week(PUPR)
    assert week["rt_n"] == 3 and week["rt_sum"] == (2 + 30 + 50) * 3600
    row = summarize(PUPR, PEMDA, [week], store.gauge(PUPR), date(2026, 3, 4))
    assert row["response"]["met"] == 3 and row["response"]["on_time_pct"] == 100.0
    # ranks: 2 h in [2 h, 4 h), 30 h in [24 h, 36 h), 50 h in [48 h, 60 h): the median interpolates
    # halfway into the middle bucket, p90 at 70 % of the last one.
    assert row["response"]["median_seconds"] == 30 * 3600
    assert row["response"]["p90_seconds"] == round((48 + 0.7 * 12) * 3600)
    assert row["open"] == 3 and row["aging"] == {"lt_3": 3, "3_5": 0, "5_10": 0, "gt_10": 0}


def test_aging_counts_working_days_after_the_assignment_date() -> None:
    today = date(2026, 3, 6)  # Friday
    open_days = {
        "2026-03-06": 1,  # today: 0 HK
        "2026-03-05": 0,  # emptied: ignored
        "2026-03-02": 2,  # Monday: 3, 4, 5, 6 March → 4 HK
        "2026-02-25": 1,  # 26, 27 Feb and 2–6 March → 7 HK
        "2026-02-13": 4,  # more than 10 HK (Imlek 17 Feb in between)
    }
    assert aging_buckets(open_days, PEMDA, today) == {"lt_3": 1, "3_5": 2, "5_10": 1, "gt_10": 4}
    assert aging_buckets({"2026-03-06": 1}, PEMDA, date(2026, 3, 9)) == {
        "lt_3": 1,
        "3_5": 0,
        "5_10": 0,
        "gt_10": 0,
    }


def test_weeks_are_local_iso_weeks() -> None:
    sunday_night_wib = datetime(2026, 3, 8, 16, 30, tzinfo=UTC)  # Sun 23:30 WIB, Mon 00:30 WITA
    assert week_start(sunday_night_wib, "33.74") == date(2026, 3, 2)
    assert week_start(sunday_night_wib, "64.01") == date(2026, 3, 9)


async def test_an_unreachable_database_is_a_503_with_retry_after() -> None:
    nowhere: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200&connectTimeoutMS=200"
    )
    app = reports_app(MongoReportStore(nowhere["sla"]))
    token = mint("supervisor", pemda=PEMDA)
    async with TestClient(TestServer(app)) as client:
        async with client.get(
            "/api/v1/supervisor/compliance", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 503 and resp.headers["Retry-After"] == "5"
            assert resp.content_type == "application/problem+json"
        async with client.get("/api/v1/supervisor/compliance") as resp:
            assert resp.status == 401
    await nowhere.close()
