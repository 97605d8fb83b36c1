"""Webhook push to OPD systems (services/routing/adapters/webhooks.py) against the real database and Kafka,
with a real HTTP receiver on 127.0.0.1: feed entries written by real lifecycle transitions are
POSTed in order and signed; a failing or unreachable receiver keeps the cursor and backs off
exponentially; the same entries go out once it recovers; no OPD ever receives another OPD's entry.

Webhooks cannot reach inside: every test sends traffic to 127.0.0.1 only. Without an allow-list a
loopback target is refused at registration and at delivery; with `127.0.0.0/8` allowed it is
delivered; a redirect is not followed; a name re-pointed to 127.0.0.1 after registration (a DNS
server this file starts on 127.0.0.1) is refused when the delivery connects. Receivers verify the
Standard Webhooks signature with the `standardwebhooks` package.

`deliver_once` is called directly with explicit instants (`now`), so the backoff is checked
without waiting for it. Webhooks are registered through routing's own HTTP route, in process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import socket as socketlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiokafka import AIOKafkaProducer
from dnslib import QTYPE, RR, A, DNSRecord
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from ulid import ULID

from devtools.infra import Endpoints
from services.routing import bootstrap
from services.routing.adapters.feed import FEED_SETTLE, FeedStore
from services.routing.adapters.store import ensure_indexes
from services.routing.adapters.webhooks import TargetGuard, deliver_once, parse_networks, standard_headers
from services.routing.domain import lifecycle as lc
from services.routing.entrypoints.edge import GUARD, ROUTING
from services.routing.handlers import act, handle_submissions
from services.routing.ports import Routing
from shared import clock
from shared.auth import STAFF_AUTH, StaffAuth, mint
from shared.envelope import new_event
from shared.events import ComplaintSubmitted
from shared.http import problem_middleware
from shared.kafka import Outgoing, durable_producer, publish
from shared.mongo import mongo_client

pytestmark = pytest.mark.integration

PUPR = "33.74/dinas-pupr"
DISHUB = "33.74/dinas-perhubungan"
SECRETS = {PUPR: "rahasia-pupr-0123456789", DISHUB: "rahasia-dishub-0123456789"}
SIGNATURE = "X-Pengaduan-Signature"
LOOPBACK_ALLOWED = TargetGuard(parse_networks("127.0.0.0/8"))


# --- the OPD systems' receiver ----------------------------------------------------------------


@dataclass
class Post:
    opd_path: str
    body: dict[str, Any]
    signed: bool  # the signature header matched our own HMAC of the raw body with the OPD's secret
    delivery: str
    answered: int
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""

    @property
    def ids(self) -> list[str]:
        return [item["id"] for item in self.body["items"]]


@dataclass
class Receiver:
    """An OPD's system: `POST /hooks/<pemda>/<slug>` checks the signature, records the post and
    answers `answers[opd]` (200 unless set); a badly signed post gets 401."""

    posts: list[Post] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    runner: web.AppRunner | None = None
    port: int = 0

    async def hook(self, request: web.Request) -> web.Response:
        opd = f"{request.match_info['pemda']}/{request.match_info['slug']}"
        raw = await request.read()
        expected = "sha256=" + hmac.new(SECRETS[opd].encode(), raw, hashlib.sha256).hexdigest()
        headers = dict(request.headers)
        try:  # an off-the-shelf Standard Webhooks verifier, key = the registered secret's bytes
            Webhook(SECRETS[opd].encode()).verify(raw, headers)
            standard = True
        except WebhookVerificationError:
            standard = False
        signed = hmac.compare_digest(request.headers.get(SIGNATURE, ""), expected) and standard
        status = self.answers.get(opd, 200) if signed else 401
        delivery = request.headers.get("X-Pengaduan-Delivery", "")
        self.posts.append(Post(opd, json.loads(raw), signed, delivery, status, headers, raw))
        return web.json_response({"diterima": signed, "rahasia": "isi-balasan-penerima"}, status=status)

    async def redirect(self, request: web.Request) -> web.Response:
        """An OPD address answering with a redirect to an inside one (here: this receiver)."""
        target = (
            f"http://127.0.0.1:{self.port}/hooks/{request.match_info['pemda']}/{request.match_info['slug']}"
        )
        raise web.HTTPTemporaryRedirect(target, text="isi-balasan-penerima")

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/hooks/{pemda}/{slug}", self.hook)
        app.router.add_post("/redirect/{pemda}/{slug}", self.redirect)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def url(self, opd: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{opd}"

    def to(self, opd: str) -> list[Post]:
        return [p for p in self.posts if p.opd_path == opd]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
async def db(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = mongo_client(endpoints.mongo_uri)
    database = client[f"{db_prefix}routing"]
    await ensure_indexes(database)
    yield database
    await client.drop_database(database.name)
    await client.close()


@pytest.fixture
async def producer(endpoints: Endpoints) -> AsyncIterator[AIOKafkaProducer]:
    p = durable_producer(endpoints.kafka_bootstrap)
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
def routing(db: AsyncDatabase[dict[str, Any]], producer: AIOKafkaProducer) -> Routing:
    async def publish_durably(messages: Sequence[Outgoing]) -> None:
        await publish(producer, messages)

    return bootstrap.mongo_routing(db, publish_durably)


@asynccontextmanager
async def serve_routing(routing: Routing, guard: TargetGuard) -> AsyncIterator[str]:
    """Routing's staff routes (webhook registration, delivery log) served in process, with the
    deployment's webhook target guard."""
    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = StaffAuth()
    app[ROUTING] = routing
    app[GUARD] = guard
    bootstrap.add_staff_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def routing_api(routing: Routing) -> AsyncIterator[str]:
    """The staff routes of a deployment that allow-lists 127.0.0.0/8 (where the receivers are)."""
    async with serve_routing(routing, LOOPBACK_ALLOWED) as api:
        yield api


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """Calls the API and pushes deliveries: the guarded session of a deployment that allow-lists
    127.0.0.0/8."""
    async with LOOPBACK_ALLOWED.session() as session:
        yield session


# --- helpers ----------------------------------------------------------------------------------


def token(opd: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint('handler', opd=opd, sub='it-' + opd.rsplit('/', 1)[1])}"}


async def register(http: aiohttp.ClientSession, api: str, opd: str, url: str) -> None:
    body = {"url": url, "secret": SECRETS[opd]}
    async with http.put(f"{api}/api/v1/opd/{opd}/webhook", json=body, headers=token(opd)) as r:
        assert r.status == 200, await r.text()
        assert (await r.json()) == {"opd_id": opd, "url": url}


async def submit(routing: Routing, *categories: str) -> list[str]:
    """Route submissions (real routing decisions) in Semarang (33.74); their ids in order."""
    envelopes = [
        new_event(
            ComplaintSubmitted(
                title=f"Laporan warga nomor {n}",
                description="Mohon segera ditindaklanjuti, kondisi ini sudah berlangsung dua minggu.",
                category=category,
                region_code="33.74.01.1001",
                classification="pengaduan",
                channel="web",
            ),
            producer="intake",
            complaint_id=str(ULID()),
        )
        for n, category in enumerate(categories)
    ]
    assert await handle_submissions(envelopes, routing) == []
    return [e.complaint_id or "" for e in envelopes]


async def hook_doc(db: AsyncDatabase[dict[str, Any]], opd: str) -> dict[str, Any]:
    doc = await db["webhooks"].find_one({"_id": opd})
    assert doc is not None
    return doc


async def log_rows(db: AsyncDatabase[dict[str, Any]], opd: str) -> list[dict[str, Any]]:
    return [d async for d in db["webhook_deliveries"].find({"opd_id": opd}).sort("at", 1)]


async def feed_ids(db: AsyncDatabase[dict[str, Any]], opd: str) -> list[str]:
    return [d["_id"] async for d in db["opd_feed"].find({"opd_id": opd}).sort("pos", 1)]


async def pos_of(db: AsyncDatabase[dict[str, Any]], entry_id: str) -> str:
    """The feed position of an entry: what a webhook's cursor holds once it was delivered."""
    entry = await db["opd_feed"].find_one({"_id": entry_id})
    assert entry is not None
    return str(entry["pos"])


def start_instant() -> datetime:
    """A whole second just after now: due for a webhook registered now, and exact in the database
    (which keeps milliseconds), so stored instants compare equal to computed ones."""
    return clock.wall().replace(microsecond=0) + timedelta(seconds=1)  # deliveries run on wall time


# --- tests ------------------------------------------------------------------------------------


async def test_entries_are_pushed_in_order_signed_and_retried_with_backoff_until_delivered(
    db: AsyncDatabase[dict[str, Any]],
    routing: Routing,
    routing_api: str,
    receiver: Receiver,
    http: aiohttp.ClientSession,
) -> None:
    a, b, c = await submit(routing, "jalan-jembatan", "jalan-jembatan", "transportasi")
    for opd in (PUPR, DISHUB):
        await register(http, routing_api, opd, receiver.url(opd))
    feed = FeedStore(db, settle=timedelta(0))  # settling: test_a_late_written_entry_is_not_skipped

    # 1. Both OPDs get their assignments, signed, in feed order; the cursor moves to the last one.
    t0 = start_instant()
    assert await deliver_once(db, feed, http, t0) == 3
    [pupr_first] = receiver.to(PUPR)
    [dishub_first] = receiver.to(DISHUB)
    assert pupr_first.signed and dishub_first.signed
    assert pupr_first.body["opd_id"] == PUPR
    assert pupr_first.ids == await feed_ids(db, PUPR) == sorted(pupr_first.ids)
    assert {(i["complaint_id"], i["type"], i["seq"]) for i in pupr_first.body["items"]} == {
        (a, "ComplaintAssigned", 2),
        (b, "ComplaintAssigned", 2),
    }
    assert [(i["complaint_id"], i["type"]) for i in dishub_first.body["items"]] == [(c, "ComplaintAssigned")]
    assert pupr_first.delivery == pupr_first.ids[-1]
    hook = await hook_doc(db, PUPR)
    assert (hook["cursor"], hook["failures"], hook["next_attempt"]) == (
        await pos_of(db, pupr_first.ids[-1]),
        0,
        t0,
    )
    [row] = await log_rows(db, PUPR)
    assert (row["ok"], row["status"], row["entries"], row["first"], row["last"], row["error"]) == (
        True,
        200,
        2,
        pupr_first.ids[0],
        pupr_first.ids[-1],
        None,
    )

    # 2. More changes: A claimed; B transferred to Dishub — PUPR is told of the transfer, Dishub
    #    gets only the new assignment (via=transfer), not the old OPD's story.
    await act(routing, a, lc.Claim("budi"))
    await act(routing, b, lc.Transfer("budi", DISHUB, "bukan wewenang PUPR: marka jalan"))
    pending = [i for i in await feed_ids(db, PUPR) if i not in pupr_first.ids]
    assert len(pending) == 2

    # 3. PUPR's system answers 500: the cursor stays, failures grow, the next attempt backs off
    #    2 s, 4 s, 8 s; no attempt happens before it is due; every attempt is logged. Dishub is
    #    not held back by PUPR's failures.
    receiver.answers[PUPR] = 500
    now = t0 + timedelta(seconds=10)
    expected_backoff = [2, 4, 8]
    for attempt, backoff in enumerate(expected_backoff, start=1):
        posts_before = len(receiver.to(PUPR))
        delivered = await deliver_once(db, feed, http, now)
        assert delivered == (1 if attempt == 1 else 0)  # Dishub's assignment of B, once
        failed = receiver.to(PUPR)[posts_before:]
        assert [(p.answered, p.ids, p.signed) for p in failed] == [(500, pending, True)]
        hook = await hook_doc(db, PUPR)
        assert (hook["cursor"], hook["failures"]) == (await pos_of(db, pupr_first.ids[-1]), attempt)
        assert hook["next_attempt"] == now + timedelta(seconds=backoff)
        row = (await log_rows(db, PUPR))[-1]
        assert (row["ok"], row["status"], row["attempt"], row["at"], row["first"], row["last"]) == (
            False,
            500,
            attempt,
            now,
            pending[0],
            pending[-1],
        )
        # Just before it is due: nothing is sent, nothing is logged.
        assert await deliver_once(db, feed, http, hook["next_attempt"] - timedelta(milliseconds=1)) == 0
        assert len(receiver.to(PUPR)) == posts_before + 1
        assert len(await log_rows(db, PUPR)) == 1 + attempt
        now = hook["next_attempt"]

    # 4. PUPR's system recovers: at the due instant the same entries go out and are acknowledged.
    receiver.answers[PUPR] = 200
    assert await deliver_once(db, feed, http, now) == 2
    recovered = receiver.to(PUPR)[-1]
    assert (recovered.answered, recovered.ids, recovered.signed) == (200, pending, True)
    hook = await hook_doc(db, PUPR)
    assert (hook["cursor"], hook["failures"], hook["next_attempt"]) == (await pos_of(db, pending[-1]), 0, now)
    assert [(r["ok"], r["status"]) for r in await log_rows(db, PUPR)] == [
        (True, 200),
        (False, 500),
        (False, 500),
        (False, 500),
        (True, 200),
    ]

    # 5. Nothing new: no post, no log row.
    posts = len(receiver.posts)
    assert await deliver_once(db, feed, http, now + timedelta(minutes=1)) == 0
    assert len(receiver.posts) == posts and len(await log_rows(db, PUPR)) == 5

    # 6. Each OPD's system received exactly its own feed, in order, each entry acknowledged once;
    #    never an entry of the other OPD.
    for opd in (PUPR, DISHUB):
        posts_to = receiver.to(opd)
        assert all(p.signed and p.body["opd_id"] == opd for p in posts_to)
        assert all(item["opd_id"] == opd for p in posts_to for item in p.body["items"])
        acknowledged = [i for p in posts_to if p.answered == 200 for i in p.ids]
        assert acknowledged == await feed_ids(db, opd)
    pupr_events = {
        (i["complaint_id"], i["seq"], i["type"]) for p in receiver.to(PUPR) for i in p.body["items"]
    }
    assert pupr_events == {
        (a, 2, "ComplaintAssigned"),
        (a, 3, "ComplaintClaimed"),
        (b, 2, "ComplaintAssigned"),
        (b, 3, "ComplaintTransferred"),
    }  # not B's assignment to Dishub (seq 4), nothing of C
    dishub_items = [i for p in receiver.to(DISHUB) for i in p.body["items"]]
    assert [(i["type"], i["seq"], i["data"]["via"]) for i in dishub_items if i["complaint_id"] == b] == [
        ("ComplaintAssigned", 4, "transfer")
    ]
    assert all(i["complaint_id"] != a for i in dishub_items)

    # 7. The delivery log through routing's API: newest first, and only for the OPD's own staff.
    url = f"{routing_api}/api/v1/opd/{PUPR}/webhook/deliveries"
    async with http.get(url, headers=token(PUPR)) as r:
        assert r.status == 200
        assert [i["ok"] for i in (await r.json())["items"]] == [True, False, False, False, True]
    async with http.get(url, headers=token(DISHUB)) as r:
        assert r.status == 403


async def test_an_unreachable_receiver_is_retried_and_gets_the_entries_once_it_is_back(
    db: AsyncDatabase[dict[str, Any]],
    routing: Routing,
    routing_api: str,
    http: aiohttp.ClientSession,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = Receiver(port=port)
    await register(http, routing_api, PUPR, down.url(PUPR))
    [complaint] = await submit(routing, "jalan-jembatan")
    feed = FeedStore(db, settle=timedelta(0))  # settling: test_a_late_written_entry_is_not_skipped

    t0 = start_instant()
    assert await deliver_once(db, feed, http, t0) == 0
    hook = await hook_doc(db, PUPR)
    assert (hook["cursor"], hook["failures"], hook["next_attempt"]) == (None, 1, t0 + timedelta(seconds=2))
    [row] = await log_rows(db, PUPR)
    assert (row["ok"], row["status"], row["attempt"]) == (False, None, 1)
    assert row["error"] == "koneksi gagal"  # a short reason, not a status, not the details

    await down.start(port)  # the OPD's system is back on the same address
    try:
        assert await deliver_once(db, feed, http, hook["next_attempt"]) == 1
    finally:
        await down.stop()
    [post] = down.posts
    assert post.signed and post.answered == 200
    assert [(i["complaint_id"], i["type"]) for i in post.body["items"]] == [(complaint, "ComplaintAssigned")]
    hook = await hook_doc(db, PUPR)
    assert (hook["cursor"], hook["failures"]) == (await pos_of(db, post.ids[-1]), 0)
    assert [r["ok"] for r in await log_rows(db, PUPR)] == [False, True]


async def test_a_late_written_entry_is_not_skipped_and_entries_are_read_once_settled(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    """An entry created before another but written after it (two transitions in flight at once,
    or the relay) comes after it in the feed: a reader whose cursor passed the first still gets
    it. Paging by event id, as the feed first did, lost it."""
    feed = FeedStore(db)
    opd = f"33.74/uji-feed-{ULID()}"
    early = f"{ULID.from_datetime(clock.wall() - timedelta(minutes=1))}:{opd}"  # its event is a minute old
    late = f"{ULID()}:{opd}"

    def entry(entry_id: str) -> dict[str, Any]:
        return {"_id": entry_id, "opd_id": opd, "type": "ComplaintAssigned", "complaint_id": entry_id[:26]}

    await feed.add([entry(late)])
    written = clock.wall()  # feed positions are wall time (event ids are ULIDs)
    assert await feed.after(opd, None, 10, now=written) == []  # not settled yet
    [first] = await feed.after(opd, None, 10, now=written + FEED_SETTLE)
    assert first["_id"] == late and early < late

    await feed.add([entry(early)])  # written only now
    settled = clock.wall() + FEED_SETTLE
    assert [e["_id"] for e in await feed.after(opd, first["pos"], 10, now=settled)] == [early]
    # A cursor from before positions existed (an entry id) is still understood.
    assert [e["_id"] for e in await feed.after(opd, late, 10, now=settled)] == [early]


async def test_entries_written_before_positions_get_their_events_instant(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    opd = f"33.74/uji-feed-{ULID()}"
    old = ULID.from_datetime(clock.wall() - timedelta(hours=1))
    await db["opd_feed"].insert_one({"_id": f"{old}:{opd}", "opd_id": opd, "type": "ComplaintAssigned"})
    assert await FeedStore(db).backfill_positions() >= 1
    [entry] = await FeedStore(db).after(opd, None, 10)
    assert entry["pos"] == f"{old.milliseconds:013d}:{old}:{opd}"


async def test_two_routing_processes_never_push_one_webhook_at_once(
    db: AsyncDatabase[dict[str, Any]],
    routing: Routing,
    routing_api: str,
    receiver: Receiver,
    http: aiohttp.ClientSession,
) -> None:
    """Two delivery passes at the same instant (two routing processes): the webhook's lease lets
    one of them push; the entries arrive once, and the lease is released after the attempt."""
    await register(http, routing_api, PUPR, receiver.url(PUPR))
    [complaint] = await submit(routing, "jalan-jembatan")
    t0 = start_instant()
    one, other = FeedStore(db, settle=timedelta(0)), FeedStore(db, settle=timedelta(0))
    assert sorted(
        await asyncio.gather(deliver_once(db, one, http, t0), deliver_once(db, other, http, t0))
    ) == [0, 1]
    [post] = receiver.to(PUPR)
    assert [i["complaint_id"] for i in post.body["items"]] == [complaint]
    hook = await hook_doc(db, PUPR)
    assert hook["lease_until"] is None
    assert len(await log_rows(db, PUPR)) == 1


# --- webhooks cannot reach inside -------------------------------------------------------------


@dataclass
class DnsServer:
    """A tiny authoritative DNS server on 127.0.0.1 (UDP): `answers[name]` is the A record it
    gives now (no AAAA); every question is recorded."""

    answers: dict[str, str] = field(default_factory=dict)
    questions: list[str] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    port: int = 0

    async def start(self) -> None:
        server = self

        class Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                query = DNSRecord.parse(data)
                name = str(query.q.qname).rstrip(".")
                server.questions.append(f"{name}/{QTYPE[query.q.qtype]}")
                reply = query.reply()
                if query.q.qtype == QTYPE.A and name in server.answers:
                    reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(server.answers[name]), ttl=0))
                assert server.transport is not None
                server.transport.sendto(reply.pack(), addr)

        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(Protocol, local_addr=("127.0.0.1", 0))
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()


class DnsClient(AbstractResolver):
    """aiohttp's resolver interface over real DNS queries to the test's server (A records)."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def resolve(
        self, host: str, port: int = 0, family: socketlib.AddressFamily = socketlib.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()

        class Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if not answer.done():
                    answer.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(Protocol, remote_addr=("127.0.0.1", self.port))
        try:
            transport.sendto(DNSRecord.question(host, "A").pack())
            reply = DNSRecord.parse(await asyncio.wait_for(answer, 5))
        finally:
            transport.close()
        addresses = [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
        if not addresses:
            raise OSError(f"{host}: tidak ada jawaban DNS")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socketlib.AF_INET,
                "proto": 0,
                "flags": socketlib.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
async def dns() -> AsyncIterator[DnsServer]:
    server = DnsServer()
    await server.start()
    yield server
    server.stop()


async def test_without_an_allow_list_loopback_targets_are_refused_at_registration_and_at_delivery(
    db: AsyncDatabase[dict[str, Any]],
    routing: Routing,
    receiver: Receiver,
    http: aiohttp.ClientSession,
) -> None:
    """A deployment with no allow-listed network: every spelling of 127.0.0.1 and a name that
    resolves to it are refused with a problem naming `url`; nothing is stored. A webhook stored
    while loopback was allowed is refused when the delivery connects: the receiver gets nothing."""
    port = receiver.port
    async with serve_routing(routing, TargetGuard()) as api:
        for url in (
            receiver.url(PUPR),
            f"http://localhost:{port}/hooks/{PUPR}",
            f"http://2130706433:{port}/hooks/{PUPR}",
            f"http://0x7f.1:{port}/hooks/{PUPR}",
            f"http://[::ffff:127.0.0.1]:{port}/hooks/{PUPR}",
        ):
            body = {"url": url, "secret": SECRETS[PUPR]}
            async with http.put(f"{api}/api/v1/opd/{PUPR}/webhook", json=body, headers=token(PUPR)) as r:
                assert r.status == 422, url
                assert r.content_type == "application/problem+json"
                [error] = (await r.json())["errors"]
                assert error["field"] == "url" and "tidak diizinkan" in error["message"], url
        assert await db["webhooks"].count_documents({}) == 0

    # Registered where loopback is allowed; delivered by a process whose deployment does not allow it.
    async with serve_routing(routing, LOOPBACK_ALLOWED) as allowed_api:
        await register(http, allowed_api, PUPR, receiver.url(PUPR))
    await submit(routing, "jalan-jembatan")
    feed = FeedStore(db, settle=timedelta(0))
    t0 = start_instant()
    async with TargetGuard().session() as strict:
        assert await deliver_once(db, feed, strict, t0) == 0
    assert receiver.posts == []
    [row] = await log_rows(db, PUPR)
    assert (row["ok"], row["status"], row["error"]) == (False, None, "alamat tujuan tidak diizinkan")
    # The same webhook from a deployment that allows 127.0.0.0/8: delivered.
    assert await deliver_once(db, feed, http, (await hook_doc(db, PUPR))["next_attempt"]) == 1
    assert [p.signed for p in receiver.to(PUPR)] == [True]


async def test_a_redirect_is_not_followed_and_the_log_shows_no_receiver_text(
    db: AsyncDatabase[dict[str, Any]],
    routing: Routing,
    routing_api: str,
    receiver: Receiver,
    http: aiohttp.ClientSession,
) -> None:
    await register(http, routing_api, PUPR, f"http://127.0.0.1:{receiver.port}/redirect/{PUPR}")
    await submit(routing, "jalan-jembatan")
    feed = FeedStore(db, settle=timedelta(0))
    assert await deliver_once(db, feed, http, start_instant()) == 0
    assert receiver.posts == []  # the redirect's target was never posted to
    [row] = await log_rows(db, PUPR)
    assert (row["ok"], row["status"], row["error"], row["attempt"]) == (
        False,
        307,
        "HTTP 307: pengalihan tidak diikuti",
        1,
    )
    assert (await hook_doc(db, PUPR))["cursor"] is None
    async with http.get(f"{routing_api}/api/v1/opd/{PUPR}/webhook/deliveries", headers=token(PUPR)) as r:
        shown = await r.text()
    assert r.status == 200 and "isi-balasan-penerima" not in shown


async def test_a_name_rebound_to_loopback_after_registration_is_refused_when_the_delivery_connects(
    db: AsyncDatabase[dict[str, Any]],
    routing: Routing,
    receiver: Receiver,
    dns: DnsServer,
    http: aiohttp.ClientSession,
) -> None:
    """DNS rebinding: the OPD's name answers a public address when it is registered, then
    127.0.0.1 (where the receiver listens). The delivery resolves it again and refuses to connect.
    The public address is only resolved, never connected to."""
    name = "sistem-opd.contoh-pemda.id"
    dns.answers[name] = "93.184.215.14"
    resolver = DnsClient(dns.port)
    guard = TargetGuard(resolver=resolver)  # no allow-listed network
    url = f"http://{name}:{receiver.port}/hooks/{PUPR}"
    async with serve_routing(routing, guard) as api:
        await register(http, api, PUPR, url)
    assert dns.questions == [f"{name}/A"]  # registration resolved the name

    dns.answers[name] = "127.0.0.1"  # re-pointed inside
    await submit(routing, "jalan-jembatan")
    feed = FeedStore(db, settle=timedelta(0))
    t0 = start_instant()
    async with guard.session() as pusher:
        assert await deliver_once(db, feed, pusher, t0) == 0
    assert dns.questions == [f"{name}/A", f"{name}/A"]  # resolved again at delivery
    assert receiver.posts == []
    [row] = await log_rows(db, PUPR)
    assert (row["ok"], row["status"], row["error"]) == (False, None, "alamat tujuan tidak diizinkan")

    # The same name and answer with 127.0.0.0/8 allow-listed: the resolver path really delivers.
    allowing = TargetGuard(parse_networks("127.0.0.0/8"), resolver=resolver)
    async with allowing.session() as pusher:
        assert await deliver_once(db, feed, pusher, (await hook_doc(db, PUPR))["next_attempt"]) == 1
    assert [p.signed for p in receiver.to(PUPR)] == [True]


async def test_standard_webhooks_signatures_refuse_tampering_and_replays(
    db: AsyncDatabase[dict[str, Any]],
    routing: Routing,
    routing_api: str,
    receiver: Receiver,
    http: aiohttp.ClientSession,
) -> None:
    await register(http, routing_api, PUPR, receiver.url(PUPR))
    await submit(routing, "jalan-jembatan")
    t0 = start_instant()
    assert await deliver_once(db, FeedStore(db, settle=timedelta(0)), http, t0) == 1
    [post] = receiver.to(PUPR)
    headers = {k.lower(): v for k, v in post.headers.items()}
    assert headers["webhook-id"] == post.delivery == post.ids[-1]  # stable across retries
    assert headers["webhook-timestamp"] == str(int(t0.timestamp()))
    webhook = Webhook(SECRETS[PUPR].encode())
    assert webhook.verify(post.raw, headers) == post.body
    with pytest.raises(WebhookVerificationError):  # another timestamp: the signature no longer holds
        webhook.verify(post.raw, {**headers, "webhook-timestamp": str(int(t0.timestamp()) + 1)})
    with pytest.raises(WebhookVerificationError):  # a tampered body
        webhook.verify(post.raw.replace(b"ComplaintAssigned", b"ComplaintClosed"), headers)
    # A delivery captured ten minutes ago and sent again: correctly signed, refused as too old.
    old = standard_headers(SECRETS[PUPR], headers["webhook-id"], post.raw, t0 - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        webhook.verify(post.raw, old)
