"""The kill suite: an open-loop submit load while each process of the stack is SIGKILLed in turn,
the stack healing by itself (make run's supervisor), then every complaint that was answered 202
is checked end to end.

What it does:
1. Starts the whole stack under supervision (`devtools.stack`, the same code as `make run`) on
   its own ports and data (profile `chaos`, wiped first). The services' per-minute rate limits are
   off: the load stands for many citizens, not one address.
2. Offers `--rate` submits per second, open loop: a new citizen every 1/rate s whatever happened
   to the others. Each citizen behaves as a real client does: one `Idempotency-Key` for all its
   attempts, waits what `Retry-After` says (1 s when a connection fails or nothing is said, 10 s
   per attempt at most), retries 503/429/409 and failed connections, and gives up 60 s after its
   first attempt.
3. After a warm-up, SIGKILLs in turn intake, routing, sla, Kafka and the database, each once.
   Nothing but the supervisor starts them again. A fault is healed when the killed process runs
   again (a restart counted), answers (Kafka and the database to their clients), and every
   service's /readyz is 200; the load runs `--steady` s more before the next kill.
4. Waits for the citizens still retrying, then for the complaints to settle, and checks, for every
   complaint answered 202, in the three databases and on complaints.events:
   - lost:        answered 202 but unknown to intake or never routed;
   - duplicated:  one citizen (one key) with more than one complaint, or a complaint with two
                  different events at one `seq`;
   - stuck:       routed, but no clock opened in sla or the citizen's view still at `received`
                  (last_seq < 2) when the settle time ran out;
   and, for information, phantoms (complaints of citizens who gave up: durable, routed, but the
   citizen holds no token) and withdrawn ones (ghosts of the old design).
Printed: offered, accepted, lost, duplicated, stuck, the share of citizens who never got a 202,
the answers seen, and each fault's time to heal; the last line is the same as JSON.

    .venv/bin/python -m bench.chaos                  # 50 submits/s, about 3 minutes
    .venv/bin/python -m bench.chaos --rate 10 --steady 5
    .venv/bin/python -m bench.chaos --scale 2 --brokers 3 --faults intake-2,routing,sla-2,kafka-2

With `--scale 2` every service runs two processes (one address each, SO_REUSEPORT) and a fault
may name one of a pair (`intake-2`); with `--brokers 3` Kafka is a KRaft cluster (replication
factor 3, min.insync.replicas 2) and `kafka-2` is one of its brokers, healed once it is back in
every partition's in-sync replicas. Each heal also counts the submits answered 202 while the
process was down: with the other of a pair, or two brokers of three, the service carried on.

`tests/e2e/test_chaos.py` runs a bounded form in `make test` (a few hundred complaints) and asserts
only lost = duplicated = stuck = 0.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient
from ulid import ULID

from devtools import infra
from devtools.services import SERVICES, listening, service_of, wait_ready
from devtools.stack import Stack, supervised_stack, ticking
from shared.envelope import DecodeError, decode
from shared.mongo import mongo_client
from shared.topics import COMPLAINTS_EVENTS, TOPICS

# Below the ephemeral range (32768+), where a client connection could hold one of them.
CHAOS_PORTS = infra.Ports(kafka=31192, kafka_controller=31193, mongo=31117)
CHAOS_HTTP_PORTS = {"intake": 31181, "routing": 31182, "sla": 31183}
FAULTS = ("intake", "routing", "sla", "kafka", "database")
ANSWERED = (200, 201, 202)
RETRIED = (409, 429, 500, 502, 503, 504)


@dataclass(frozen=True)
class Plan:
    rate: float = 50.0  # submits per second, open loop
    faults: tuple[str, ...] = FAULTS
    warmup_s: float = 10.0  # load before the first kill
    steady_s: float = 15.0  # load after each heal, before the next kill
    give_up_s: float = 60.0  # a citizen stops retrying this long after its first attempt
    heal_within_s: float = 180.0  # a fault not healed by then fails the run
    settle_within_s: float = 180.0  # how long complaints may take to be routed, clocked and seen


@dataclass
class Citizen:
    n: int
    key: str
    complaint_id: str | None = None
    attempts: int = 0
    answers: collections.Counter[str] = field(default_factory=collections.Counter)
    gave_up: bool = False


@dataclass
class Heal:
    fault: str
    at_s: float  # since the load started
    healed_s: float  # kill → restarted, answering, every service ready
    accepted_while_down: int = 0  # submits answered 202 between the kill and the heal


@dataclass
class Report:
    offered: int
    accepted: int
    never_202: int
    never_202_share: float
    lost: int
    duplicated: int
    stuck: int
    phantoms: int
    withdrawn: int
    answers: dict[str, int]
    heals: list[Heal]
    settled_s: float
    load_s: float
    examples: dict[str, list[str]]

    def table(self) -> str:
        lines = [
            f"offered     {self.offered} submits in {self.load_s:.0f} s",
            f"accepted    {self.accepted} (answered 202)",
            f"never 202   {self.never_202} ({self.never_202_share:.2%} of offered; target ≤ 1 %)",
            f"lost        {self.lost}",
            f"duplicated  {self.duplicated}",
            f"stuck       {self.stuck}",
            f"phantoms    {self.phantoms} (durable and routed, but the citizen gave up)",
            f"withdrawn   {self.withdrawn}",
            f"answers     {dict(sorted(self.answers.items()))}",
            f"settled     {self.settled_s:.1f} s after the last citizen finished",
        ]
        lines += [
            f"heal        {h.fault:<9} killed at {h.at_s:5.1f} s, healed in {h.healed_s:5.1f} s,"
            f" {h.accepted_while_down} accepted meanwhile"
            for h in self.heals
        ]
        lines += [f"e.g. {kind}: {', '.join(ids)}" for kind, ids in self.examples.items() if ids]
        return "\n".join(lines)


def submission(marker: str, n: int) -> dict[str, Any]:
    return {
        "title": f"Jalan berlubang {marker} {n}",
        "description": "Lubang besar di Jl. Pemuda depan SD Negeri 2 sudah dua minggu membahayakan motor.",
        "category": "jalan-jembatan",
        "region_code": "33.74.01.1001",
        "reporter": {"name": "Warga Uji", "email": f"warga{n}@example.id"},
    }


# Instants (monotonic) of every 202 of the current run: what was accepted while a process was down.
ACCEPTED_AT: list[float] = []


async def citizen(http: aiohttp.ClientSession, url: str, marker: str, n: int, plan: Plan) -> Citizen:
    """One citizen's submit: the same key for every attempt, Retry-After honoured, gives up."""
    me = Citizen(n, f"{marker}-{n}")
    body = submission(marker, n)
    first = time.monotonic()
    while True:
        me.attempts += 1
        wait = 1.0
        try:
            async with http.post(url, json=body, headers={"Idempotency-Key": me.key}) as resp:
                me.answers[str(resp.status)] += 1
                if resp.status in ANSWERED:
                    me.complaint_id = (await resp.json())["id"]
                    ACCEPTED_AT.append(time.monotonic())
                    return me
                if resp.status not in RETRIED:  # refused for what it is: retrying will not help
                    me.gave_up = True
                    return me
                wait = _retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError):
            me.answers["no answer"] += 1
        if time.monotonic() + wait - first > plan.give_up_s:
            me.gave_up = True
            return me
        await asyncio.sleep(wait)  # the client's own back-off, as told by Retry-After


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value or 1), 0.2), 30.0)
    except ValueError:
        return 1.0


async def offer_load(
    http: aiohttp.ClientSession, url: str, marker: str, plan: Plan, stop: asyncio.Event
) -> list[Citizen]:
    """A new citizen every 1/rate s until `stop`; returns them all once each has finished."""
    tasks: list[asyncio.Task[Citizen]] = []
    start = time.monotonic()
    while not stop.is_set():
        tasks.append(asyncio.create_task(citizen(http, url, marker, len(tasks) + 1, plan)))
        next_at = start + len(tasks) / plan.rate
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))  # open-loop pacing
    return list(await asyncio.gather(*tasks))


async def _not_ready(http: aiohttp.ClientSession, stack: Stack) -> str | None:
    """The first service not ready and why, or None when all are."""
    for name in SERVICES:
        try:
            async with http.get(f"{stack.services.url(name)}/readyz") as resp:
                if resp.status != 200:
                    return f"{name} /readyz {resp.status}: {(await resp.text())[:300]}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{name} /readyz: {exc!r}"
    return None


async def _answers(stack: Stack, fault: str) -> bool:
    if fault.startswith("kafka"):
        if not await infra._kafka_answers(stack.broker_bootstrap(fault)):
            return False
        return stack.brokers == 1 or await in_sync_everywhere(stack.ends.kafka_bootstrap, stack.brokers)
    if fault == "database":
        return await infra._mongo_answers(stack.ends.mongo_uri)
    # A service's process: listening on its service's port (with two on one address, a /readyz
    # through it may be answered by the other).
    pid = stack.pid(fault)
    return pid is not None and listening(pid, stack.services.ports[service_of(fault)])


async def in_sync_everywhere(bootstrap: str, brokers: int) -> bool:
    """Every partition of the project's topics has all its replicas in sync again (a broker that
    was down has rejoined and caught up)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        described = await admin.describe_topics([t.name for t in TOPICS])
    except Exception:  # a broker still electing: not yet
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    partitions = [p for topic in described for p in topic["partitions"]]
    return bool(partitions) and all(len(p["isr"]) == len(p["replicas"]) for p in partitions)


async def healed(http: aiohttp.ClientSession, stack: Stack, fault: str, restarts: int, within: float) -> None:
    """Wait until `fault` runs again (one more restart), answers, and every service is ready."""
    deadline = time.monotonic() + within
    waiting_for = "a restart"
    while time.monotonic() < deadline:
        if stack.restarts(fault) <= restarts or stack.state(fault) != "running":
            waiting_for = f"a restart ({stack.state(fault)})"
        elif not await _answers(stack, fault):
            waiting_for = f"{fault} to answer"
        else:
            not_ready = await _not_ready(http, stack)
            if not_ready is None:
                return
            waiting_for = not_ready
        await asyncio.sleep(0.25)  # poll interval
    raise RuntimeError(f"{fault} not healed within {within:.0f} s: waiting for {waiting_for}")


async def inject_faults(http: aiohttp.ClientSession, stack: Stack, plan: Plan, started: float) -> list[Heal]:
    heals = []
    await asyncio.sleep(plan.warmup_s)  # load before the first fault
    for fault in plan.faults:
        restarts = stack.restarts(fault)
        killed = time.monotonic()
        stack.kill(fault)
        await healed(http, stack, fault, restarts, plan.heal_within_s)
        back = time.monotonic()
        meanwhile = sum(1 for at in ACCEPTED_AT if killed <= at <= back)
        heals.append(Heal(fault, killed - started, back - killed, meanwhile))
        print(
            f"  {fault}: killed, healed in {heals[-1].healed_s:.1f} s, {meanwhile} accepted meanwhile",
            flush=True,
        )
        await asyncio.sleep(plan.steady_s)  # load on the healed stack before the next fault
    return heals


# --- verification --------------------------------------------------------------------------------


@dataclass
class Seen:
    intake: dict[str, dict[str, Any]]  # complaint id → intake's record (title, last_seq)
    routed: dict[str, dict[str, Any]]  # complaint id → routing's record (state)
    clocks: dict[str, dict[str, Any]]  # complaint id → sla's record (clocks)


async def look(client: AsyncMongoClient[dict[str, Any]]) -> Seen:
    intake = {d["_id"]: d async for d in client["intake"]["complaints"].find({}, {"title": 1, "last_seq": 1})}
    routed = {d["_id"]: d async for d in client["routing"]["complaints"].find({}, {"state": 1})}
    clocks = {
        d["_id"]: d async for d in client["sla"]["complaint_clocks"].find({}, {"clocks": 1, "last_seq": 1})
    }
    return Seen(intake, routed, clocks)


def problems(accepted: Mapping[str, str], seen: Seen) -> tuple[list[str], list[str]]:
    """(lost, stuck) among the accepted complaints (citizen key → complaint id)."""
    lost, stuck = [], []
    for cid in accepted.values():
        if cid not in seen.intake or cid not in seen.routed:
            lost.append(cid)
        elif not seen.clocks.get(cid, {}).get("clocks") or (seen.intake[cid].get("last_seq") or 0) < 2:
            stuck.append(cid)
    return lost, stuck


async def doubled_events(bootstrap: str, ids: set[str]) -> list[str]:
    """Complaints with two different events at one seq on complaints.events (read to its end)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = next(t.partitions for t in TOPICS if t.name == COMPLAINTS_EVENTS)
        tps = [TopicPartition(COMPLAINTS_EVENTS, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        at_seq: dict[tuple[str, int], set[str]] = collections.defaultdict(set)

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    try:
                        event = decode(record.value or b"")
                    except DecodeError:
                        continue
                    if event.complaint_id in ids and event.seq is not None:
                        at_seq[(event.complaint_id, event.seq)].add(event.event_id)
        return sorted({cid for (cid, _), events in at_seq.items() if len(events) > 1})
    finally:
        await consumer.stop()


async def verify(
    stack: Stack, citizens: list[Citizen], marker: str, plan: Plan
) -> tuple[Seen, float, list[str], list[str]]:
    """Wait until every accepted complaint is routed, clocked and seen (or the settle time is
    up); the last look, how long it took, and what was still lost and stuck."""
    accepted = {c.key: c.complaint_id for c in citizens if c.complaint_id}
    client = mongo_client(stack.ends.mongo_uri)
    start = reported = time.monotonic()
    try:
        while True:
            try:
                seen = await look(client)
            except Exception as exc:  # the database may still be coming back
                print(f"  (looking again: {exc!r})", flush=True)
                await asyncio.sleep(1.0)
                continue
            lost, stuck = problems(accepted, seen)
            if not (lost or stuck) or time.monotonic() - start > plan.settle_within_s:
                return seen, time.monotonic() - start, lost, stuck
            if time.monotonic() - reported > 10:
                reported = time.monotonic()
                print(
                    f"  settling: {len(lost)} not routed yet, {len(stuck)} not clocked or seen yet",
                    flush=True,
                )
            await asyncio.sleep(1.0)  # poll interval while the stack catches up
    finally:
        await client.close()


async def exercise(stack: Stack, plan: Plan) -> Report:
    """The load, the faults, the verification, against a started and supervised stack."""
    marker = f"chaos{str(ULID()).lower()[-8:]}"
    url = f"{stack.services.url('intake')}/api/v1/complaints"
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=200)) as http:
        await wait_ready(stack.services, timeout=120)
        ACCEPTED_AT.clear()
        stop = asyncio.Event()
        started = time.monotonic()
        load = asyncio.create_task(offer_load(http, url, marker, plan, stop))
        try:
            heals = await inject_faults(http, stack, plan, started)
        finally:
            stop.set()
        load_s = time.monotonic() - started
        citizens = await load
    print(f"  load over: {len(citizens)} citizens; checking every accepted complaint…", flush=True)
    seen, settled_s, lost, stuck = await verify(stack, citizens, marker, plan)
    accepted = {c.key: c.complaint_id for c in citizens if c.complaint_id}
    by_citizen: dict[str, list[str]] = collections.defaultdict(list)
    for cid, doc in seen.intake.items():
        title = str(doc.get("title", ""))
        if marker in title:
            by_citizen[f"{marker}-{title.rsplit(' ', 1)[-1]}"].append(cid)
    doubled = sorted(cid for ids in by_citizen.values() if len(ids) > 1 for cid in ids)
    doubled += await doubled_events(stack.ends.kafka_bootstrap, set(accepted.values()))
    holders = set(accepted.values())
    phantoms = sorted(cid for ids in by_citizen.values() for cid in ids if cid not in holders)
    withdrawn = sorted(cid for cid, d in seen.routed.items() if d.get("state") == "withdrawn")
    answers: collections.Counter[str] = collections.Counter()
    for c in citizens:
        answers.update(c.answers)
    never = sum(1 for c in citizens if c.complaint_id is None)
    return Report(
        offered=len(citizens),
        accepted=len(accepted),
        never_202=never,
        never_202_share=never / len(citizens) if citizens else 0.0,
        lost=len(lost),
        duplicated=len(set(doubled)),
        stuck=len(stuck),
        phantoms=len(phantoms),
        withdrawn=len(withdrawn),
        answers=dict(answers),
        heals=heals,
        settled_s=settled_s,
        load_s=load_s,
        examples={
            "lost": lost[:5],
            "duplicated": doubled[:5],
            "stuck": stuck[:5],
            "phantoms": phantoms[:5],
            "never 202": [f"{c.key} {dict(c.answers)}" for c in citizens if c.complaint_id is None][:5],
        },
    )


def without_rate_limits() -> dict[str, str]:
    """Environment turning every per-minute rate limit of every service off (many citizens)."""
    from services.intake.settings import RateLimitSettings
    from services.routing.entrypoints.ratelimit import RoutingRateSettings
    from services.sla.entrypoints.ratelimit import SlaRateSettings

    names = [
        f"{cls.model_config.get('env_prefix', '')}{name}".upper()
        for cls in (RateLimitSettings, RoutingRateSettings, SlaRateSettings)
        for name in cls.model_fields
        if "per_minute" in name
    ]
    return dict.fromkeys(names, "0")


def run(
    profile: str,
    ports: infra.Ports,
    http_ports: dict[str, int],
    plan: Plan,
    *,
    scale: int = 1,
    brokers: int = 1,
) -> Report:
    """Start a fresh supervised stack of `profile` (`scale` processes per service, `brokers`),
    exercise it, stop it. The caller sets the services' environment (`without_rate_limits`, a
    clock) in os.environ beforehand."""
    with (
        supervised_stack(profile, ports, http_ports, fresh=True, scale=scale, brokers=brokers) as stack,
        ticking(stack),
    ):
        return asyncio.run(exercise(stack, plan))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=Plan.rate, help="submits per second (open loop)")
    parser.add_argument(
        "--warmup", type=float, default=Plan.warmup_s, help="seconds of load before the first kill"
    )
    parser.add_argument("--steady", type=float, default=Plan.steady_s, help="seconds of load after each heal")
    parser.add_argument("--faults", default=",".join(FAULTS), help="what to kill, in order")
    parser.add_argument("--scale", type=int, default=1, help="processes per service")
    parser.add_argument("--brokers", type=int, choices=(1, 3), default=1, help="Kafka brokers")
    args = parser.parse_args(argv)
    plan = Plan(
        rate=args.rate, warmup_s=args.warmup, steady_s=args.steady, faults=tuple(args.faults.split(","))
    )
    os.environ.update(without_rate_limits())
    infra.ensure_kafka_jars()
    infra.ensure_secantus()
    print(f"chaos: {plan.rate:g} submits/s; killing {', '.join(plan.faults)} in turn", flush=True)
    report = run("chaos", CHAOS_PORTS, CHAOS_HTTP_PORTS, plan, scale=args.scale, brokers=args.brokers)
    print(report.table())
    print(json.dumps(asdict(report)))
    return 0 if report.lost == report.duplicated == report.stuck == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
