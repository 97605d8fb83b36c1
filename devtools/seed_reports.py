"""Seed supervisor reports with realistic events, and measure the compliance summary.

The events are the ones routing (`complaints.events`) and sla (`sla.events`) publish, built by
`Story`; they reach the counters through the same handler the `sla-reports` consumer runs, either
directly into a database (`seed_store`) or as messages on the real topics (`publish_stories`).

    python -m devtools.seed_reports --mongo-uri mongodb://127.0.0.1:27017/?directConnection=true \
        --db sla --pemda 33.74 --complaints 10000 --measure

prints how long seeding took and the compliance summary's latency (p50/p95 over repeated reads
through an in-process HTTP server, as the dashboard asks for it).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from services.sla.adapters.report_store import MongoReportStore, ensure_report_indexes
from services.sla.bootstrap import add_supervisor_routes
from services.sla.entrypoints.edge import reports_state
from services.sla.handlers import handle_report_events
from shared import clock
from shared.auth import STAFF_AUTH, StaffAuth, mint
from shared.calendar import calendar_for
from shared.envelope import Envelope, Payload, new_event
from shared.events import (
    ClockEvent,
    ClockStarted,
    ClockStopped,
    ComplaintAnswered,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintReceived,
    ComplaintResolved,
    ComplaintTransferred,
    ComplaintTriaged,
    ComplaintUpdated,
    EscalationRaised,
    SlaBreached,
    SurveySubmitted,
)
from shared.http import problem_middleware
from shared.kafka import Outgoing, durable_producer, publish
from shared.mongo import mongo_client
from shared.survey import CURRENT
from shared.topics import COMPLAINTS_EVENTS, SLA_EVENTS

TARGET_HK = {"response": 5, "resolution": 5}


@dataclass
class _Clock:
    clock_id: str
    name: str
    opd_id: str
    pemda: str
    started_at: datetime
    due_at: datetime
    budget: int
    version: int = 1
    breached: bool = False


@dataclass
class Story:
    """One complaint's events in publication order: lifecycle events numbered by `seq`, and the
    clock snapshots sla would derive from them (response and resolution, 5 HK each)."""

    complaint_id: str
    pemda: str
    events: list[Envelope] = field(default_factory=list)
    seq: int = 0
    clocks: dict[str, _Clock] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)

    def _lifecycle(self, payload: Payload, at: datetime) -> None:
        self.seq += 1
        self.events.append(
            new_event(
                payload, producer="routing", complaint_id=self.complaint_id, seq=self.seq, occurred_at=at
            )
        )

    def _sla(self, payload: Payload, at: datetime) -> None:
        self.events.append(
            new_event(
                payload, producer="sla", complaint_id=self.complaint_id, seq=max(self.seq, 1), occurred_at=at
            )
        )

    def _snapshot(self, kind: type[ClockEvent], clock: _Clock, at: datetime, state: str) -> None:
        self._sla(
            kind(
                clock_id=clock.clock_id,
                clock=clock.name,
                opd_id=clock.opd_id,
                pemda=clock.pemda,
                started_at=clock.started_at,
                due_at=clock.due_at,
                budget_seconds=clock.budget,
                state=state,
                at=at,
                version=clock.version,
            ),
            at,
        )

    def received(self, at: datetime) -> Story:
        self._lifecycle(
            ComplaintReceived(
                submitted_at=at,
                title="Jalan berlubang di depan sekolah",
                description="Lubang besar di jalan depan SD Negeri 2 membahayakan pengendara motor.",
                category="jalan-jembatan",
                region_code=self.pemda,
                pemda=self.pemda,
                classification="pengaduan",
                channel="web",
                anonymous=False,
                confidential=False,
            ),
            at,
        )
        return self

    def assigned(
        self,
        opd_id: str,
        at: datetime,
        via: str = "routing",
        *,
        category: str = "jalan-jembatan",
        guess: str | None = None,
        confidence: float | None = None,
    ) -> Story:
        """Assigned to `opd_id`; `guess`/`confidence` when the classifier decided (via routing)."""
        pemda = opd_id.split("/", 1)[0]
        self._lifecycle(
            ComplaintAssigned(
                opd_id=opd_id,
                pemda=pemda,
                category=category,
                level="kabkota",
                rule="seed",
                via=via,
                guess=guess,
                confidence=confidence,
            ),
            at,
        )
        calendar = calendar_for(pemda)
        for name, hk in TARGET_HK.items():
            self.numbers[name] = self.numbers.get(name, 0) + 1
            due = calendar.due(at, hk)
            clock = _Clock(
                clock_id=f"{self.complaint_id}/{name}/{self.numbers[name]}",
                name=name,
                opd_id=opd_id,
                pemda=pemda,
                started_at=at,
                due_at=due,
                budget=int(calendar.working_time(at, due).total_seconds()),
            )
            self.clocks[name] = clock
            self._snapshot(ClockStarted, clock, at, "running")
        return self

    def triaged(self, at: datetime, guess: str | None = None, confidence: float | None = None) -> Story:
        """To the coordinator: the classifier was not confident (its `guess` below the threshold)."""
        self._lifecycle(
            ComplaintTriaged(
                pemda=self.pemda,
                category=None,
                rule="uncategorised:below-threshold",
                reason="klasifikasi otomatis kurang yakin",
                guess=guess,
                confidence=confidence,
            ),
            at,
        )
        return self

    def updated(self, category: str, at: datetime) -> Story:
        """A coordinator set the category in triage."""
        self._lifecycle(
            ComplaintUpdated(
                category=category,
                region_code=self.pemda,
                pemda=self.pemda,
                anonymous=False,
                confidential=False,
            ),
            at,
        )
        return self

    def breach(self, name: str) -> Story:
        """The clock's due passes unstopped: `SlaBreached` at the due."""
        clock = self.clocks[name]
        clock.version += 1
        clock.breached = True
        self._snapshot(SlaBreached, clock, clock.due_at, "breached")
        return self

    def stop(self, name: str, at: datetime, outcome: str | None = None) -> Story:
        """Stop a clock: `met`, or `breached` (announcing the breach first if the due passed)."""
        clock = self.clocks[name]
        if outcome is None:
            if at > clock.due_at and not clock.breached:
                self.breach(name)
            outcome = "breached" if clock.breached else "met"
        del self.clocks[name]
        clock.version += 1
        self._snapshot(ClockStopped, clock, at, outcome)
        return self

    def answered(self, opd_id: str, at: datetime) -> Story:
        self._lifecycle(
            ComplaintAnswered(opd_id=opd_id, handler="petugas-1", message="Sedang kami tangani."), at
        )
        return self.stop("response", at)

    def transferred(self, old: str, new: str, at: datetime, transfers: int = 1) -> Story:
        self._lifecycle(
            ComplaintTransferred(
                from_opd_id=old, to_opd_id=new, reason="bukan wewenang", transfers=transfers
            ),
            at,
        )
        for name in list(self.clocks):
            self.stop(name, at, "transferred")
        return self.assigned(new, at, via="transfer")

    def resolved(self, opd_id: str, at: datetime) -> Story:
        self._lifecycle(
            ComplaintResolved(opd_id=opd_id, handler="petugas-1", answer="Jalan sudah ditambal."), at
        )
        for name in list(self.clocks):
            self.stop(name, at)
        return self

    def closed(self, at: datetime, rating: int | None) -> Story:
        self._lifecycle(ComplaintClosed(outcome="feedback", rating=rating), at)
        return self

    def surveyed(self, opd_id: str, at: datetime, scores: Sequence[int]) -> Story:
        """The reporter's SKM answers (shared/survey.py), one score per element in order."""
        answers = dict(zip(CURRENT.codes, scores, strict=True))
        self._lifecycle(SurveySubmitted(opd_id=opd_id, version=CURRENT.version, scores=answers), at)
        return self

    def escalated(self, level: int, opd_id: str, at: datetime) -> Story:
        self._sla(EscalationRaised(level=level, opd_id=opd_id, reason="jam SLA melewati tenggat", at=at), at)
        return self


def working_morning(pemda: str, near: datetime, *, forward: bool = False) -> datetime:
    """10:00 local on the working day of `near` in the pemda's calendar, or the nearest one before
    it (after it with `forward`)."""
    calendar = calendar_for(pemda)
    day = calendar.local(near).date()
    step = timedelta(days=1 if forward else -1)
    while not calendar.is_working_day(day):
        day += step
    return datetime.combine(day, dt_time(10), tzinfo=calendar.tz)


def fixed_stories(pemda: str, now: datetime, prefix: str = "K") -> list[Story]:
    """A small scenario with figures a test can state by hand (response clocks, last 12 weeks):

    - `<pemda>/dinas-pupr`: 3 answered on time, 1 response breached and still open (escalated to
      level 1), and 1 received by transfer and still running → response 3 met, 1 breached (75 %);
    - `<pemda>/dlh`: 1 answered late (a closed breach, 1 day late), 1 transferred away after 1 day
      → 0 met, 1 breached (0 %), 1 transfer out;
    - `<pemda>/disdukcapil`: 2 answered and resolved on time and rated 5 and 4 → 4 met (100 %),
      satisfaction 4.5; their SKM surveys score every element 4 and 3 → IKM 87.50 (B).

    Breaches, the latest first: the open PUPR one (due ~10 days ago), then the DLH one.

    The story starts at 10:00 local on the latest working day at least 21 days before `now`, and
    "after 1 day" means the next working day at the same hour: one working day (86,400 s) whatever
    day `now` is (a weekend, Idul Fitri's cuti bersama, a year end).
    """
    pupr, dlh, dukcapil = f"{pemda}/dinas-pupr", f"{pemda}/dlh", f"{pemda}/disdukcapil"
    start = working_morning(pemda, now - timedelta(days=21))
    next_day = working_morning(pemda, start + timedelta(days=1), forward=True)
    stories: list[Story] = []

    def story(n: int) -> Story:
        s = Story(f"{prefix}{n:03d}", pemda)
        stories.append(s)
        return s

    for i in range(3):
        at = start + timedelta(hours=i)
        story(i).received(at).assigned(pupr, at).answered(pupr, at + timedelta(hours=2))
    late = story(3).received(start).assigned(pupr, start).breach("response")
    late.escalated(1, pupr, late.clocks["response"].due_at)
    answered_late = story(4).received(start).assigned(dlh, start).breach("response")
    answered_late.answered(dlh, answered_late.clocks["response"].due_at + timedelta(days=1))
    story(5).received(start).assigned(dlh, start).transferred(dlh, pupr, next_day)
    for i, rating in ((6, 5), (7, 4)):
        at = next_day
        s = story(i).received(at).assigned(dukcapil, at).answered(dukcapil, at + timedelta(hours=3))
        s.resolved(dukcapil, at + timedelta(hours=4)).closed(at + timedelta(days=1), rating)
        s.surveyed(dukcapil, at + timedelta(days=1, hours=1), [rating - 1] * 9)
    return stories


OPD_SLUGS = ("dinas-pupr", "dlh", "disdukcapil", "dinas-kesehatan", "dinas-pendidikan", "dinas-perhubungan")


def random_stories(pemda: str, now: datetime, count: int, seed: int = 7, prefix: str = "R") -> list[Story]:
    """`count` complaints over the last 12 weeks with a realistic mix of outcomes."""
    rng = random.Random(seed)
    opds = [f"{pemda}/{slug}" for slug in OPD_SLUGS]
    stories: list[Story] = []
    for n in range(count):
        at = now - timedelta(days=rng.uniform(0.5, 84))
        opd = rng.choice(opds)
        s = Story(f"{prefix}{n:07d}", pemda).received(at).assigned(opd, at)
        stories.append(s)
        roll = rng.random()
        if roll < 0.1:
            other = rng.choice([o for o in opds if o != opd])
            s.transferred(opd, other, at + timedelta(hours=rng.uniform(2, 60)))
            opd = other
        response = s.clocks["response"]
        answer_at = response.started_at + timedelta(hours=rng.expovariate(1 / 40))
        if answer_at < now:
            s.answered(opd, answer_at)
            resolve_at = answer_at + timedelta(hours=rng.expovariate(1 / 60))
            if resolve_at < now and rng.random() < 0.8:
                s.resolved(opd, resolve_at)
                if resolve_at + timedelta(days=2) < now and rng.random() < 0.5:
                    s.closed(resolve_at + timedelta(days=2), rng.choice((1, 2, 3, 4, 4, 5, 5, 5)))
            elif s.clocks["resolution"].due_at < now:
                s.breach("resolution")
        elif response.due_at < now:
            s.breach("response")
            s.escalated(1, opd, response.due_at)
    return stories


def events_of(stories: Iterable[Story]) -> list[Envelope]:
    return [e for s in stories for e in s.events]


async def seed_store(db: AsyncDatabase[dict[str, Any]], events: Sequence[Envelope], batch: int = 500) -> None:
    """Feed the events to the reports handler in consumer-sized batches (the same code path)."""
    await ensure_report_indexes(db)
    store = MongoReportStore(db)
    for i in range(0, len(events), batch):
        rejected = await handle_report_events(events[i : i + batch], store)
        if rejected:
            raise RuntimeError(f"seed events rejected: {[r.reason for r in rejected]}")


def outgoing(events: Iterable[Envelope]) -> list[Outgoing]:
    """The messages as routing and sla publish them (key = complaint id)."""
    return [
        Outgoing.of(SLA_EVENTS if e.producer == "sla" else COMPLAINTS_EVENTS, e.complaint_id or "", e)
        for e in events
    ]


async def publish_stories(bootstrap: str, events: Sequence[Envelope]) -> None:
    producer = durable_producer(bootstrap)
    await producer.start()
    try:
        await publish(producer, outgoing(events))
    finally:
        await producer.stop()


def reports_app(store: MongoReportStore | None = None) -> web.Application:
    """The supervisor routes alone, reading `store` (no consumers): for seeding and measuring."""
    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = StaffAuth()
    add_supervisor_routes(app)
    reports_state(app).store = store
    return app


async def measure(db: AsyncDatabase[dict[str, Any]], pemda: str, reads: int) -> dict[str, float]:
    """Compliance summary latency over HTTP (in-process server), milliseconds."""
    from aiohttp.test_utils import TestClient, TestServer

    token = mint("supervisor", pemda=pemda)
    async with TestClient(TestServer(reports_app(MongoReportStore(db)))) as client:
        timings = []
        for _ in range(reads):
            began = time.perf_counter()
            async with client.get(
                f"/api/v1/supervisor/compliance?pemda={pemda}", headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()
            timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    return {
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[int(0.95 * (len(timings) - 1))],
        "max_ms": timings[-1],
    }


async def _main(args: argparse.Namespace) -> None:
    client = mongo_client(args.mongo_uri)
    try:
        db = client[args.db]
        now = clock.now()
        began = time.perf_counter()
        events = events_of(random_stories(args.pemda, now, args.complaints, seed=args.seed))
        await seed_store(db, events)
        seconds = time.perf_counter() - began
        print(f"seeded {args.complaints} complaints ({len(events)} events) in {seconds:.1f}s")
        if args.measure:
            figures = await measure(db, args.pemda, args.reads)
            print("compliance summary: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()))
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.seed_reports", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--mongo-uri", required=True)
    parser.add_argument("--db", default="sla")
    parser.add_argument("--pemda", default="33.74")
    parser.add_argument("--complaints", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--measure", action="store_true")
    parser.add_argument("--reads", type=int, default=200)
    clock.install_from_environment()
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
