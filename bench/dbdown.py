"""How fast a lost database is a 503, and a database back is a 2xx again (faults issue, item 2).

intake's, routing's and sla's real apps (`create_app`, as tests/service_apps.py runs them) in this
process, on a Kafka and a secantusd-rs of their own (`devtools.infra.native_stack`, profile
`bench-dbdown`, ports 39492/39493/38417, data under `.run/bench-dbdown`, wiped first; the database
is started again with `--sync-on-commit`, so a kill loses nothing it acknowledged).

Each round: for each kind of request, `--clients` (2) loops send it one after another, 20 ms
apart — a submit without and one with a fresh `Idempotency-Key`, a reporter's withdrawal (fresh
key each time), a staff read of an OPD queue in routing. After 1 s the database is SIGKILLed;
`--down` (3) seconds later it is started again (same data); the round ends once every kind has had
a 2xx sent after the restart (or after 60 s). Meanwhile a client of its own pings the database
(selection 100 ms), the floor for "the database answers again".

Printed per kind, over the rounds (`--rounds`, 5): the time to the answer of the requests sent
during the outage, from the kill for one in flight at the kill (median and max, 503s), the time
from the kill to the first 503, every status seen in the outage (a 500 is a defect), and the time
from the restart (process spawned) to the first 2xx, next to the ping's. Targets, printed, never
asserted: every answer in the outage a 503 with Retry-After, max ≤ 1 s. The last line is all
figures as JSON.

Run from the repository root:

    .venv/bin/python -m bench.dbdown
    .venv/bin/python -m bench.dbdown --rounds 3 --down 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient
from ulid import ULID

from devtools import infra
from shared.auth import mint
from shared.kafka import ensure_topics

PROFILE = "bench-dbdown"
PORTS = infra.Ports(kafka=39492, kafka_controller=39493, mongo=38417)
PACE_S = 0.02  # between one client's requests: a steady trickle, not a flood
WARM_S = 1.0
RECOVERY_LIMIT_S = 60.0
SUBMISSION = {
    "title": "Jalan berlubang di depan SD",
    "description": "Lubang besar di Jl. Pemuda depan SD Negeri 2 sudah dua minggu membahayakan motor.",
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "reporter": {"name": "Sari Wulandari", "phone": "0812-3456-7890"},
}


@dataclass
class Sample:
    kind: str
    sent: float
    answered: float
    status: int
    retry_after: bool


@dataclass
class Round:
    killed: float
    restarted: float
    samples: list[Sample] = field(default_factory=list)
    ping_back: float | None = None  # the database's own answer after the restart (monotonic)

    def outage(self, kind: str) -> list[Sample]:
        """Answers of requests in flight at the kill or sent before the restart."""
        return [
            s
            for s in self.samples
            if s.kind == kind and s.answered >= self.killed and s.sent < self.restarted
        ]

    def first_ok_after_restart(self, kind: str) -> float | None:
        ok = [
            s.answered for s in self.samples if s.kind == kind and s.sent >= self.restarted and s.status < 300
        ]
        return min(ok) - self.restarted if ok else None


def _start_db() -> infra.Server:
    return infra.start_mongo(PROFILE, PORTS, cache_size="256M", sync_on_commit=True)


async def _ping_loop(uri: str, stop: asyncio.Event, rounds: list[Round]) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=100)
    try:
        while not stop.is_set():
            current = rounds[-1] if rounds else None
            try:
                await client.admin.command("ping")
                if current and current.ping_back is None and time.monotonic() > current.restarted:
                    current.ping_back = time.monotonic()
            except Exception:  # down: that is what is measured
                pass
            await asyncio.sleep(0.01)
    finally:
        await client.close()


async def measure(ends: infra.Endpoints, rounds_n: int, clients: int, down_s: float) -> list[Round]:
    from tests.service_apps import running_apps

    await ensure_topics(ends.kafka_bootstrap)
    # The restarts below are with --sync-on-commit; the first start too.
    infra.mongo_server(PROFILE).stop()
    _start_db()
    await infra.wait_mongo(ends.mongo_uri, timeout=60)
    admin = {"Authorization": f"Bearer {mint('admin')}"}
    rounds: list[Round] = []
    async with running_apps(ends) as apps:
        created = await (await apps.intake.post("/api/v1/complaints", json=SUBMISSION)).json()
        # As routing's events would leave intake's view (routing's consumers do not run here).
        await apps.intake_db["complaints"].update_one(
            {"_id": created["id"]}, {"$set": {"last_seq": 2, "status": "assigned"}}
        )
        reporter = {"Authorization": f"Bearer {created['access_token']}"}
        kinds: dict[str, Callable[[], Awaitable[aiohttp.ClientResponse]]] = {
            "submit": lambda: apps.intake.post("/api/v1/complaints", json=SUBMISSION),
            "submit with key": lambda: apps.intake.post(
                "/api/v1/complaints", json=SUBMISSION, headers={"Idempotency-Key": str(ULID())}
            ),
            "reporter command": lambda: apps.intake.post(
                f"/api/v1/complaints/{created['id']}/withdraw",
                json={"reason": "sudah diperbaiki warga"},
                headers={**reporter, "Idempotency-Key": str(ULID())},
            ),
            "staff queue": lambda: apps.routing.get("/api/v1/opd/33.74/dpupr/queue", headers=admin),
        }
        stop_ping = asyncio.Event()
        pinger = asyncio.create_task(_ping_loop(ends.mongo_uri, stop_ping, rounds))
        try:
            for _ in range(rounds_n):
                rounds.append(await _one_round(kinds, clients, down_s))
        finally:
            stop_ping.set()
            await pinger
    return rounds


async def _one_round(
    kinds: dict[str, Callable[[], Awaitable[aiohttp.ClientResponse]]], clients: int, down_s: float
) -> Round:
    now = time.monotonic()
    this = Round(killed=now + 3600, restarted=now + 3600)
    stop = asyncio.Event()
    recovered = asyncio.Event()  # every kind has had a 2xx sent after the restart

    async def client(kind: str) -> None:
        send = kinds[kind]
        while not stop.is_set():
            sent = time.monotonic()
            response = await send()
            await response.read()
            this.samples.append(
                Sample(kind, sent, time.monotonic(), response.status, "Retry-After" in response.headers)
            )
            if sent >= this.restarted and all(this.first_ok_after_restart(k) is not None for k in kinds):
                recovered.set()
            await asyncio.sleep(PACE_S)

    loops = [asyncio.create_task(client(kind)) for kind in kinds for _ in range(clients)]
    try:
        await asyncio.sleep(WARM_S)
        server = infra.mongo_server(PROFILE)
        assert server.pid is not None
        this.killed = time.monotonic()
        os.kill(server.pid, signal.SIGKILL)
        await asyncio.sleep(down_s)
        this.restarted = time.monotonic()
        _start_db()
        with contextlib.suppress(TimeoutError):  # reported as not recovered in that round
            await asyncio.wait_for(recovered.wait(), RECOVERY_LIMIT_S)
        await infra.wait_mongo(infra.endpoints(PORTS).mongo_uri, timeout=30)  # before the next round
    finally:
        stop.set()
        await asyncio.gather(*loops)
    return this


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.0f} ms"


def report(rounds: list[Round], kinds: list[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {"rounds": len(rounds), "kinds": {}}
    print(f"{len(rounds)} rounds; per kind of request (times from the kill, or from sending if later):")
    for kind in kinds:
        waits: list[float] = []
        first_503: list[float] = []
        statuses: Counter[int] = Counter()
        without_retry_after = 0
        recovery: list[float] = []
        for r in rounds:
            outage = r.outage(kind)
            statuses.update(s.status for s in outage)
            # The first answers after the kill may still be 2xx: in flight before the server died.
            refused = [s for s in outage if s.status == 503]
            without_retry_after += sum(1 for s in refused if not s.retry_after)
            waits.extend(s.answered - max(s.sent, r.killed) for s in refused)
            if refused:
                first_503.append(min(s.answered for s in refused) - r.killed)
            back = r.first_ok_after_restart(kind)
            if back is not None:
                recovery.append(back)
        row = {
            "answers_in_outage": dict(sorted(statuses.items())),
            "wait_503_median_s": statistics.median(waits) if waits else None,
            "wait_503_max_s": max(waits) if waits else None,
            "first_503_after_kill_median_s": statistics.median(first_503) if first_503 else None,
            "first_503_after_kill_max_s": max(first_503) if first_503 else None,
            "first_2xx_after_restart_median_s": statistics.median(recovery) if recovery else None,
            "first_2xx_after_restart_max_s": max(recovery) if recovery else None,
            "recovered_rounds": len(recovery),
            "503_without_retry_after": without_retry_after,
        }
        figures["kinds"][kind] = row
        print(
            f"  {kind:17} outage answers {dict(sorted(statuses.items()))}; wait for the 503: median "
            f"{_ms(row['wait_503_median_s'])}, max {_ms(row['wait_503_max_s'])}; first 503 after the kill: "
            f"median {_ms(row['first_503_after_kill_median_s'])}, "
            f"max {_ms(row['first_503_after_kill_max_s'])}; "
            f"first 2xx after the restart: median {_ms(row['first_2xx_after_restart_median_s'])}, "
            f"max {_ms(row['first_2xx_after_restart_max_s'])} ({len(recovery)}/{len(rounds)} rounds)"
        )
    pings = [r.ping_back - r.restarted for r in rounds if r.ping_back is not None]
    figures["db_ping_after_restart_median_s"] = statistics.median(pings) if pings else None
    figures["db_ping_after_restart_max_s"] = max(pings) if pings else None
    print(
        f"  the database's own ping answers after the restart: median "
        f"{_ms(figures['db_ping_after_restart_median_s'])}, max {_ms(figures['db_ping_after_restart_max_s'])}"
    )
    worst = max((row["wait_503_max_s"] or 0.0 for row in figures["kinds"].values()), default=0.0)
    bad = {
        k: v["answers_in_outage"]
        for k, v in figures["kinds"].items()
        if set(v["answers_in_outage"]) - {200, 201, 202, 503}
    }
    print(
        "target: every outage answer 503 with Retry-After, max ≤ 1000 ms — "
        f"max {_ms(worst)}; other statuses: {bad or 'none'}"
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dbdown", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=2, help="loops per kind of request")
    parser.add_argument("--down", type=float, default=3.0, help="seconds the database stays down")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 50 or not 1 <= args.clients <= 32 or not 0.5 <= args.down <= 60:
        raise SystemExit("--rounds 1–50, --clients 1–32, --down 0.5–60")
    logging.basicConfig(level=logging.ERROR)
    # Rate limits off: this measures the database's outage, not the limits (in memory anyway).
    for name in ("SUBMIT_PER_MINUTE", "SUBMIT_PER_MINUTE_PER_KEY", "COMMAND_PER_MINUTE"):
        os.environ[f"INTAKE_RATE_{name}"] = "0"
    with infra.native_stack(PROFILE, PORTS, fresh=True) as ends:
        rounds = asyncio.run(measure(ends, args.rounds, args.clients, args.down))
    figures = report(rounds, ["submit", "submit with key", "reporter command", "staff queue"])
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
