"""SLA detection benchmark (issue 6 item 10): breach-detection lag, and the cost of a detection
pass as the number of open clocks grows from 10,000 to 1,000,000.

What it does, for each size in `--sizes` (default 10,000 then 1,000,000):

1. **Load** open complaints up to that size, in bulk, through the replay path: each complaint's
   lifecycle facts (received, assigned to an OPD) go through the domain
   (`ComplaintClocks.apply_fact`, what the lifecycle consumer runs for each event), the result
   through `adapters/clock_store.to_doc`, and `insert_many` in chunks of 1,000. Two worker processes build and
   BSON-encode the documents while the main process inserts. Every complaint has running
   `response` and `resolution` clocks (2 open clocks each) on one of five pemdas in the three time
   zones, started within the last two days: dues and warnings spread over the coming days, none
   during the run.
2. **Idle pass**: one iteration of the detector loop with nothing due — `handlers.detect_once`
   (the indexed `next_check <= now` read) plus `next_check_at` of the clock store (the earliest `next_check`
   within the loop's 250 ms horizon, which decides how long it sleeps) — 30 times: median and p95.
3. **Busy pass**: 200 complaints whose resolution due has just passed are added; one
   `detect_once` takes all 200 (read, domain, rev-guarded bulk write, acks=all publish of their
   `SlaBreached` + `EscalationRaised`, confirm). Three rounds: median.
4. **Lag**: the detector loop the service runs (`entrypoints/workers.run_detector`, max sleep 250 ms) is
   started, and a slice of complaints whose dues fall 5–25 s later is added. A consumer on
   `sla.events` records, for each `SlaBreached` of the slice, the wall clock at receipt minus the
   due instant: p50, p99 and max.
5. **Burst**: the same with `--burst` complaints (default 1,000) all due at one instant, as dues
   are at a local midnight: the lag of the last breach is the time the detector needs to drain it.

6. **Compliance summary** (`bench/summary.py`, after the phases above): the supervisor
   reports seeded through the `sla-reports` handler up to `--summary-sizes` complaints (default
   10,000 then 1,000,000), and the compliance summary read over HTTP: p50/p95/max for a pemda
   supervisor and for an admin across pemdas.

Dues inside the run come out of the domain's own rules: each slice complaint was asked for
information just before its resolution due on an earlier working day (leaving R seconds of working
time), and the reporter answered now, so the resumed due is now + R — a mid-day due, in a zone where
today is a working day. If today is a working day nowhere (or too close to local midnight), a
service standard of 0 HK for a bench OPD is used instead (the due is then the assignment instant).

Servers: its own Kafka and secantusd-rs via `devtools.infra.native_stack` (profile `bench-sla`,
ports 39392/39393/38317, data under `.run/bench-sla`, wiped first), stopped at the end.

    .venv/bin/python -m bench.sla                       # 10k then 1M (the 1M load takes minutes)
    .venv/bin/python -m bench.sla --sizes 10000,100000  # a shorter run
    .venv/bin/python -m bench.sla --sizes '' --summary-sizes 10000,1000000  # the summary alone
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import bson
from aiokafka import AIOKafkaConsumer, TopicPartition
from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.database import AsyncDatabase

from bench.summary import report as summary_report
from bench.summary import run_summary
from devtools import infra
from services.sla.adapters.clock_store import COLLECTION, MongoClockStore, ensure_indexes, to_doc
from services.sla.adapters.reference import STANDARDS, MongoCalendars
from services.sla.bootstrap import mongo_sla
from services.sla.domain.complaint import ComplaintClocks
from services.sla.domain.facts import Fact
from services.sla.domain.standards import SlaRules
from services.sla.domain.targets import ms
from services.sla.entrypoints.workers import DetectorSettings, run_detector
from services.sla.handlers import detect_once
from shared.calendar import WorkingCalendar
from shared.envelope import decode
from shared.events import ComplaintAssigned, ComplaintReceived, InformationAdded, InformationRequested
from shared.kafka import ensure_topics
from shared.runtime import Infra, open_infra
from shared.topics import COMPLAINT_PARTITIONS, SLA_EVENTS

PROFILE = "bench-sla"
PORTS = infra.Ports(kafka=39392, kafka_controller=39393, mongo=38317)
DB = "bench_sla"
REPORTS_DB = "bench_sla_reports"  # the supervisor counters, apart from the clocks
PEMDAS = ("33.74", "31.71", "64.01", "73.71", "94.71")  # WIB, WIB, WITA, WITA, WIT
ZONE_PEMDAS = ("33.74", "64.01", "94.71")
FAST_OPD_SLUG = "bench-kilat"  # the fallback: a 0-HK response standard for this OPD
CHUNK = 1000


# --- building complaints through the domain ----------------------------------------------------------


def _received(seq: int, at: datetime, pemda: str) -> Fact:
    return Fact(
        seq=seq, at=at, kind=ComplaintReceived.TYPE, pemda=pemda, category="jalan-jembatan", submitted_at=at
    )


def _assigned(seq: int, at: datetime, opd: str) -> Fact:
    pemda = opd.split("/", 1)[0]
    return Fact(
        seq=seq,
        at=at,
        kind=ComplaintAssigned.TYPE,
        pemda=pemda,
        opd_id=opd,
        category="jalan-jembatan",
        tier="normatif",
        via="routing",
    )


def _replayed(complaint_id: str, facts: list[Fact], rules: SlaRules) -> ComplaintClocks:
    clocks = ComplaintClocks(complaint_id)
    for fact in facts:
        clocks.apply_fact(fact, rules)  # what the consumer runs for each lifecycle event
    return clocks


_WORKER_RULES: SlaRules | None = None


def build_background(first: int, count: int, now_ms: int) -> list[bytes]:
    """Worker: `count` open complaints built by the domain, as BSON documents."""
    global _WORKER_RULES
    rules = _WORKER_RULES = _WORKER_RULES or SlaRules()
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    docs = []
    for i in range(first, first + count):
        pemda = PEMDAS[i % len(PEMDAS)]
        # Started within the last two days (a fixed spread by index): 5-HK dues and the 75 %
        # warnings fall over the coming days.
        t0 = ms(now - timedelta(seconds=(i * 7919) % (2 * 86400)))
        facts = [_received(1, t0, pemda), _assigned(2, t0 + timedelta(minutes=1), f"{pemda}/dinas-pupr")]
        clocks = _replayed(f"BG{i:09d}", facts, rules)
        docs.append(bson.encode(to_doc(clocks, [], 1)))
    return docs


@dataclass(frozen=True)
class Slicer:
    """Builds complaints whose resolution falls due at a chosen instant."""

    pemda: str | None  # the zone where today is a working day; None: the 0-HK fallback
    calendar: WorkingCalendar | None
    last: date | None  # the latest working day before today (local)
    start: date | None  # 5 working days before `last`

    @classmethod
    def choose(cls, rules: SlaRules, now: datetime, horizon: timedelta) -> Slicer:
        for pemda in ZONE_PEMDAS:
            cal = rules.calendar(pemda)
            local = cal.local(now)
            midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), tzinfo=cal.tz)
            if not cal.is_working_day(local.date()) or local + horizon >= midnight:
                continue
            last = local.date() - timedelta(days=1)
            while not cal.is_working_day(last):
                last -= timedelta(days=1)
            start, n = last, 5
            while n:
                start -= timedelta(days=1)
                n -= cal.is_working_day(start)
            return cls(pemda, cal, last, start)
        return cls(None, None, None, None)

    def facts(self, due: datetime, resumed: datetime) -> list[Fact]:
        due, resumed = ms(due), ms(resumed)
        if self.pemda is None or self.calendar is None or self.last is None or self.start is None:
            opd = f"33.74/{FAST_OPD_SLUG}"  # 0-HK response: due at the assignment itself
            return [_received(1, due - timedelta(seconds=1), "33.74"), _assigned(2, due, opd)]
        tz = self.calendar.tz
        t0 = datetime.combine(self.start, datetime.min.time(), tzinfo=tz) + timedelta(hours=10)
        end_of_last = datetime.combine(self.last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        remaining = due - resumed  # working time left when the reporter answered
        return [
            _received(1, t0, self.pemda),
            _assigned(2, t0 + timedelta(minutes=1), f"{self.pemda}/dinas-pupr"),
            Fact(
                seq=3,
                at=end_of_last - remaining,
                kind=InformationRequested.TYPE,
                opd_id=f"{self.pemda}/dinas-pupr",
            ),
            Fact(seq=4, at=resumed, kind=InformationAdded.TYPE),
        ]


# --- measuring -----------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@dataclass
class Phase:
    size: int
    load_seconds: float = 0.0
    load_rate: float = 0.0
    idle_ms: list[float] = field(default_factory=list)
    busy_ms: list[float] = field(default_factory=list)
    busy_taken: list[int] = field(default_factory=list)
    lags_ms: list[float] = field(default_factory=list)
    slice: int = 0
    burst_lags_ms: list[float] = field(default_factory=list)
    burst: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "open_complaints": self.size,
            "open_clocks": 2 * self.size,
            "load_seconds": round(self.load_seconds, 1),
            "load_docs_per_s": round(self.load_rate),
            "idle_pass_ms_p50": round(statistics.median(self.idle_ms), 2),
            "idle_pass_ms_p95": round(pct(self.idle_ms, 95), 2),
            "busy_pass_ms_p50": round(statistics.median(self.busy_ms), 1),
            "busy_pass_complaints": self.busy_taken,
            "lag_ms_p50": round(pct(self.lags_ms, 50), 1) if self.lags_ms else None,
            "lag_ms_p99": round(pct(self.lags_ms, 99), 1) if self.lags_ms else None,
            "lag_ms_max": round(max(self.lags_ms), 1) if self.lags_ms else None,
            "breaches_seen": f"{len(self.lags_ms)}/{self.slice}",
            "burst_lag_ms_p50": round(pct(self.burst_lags_ms, 50), 1) if self.burst_lags_ms else None,
            "burst_lag_ms_p99": round(pct(self.burst_lags_ms, 99), 1) if self.burst_lags_ms else None,
            "burst_lag_ms_max": round(max(self.burst_lags_ms), 1) if self.burst_lags_ms else None,
            "burst_seen": f"{len(self.burst_lags_ms)}/{self.burst}",
        }


async def load(db: AsyncDatabase[dict[str, Any]], pool: ProcessPoolExecutor, first: int, count: int) -> float:
    """Insert `count` background complaints; returns the seconds it took."""
    collection = db.get_collection(COLLECTION)
    now_ms = int(time.time() * 1000)
    began = time.perf_counter()
    chunks = iter(range(first, first + count, CHUNK))
    pending: list[Future[list[bytes]]] = []

    def submit() -> None:
        start = next(chunks, None)
        if start is not None:
            pending.append(pool.submit(build_background, start, min(CHUNK, first + count - start), now_ms))

    for _ in range(6):  # keep both workers busy while the main process inserts
        submit()
    done = 0
    while pending:
        raw = await asyncio.wrap_future(pending.pop(0))
        submit()
        await collection.insert_many([RawBSONDocument(b) for b in raw], ordered=False)
        done += len(raw)
        if done % 50_000 < CHUNK:
            elapsed = time.perf_counter() - began
            print(f"  loaded {first + done:,} ({done / elapsed:,.0f} docs/s)", file=sys.stderr, flush=True)
    return time.perf_counter() - began


async def idle_passes(store: MongoClockStore, infra_: Infra, rules: SlaRules, phase: Phase) -> None:
    for _ in range(30):
        began = time.perf_counter()
        now = datetime.now(UTC)
        taken = await detect_once(store, infra_.publish, rules, now, 500)
        upcoming = await store.next_check_at(now + timedelta(seconds=DetectorSettings().max_sleep))
        phase.idle_ms.append((time.perf_counter() - began) * 1000)
        assert taken == 0 and upcoming is None, f"{taken} complaints unexpectedly due"


async def busy_passes(
    store: MongoClockStore, infra_: Infra, rules: SlaRules, slicer: Slicer, phase: Phase
) -> None:
    for round_ in range(3):
        now = datetime.now(UTC)
        batch = [
            _replayed(
                f"DUE{phase.size}-{round_}-{i:04d}",
                slicer.facts(
                    now - timedelta(seconds=60) + timedelta(milliseconds=i), now - timedelta(seconds=120)
                ),
                rules,
            )
            for i in range(200)
        ]
        await store.insert_replayed(batch)
        began = time.perf_counter()
        taken = await detect_once(store, infra_.publish, rules, datetime.now(UTC), 500)
        phase.busy_ms.append((time.perf_counter() - began) * 1000)
        phase.busy_taken.append(taken)


@contextlib.asynccontextmanager
async def detector_running(infra_: Infra, rules: SlaRules) -> Any:
    task = asyncio.create_task(run_detector(mongo_sla(infra_.db, infra_.publish, rules), DetectorSettings()))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def lag(
    infra_: Infra, rules: SlaRules, slicer: Slicer, prefix: str, count: int, spread: float
) -> list[float]:
    """Lags (ms) from each due to its `SlaBreached` on `sla.events`, for `count` complaints due
    5 s from now and over the next `spread` seconds."""
    lags: list[float] = []
    consumer = AIOKafkaConsumer(bootstrap_servers=infra_.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(SLA_EVENTS, p) for p in range(COMPLAINT_PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        async with detector_running(infra_, rules):
            now = datetime.now(UTC)
            first = now + timedelta(seconds=5)
            complaints = [
                _replayed(
                    f"{prefix}{i:05d}",
                    slicer.facts(first + timedelta(seconds=spread) * i / count, now),
                    rules,
                )
                for i in range(count)
            ]
            await MongoClockStore(infra_.db).insert_replayed(complaints)
            seen: set[str] = set()
            deadline = time.monotonic() + 120
            while len(seen) < count and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                received = time.time()
                for messages in batches.values():
                    for m in messages:
                        if not (m.key or b"").startswith(prefix.encode()):
                            continue
                        event = decode(m.value or b"")
                        if event.type == "SlaBreached" and event.complaint_id not in seen:
                            seen.add(event.complaint_id or "")
                            lags.append((received - event.payload.at.timestamp()) * 1000)  # type: ignore[attr-defined]
    finally:
        await consumer.stop()
    return lags


async def run(ends: infra.Endpoints, sizes: list[int], slice_count: int, burst: int) -> list[Phase]:
    await ensure_topics(ends.kafka_bootstrap)
    async with open_infra(
        kafka_bootstrap=ends.kafka_bootstrap, mongo_uri=ends.mongo_uri, db_name=DB
    ) as infra_:
        await ensure_indexes(infra_.db)
        rules = SlaRules()
        slicer = Slicer.choose(rules, datetime.now(UTC), timedelta(hours=1))
        if slicer.pemda is None:
            await infra_.db[STANDARDS].insert_one(
                {"clock": "response", "hk": 0, "opd_id": f"33.74/{FAST_OPD_SLUG}"}
            )
            await MongoCalendars(infra_.db).refresh(rules)
        print(
            f"dues in the run: {'resumed clocks in ' + slicer.pemda if slicer.pemda else '0-HK standard'}",
            file=sys.stderr,
        )
        store = MongoClockStore(infra_.db)
        phases = []
        loaded = 0
        with ProcessPoolExecutor(max_workers=2) as pool:
            for size in sizes:
                phase = Phase(size)
                print(f"phase {size:,}: loading {size - loaded:,} complaints", file=sys.stderr, flush=True)
                phase.load_seconds = await load(infra_.db, pool, loaded, size - loaded)
                phase.load_rate = (size - loaded) / phase.load_seconds
                loaded = size
                await idle_passes(store, infra_, rules, phase)
                await busy_passes(store, infra_, rules, slicer, phase)
                phase.slice, phase.burst = slice_count, burst
                phase.lags_ms = await lag(infra_, rules, slicer, f"LAG{size}-", slice_count, spread=20.0)
                phase.burst_lags_ms = await lag(infra_, rules, slicer, f"BURST{size}-", burst, spread=0.0)
                phases.append(phase)
                print(json.dumps(phase.summary()), file=sys.stderr, flush=True)
        return phases


def report(phases: list[Phase]) -> None:
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    header = (
        f"{'complaints':>10} {'open clocks':>12} {'load docs/s':>11} {'idle pass p50':>13} "
        f"{'busy pass p50':>13} {'lag p50':>8} {'lag p99':>8} {'lag max':>8} {'breaches':>9} "
        f"{'burst p50':>10} {'burst max':>10}"
    )
    print(header)
    for p in phases:
        s = p.summary()
        print(
            f"{s['open_complaints']:>10,} {s['open_clocks']:>12,} {s['load_docs_per_s']:>11,} "
            f"{s['idle_pass_ms_p50']:>10.2f} ms {s['busy_pass_ms_p50']:>10.1f} ms "
            f"{s['lag_ms_p50']:>5} ms {s['lag_ms_p99']:>5} ms "
            f"{s['lag_ms_max']:>5} ms {s['breaches_seen']:>9} {s['burst_lag_ms_p50']:>7} ms "
            f"{s['burst_lag_ms_max']:>7} ms ({s['burst_seen']})"
        )
    if len(phases) >= 2:
        small, large = phases[0].summary(), phases[-1].summary()
        idle = large["idle_pass_ms_p50"] / small["idle_pass_ms_p50"]
        busy = large["busy_pass_ms_p50"] / small["busy_pass_ms_p50"]
        print(
            f"pass cost ratio {large['open_clocks']:,} / {small['open_clocks']:,} open clocks: "
            f"idle {idle:.2f}, busy (200 due) {busy:.2f}  (target <= 2)"
        )
    print(json.dumps([p.summary() for p in phases]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sla", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="open complaints per phase, ascending")
    parser.add_argument("--slice", type=int, default=300, help="complaints falling due during each lag run")
    parser.add_argument("--burst", type=int, default=1000, help="complaints due at one instant")
    parser.add_argument(
        "--summary-sizes", default="10000,1000000", help="complaints per summary phase ('' skips)"
    )
    parser.add_argument("--reads", type=int, default=200, help="compliance summary reads per phase")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    summary_sizes = [int(s) for s in args.summary_sizes.split(",") if s]
    with infra.native_stack(PROFILE, PORTS, fresh=True) as ends:
        phases = asyncio.run(run(ends, sizes, args.slice, args.burst)) if sizes else []
        summaries = asyncio.run(run_summary(ends.mongo_uri, REPORTS_DB, summary_sizes, args.reads))
    if phases:
        report(phases)
    if summaries:
        summary_report(summaries)


if __name__ == "__main__":
    main()
