"""The cost of the duplicate look-up a submission makes (issue 22, item 2), on the real database.

What is measured: with N open complaints in one pemda (10k, then 100k), the time of one look-up
as routing makes it for a new complaint — `MongoComplaintStore.duplicate_candidates` on the
(dup_keys, submitted_at) index with the new complaint's keys (its ≤ 4 geohash cells and its desa,
× 8 bands), then the exact confirmation (Jaccard, distance) of what came back — and what it
returns (candidates read, suggestions confirmed). Also the insert rate of complaints with their
16 keys each (8 without a location), since every key is an index entry; `--no-keys` gives the
same without keys, for comparison.

The complaints: the 170-odd labelled Indonesian complaints of `bench/data/labelled_complaints.jsonl`,
each copy with ~30 % of its shingles dropped and two words of another complaint added (neighbours
do not write alike), in its own category, spread uniformly over Kota Semarang (~20 × 20 km) and
its 177 desa, submitted over the last 30 days. Probes are new complaints drawn the same way. So
at 100k, each (category, desa) holds ~50 complaints and each text ~600 near copies: a busy city.

How: its own secantusd-rs (`devtools.infra.start_mongo`, profile `bench-duplicates`, port 38917,
data under `.run/bench-duplicates`, wiped first); no Kafka, no services. Figures are printed,
never asserted; the last line is all of them as JSON. The machine is small and shared: compare
runs on a quiet machine.

Run from the repository root:

    .venv/bin/python -m bench.duplicates            # 10k and 100k (about 5 minutes)
    .venv/bin/python -m bench.duplicates --sizes 10000 --probes 100
    .venv/bin/python -m bench.duplicates --sizes 10000 --no-keys   # the insert rate without keys
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from pymongo.errors import BulkWriteError

from devtools import infra
from services.routing.adapters.store import MongoComplaintStore, ensure_indexes
from services.routing.domain import duplicates as dup
from services.routing.domain.complaint import suggest
from shared import clock
from shared.mongo import mongo_client

PROFILE = "bench-duplicates"
PORTS = infra.Ports(kafka=39992, kafka_controller=39993, mongo=38917)
DATA = Path(__file__).parent / "data" / "labelled_complaints.jsonl"
PEMDA = "33.74"
SOUTH, NORTH, WEST, EAST = -7.10, -6.93, 110.30, 110.50  # Kota Semarang, roughly
DESA = [f"33.74.{k:02d}.{1000 + d}" for k in range(1, 17) for d in range(1, 12)]  # 176 desa codes
BATCH = 200  # complaints per insert, as a busy routing batch
DUPLICATE_KEY = 11000


def corpus() -> list[tuple[str, tuple[str, ...]]]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return [(r["category"], dup.shingles(r["title"], r["description"])) for r in rows if r.get("category")]


def complaint(
    rng: random.Random, texts: list[tuple[str, tuple[str, ...]]], i: int, keyed: bool = True
) -> dict[str, Any]:
    category, words = rng.choice(texts)
    kept = [w for w in words if rng.random() > 0.3] + list(rng.sample(rng.choice(texts)[1] or ("x",), 1)) * 2
    shingles = tuple(sorted(set(kept)))
    located = rng.random() < 0.7
    doc: dict[str, Any] = {
        "_id": f"bench{i:08d}",
        "state": "assigned",
        "pemda": PEMDA,
        "category": category,
        "region_code": rng.choice(DESA),
        "location": {"lat": rng.uniform(SOUTH, NORTH), "lon": rng.uniform(WEST, EAST)} if located else None,
        "submitted_at": clock.wall() - timedelta(seconds=rng.uniform(0, 30 * 86400)),
        "dup_shingles": list(shingles),
        "dup_bands": list(dup.band_hashes(shingles)),
        "duplicates": [],
    }
    place = dup.Place(PEMDA, category, doc["region_code"], doc["location"])
    doc["dup_keys"] = dup.stored_keys(place, doc["dup_bands"]) if keyed else []
    return doc


async def fill(store: MongoComplaintStore, db: Any, docs: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for start in range(0, len(docs), BATCH):
        try:
            await db["complaints"].insert_many(docs[start : start + BATCH], ordered=False)
        except BulkWriteError as exc:
            # The driver retried a batch the server had written (a slow answer): already there.
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise RuntimeError(f"insert failed: {str(exc)[:300]}") from None
    return len(docs) / (time.perf_counter() - started)


async def probe(store: MongoComplaintStore, doc: dict[str, Any]) -> tuple[float, int, int]:
    started = time.perf_counter()
    keys = dup.lookup_keys(
        dup.Place(PEMDA, doc["category"], doc["region_code"], doc["location"]), doc["dup_bands"]
    )
    found = await store.duplicate_candidates(keys, dup.window_start(clock.wall()), dup.MAX_CANDIDATES)
    suggestions = suggest(doc, found)
    return (time.perf_counter() - started) * 1000, len(found), len(suggestions)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(
    ends: infra.Endpoints, sizes: list[int], probes: int, keyed: bool = True
) -> list[dict[str, Any]]:
    rng = random.Random(22)
    texts = corpus()
    client = mongo_client(ends.mongo_uri)
    db = client["bench_duplicates"]
    await client.drop_database("bench_duplicates")
    await ensure_indexes(db)
    store = MongoComplaintStore(db)
    results, have = [], 0
    try:
        for size in sizes:
            docs = [complaint(rng, texts, i, keyed) for i in range(have, size)]
            rate = await fill(store, db, docs)
            have = size
            new = [complaint(rng, texts, 10**7 + i) for i in range(probes)]
            for doc in new[:5]:  # warm the connection and the server's cache
                await probe(store, doc)
            timings = [await probe(store, doc) for doc in new]
            ms = [t for t, _, _ in timings]
            figures = {
                "open_complaints": size,
                "insert_per_s": round(rate),
                "lookup_ms_p50": round(statistics.median(ms), 2),
                "lookup_ms_p90": round(_pct(ms, 0.9), 2),
                "lookup_ms_p99": round(_pct(ms, 0.99), 2),
                "lookup_ms_max": round(max(ms), 2),
                "candidates_mean": round(statistics.mean(c for _, c, _ in timings), 1),
                "candidates_max": max(c for _, c, _ in timings),
                "suggestions_mean": round(statistics.mean(s for _, _, s in timings), 2),
            }
            results.append(figures)
            print(
                f"{size:>7} open complaints: insert {figures['insert_per_s']}/s; look-up "
                f"p50 {figures['lookup_ms_p50']} ms, p90 {figures['lookup_ms_p90']} ms, "
                f"p99 {figures['lookup_ms_p99']} ms, max {figures['lookup_ms_max']} ms; "
                f"candidates read {figures['candidates_mean']} (max {figures['candidates_max']}), "
                f"suggestions {figures['suggestions_mean']}",
                flush=True,
            )
    finally:
        await client.drop_database("bench_duplicates")
        await client.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.duplicates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument(
        "--no-keys",
        action="store_true",
        help="the same complaints without duplicate keys: the insert rate's baseline",
    )
    args = parser.parse_args(argv)
    shutil.rmtree(infra.run_dir(PROFILE) / "secantus", ignore_errors=True)
    server = infra.start_mongo(PROFILE, PORTS)
    try:
        ends = infra.endpoints(PORTS)
        asyncio.run(infra.wait_mongo(ends.mongo_uri, server))
        results = asyncio.run(bench(ends, sorted(args.sizes), args.probes, not args.no_keys))
    finally:
        server.stop()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
