"""Submit throughput and latency of the real intake service, next to three references measured in the
same run on the same machine, so the service's cost can be read as a fraction of what it must do.

Four targets, each loaded the same way: an aiohttp client (on uvloop) keeps `--connections` (64)
keep-alive connections busy with `POST`s of valid Indonesian complaint bodies (a few titles,
categories and regions, some with a reporter, some anonymous), half of them with a unique
`Idempotency-Key`. First a warm-up of 3 s (1 s with `--quick`), not counted: connection pools
fill, the broker's JIT and the new topics' leaders settle. Then `--seconds` (10; 3 with `--quick`)
of measured load.

- bare             An aiohttp handler that parses the JSON body and answers 202: the HTTP ceiling of
                   one Python process here. A subprocess server, like `bench.ceilings`' bare handler;
                   on uvloop, the services' event loop (`shared.runtime.new_event_loop`), as the
                   next one is.
- minimal durable  An aiohttp handler that writes the raw body to Kafka through
                   `shared.kafka.durable_producer` (idempotent, acks=all) and answers 202 after the
                   ack. Into its own topic with the partition count of `complaints.submitted`.
- durable + database
                   The least an intake that keeps the complaint (the reporter's identity lives only
                   in intake's database, DESIGN §3) must do: parse the JSON, write it to Kafka as the
                   minimal handler does and insert it into secantusd-rs through
                   `shared.mongo.GroupWriter` (the grouped insert intake uses), both at once, 202
                   after both. Database `bench_reference`. Its ratio to the minimal durable handler
                   is the ceiling of the real intake's ratio on this machine.
- real intake      `python -m services.intake` as a process (validation, Idempotency-Key, grouped
                   database insert, durable publish, 202), on a fresh Kafka and secantusd-rs started
                   with `devtools.infra.native_stack` (profile `bench-intake`, ports 39192/39193/
                   38117, data under `.run/bench-intake`, wiped first), prepared with
                   `devtools.prepare.prepare`. Its log is `.run/bench-intake/services/intake.log`.

For each target: requests per second answered 202, the p50/p99 latency the client saw (202 answers
only; for the real intake also split by with/without Idempotency-Key), anything other than 202 (a
count by status, and the first answers printed), and the CPU used meanwhile, in % of one core: by
the client (this process — near 100 % means the load generator was the limit), the server process,
the broker and the database, and the whole machine (in % of all its cores: near 100 % means the
machine, shared by all of them, was the limit). Then real / minimal durable, real / bare, and
durable + database / minimal durable (the ceiling) and real / durable + database.

Targets, printed next to the figures, never asserted: real ≥ 80 % of minimal durable; real p99 ≤ 50 ms.
The last line of output is all figures as JSON (the `bench.ceilings` layout).

Every load is bounded in time and in request count; traffic goes only to 127.0.0.1. Every process
and server started here is stopped at the end, also on error or Ctrl-C.

Run from the repository root:

    .venv/bin/python -m bench.intake                  # full run: about a minute with server start-up
    .venv/bin/python -m bench.intake --quick          # 3 s per target
    .venv/bin/python -m bench.intake --seconds 20 --connections 32
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web

from bench.ceilings import Rate, Report, Row, Stopwatch, _cpu_seconds, percentile, server_subprocess
from devtools import infra
from devtools.prepare import prepare
from devtools.services import ServiceSet, service_env, wait_ready
from services.intake.models import SubmitComplaint
from shared.categories import CATEGORIES
from shared.kafka import durable_producer, ensure_topics
from shared.mongo import GroupWriter, mongo_client
from shared.runtime import freeze_loaded_objects, new_event_loop
from shared.topics import COMPLAINT_PARTITIONS, TopicSpec

log = logging.getLogger("bench.intake")

PROFILE = "bench-intake"
PORTS = infra.Ports(kafka=39192, kafka_controller=39193, mongo=38117)
DB_PREFIX = "bench_"  # the intake service's database is `bench_intake`
DURABLE_TOPIC = "bench.intake.durable"
REFERENCE_DB = "bench_reference"
SUBMIT_PATH = "/api/v1/complaints"
MAX_REQUESTS = 2_000_000  # per load, whatever its duration
REQUEST_TIMEOUT_S = 30.0  # one request; the load's own end is its duration
ERROR_BACKOFF_S = 0.05  # after a connection failure, so a dead server does not make a busy loop
ERROR_SAMPLES = 5
SERVER_START_S = 60.0
TARGET_RATIO = 0.80  # real intake ≥ 80 % of the minimal durable handler
TARGET_P99_MS = 50.0


@dataclass(frozen=True)
class Sizes:
    seconds: float
    connections: int
    warmup_seconds: float  # per target, before the measured load; not counted


FULL = Sizes(seconds=10.0, connections=64, warmup_seconds=3.0)
QUICK = Sizes(seconds=3.0, connections=64, warmup_seconds=1.0)


# --- traffic --------------------------------------------------------------------------------------

SUBJECTS = (
    (
        "Jalan berlubang di Jl. Pemuda",
        "Lubang besar di depan SD Negeri 2, sudah dua minggu belum ditambal dan membahayakan pengendara.",
        "jalan-jembatan",
    ),
    (
        "Lampu jalan mati sepanjang gang",
        "Tiga lampu PJU di gang masuk kampung mati sejak awal bulan, warga takut lewat pada malam hari.",
        "penerangan-jalan",
    ),
    (
        "Sampah menumpuk di pinggir sungai",
        "Tumpukan sampah rumah tangga di bantaran sungai tidak diangkut lebih dari seminggu dan berbau.",
        "persampahan-lingkungan",
    ),
    (
        "Air PDAM tidak mengalir",
        "Sudah empat hari air perpipaan di RT 03 tidak mengalir, padahal tagihan tetap dibayar penuh.",
        "air-minum",
    ),
    (
        "Antrean puskesmas terlalu lama",
        "Pasien lansia menunggu lebih dari tiga jam di puskesmas kecamatan tanpa sistem nomor antrean.",
        "kesehatan",
    ),
    (
        "KTP-el belum jadi setelah tiga bulan",
        "Perekaman KTP-el sudah dilakukan tiga bulan lalu tetapi kartu belum juga dicetak oleh dinas.",
        "kependudukan",
    ),
)
REGIONS = ("33.74.01.1001", "64.01", "73.71", "33.74")
REPORTERS: tuple[dict[str, object], ...] = (
    {"reporter": {"name": "Sari Wulandari", "phone": "0812-3456-7890"}},
    {"anonymous": True},
    {
        "reporter": {"name": "Budi Santoso", "email": "budi.santoso@example.id"},
        "location": {"lat": -6.9847, "lon": 110.4101},
        "address": "Jl. Pemuda No. 12",
        "incident_date": "2025-03-14",
    },
)


def complaint_bodies() -> list[bytes]:
    """Every combination of subject, region and reporter (72 bodies), each checked valid here."""
    bodies = []
    for (title, description, category), region, extra in itertools.product(SUBJECTS, REGIONS, REPORTERS):
        assert category in CATEGORIES, category
        doc = {
            "title": title,
            "description": description,
            "category": category,
            "region_code": region,
            **extra,
        }
        SubmitComplaint.model_validate(doc)  # a rejected body would be the bench's fault, not the server's
        bodies.append(json.dumps(doc).encode())
    return bodies


class Traffic:
    """The n-th request of the run: a body in turn, and a unique Idempotency-Key on every other one."""

    def __init__(self) -> None:
        self.bodies = complaint_bodies()
        self.numbers = itertools.count()
        self.run = uuid.uuid4().hex[:12]

    def request(self) -> tuple[bytes, dict[str, str], bool]:
        n = next(self.numbers)
        headers = {"Content-Type": "application/json"}
        keyed = n % 2 == 0
        if keyed:
            headers["Idempotency-Key"] = f"bench-{self.run}-{n}"
        return self.bodies[n % len(self.bodies)], headers, keyed


# --- load generator -------------------------------------------------------------------------------


@dataclass
class LoadResult:
    rate: Rate  # of 202 answers
    keyed: list[float] = field(default_factory=list)  # latencies of 202 answers, with a key
    unkeyed: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)  # non-202 status or exception name
    samples: list[str] = field(default_factory=list)

    def fail(self, what: str, detail: str) -> None:
        self.failures[what] += 1
        if len(self.samples) < ERROR_SAMPLES:
            self.samples.append(f"{what}: {detail[:300]}")


async def load(
    session: ClientSession, url: str, traffic: Traffic, seconds: float, connections: int
) -> LoadResult:
    """Keep `connections` requests in flight for `seconds` (and at most MAX_REQUESTS)."""
    result = LoadResult(Rate(0, 0.0, 0.0))
    sent_count = 0
    until = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal sent_count
        while time.monotonic() < until and sent_count < MAX_REQUESTS:
            sent_count += 1
            body, headers, with_key = traffic.request()
            sent = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    answer = await resp.read()
                    status = resp.status
            except (ClientError, TimeoutError) as exc:
                result.fail(type(exc).__name__, str(exc))
                await asyncio.sleep(ERROR_BACKOFF_S)  # backoff: the server is gone or refusing
                continue
            if status == 202:
                (result.keyed if with_key else result.unkeyed).append(time.perf_counter() - sent)
            else:
                result.fail(str(status), answer.decode(errors="replace"))

    watch = Stopwatch()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.rate = watch.rate(len(result.keyed) + len(result.unkeyed))
    return result


class MachineCpu:
    """Busy time of all cores since it was made, from /proc/stat (Linux), in % of all cores."""

    def __init__(self) -> None:
        self.busy, self.total = self._read()

    @staticmethod
    def _read() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    def pct(self) -> int:
        busy, total = self._read()
        return round(100 * (busy - self.busy) / max(total - self.total, 1))


async def measure(
    report: Report,
    key: str,
    label: str,
    url: str,
    pids: dict[str, int],
    traffic: Traffic,
    sizes: Sizes,
) -> LoadResult:
    """Warm up, load `url`, and add its rows; `pids` names the processes whose CPU is shown."""
    connector = TCPConnector(limit=sizes.connections)
    timeout = ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with ClientSession(connector=connector, timeout=timeout) as session:
        warm = await load(session, url, traffic, sizes.warmup_seconds, sizes.connections)
        if warm.failures:
            log.info("%s: warm-up had non-202 answers (not counted): %s", key, dict(warm.failures))
        cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
        machine = MachineCpu()
        result = await load(session, url, traffic, sizes.seconds, sizes.connections)
        machine_pct = machine.pct()
        cpu_pct = {
            name: round(100 * (_cpu_seconds(pid) - cpu_before[name]) / result.rate.seconds)
            for name, pid in pids.items()
        }
    report.rate(f"{key}_req_s", f"{label} ({sizes.connections} conns)", result.rate, "req/s")
    latencies = sorted(result.keyed + result.unkeyed)
    for q, name in ((0.50, "p50"), (0.99, "p99")):
        if latencies:
            ms = round(percentile(latencies, q) * 1000, 2)
            report.rows.append(Row(f"{key}_{name}_ms", f"  latency {name}", ms, "ms", decimals=2))
    errors = sum(result.failures.values())
    detail = ", ".join(f"{what}: {n}" for what, n in result.failures.most_common()) or "none"
    report.rows.append(Row(f"{key}_non202", "  answers other than 202", errors, "", detail))
    for name, pct in cpu_pct.items():
        report.rows.append(Row(f"{key}_{name}_cpu_pct", f"  {name} cpu", pct, "%", "of one core"))
    cores = os.cpu_count() or 1
    report.rows.append(
        Row(f"{key}_machine_cpu_pct", "  machine cpu", machine_pct, "%", f"of all {cores} cores")
    )
    return result


# --- reference servers (subprocesses) -------------------------------------------------------------


async def _bare(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"ok": True, "fields": len(body)}, status=202)


async def serve(kind: str, bootstrap: str | None, mongo_uri: str | None = None) -> None:
    """The subprocess side: listen on a free port, print it, serve until stdin closes."""
    async with contextlib.AsyncExitStack() as stack:
        app = web.Application(client_max_size=1024 * 1024)
        if kind == "bare":
            app.router.add_post(SUBMIT_PATH, _bare)
        else:
            assert bootstrap is not None
            producer = durable_producer(bootstrap)
            await producer.start()
            stack.push_async_callback(producer.stop)
            await producer.partitions_for(DURABLE_TOPIC)  # metadata (and the leader) before serving
            keys = itertools.count()

            async def durable(request: web.Request) -> web.Response:
                body = await request.read()
                ack = await producer.send(DURABLE_TOPIC, value=body, key=b"complaint-%d" % next(keys))
                await ack
                return web.json_response({"ok": True}, status=202)

            handler = durable
            if kind == "durable-db":
                assert mongo_uri is not None
                client = mongo_client(mongo_uri)
                stack.push_async_callback(client.close)
                writer = GroupWriter(client[REFERENCE_DB]["complaints"])

                async def durable_db(request: web.Request) -> web.Response:
                    body = await request.read()
                    doc = json.loads(body)
                    key = b"complaint-%d" % next(keys)
                    sent = await producer.send(DURABLE_TOPIC, value=body, key=key)
                    await asyncio.gather(writer.insert({**doc, "_id": key.decode()}), sent)
                    return web.json_response({"ok": True}, status=202)

                handler = durable_db
            app.router.add_post(SUBMIT_PATH, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.to_thread(sys.stdin.read)  # the parent closing the pipe is the stop signal


def reference_server(*args: str) -> contextlib.AbstractAsyncContextManager[tuple[str, int]]:
    """A reference server subprocess (`--serve <kind>`); yields its submit URL and PID."""
    return server_subprocess("bench.intake", "--serve", *args, path=SUBMIT_PATH)


# --- the real intake service ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_intake(ends: infra.Endpoints, port: int) -> infra.Server:
    """`python -m services.intake` alone, spawned as `devtools.services.start_services` spawns each
    service (that function always starts all three); its PID file and log under the profile."""
    logs = infra.run_dir(PROFILE) / "services"
    logs.mkdir(parents=True, exist_ok=True)
    server = infra.Server("intake", logs / "intake.pid", logs / "intake.log")
    server.stop()  # a stale one of an interrupted run
    with server.logfile.open("wb") as out:  # this run only
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.intake"],
            # The load comes from one address: the rate limits (settings) are lifted for it.
            env={
                **service_env("intake", ends, port, DB_PREFIX),
                "INTAKE_RATE_SUBMIT_PER_MINUTE": "0",
                "INTAKE_RATE_SUBMIT_PER_MINUTE_PER_KEY": "0",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=infra.REPO_ROOT,
        )
    server.pidfile.write_text(str(proc.pid))
    return server


@contextlib.asynccontextmanager
async def intake_service(ends: infra.Endpoints) -> AsyncIterator[tuple[str, int]]:
    """Start the intake service; yield its submit URL and PID once /readyz answers 200; stop it."""
    port = _free_port()
    server = start_intake(ends, port)
    try:
        await wait_ready(ServiceSet({"intake": port}, {"intake": server}), timeout=SERVER_START_S)
        assert server.pid is not None
        yield f"http://127.0.0.1:{port}{SUBMIT_PATH}", server.pid
    finally:
        await asyncio.to_thread(server.stop, 15)  # SIGTERM, SIGKILL after 15 s; reaps it


def stack_pids() -> dict[str, int]:
    """The broker's and the database's PIDs, from the files `native_stack` wrote."""
    base = infra.run_dir(PROFILE)
    pids = {
        "kafka": infra.Server("kafka", base / "kafka" / "kafka.pid", Path()).pid,
        "db": infra.Server("secantusd-rs", base / "secantus" / "secantusd.pid", Path()).pid,
    }
    return {name: pid for name, pid in pids.items() if pid is not None}


# --- driver ---------------------------------------------------------------------------------------


def add_verdicts(report: Report) -> None:
    """Ratios and targets, from the rows measured (a missing one leaves its verdict out)."""
    values = {row.key: row.value for row in report.rows}
    real, durable, bare = (values.get(f"{k}_req_s") for k in ("real", "durable", "bare"))
    durable_db = values.get("durable_db_req_s")
    if durable_db is not None and durable:
        pct = round(100 * durable_db / durable, 1)
        detail = "the most any intake that also stores the complaint could reach"
        label = "durable + database / minimal durable"
        report.rows.append(Row("durable_db_vs_durable_pct", label, pct, "%", detail, 1))
    if real is not None and durable_db:
        pct = round(100 * real / durable_db, 1)
        report.rows.append(Row("real_vs_durable_db_pct", "real / durable + database", pct, "%", "", 1))
    if real is not None and durable:
        pct = round(100 * real / durable, 1)
        verdict = "met" if pct >= TARGET_RATIO * 100 else "MISSED"
        detail = f"target ≥ {TARGET_RATIO * 100:.0f} %: {verdict}"
        report.rows.append(Row("real_vs_durable_pct", "real / minimal durable", pct, "%", detail, 1))
    if real is not None and bare:
        pct = round(100 * real / bare, 1)
        report.rows.append(Row("real_vs_bare_pct", "real / bare", pct, "%", "", 1))
    p99 = values.get("real_p99_ms")
    if p99 is not None:
        verdict = "met" if p99 <= TARGET_P99_MS else "MISSED"
        detail = f"target ≤ {TARGET_P99_MS:.0f} ms: {verdict}"
        report.rows.append(Row("real_p99_target", "real p99 vs target", p99, "ms", detail, 2))


def print_failures(results: dict[str, LoadResult]) -> None:
    for key, result in results.items():
        if result.failures:
            print(f"{key}: {sum(result.failures.values())} answers other than 202: {dict(result.failures)}")
            for sample in result.samples:
                print(f"    {sample}")


async def measure_all(ends: infra.Endpoints, sizes: Sizes) -> tuple[Report, dict[str, LoadResult]]:
    report = Report()
    report.note_load("before")
    traffic = Traffic()
    results: dict[str, LoadResult] = {}
    infra_pids = stack_pids()
    with report.stage("bare"):
        async with reference_server("bare") as (url, pid):
            results["bare"] = await measure(
                report, "bare", "bare: parse JSON, 202", url, {"server": pid}, traffic, sizes
            )
    with report.stage("durable"):
        await ensure_topics(ends.kafka_bootstrap, [TopicSpec(DURABLE_TOPIC, COMPLAINT_PARTITIONS)])
        async with reference_server("durable", "--bootstrap", ends.kafka_bootstrap) as (url, pid):
            label = "minimal durable: body to Kafka, 202"
            pids = {"server": pid, **infra_pids}
            results["durable"] = await measure(report, "durable", label, url, pids, traffic, sizes)
    with report.stage("durable_db"):
        args = ("durable-db", "--bootstrap", ends.kafka_bootstrap, "--mongo-uri", ends.mongo_uri)
        async with reference_server(*args) as (url, pid):
            label = "durable + database: Kafka and a grouped insert, 202"
            pids = {"server": pid, **infra_pids}
            results["durable_db"] = await measure(report, "durable_db", label, url, pids, traffic, sizes)
    with report.stage("real"):
        await prepare(ends.kafka_bootstrap, ends.mongo_uri, routing_db=f"{DB_PREFIX}routing")
        async with intake_service(ends) as (url, pid):
            pids = {"intake": pid, **infra_pids}
            result = await measure(report, "real", "real intake", url, pids, traffic, sizes)
            results["real"] = result
        for name, latencies in (("keyed", result.keyed), ("unkeyed", result.unkeyed)):
            latencies.sort()
            for q, pname in ((0.50, "p50"), (0.99, "p99")):
                if latencies:
                    ms = round(percentile(latencies, q) * 1000, 2)
                    label = f"  {pname} {'with' if name == 'keyed' else 'without'} Idempotency-Key"
                    report.rows.append(Row(f"real_{name}_{pname}_ms", label, ms, "ms", decimals=2))
    add_verdicts(report)
    report.note_load("after")
    return report, results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.seconds:.0f} s per target")
    parser.add_argument(
        "--seconds", type=float, help=f"measured load per target (default {FULL.seconds:.0f})"
    )
    parser.add_argument(
        "--connections", type=int, help=f"concurrent connections (default {FULL.connections})"
    )
    parser.add_argument("--serve", choices=("bare", "durable", "durable-db"), help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--mongo-uri", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so a SIGTERM, like Ctrl-C, still stops everything this run started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        # On the services' own event loop (shared.runtime), so the ratios compare like with like.
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            freeze_loaded_objects()  # and the services' collector settings (shared.runtime.settle_gc)
            runner.run(serve(args.serve, args.bootstrap, args.mongo_uri))
        return 0
    signal.signal(signal.SIGTERM, _interrupt)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for name in ("bench", "devtools"):
        logging.getLogger(name).setLevel(logging.INFO)
    sizes = QUICK if args.quick else FULL
    sizes = replace(
        sizes, seconds=args.seconds or sizes.seconds, connections=args.connections or sizes.connections
    )
    if not 0 < sizes.seconds <= 600 or not 0 < sizes.connections <= 1024:
        raise SystemExit("--seconds must be in (0, 600] and --connections in (0, 1024]")
    # The load generator on uvloop too: less of the shared machine for the client.
    with (
        infra.native_stack(PROFILE, PORTS, fresh=True) as ends,
        asyncio.Runner(loop_factory=new_event_loop) as runner,
    ):
        freeze_loaded_objects()  # as the services do: no long collector pauses in the client
        report, results = runner.run(measure_all(ends, sizes))
    print_failures(results)
    report.print(sizes)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
