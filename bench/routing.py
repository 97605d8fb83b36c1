"""Submit → assigned latency of the three services on real Kafka and the real database, under an
open-loop load (issue 5 item 9).

What is measured: for each complaint, from the instant its submit was *scheduled* to be sent to the
instant this process sees its seq-2 lifecycle event (`ComplaintAssigned`, or `ComplaintTriaged`
for the ones the classifier or the rules send to the coordinator) on `complaints.events`. The
path covers intake (validation, database insert, durable publish, 202), `complaints.submitted`,
routing (classification, rules, the guarded write with its outbox, the publish) and Kafka twice.
Because the clock starts at the scheduled instant, time a request spends queued in the client (the
server answering slowly, the connection pool full) counts too: a slow system cannot hide by
slowing down the load.

How:
- Servers: its own Kafka and secantusd-rs via `devtools.infra.native_stack` (profile
  `bench-routing`, ports 39292/39293/38217, data under `.run/bench-routing`, wiped first), prepared
  with `devtools.prepare.prepare` (topics, OPD catalog into `bench_routing_routing`), then intake,
  routing and sla via `devtools.services.start_services` on 39381–39383 (logs under
  `.run/bench-routing/services/`), with every `INTAKE_RATE_*` submit limit raised to 10,000,000.
- Load: open loop. Request i of a step is sent at `t0 + i / rate`, whatever the answers do; each
  is its own task on an aiohttp session with a large connection pool. Bodies: the 170-odd
  realistic Indonesian complaints of `bench/data/labelled_complaints.jsonl` across every category,
  a quarter sent without a category (the classifier decides, some go to triage), over ~40 regions
  (kab/kota, provinces and desa codes), with a named reporter, an anonymous one or none. Each body
  is checked against intake's own model first.
- Observation: a consumer of `complaints.events` (and of `complaints.submitted`, to split the
  latency into intake's part and routing's) assigned to every partition and positioned at the end
  before any load (no group, so nothing to rebalance).
- A step: send for `seconds`, wait for every answer, then up to a grace period for the assignment
  of every complaint answered 202; the ones never seen are "missing". Between steps the consumer
  groups of the services are left to catch up (their lag read from the broker), so a step does not
  inherit the previous one's backlog.

Phases (a warm-up of 10 s at 50/s first, not counted; 2 s with --quick):
1. `--rate` (300/s) for `--seconds` (60 s): p50/p90/p99/max, answers by status, missing.
2. `--search`: the highest rate held with p99 ≤ 1 s, every answer 202 and nothing missing — steps
   of 20 s up the ladder 400, 500, 650, 800, 1000, … until a step does not hold (or, when phase 1
   did not hold, down 250, 200, 150, …, 10 until one does); the best is then confirmed for 60 s
   (one rung lower is tried when the confirmation fails).

Every step also shows CPU use in % of one core — intake, routing, sla, Kafka, the database and this
process (the load generator and consumer) — and the whole machine's busy share of all its cores,
read from /proc. The machine is small (2 cores) and shared: the figures are noisy, compare runs on
a quiet machine, and read a machine CPU near 100 % as "the box was the limit".

Targets, printed next to the figures, never asserted: p99 ≤ 200 ms at 300/s. The last line of
output is all figures as JSON. Every process started here is stopped at the end, also on error,
Ctrl-C or SIGTERM.

Run from the repository root:

    .venv/bin/python -m bench.routing                 # full run: 10–15 minutes (steps wait for backlogs)
    .venv/bin/python -m bench.routing --quick         # short steps, a smoke run (about 3 minutes)
    .venv/bin/python -m bench.routing --rate 200 --seconds 30 --no-search
    .venv/bin/python -m bench.routing --no-search --series /tmp/routing   # + per-complaint TSV files
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.ceilings import _cpu_seconds
from devtools import infra
from devtools.prepare import prepare
from devtools.services import ServiceSet, start_services, wait_ready
from shared.categories import CATEGORIES
from shared.regions import all_pemda, lookup
from shared.runtime import freeze_loaded_objects, new_event_loop
from shared.settings import kafka_layout
from shared.topics import COMPLAINTS_EVENTS, COMPLAINTS_SUBMITTED, GROUPS, TOPICS

log = logging.getLogger("bench.routing")

PROFILE = "bench-routing"
PORTS = infra.Ports(kafka=39292, kafka_controller=39293, mongo=38217)
SERVICE_PORTS = {"intake": 39381, "routing": 39382, "sla": 39383}
DB_PREFIX = "bench_routing_"
SUBMIT_PATH = "/api/v1/complaints"
DATA = Path(__file__).resolve().parent / "data" / "labelled_complaints.jsonl"

TARGET_RATE = 300.0
TARGET_P99_S = 0.200
HOLD_P99_S = 1.0
LADDER = (10, 25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 650, 800, 1000, 1250, 1600, 2000, 2500, 3000)
RATE_LIMIT = "10000000"
# Named in the brief and in services/intake/settings.py; the settings class is also read at run
# time (below) so a newly added `INTAKE_RATE_*` limit is raised too.
RATE_LIMIT_ENV = (
    "INTAKE_RATE_SUBMIT_PER_MINUTE",
    "INTAKE_RATE_SUBMIT_PER_MINUTE_PER_KEY",
    "INTAKE_RATE_TOKEN_PER_MINUTE",
)
UNCATEGORISED_SHARE = 0.25
POOL_SIZE = 2000
CONNECTIONS = 2000  # the client's pool: large, so the client is not what queues requests
REQUEST_TIMEOUT_S = 30.0
MAX_REQUESTS = 500_000  # per step, whatever the rate and duration
SERVICE_START_S = 120.0
DRAIN_MAX_S = 600.0  # after an overloaded step the services may need minutes to catch up
ERROR_SAMPLES = 3


@dataclass(frozen=True)
class Plan:
    rate: float
    seconds: float
    search: bool
    step_seconds: float
    confirm_seconds: float
    grace_seconds: float
    warmup_seconds: float
    warmup_rate: float
    max_rate: float
    series: Path | None = None  # --series: per-complaint timings of every step, as TSV files


FULL = Plan(
    rate=TARGET_RATE,
    seconds=60.0,
    search=True,
    step_seconds=20.0,
    confirm_seconds=60.0,
    grace_seconds=15.0,
    warmup_seconds=10.0,
    warmup_rate=50.0,
    max_rate=3000.0,
)
QUICK = Plan(
    rate=TARGET_RATE,
    seconds=10.0,
    search=True,
    step_seconds=5.0,
    confirm_seconds=10.0,
    grace_seconds=5.0,
    warmup_seconds=2.0,
    warmup_rate=50.0,
    max_rate=3000.0,
)


# --- traffic --------------------------------------------------------------------------------------


def regions(rng: random.Random) -> list[str]:
    """About 40 pemda across the country (kab/kota and provinces) and a few desa codes."""
    pemda = all_pemda()
    kabkota = [r.code for r in pemda if r.level == 2]
    provinces = [r.code for r in pemda if r.level == 1]
    desa = [c for c in ("33.74.01.1001", "64.01.03.2001", "32.73.01.1001", "35.78.01.1001") if lookup(c)]
    return rng.sample(kabkota, 30) + rng.sample(provinces, 6) + desa


REPORTERS: tuple[dict[str, Any], ...] = (
    {"reporter": {"name": "Sari Wulandari", "phone": "0812-3456-7890"}},
    {"anonymous": True},
    {"reporter": {"name": "Budi Santoso", "email": "budi.santoso@example.id"}, "address": "Jl. Pemuda 12"},
    {},
    {"confidential": True, "reporter": {"phone": "+62 813 1111 2222"}},
)


def complaint_bodies(seed: int = 7) -> list[bytes]:
    """POOL_SIZE submit bodies drawn from the labelled set, each valid for intake's own model."""
    from services.intake.models import SubmitComplaint

    rng = random.Random(seed)
    texts = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    places = regions(rng)
    bodies: list[bytes] = []
    while len(bodies) < POOL_SIZE:
        text = rng.choice(texts)
        doc: dict[str, Any] = {
            "title": text["title"],
            "description": text["description"],
            "region_code": rng.choice(places),
            **rng.choice(REPORTERS),
        }
        if text["category"] in CATEGORIES and rng.random() >= UNCATEGORISED_SHARE:
            doc["category"] = text["category"]
        try:
            SubmitComplaint.model_validate(doc)
        except ValueError:
            continue  # e.g. a labelled title shorter than intake allows: not a valid submit
        bodies.append(json.dumps(doc).encode())
    return bodies


def raise_rate_limits() -> list[str]:
    """Set every intake submit limit in this process's environment (the services inherit it)."""
    names = set(RATE_LIMIT_ENV)
    try:
        from services.intake.settings import RateLimitSettings

        names |= {
            f"INTAKE_RATE_{name.upper()}"
            for name, info in RateLimitSettings.model_fields.items()
            if info.annotation is int and name != "max_clients"
        }
    except ImportError:
        log.warning("services.intake.settings not importable; raising only %s", RATE_LIMIT_ENV)
    for name in sorted(names):
        os.environ[name] = RATE_LIMIT
    return sorted(names)


# --- observation of complaints.events -------------------------------------------------------------


class AssignmentWatch:
    """Every partition of `complaints.events` from its end: when each complaint's seq-2 event
    (assigned or triaged) was seen, by `time.perf_counter()`. Also `complaints.submitted`, for when
    intake's message was there: it splits the latency into intake + Kafka, and routing + Kafka."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
        )
        self.seen: dict[str, float] = {}
        self.submitted: dict[str, float] = {}
        self.outcome: Counter[str] = Counter()  # ComplaintAssigned / ComplaintTriaged
        self._task: asyncio.Task[None] | None = None
        self._waiting: set[str] = set()
        self._all_seen = asyncio.Event()

    async def start(self) -> list[TopicPartition]:
        await self.consumer.start()
        watched = (COMPLAINTS_EVENTS, COMPLAINTS_SUBMITTED)
        # The partition counts the project creates the topics with.
        tps = [TopicPartition(t.name, p) for t in TOPICS if t.name in watched for p in range(t.partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)  # resolve "end" now, before any load
        self._task = asyncio.create_task(self._run(), name="assignment-watch")
        return tps

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for tp, messages in batches.items():
                if tp.topic == COMPLAINTS_SUBMITTED:
                    for msg in messages:
                        submitted_id = json.loads(msg.value or b"{}").get("complaint_id")
                        if submitted_id:
                            self.submitted.setdefault(submitted_id, now)
                    continue
                for msg in messages:
                    value = msg.value or b""
                    if b'"ComplaintAssigned"' not in value and b'"ComplaintTriaged"' not in value:
                        continue  # cheap filter before parsing
                    event = json.loads(value)
                    complaint_id = event.get("complaint_id")
                    if event.get("seq") == 2 and complaint_id and complaint_id not in self.seen:
                        self.seen[complaint_id] = now
                        self.outcome[event["type"]] += 1
                        if complaint_id in self._waiting:
                            self._waiting.discard(complaint_id)
                            if not self._waiting:
                                self._all_seen.set()

    async def wait_seen(self, ids: set[str], timeout: float) -> None:
        """Return once every one of `ids` has been seen, or after `timeout` seconds."""
        self._waiting = {i for i in ids if i not in self.seen}
        self._all_seen.clear()
        if self._waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_seen.wait(), timeout)
        self._waiting = set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


async def group_lag(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> dict[str, int]:
    """Messages each service consumer group has not committed yet, from the broker."""
    lags: dict[str, int] = {}
    for group in GROUPS:
        committed = await admin.list_consumer_group_offsets(group)
        if not committed:
            continue
        ends = await consumer.end_offsets(list(committed))
        lags[group] = sum(
            max(0, ends[tp] - meta.offset) for tp, meta in committed.items() if meta.offset >= 0
        )
    return lags


async def drain(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, max_wait: float, every_group: bool = False
) -> dict[str, int]:
    """Wait (bounded) until every service group has caught up — with `every_group`, also until
    each has committed at all (after start-up: every consumer has joined and is working); the lag
    left."""

    def behind(lags: dict[str, int]) -> bool:
        return any(lags.values()) or (every_group and set(lags) != set(GROUPS))

    deadline = time.monotonic() + max_wait
    lags = await group_lag(admin, consumer)
    while behind(lags) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)  # poll interval while the services work through a backlog
        lags = await group_lag(admin, consumer)
    return lags


# --- CPU ------------------------------------------------------------------------------------------


def _machine_busy() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by the named processes (and this one, and the machine) since it was made."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.wall = time.monotonic()
        self.start = {name: self._read(pid) for name, pid in pids.items()}
        self.own = time.process_time()
        self.machine = _machine_busy()

    @staticmethod
    def _read(pid: int) -> float:
        try:
            return _cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            return float("nan")  # the process is gone: its figure shows as NaN, the others stand

    def pct(self) -> dict[str, int | None]:
        wall = max(time.monotonic() - self.wall, 1e-9)
        out: dict[str, int | None] = {}
        for name, pid in self.pids.items():
            used = self._read(pid) - self.start[name]
            out[name] = None if used != used else round(100 * used / wall)  # NaN: gone
        out["bench"] = round(100 * (time.process_time() - self.own) / wall)
        busy, total = _machine_busy()
        out["machine"] = round(100 * (busy - self.machine[0]) / max(total - self.machine[1], 1))
        return out


# --- one step -------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass
class Step:
    label: str
    rate: float
    seconds: float
    submitted: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # "202", "429", "ClientOSError", …
    samples: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seen − scheduled, of the ones seen
    missing: int = 0
    sent_rate: float = 0.0  # requests actually sent per second of the send window
    send_lag_p99: float = 0.0  # actual send − scheduled send: the load generator's own lateness
    answered: list[float] = field(default_factory=list)  # 202 answer − scheduled send (intake's part)
    to_submitted: list[float] = field(default_factory=list)  # on complaints.submitted − scheduled send
    routed: list[float] = field(default_factory=list)  # assignment seen − on complaints.submitted
    outcome: Counter[str] = field(default_factory=Counter)
    cpu: dict[str, int | None] = field(default_factory=dict)
    lag_after: dict[str, int] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return self.statuses["202"]

    @property
    def other(self) -> int:
        return self.submitted - self.accepted

    def q(self, quantile: float) -> float | None:
        return percentile(self.latencies, quantile) if self.latencies else None

    @property
    def p99(self) -> float:
        """Over every complaint answered 202: a missing one counts as never (infinite)."""
        if self.accepted == 0:
            return float("inf")
        rank = min(self.accepted - 1, int(0.99 * self.accepted))
        return self.latencies[rank] if rank < len(self.latencies) else float("inf")

    def holds(self, limit: float) -> bool:
        return self.submitted > 0 and self.other == 0 and self.missing == 0 and self.p99 <= limit

    def figures(self) -> dict[str, Any]:
        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1000, 1)

        return {
            "label": self.label,
            "rate": self.rate,
            "seconds": self.seconds,
            "sent_rate": round(self.sent_rate, 1),
            "submitted": self.submitted,
            "accepted_202": self.accepted,
            "other_statuses": {k: v for k, v in self.statuses.items() if k != "202"},
            "seen": len(self.latencies),
            "missing": self.missing,
            "p50_ms": ms(self.q(0.50)),
            "p90_ms": ms(self.q(0.90)),
            "p99_ms": ms(self.q(0.99)),
            "max_ms": ms(self.latencies[-1] if self.latencies else None),
            "send_lag_p99_ms": ms(self.send_lag_p99),
            **{
                f"{name}_{q}_ms": ms(percentile(values, quantile) if values else None)
                for name, values in (
                    ("answer_202", self.answered),
                    ("on_submitted", self.to_submitted),
                    ("routing", self.routed),
                )
                for q, quantile in (("p50", 0.50), ("p99", 0.99))
            },
            "outcome": dict(self.outcome),
            "cpu_pct": self.cpu,
            "group_lag_after": self.lag_after,
            "held_p99_1s": self.holds(HOLD_P99_S),
        }


async def run_step(
    session: ClientSession,
    url: str,
    bodies: list[bytes],
    watch: AssignmentWatch,
    pids: dict[str, int],
    label: str,
    rate: float,
    seconds: float,
    grace: float,
    series: Path | None = None,
) -> Step:
    step = Step(label, rate, seconds)
    count = min(int(rate * seconds), MAX_REQUESTS)
    scheduled: dict[str, float] = {}
    send_lags: list[float] = []
    headers = {"Content-Type": "application/json"}
    offset = random.randrange(len(bodies))

    async def send(i: int, at: float) -> None:
        send_lags.append(time.perf_counter() - at)
        try:
            async with session.post(url, data=bodies[(offset + i) % len(bodies)], headers=headers) as r:
                answer = await r.read()
                status = r.status
        except (ClientError, TimeoutError) as exc:
            step.statuses[type(exc).__name__] += 1
            if len(step.samples) < ERROR_SAMPLES:
                step.samples.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            return
        step.statuses[str(status)] += 1
        if status == 202:
            step.answered.append(time.perf_counter() - at)
            scheduled[json.loads(answer)["id"]] = at
        elif len(step.samples) < ERROR_SAMPLES:
            step.samples.append(f"{status}: {answer.decode(errors='replace')[:200]}")

    log.info("%s: %d requests at %.0f/s over %.0f s", label, count, rate, seconds)
    meter = CpuMeter(pids)
    tasks: list[asyncio.Task[None]] = []
    t0 = time.perf_counter() + 0.2  # a moment to get going; every send has its own instant
    for i in range(count):
        at = t0 + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # the schedule, not the answers, decides when to send
        tasks.append(asyncio.create_task(send(i, at)))
    sent_end = time.perf_counter()
    step.sent_rate = count / max(sent_end - t0, 1e-9)
    await asyncio.gather(*tasks)
    step.submitted = count

    await watch.wait_seen(set(scheduled), grace)
    step.cpu = meter.pct()
    for cid, at in scheduled.items():
        seen = watch.seen.get(cid)
        if seen is None:
            step.missing += 1
        else:
            step.latencies.append(seen - at)
        on_topic = watch.submitted.get(cid)
        if on_topic is not None:
            step.to_submitted.append(on_topic - at)
            if seen is not None:
                step.routed.append(seen - on_topic)
    if series is not None:
        write_series(series, step, scheduled, t0, watch)
    step.latencies.sort()
    step.to_submitted.sort()
    step.routed.sort()
    send_lags.sort()
    step.answered.sort()
    step.send_lag_p99 = percentile(send_lags, 0.99) if send_lags else 0.0
    return step


def write_series(
    prefix: Path, step: Step, scheduled: dict[str, float], t0: float, watch: AssignmentWatch
) -> None:
    """One row per complaint answered 202, in send order: when it was due to be sent (seconds
    into the step), then when it was seen on complaints.submitted and its assignment on
    complaints.events (seconds after that; empty if never seen). Shows whether a tail is spread
    over the step or comes in episodes."""
    path = prefix.with_name(f"{prefix.name}-{step.label.replace(' ', '')}-{step.rate:.0f}.tsv")
    path.parent.mkdir(parents=True, exist_ok=True)

    def after(seen: float | None, at: float) -> str:
        return f"{seen - at:.4f}" if seen is not None else ""

    with path.open("w") as out:
        out.write("due_s\tsubmitted_after_s\tassigned_after_s\n")
        for cid, at in sorted(scheduled.items(), key=lambda item: item[1]):
            out.write(
                f"{at - t0:.4f}\t{after(watch.submitted.get(cid), at)}\t{after(watch.seen.get(cid), at)}\n"
            )


# --- phases ---------------------------------------------------------------------------------------


def below(rate: float) -> list[float]:
    return [float(r) for r in reversed(LADDER) if r < rate]


def above(rate: float, max_rate: float) -> list[float]:
    return [float(r) for r in LADDER if rate < r <= max_rate]


def print_step(step: Step) -> None:
    f = step.figures()
    cpu = " ".join(f"{k} {v}" for k, v in step.cpu.items())

    def show(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    print(
        f"{step.label:<14} {step.rate:>6.0f}/s {step.seconds:>4.0f}s  sent {f['sent_rate']:>7.1f}/s  "
        f"202 {step.accepted:>6}/{step.submitted:<6} other {step.other:>4}  missing {step.missing:>5}  "
        f"p50 {show(f['p50_ms']):>6}  p90 {show(f['p90_ms']):>6}  p99 {show(f['p99_ms']):>6}  "
        f"max {show(f['max_ms']):>6} ms  {'held' if step.holds(HOLD_P99_S) else 'NOT held'}",
        flush=True,
    )
    print(
        f"{'':<14} parts (p50 / p99 ms): 202 answered {f['answer_202_p50_ms']} / {f['answer_202_p99_ms']}, "
        f"on complaints.submitted {f['on_submitted_p50_ms']} / {f['on_submitted_p99_ms']}, "
        f"then routed {f['routing_p50_ms']} / {f['routing_p99_ms']}; "
        f"send lag p99 {f['send_lag_p99_ms']}",
        flush=True,
    )
    print(f"{'':<14} consumer group lag after the step: {step.lag_after}", flush=True)
    print(f"{'':<14} cpu % of one core: {cpu}", flush=True)
    if step.other:
        print(f"{'':<14} other answers: {f['other_statuses']}", flush=True)
        for sample in step.samples:
            print(f"{'':<14}   {sample}", flush=True)


async def bench(ends: infra.Endpoints, services: ServiceSet, plan: Plan) -> dict[str, Any]:
    await wait_ready(services, timeout=SERVICE_START_S)
    bodies = complaint_bodies()
    pids = {name: s.pid for name, s in services.servers.items() if s.pid is not None}
    pids.update(stack_pids())
    url = services.url("intake") + SUBMIT_PATH
    watch = AssignmentWatch(ends.kafka_bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=ends.kafka_bootstrap)
    steps: list[Step] = []
    result: dict[str, Any] = {"plan": asdict(plan), "machine": {"cpus": os.cpu_count() or 0}}
    result["machine"]["load_before"] = round(os.getloadavg()[0], 2)
    connector = TCPConnector(limit=CONNECTIONS)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=REQUEST_TIMEOUT_S)) as session:
        try:
            await watch.start()
            await admin.start()

            async def step(label: str, rate: float, seconds: float, every_group: bool = False) -> Step:
                done = await run_step(
                    session, url, bodies, watch, pids, label, rate, seconds, plan.grace_seconds, plan.series
                )
                done.lag_after = await drain(admin, watch.consumer, DRAIN_MAX_S, every_group)
                if any(done.lag_after.values()):
                    log.warning("services still behind after %.0f s: %s", DRAIN_MAX_S, done.lag_after)
                done.outcome = Counter(watch.outcome)
                watch.outcome.clear()
                print_step(done)
                steps.append(done)
                return done

            print("latency = assignment seen on complaints.events − scheduled send of the submit")
            await step("warm-up", plan.warmup_rate, plan.warmup_seconds, every_group=True)
            first = await step("phase 1", plan.rate, plan.seconds)
            result["phase1"] = first.figures()
            best: Step | None = first if first.holds(HOLD_P99_S) else None
            if plan.search:
                ladder = above(plan.rate, plan.max_rate) if best else below(plan.rate)
                for rate in ladder:
                    tried = await step("search", rate, plan.step_seconds)
                    if tried.holds(HOLD_P99_S):
                        if best is None or rate > best.rate:
                            best = tried
                        if rate < plan.rate:
                            break  # coming down: the first rate that holds is the answer
                    elif rate > plan.rate:
                        break  # going up: the first rate that does not hold ends the search
                confirmed: Step | None = None
                if best is not None and best is first and plan.seconds >= plan.confirm_seconds:
                    confirmed = first  # phase 1 already held this rate for the full duration
                elif best is not None:
                    for rate in [best.rate, *below(best.rate)[:1]]:
                        tried = await step("confirm", rate, plan.confirm_seconds)
                        if tried.holds(HOLD_P99_S):
                            confirmed = tried
                            break
                result["search"] = {
                    "best_step_rate": best.rate if best else None,
                    "confirmed_rate": confirmed.rate if confirmed else None,
                    "confirmed_seconds": confirmed.seconds if confirmed else None,
                    "confirmed": confirmed.figures() if confirmed else None,
                }
            result["topic_messages"] = await topic_messages(watch.consumer)
            print(f"messages per topic over the whole run: {result['topic_messages']}", flush=True)
        finally:
            await admin.close()
            await watch.stop()
    result["steps"] = [s.figures() for s in steps]
    result["machine"]["load_after"] = round(os.getloadavg()[0], 2)
    return result


async def topic_messages(consumer: AIOKafkaConsumer) -> dict[str, int]:
    """How many messages each topic of the lifecycle holds (the run started from empty topics):
    shows what one complaint costs downstream, e.g. the clock events routing also consumes."""
    tps = [TopicPartition(t.name, p) for t in TOPICS for p in range(t.partitions)]
    ends = await consumer.end_offsets(tps)
    totals: Counter[str] = Counter()
    for tp, end in ends.items():
        totals[tp.topic] += end
    return dict(totals)


def stack_pids() -> dict[str, int]:
    """The broker's and the database's PIDs, from the files `native_stack` wrote."""
    base = infra.run_dir(PROFILE)
    found = {
        "kafka": infra.Server("kafka", base / "kafka" / "kafka.pid", Path()).pid,
        "db": infra.Server("secantusd-rs", base / "secantus" / "secantusd.pid", Path()).pid,
    }
    for node in (2, 3):  # the cluster's other brokers, when there is one
        pid = infra.Server(f"kafka-{node}", base / f"kafka-{node}" / "kafka.pid", Path()).pid
        if pid is not None:
            found[f"kafka-{node}"] = pid
    return {name: pid for name, pid in found.items() if pid is not None}


def print_summary(result: dict[str, Any], plan: Plan) -> None:
    phase1 = result.get("phase1")
    print()
    print(f"machine: {result['machine']}")
    if phase1:
        p99 = phase1["p99_ms"]
        verdict = (
            "met" if p99 is not None and phase1["missing"] == 0 and p99 <= TARGET_P99_S * 1000 else "MISSED"
        )
        print(
            f"phase 1: {plan.rate:.0f}/s for {plan.seconds:.0f} s: p50 {phase1['p50_ms']} ms, "
            f"p90 {phase1['p90_ms']} ms, p99 {p99} ms, max {phase1['max_ms']} ms; "
            f"submitted {phase1['submitted']}, 202 {phase1['accepted_202']}, "
            f"other {phase1['other_statuses'] or 'none'}, missing {phase1['missing']}"
        )
        print(f"target p99 ≤ {TARGET_P99_S * 1000:.0f} ms at {TARGET_RATE:.0f}/s: {verdict}")
    search = result.get("search")
    if search:
        rate = search["confirmed_rate"]
        if rate is None:
            print(f"phase 2: no rate held p99 ≤ {HOLD_P99_S:.0f} s (best step {search['best_step_rate']})")
        else:
            c = search["confirmed"]
            print(
                f"phase 2: highest rate held with p99 ≤ {HOLD_P99_S:.0f} s: {rate:.0f}/s for "
                f"{search['confirmed_seconds']:.0f} s (p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms); "
                f"best short step {search['best_step_rate']:.0f}/s"
            )
    print("the machine has 2 cores shared with other work: figures are noisy", flush=True)
    print(json.dumps(result), flush=True)


# --- driver ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> tuple[Plan, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rate", type=float, help=f"phase 1 arrival rate per second (default {TARGET_RATE:.0f})"
    )
    parser.add_argument("--seconds", type=float, help="phase 1 duration (default 60; 10 with --quick)")
    parser.add_argument(
        "--search", action=argparse.BooleanOptionalAction, default=True, help="phase 2 (default on)"
    )
    parser.add_argument("--quick", action="store_true", help="short steps: a smoke run")
    parser.add_argument("--max-rate", type=float, help="the search never goes above this (default 3000)")
    parser.add_argument(
        "--series",
        type=Path,
        help="write each step's per-complaint timings to <SERIES>-<step>-<rate>.tsv (see write_series)",
    )
    parser.add_argument(
        "--scale", type=int, default=1, help="processes of each service (issue 19; default 1)"
    )
    parser.add_argument(
        "--brokers", type=int, default=1, choices=(1, 3), help="one broker, or a 3-broker KRaft cluster"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.scale <= 4:
        raise SystemExit("--scale must be 1–4")
    base = QUICK if args.quick else FULL
    plan = Plan(
        rate=args.rate or base.rate,
        seconds=args.seconds or base.seconds,
        search=args.search,
        step_seconds=base.step_seconds,
        confirm_seconds=base.confirm_seconds,
        grace_seconds=base.grace_seconds,
        warmup_seconds=base.warmup_seconds,
        warmup_rate=base.warmup_rate,
        max_rate=args.max_rate or base.max_rate,
        series=args.series,
    )
    if not 0 < plan.rate <= 10_000 or not 0 < plan.seconds <= 600:
        raise SystemExit("--rate must be in (0, 10000] and --seconds in (0, 600]")
    return plan, args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a SIGTERM, like Ctrl-C, still stops everything this run started


@contextlib.contextmanager
def running_services(ends: infra.Endpoints, scale: int = 1) -> Iterator[ServiceSet]:
    logs = infra.run_dir(PROFILE) / "services"
    services = start_services(ends, SERVICE_PORTS, logs, db_prefix=DB_PREFIX, scale=scale)
    try:
        yield services
    finally:
        services.stop()


def main(argv: list[str] | None = None) -> int:
    plan, args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for name in ("bench", "devtools"):
        logging.getLogger(name).setLevel(logging.INFO)
    raised = raise_rate_limits()
    print(f"intake rate limits raised to {RATE_LIMIT}: {', '.join(raised)}", flush=True)
    try:
        if args.brokers > 1:  # the cluster's topics: three replicas, two in sync (prepare and services)
            os.environ.update(KAFKA_REPLICATION_FACTOR="3", KAFKA_MIN_INSYNC_REPLICAS="2")
            kafka_layout.cache_clear()  # read at import (shared/topics.py): read it again
        print(f"processes per service: {args.scale}; Kafka brokers: {args.brokers}", flush=True)
        with infra.native_stack(PROFILE, PORTS, fresh=True, brokers=args.brokers) as ends:
            asyncio.run(prepare(ends.kafka_bootstrap, ends.mongo_uri, routing_db=f"{DB_PREFIX}routing"))
            # The load generator on the services' event loop (uvloop): it shares the machine
            # with what it measures, so the less CPU it takes the better.
            with (
                running_services(ends, args.scale) as services,
                asyncio.Runner(loop_factory=new_event_loop) as runner,
            ):
                freeze_loaded_objects()  # as the services do: no long collector pauses in the client
                result = runner.run(bench(ends, services, plan))
    except KeyboardInterrupt:
        print("interrupted: every process this run started has been stopped", file=sys.stderr)
        return 130
    print_summary(result, plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
