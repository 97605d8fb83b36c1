"""Public transparency page benchmark (issue 20 item 6): the page, its JSON and its CSV read only
the monthly counters (services/sla/domain/monthly.py), so their cost depends on the number of
OPDs and months shown, never on the number of complaints.

What it does:

1. **Seed** `report_monthly` as the `sla-reports` consumer would leave it after `--complaints`
   complaints (default 5,000,000) spread over every pemda of the region data (38 provinces and
   514 kab/kota) and `--opds` OPDs each (default 17), for `--months` months (default 24): one
   document per pemda and per OPD and month (≈ 240,000 documents), with received/answered/open/
   overdue counts, a working-day histogram and SKM sums. The complaints themselves are not
   written: nothing on the page reads them.
2. **Read** over HTTP (the real routes on an in-process server, the real Mongo store), each
   `--reads` times: one pemda's page (HTML), its JSON and CSV, and every pemda's JSON, CSV and
   page (the national view) — cold (the in-process cache emptied before each read) and warm
   (cached). Prints p50/p95/max in milliseconds and each answer's size.
3. **Phases** of the cold every-pemda JSON, `--reads` times: reading the counter documents from
   the store, computing the figures, encoding the JSON (p50 of each).

Servers: its own secantusd-rs and Kafka via `devtools.infra.native_stack` (profile
`bench-transparency`, ports 39592/39593/38517, data under `.run/bench-transparency`, wiped first),
or an existing database with `--mongo-uri`.

    .venv/bin/python -m bench.transparency
    .venv/bin/python -m bench.transparency --complaints 1000000 --months 12 --reads 50
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import date
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from devtools import infra
from services.sla.adapters.report_store import MONTHLY, MongoReportStore, ensure_report_indexes
from services.sla.bootstrap import add_supervisor_routes
from services.sla.domain.monthly import RT_HK_TOP, months_between
from services.sla.entrypoints.edge import reports_state
from services.sla.entrypoints.transparency import PUBLIC_CACHE, _figures, _json
from shared.auth import STAFF_AUTH, StaffAuth
from shared.http import problem_middleware
from shared.mongo import mongo_client
from shared.regions import all_pemda
from shared.survey import CURRENT

PROFILE = "bench-transparency"
PORTS = infra.Ports(kafka=39592, kafka_controller=39593, mongo=38517)
DB = "bench_transparency"
SLUGS = (
    "dinas-pupr", "dinas-perhubungan", "dlh", "dinas-kesehatan", "dinas-pendidikan", "disdukcapil",
    "dpmptsp", "satpol-pp", "bapenda", "perumda-air-minum", "dinas-sosial", "disnaker", "inspektorat",
    "admin-koordinator", "diskominfo", "dinas-pertanian", "bappeda",
)  # fmt: skip


def _counts(rng: random.Random, received: int) -> dict[str, Any]:
    answered = int(received * rng.uniform(0.7, 0.95))
    on_time = int(answered * rng.uniform(0.6, 0.95))
    hist: dict[str, int] = {}
    for _ in range(min(answered, 40)):
        k = str(min(int(rng.expovariate(0.4)), RT_HK_TOP))
        hist[k] = hist.get(k, 0) + max(answered // 40, 1)
    n = max(received // 10, 1)
    return {
        "received": received,
        "open": int(received * rng.uniform(0, 0.1)),
        "overdue": int(received * rng.uniform(0, 0.03)),
        "answered": answered,
        "answered_on_time": on_time,
        "rt_hk": hist,
        "ikm": {CURRENT.version: {"n": n, **{c: n * rng.randint(2, 4) for c in CURRENT.codes}}},
    }


async def seed(db: Any, complaints: int, opds: int, months: list[str]) -> int:
    rng = random.Random(20)
    pemdas = [r.code for r in all_pemda()]
    per_pemda_month = max(complaints // (len(pemdas) * len(months)), 1)
    batch: list[dict[str, Any]] = []
    written = 0
    for pemda in pemdas:
        for month in months:
            base = {"pemda": pemda, "month": month}
            batch.append({"_id": f"{pemda}|{month}", "level": "pemda", "scope": pemda, **base,
                          **_counts(rng, per_pemda_month)})  # fmt: skip
            for slug in SLUGS[:opds]:
                opd = f"{pemda}/{slug}"
                batch.append({"_id": f"{opd}|{month}", "level": "opd", "scope": opd, **base,
                              **_counts(rng, max(per_pemda_month // opds, 1))})  # fmt: skip
            if len(batch) >= 1000:
                await db[MONTHLY].insert_many(batch, ordered=False)
                written += len(batch)
                batch = []
    if batch:
        await db[MONTHLY].insert_many(batch, ordered=False)
        written += len(batch)
    return written


def _app(db: Any) -> web.Application:
    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = StaffAuth()
    add_supervisor_routes(app)
    reports_state(app).store = MongoReportStore(db)
    return app


async def measure(db: Any, months: list[str], reads: int) -> None:
    first, last = months[-12] if len(months) >= 12 else months[0], months[-1]
    period = f"from={first}&to={last}"
    cases = {
        "one pemda, HTML": f"/transparansi?pemda=33.74&{period}",
        "one pemda, JSON": f"/api/v1/public/transparency?pemda=33.74&{period}",
        "one pemda, CSV": f"/api/v1/public/transparency?pemda=33.74&{period}&format=csv",
        "every pemda, JSON": f"/api/v1/public/transparency?{period}",
        "every pemda, CSV": f"/api/v1/public/transparency?{period}&format=csv",
        "every pemda, HTML": f"/transparansi?{period}",
    }
    app = _app(db)
    async with TestClient(TestServer(app)) as client:
        cache = app[PUBLIC_CACHE]
        for name, path in cases.items():
            for warm in (False, True):
                timings = []
                size = 0
                for _ in range(reads):
                    if not warm:
                        cache.entries.clear()
                    began = time.perf_counter()
                    async with client.get(path) as resp:
                        assert resp.status == 200, await resp.text()
                        size = len(await resp.read())
                    timings.append((time.perf_counter() - began) * 1000)
                timings.sort()
                print(
                    f"{name:<20} {'warm' if warm else 'cold':<5} p50 {statistics.median(timings):7.1f} ms  "
                    f"p95 {timings[int(0.95 * (len(timings) - 1))]:7.1f} ms  max {timings[-1]:7.1f} ms  "
                    f"({size:,} bytes)"
                )


def _p50(timings: list[float]) -> str:
    return f"{statistics.median(timings):7.1f} ms"


async def phases(db: Any, months: list[str], reads: int) -> None:
    """Where a cold every-pemda JSON answer spends its time: reading the counter documents,
    turning them into figures, encoding the answer."""
    period = (months[-12] if len(months) >= 12 else months[0], months[-1])
    store = MongoReportStore(db)
    read, figured, encoded, cpu = [], [], [], []
    docs: list[Any] = []
    for _ in range(reads):
        began = time.perf_counter()
        docs = await store.monthly(level="pemda", pemda=None, scope=None, months=period)
        read.append((time.perf_counter() - began) * 1000)
        began, cpu_began = time.perf_counter(), time.process_time()
        found = _figures(None, period, docs, national=False)
        figured.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        _json(found)
        encoded.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - cpu_began) * 1000)
    print(
        f"every pemda, JSON phases: read {len(docs):,} documents p50 {_p50(read)}, "
        f"figures p50 {_p50(figured)}, JSON encoding p50 {_p50(encoded)} "
        f"(both: this process's CPU p50 {_p50(cpu)})"
    )


async def run(mongo_uri: str, complaints: int, opds: int, month_count: int, reads: int) -> None:
    client = mongo_client(mongo_uri)
    try:
        await client.drop_database(DB)
        db = client[DB]
        await ensure_report_indexes(db)
        today = date.today().replace(day=1)
        back = today.year * 12 + today.month - 1 - (month_count - 1)
        months = months_between(date(back // 12, back % 12 + 1, 1), today)
        began = time.perf_counter()
        docs = await seed(db, complaints, opds, months)
        total = sum([d["received"] async for d in db[MONTHLY].find({"level": "pemda"}, {"received": 1})])
        print(
            f"seeded {docs:,} counter documents for {total:,} complaints "
            f"({month_count} months) in {time.perf_counter() - began:.1f} s"
        )
        await measure(db, months, reads)
        await phases(db, months, reads)
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.transparency", description=__doc__.split("\n")[0])
    parser.add_argument("--mongo-uri", help="an existing database (default: start the bench stack)")
    parser.add_argument("--complaints", type=int, default=5_000_000)
    parser.add_argument("--opds", type=int, default=17, help="OPDs per pemda (up to 17)")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--reads", type=int, default=30)
    args = parser.parse_args()
    if args.mongo_uri:
        asyncio.run(run(args.mongo_uri, args.complaints, args.opds, args.months, args.reads))
        return
    with infra.native_stack(PROFILE, PORTS, fresh=True) as ends:
        asyncio.run(run(ends.mongo_uri, args.complaints, args.opds, args.months, args.reads))


if __name__ == "__main__":
    main()
