"""Raw limits of this machine, measured in one run, so later performance work can be judged as a
fraction of what the infrastructure itself can do.

Figures (each line of the table; the last line of output is the same data as JSON):

- kafka produce      1 KiB messages through `shared.kafka.durable_producer` (idempotent, acks=all),
                     pipelined: every `send()` is awaited into a future, then all are gathered.
                     Into a fresh topic with 6 partitions, keyed like the services key complaints.
                     A tenth of the count (at least 1000) is sent first, untimed: it warms the
                     broker's JIT and rides out the new topic's leader election.
- kafka consume      Reading every message of that topic back with an `AIOKafkaConsumer` in a fresh
                     group (`getmany`, offset reset to earliest). Timed from partition assignment to
                     the last message, so the group join is not counted.
- db insert_one      `insert_one` in a loop, one at a time, through `shared.mongo.mongo_client`
                     (w=1, journal=True): the latency-bound rate of one writer.
- db insert_one x32  The same with 32 concurrent tasks sharing the client's connection pool.
- db bulk upsert     `bulk_write(ordered=False)` of `UpdateOne(..., upsert=True)` in chunks of 500,
                     new documents each time; counted in documents per second.
- http               A bare aiohttp handler (parses a small JSON body, answers 200) running in a
                     subprocess, loaded by an aiohttp client over 64 keep-alive connections: requests
                     per second, the p50/p99 latency seen by the client, and the server process's CPU
                     (in % of one core).

Each rate also shows the CPU this process, the client, used meanwhile (in % of one core). Near 100 %
means the Python client (aiokafka, PyMongo, the aiohttp client) was the limit rather than the
server: still a real ceiling for one service process on this machine, but not the server's.

The first line gives the CPU count and the 1-minute load average before and after the run: other
work on the machine (a test run, a build) lowers every figure, so compare runs on a quiet machine.

Servers: by default Kafka and secantusd-rs are started with `devtools.infra.native_stack` on the
bench profile's ports (39092/39093/38017, data under `.run/bench`, wiped first) and stopped after.
With `BENCH_KAFKA_BOOTSTRAP` and `BENCH_MONGO_URI` both set, those servers are used and nothing is
started. Every measurement is bounded in count and in time; a failing one is reported and the
others still run. The topic and the database of the run are deleted at the end.

Run from the repository root:

    .venv/bin/python -m bench.ceilings            # full run, about a minute with server start-up
    .venv/bin/python -m bench.ceilings --quick    # smaller counts, a smoke run
    .venv/bin/python -m bench.ceilings --messages 100000 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from devtools import infra
from shared.kafka import durable_producer, ensure_topics
from shared.mongo import Doc, mongo_client
from shared.topics import TopicSpec

log = logging.getLogger("bench.ceilings")

BENCH_PORTS = infra.Ports(kafka=39092, kafka_controller=39093, mongo=38017)
STAGE_BUDGET_S = 120.0  # no single measurement runs longer than this
PARTITIONS = 6
MESSAGE_BYTES = 1024
WARMUP_MESSAGES = 1000  # at least; also absorbs the new topic's leader election
DB_TASKS = 32
UPSERT_CHUNK = 500
HTTP_CONNECTIONS = 64
HTTP_WARMUP_S = 1.0
HTTP_MAX_REQUESTS = 5_000_000
HTTP_BODY = json.dumps(
    {"pemda": "3273", "kategori": "jalan", "isi": "Jalan berlubang di depan pasar"}
).encode()


@dataclass(frozen=True)
class Sizes:
    messages: int
    inserts: int
    upserts: int
    http_seconds: float


FULL = Sizes(messages=50_000, inserts=3_000, upserts=20_000, http_seconds=10.0)
QUICK = Sizes(messages=5_000, inserts=300, upserts=2_000, http_seconds=2.0)


@dataclass(frozen=True)
class Rate:
    done: int
    seconds: float
    cpu_seconds: float  # of this process: near `seconds` means the client side was the limit

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_pct(self) -> int:
        return round(100 * self.cpu_seconds / self.seconds) if self.seconds > 0 else 0

    @property
    def detail(self) -> str:
        return f"{self.done} in {self.seconds:.2f} s, client cpu {self.cpu_pct} %"


class Stopwatch:
    """Wall and CPU time of this process since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rate(self, done: int) -> Rate:
        return Rate(done, time.perf_counter() - self.wall, time.process_time() - self.cpu)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: float
    unit: str
    detail: str = ""
    decimals: int = 0
    client_cpu_pct: int | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    machine: dict[str, float] = field(default_factory=dict)  # CPUs and load: other work skews the figures

    def rate(self, key: str, label: str, rate: Rate, unit: str) -> None:
        self.rows.append(
            Row(key, label, round(rate.per_second), unit, rate.detail, client_cpu_pct=rate.cpu_pct)
        )

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Run one measurement; an exception is recorded under `name` and the run goes on."""
        log.info("measuring %s", name)
        try:
            yield
        except Exception as exc:
            log.exception("%s failed", name)
            self.errors[name] = f"{type(exc).__name__}: {exc}"

    def note_load(self, when: str) -> None:
        self.machine["cpus"] = os.cpu_count() or 0
        self.machine[f"load_{when}"] = round(os.getloadavg()[0], 2)

    def print(self, sizes: Sizes) -> None:
        m = self.machine
        print(f"machine: {m['cpus']} CPUs, load {m['load_before']} before, {m['load_after']} after")
        for row in self.rows:
            print(f"{row.label:<48} {row.value:>10,.{row.decimals}f} {row.unit:<7} {row.detail}")
        for name, error in self.errors.items():
            print(f"{name:<48} {'FAILED':>10}  {error}")
        figures = {row.key: row.value for row in self.rows}
        cpu = {row.key: row.client_cpu_pct for row in self.rows if row.client_cpu_pct is not None}
        extra = {
            "client_cpu_pct": cpu,
            "sizes": asdict(sizes),
            "machine": self.machine,
            "errors": self.errors,
        }
        print(json.dumps({"figures": figures, **extra}))


def deadline() -> float:
    return time.monotonic() + STAGE_BUDGET_S


# --- Kafka --------------------------------------------------------------------------------------


async def kafka_produce(bootstrap: str, topic: str, count: int) -> tuple[Rate, int]:
    """The timed rate, and how many messages the topic holds in all (warm-up included)."""
    payload = os.urandom(MESSAGE_BYTES)
    producer = durable_producer(bootstrap)
    await producer.start()
    try:
        warmup_keys = range(count, count + max(count // 10, WARMUP_MESSAGES))
        warmup = await _send_all(producer, topic, payload, warmup_keys, deadline())
        watch = Stopwatch()
        timed = await _send_all(producer, topic, payload, range(count), deadline())
        return watch.rate(timed), warmup + timed
    finally:
        await producer.stop()


async def _send_all(producer: AIOKafkaProducer, topic: str, payload: bytes, keys: range, until: float) -> int:
    pending = []
    for key in keys:
        if time.monotonic() > until:
            break
        pending.append(await producer.send(topic, value=payload, key=b"complaint-%d" % key))
    async with asyncio.timeout(max(until - time.monotonic(), 1.0)):
        await asyncio.gather(*pending)
    return len(pending)


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells when the group join has handed this consumer its partitions."""

    def __init__(self) -> None:
        self.done = asyncio.Event()

    async def on_partitions_revoked(self, revoked: object) -> None:
        pass

    async def on_partitions_assigned(self, assigned: object) -> None:
        self.done.set()


async def kafka_consume(bootstrap: str, topic: str, expected: int) -> Rate:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"bench-ceilings-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    assignment = _Assignment()
    consumer.subscribe([topic], listener=assignment)
    await consumer.start()
    try:
        until = deadline()
        async with asyncio.timeout(STAGE_BUDGET_S):
            await assignment.done.wait()  # the group join runs in the background; not timed
        watch = Stopwatch()
        seen = 0
        while seen < expected and time.monotonic() < until:
            batches = await consumer.getmany(timeout_ms=500)
            seen += sum(len(records) for records in batches.values())
        return watch.rate(seen)
    finally:
        await consumer.stop()


async def measure_kafka(report: Report, bootstrap: str, count: int) -> None:
    topic = f"bench.ceilings.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [TopicSpec(topic, PARTITIONS)])
    try:
        in_topic = 0
        with report.stage("kafka produce"):
            produced, in_topic = await kafka_produce(bootstrap, topic, count)
            report.rate(
                "kafka_produce_msg_s", "kafka produce (1 KiB, acks=all, idempotent)", produced, "msg/s"
            )
        if in_topic:
            with report.stage("kafka consume"):
                consumed = await kafka_consume(bootstrap, topic, in_topic)
                report.rate("kafka_consume_msg_s", "kafka consume (1 KiB, getmany)", consumed, "msg/s")
    finally:
        await _delete_topic(bootstrap, topic)


async def _delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


# --- database -----------------------------------------------------------------------------------


def complaint_doc(i: int) -> Doc:
    """About the size and shape of a stored complaint (~400 bytes of BSON)."""
    return {
        "_id": f"bench-{i:08d}",
        "pemda": "3273",
        "kategori": "jalan",
        "status": "submitted",
        "isi": "Jalan berlubang di depan pasar, sudah tiga minggu belum diperbaiki. " * 4,
        "rev": 1,
        "created_at": datetime.now(UTC),
    }


async def insert_serial(coll: AsyncCollection[Doc], count: int) -> Rate:
    until = deadline()
    watch = Stopwatch()
    done = 0
    while done < count and time.monotonic() < until:
        await coll.insert_one(complaint_doc(done))
        done += 1
    return watch.rate(done)


async def insert_concurrent(coll: AsyncCollection[Doc], count: int, tasks: int) -> Rate:
    until = deadline()
    numbers = iter(range(count))  # shared by the tasks: each number is inserted once

    async def worker() -> int:
        done = 0
        for i in numbers:
            if time.monotonic() > until:
                break
            await coll.insert_one(complaint_doc(i))
            done += 1
        return done

    watch = Stopwatch()
    done = sum(await asyncio.gather(*(worker() for _ in range(tasks))))
    return watch.rate(done)


async def bulk_upserts(coll: AsyncCollection[Doc], count: int) -> Rate:
    until = deadline()
    watch = Stopwatch()
    sent = upserted = 0
    while sent < count and time.monotonic() < until:
        docs = [complaint_doc(i) for i in range(sent, min(sent + UPSERT_CHUNK, count))]
        ops = [UpdateOne({"_id": d.pop("_id")}, {"$set": d}, upsert=True) for d in docs]
        result = await coll.bulk_write(ops, ordered=False)
        sent += len(ops)
        upserted += result.upserted_count
    return watch.rate(upserted)


async def measure_db(report: Report, uri: str, sizes: Sizes) -> None:
    client = mongo_client(uri)
    db = client[f"bench_ceilings_{uuid.uuid4().hex[:8]}"]
    try:
        for name in ("serial", "concurrent", "upserts"):
            await db[name].insert_one({"_id": "warmup"})  # creates the collection, opens a connection
        with report.stage("db insert_one"):
            rate = await insert_serial(db["serial"], sizes.inserts)
            report.rate("db_insert_one_s", "db insert_one (1 writer, journal)", rate, "docs/s")
        with report.stage(f"db insert_one x{DB_TASKS}"):
            rate = await insert_concurrent(db["concurrent"], sizes.inserts, DB_TASKS)
            report.rate("db_insert_one_concurrent_s", f"db insert_one ({DB_TASKS} tasks)", rate, "docs/s")
        with report.stage("db bulk upsert"):
            rate = await bulk_upserts(db["upserts"], sizes.upserts)
            label = f"db bulk_write upsert (chunks of {UPSERT_CHUNK})"
            report.rate("db_bulk_upsert_docs_s", label, rate, "docs/s")
    finally:
        with contextlib.suppress(Exception):
            await client.drop_database(db.name)
        await client.close()


# --- HTTP ---------------------------------------------------------------------------------------


async def _parse_and_answer(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"ok": True, "fields": len(body)})


async def serve_http() -> None:
    """The subprocess side: listen on a free port, print it, serve until stdin closes."""
    app = web.Application()
    app.router.add_post("/", _parse_and_answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.to_thread(sys.stdin.read)  # the parent closing the pipe is the stop signal
    await runner.cleanup()


@contextlib.asynccontextmanager
async def server_subprocess(module: str, *args: str, path: str = "/") -> AsyncIterator[tuple[str, int]]:
    """Start `python -m module args…`, which prints its port; yield its URL and PID.

    Closing its stdin is the stop signal. Shared with bench.intake's reference servers.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=infra.REPO_ROOT,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = await proc.stdout.readline()
        if not line:
            raise RuntimeError(f"server {module} {args} exited with {await proc.wait()} before listening")
        yield f"http://127.0.0.1:{int(line)}{path}", proc.pid
    finally:
        proc.stdin.close()
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _load(session: ClientSession, url: str, seconds: float) -> tuple[list[float], Rate]:
    """Keep HTTP_CONNECTIONS requests in flight for `seconds`: the latencies and the rate."""
    latencies: list[float] = []
    until = time.monotonic() + seconds
    headers = {"Content-Type": "application/json"}

    async def worker() -> None:
        while time.monotonic() < until and len(latencies) < HTTP_MAX_REQUESTS:
            sent = time.perf_counter()
            async with session.post(url, data=HTTP_BODY, headers=headers) as resp:
                await resp.read()
                resp.raise_for_status()
            latencies.append(time.perf_counter() - sent)

    watch = Stopwatch()
    await asyncio.gather(*(worker() for _ in range(HTTP_CONNECTIONS)))
    return latencies, watch.rate(len(latencies))


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def measure_http(report: Report, seconds: float) -> None:
    connector = TCPConnector(limit=HTTP_CONNECTIONS)
    async with (
        server_subprocess("bench.ceilings", "--serve-http") as (url, pid),
        ClientSession(connector=connector) as session,
    ):
        await _load(session, url, HTTP_WARMUP_S)  # opens the connections; not counted
        server_cpu = _cpu_seconds(pid)
        latencies, rate = await _load(session, url, seconds)
        server_cpu = _cpu_seconds(pid) - server_cpu
    report.rate("http_req_s", f"http bare aiohttp handler ({HTTP_CONNECTIONS} conns)", rate, "req/s")
    latencies.sort()
    for q, name in ((0.50, "p50"), (0.99, "p99")):
        ms = percentile(latencies, q) * 1000
        report.rows.append(Row(f"http_{name}_ms", f"http latency {name}", round(ms, 2), "ms", decimals=2))
    # Compare with the client's: the side near 100 % of a core was the limit.
    pct = round(100 * server_cpu / rate.seconds)
    report.rows.append(Row("http_server_cpu_pct", "http server process cpu", pct, "%", "of one core"))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- driver -------------------------------------------------------------------------------------


async def measure_all(ends: infra.Endpoints, sizes: Sizes) -> Report:
    report = Report()
    report.note_load("before")
    with report.stage("kafka"):
        await measure_kafka(report, ends.kafka_bootstrap, sizes.messages)
    with report.stage("db"):
        await measure_db(report, ends.mongo_uri, sizes)
    with report.stage("http"):
        await measure_http(report, sizes.http_seconds)
    report.note_load("after")
    return report


def external_endpoints() -> infra.Endpoints | None:
    bootstrap, uri = os.environ.get("BENCH_KAFKA_BOOTSTRAP"), os.environ.get("BENCH_MONGO_URI")
    if bool(bootstrap) != bool(uri):
        raise SystemExit("set both BENCH_KAFKA_BOOTSTRAP and BENCH_MONGO_URI, or neither")
    return infra.Endpoints(kafka_bootstrap=bootstrap, mongo_uri=uri) if bootstrap and uri else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ceilings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--messages", type=int, help="Kafka messages to produce and consume (default 50000)")
    parser.add_argument("--seconds", type=float, help="duration of the HTTP load (default 10)")
    parser.add_argument("--serve-http", action="store_true", help=argparse.SUPPRESS)  # the subprocess
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_http:
        asyncio.run(serve_http())
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for name in ("bench", "devtools"):
        logging.getLogger(name).setLevel(logging.INFO)
    sizes = QUICK if args.quick else FULL
    sizes = replace(
        sizes,
        messages=args.messages or sizes.messages,
        http_seconds=args.seconds or sizes.http_seconds,
    )
    external = external_endpoints()
    if external is not None:
        report = asyncio.run(measure_all(external, sizes))
    else:
        with infra.native_stack("bench", BENCH_PORTS, fresh=True) as ends:
            report = asyncio.run(measure_all(ends, sizes))
    report.print(sizes)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
