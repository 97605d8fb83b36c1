"""The supervisor compliance summary's latency as the reports grow to 1,000,000 complaints
(issue 6 item 10, last figure); `bench/sla.py` runs it after its detection phases.

For each size (default 10,000 then 1,000,000 complaints in all):

1. **Seed** up to that size with `devtools.seed_reports.random_stories` — each complaint's events
   as routing and sla publish them (received, assigned, sometimes transferred, answered,
   resolved, closed with a rating, breached and escalated), over the last 12 weeks — through
   `handle_report_events`, the handler the `sla-reports` consumer runs, in consumer-sized batches
   of 500 events. Two worker processes seed, each its own pemda (`PEMDAS`), so the counter
   documents they update never collide; the stories are generated in chunks so memory stays flat.
2. **Read** the compliance summary over HTTP (the supervisor routes in an in-process aiohttp
   server, as the dashboard asks for it) `--reads` times each, for
   - a pemda supervisor (`/api/v1/supervisor/compliance?pemda=33.74`, the pemda's OPD rows), and
   - an admin without a pemda (one row per pemda, all the complaints),
   with the default period (the last weeks up to today): p50, p95 and max.

The answers come from the weekly counters and gauges the handler maintains, so the read does not
touch the complaint records; the figure shows whether that holds at 1M.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from devtools.seed_reports import events_of, random_stories, reports_app, seed_store
from services.sla.adapters.report_store import MongoReportStore, ensure_report_indexes
from shared.auth import mint
from shared.mongo import mongo_client

PEMDAS = ("33.74", "33.72")  # Kota Salatiga and Kab. Sragen: one seeding worker each
STORY_CHUNK = 5_000  # complaints generated (and their events held in memory) at a time


def _seed_worker(mongo_uri: str, db_name: str, pemda: str, first: int, count: int, now: datetime) -> float:
    """Seed `count` complaints of `pemda` (ids from `first`) in a worker process; returns seconds."""

    async def seed() -> float:
        client = mongo_client(mongo_uri)
        began = time.perf_counter()
        try:
            db = client[db_name]
            for start in range(first, first + count, STORY_CHUNK):
                n = min(STORY_CHUNK, first + count - start)
                prefix = f"S{pemda.replace('.', '')}-{start:07d}-"
                stories = random_stories(pemda, now, n, seed=start, prefix=prefix)
                await seed_store(db, events_of(stories))
                done = start + n - first
                if done % 50_000 < STORY_CHUNK:
                    rate = done / (time.perf_counter() - began)
                    line = f"  {pemda}: seeded {start + n:,} ({rate:,.0f} complaints/s)"
                    print(line, file=sys.stderr, flush=True)
        finally:
            await client.close()
        return time.perf_counter() - began

    return asyncio.run(seed())


@dataclass
class SummaryPhase:
    complaints: int
    seed_seconds: float = 0.0
    pemda_ms: list[float] = field(default_factory=list)
    admin_ms: list[float] = field(default_factory=list)
    pemda_rows: int = 0
    admin_rows: int = 0
    assigned_total: int = 0

    def summary(self) -> dict[str, Any]:
        def figures(values: list[float]) -> dict[str, float]:
            ordered = sorted(values)
            return {
                "p50_ms": round(statistics.median(ordered), 2),
                "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
                "max_ms": round(ordered[-1], 2),
            }

        return {
            "complaints": self.complaints,
            "seed_seconds": round(self.seed_seconds, 1),
            "pemda_summary": {**figures(self.pemda_ms), "rows": self.pemda_rows},
            "admin_summary": {**figures(self.admin_ms), "rows": self.admin_rows},
            "assigned_in_period": self.assigned_total,
        }


async def _read(client: TestClient[Any, Any], path: str, token: str, reads: int) -> tuple[list[float], Any]:
    timings: list[float] = []
    body: Any = None
    for _ in range(reads):
        began = time.perf_counter()
        async with client.get(path, headers={"Authorization": f"Bearer {token}"}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"{path}: {resp.status} {await resp.text()}")
            body = await resp.json()
        timings.append((time.perf_counter() - began) * 1000)
    return timings, body


async def measure(mongo_uri: str, db_name: str, phase: SummaryPhase, reads: int) -> None:
    client = mongo_client(mongo_uri)
    try:
        app = reports_app(MongoReportStore(client[db_name]))
        async with TestClient(TestServer(app)) as http:
            pemda = PEMDAS[0]
            phase.pemda_ms, body = await _read(
                http, f"/api/v1/supervisor/compliance?pemda={pemda}", mint("supervisor", pemda=pemda), reads
            )
            phase.pemda_rows = len(body["items"])
            phase.admin_ms, body = await _read(http, "/api/v1/supervisor/compliance", mint("admin"), reads)
            phase.admin_rows = len(body["items"])
            phase.assigned_total = int(body["total"].get("assigned") or 0)
    finally:
        await client.close()


async def run_summary(mongo_uri: str, db_name: str, sizes: list[int], reads: int) -> list[SummaryPhase]:
    client = mongo_client(mongo_uri)
    try:
        await ensure_report_indexes(client[db_name])
    finally:
        await client.close()
    now = datetime.now(UTC)
    loop = asyncio.get_running_loop()
    phases: list[SummaryPhase] = []
    seeded = 0
    with ProcessPoolExecutor(max_workers=len(PEMDAS)) as pool:
        for size in sizes:
            phase = SummaryPhase(size)
            per_pemda = (size - seeded) // len(PEMDAS)
            first = seeded // len(PEMDAS)
            print(f"summary {size:,}: seeding {per_pemda:,} complaints in each of {PEMDAS}", file=sys.stderr)
            began = time.perf_counter()
            await asyncio.gather(
                *(
                    loop.run_in_executor(pool, _seed_worker, mongo_uri, db_name, p, first, per_pemda, now)
                    for p in PEMDAS
                )
            )
            phase.seed_seconds = time.perf_counter() - began
            seeded += per_pemda * len(PEMDAS)
            phase.complaints = seeded
            await measure(mongo_uri, db_name, phase, reads)
            print(f"  {phase.summary()}", file=sys.stderr, flush=True)
            phases.append(phase)
    return phases


def report(phases: list[SummaryPhase]) -> None:
    heads = ("pemda p50", "pemda p95", "admin p50", "admin p95")
    print(f"{'complaints':>10} {'seed s':>8} " + " ".join(f"{h:>10}" for h in heads))
    for p in phases:
        s = p.summary()
        print(
            f"{s['complaints']:>10,} {s['seed_seconds']:>8.0f} {s['pemda_summary']['p50_ms']:>7.1f} ms "
            f"{s['pemda_summary']['p95_ms']:>7.1f} ms {s['admin_summary']['p50_ms']:>7.1f} ms "
            f"{s['admin_summary']['p95_ms']:>7.1f} ms"
        )
    if phases:
        worst = max(max(p.summary()[k]["p95_ms"] for k in ("pemda_summary", "admin_summary")) for p in phases)
        verdict = "met" if worst <= 50 else "MISSED"
        print(f"compliance summary p95, worst of the phases: {worst:.1f} ms  (target <= 50 ms: {verdict})")
