"""Webhook push to OPD systems: each registered OPD gets its feed entries POSTed in order, signed
with HMAC-SHA256 over the body (`X-Pengaduan-Signature: sha256=<hex>`) and, the Standard Webhooks
way, `webhook-id`/`webhook-timestamp`/`webhook-signature` (the `standardwebhooks` package; key =
the registered secret's bytes, or the key of a `whsec_…` secret), retried with exponential backoff
(capped at 10 minutes), every attempt logged in `webhook_deliveries` with its status and a short
reason — never what the receiver answered.

Webhooks cannot reach inside (`TargetGuard`): a target whose name resolves to any loopback,
private, link-local, multicast, reserved, unspecified or otherwise non-global address (IPv4-mapped
and 6to4/NAT64-embedded IPv4 unwrapped) is refused at registration, unless the deployment
allow-lists its network (`ROUTING_WEBHOOK_ALLOWED_NETWORKS`). The check is repeated when a
delivery connects: the session's resolver refuses such answers and its socket factory refuses to
open a socket to such an address (so a name re-pointed after registration, DNS rebinding, gets
nowhere). Redirects are not followed.

One loop per routing process walks the registered webhooks whose `next_attempt` has come. Each
push first takes the webhook's lease (`lease_until`, released when the attempt is recorded), so
with several routing processes one webhook is pushed by one of them at a time, in order; a process
that dies mid-push leaves the lease to run out (`LEASE`). Receivers still see an entry twice when
a push succeeded but its acknowledgement was lost: they dedupe by the stable entry ids
(`<event_id>:<opd_id>`).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from standardwebhooks.webhooks import Webhook
from yarl import URL

from services.routing.adapters.feed import FeedStore
from shared import clock, metrics

log = logging.getLogger(__name__)
BATCH = 50
MAX_BACKOFF = timedelta(minutes=10)
LEASE = timedelta(seconds=60)  # longer than a push can take (10 s timeout) plus its bookkeeping


TIMEOUT = aiohttp.ClientTimeout(total=10)
RESOLVE_TIMEOUT = 5.0  # seconds a registration waits for the target's name to resolve

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(Exception):
    """A webhook target that may not be reached; the message is short and shown to staff."""


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.20.0.0/16, 192.168.5.0/24` → networks; ValueError names the bad entry."""
    networks = []
    for part in text.replace(";", ",").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(f"bukan jaringan CIDR: {part.strip()!r}") from None
    return tuple(networks)


def _forms(ip: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address it carries (IPv4-mapped: only that one; 6to4, NAT64)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]  # the socket reaches exactly this IPv4 address
    forms: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.sixtofour is not None:
            forms.append(ip.sixtofour)
        if ip in _NAT64:
            forms.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return forms


def _inside(ip: IPAddress) -> bool:
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global  # e.g. 100.64.0.0/10 (carrier-grade NAT)
    )


@dataclass(frozen=True)
class TargetGuard:
    """Which addresses a webhook may reach: global unicast ones, plus the allow-listed networks.
    `resolver` answers names (default: the system's, via getaddrinfo); tests inject their own."""

    allowed: tuple[IPNetwork, ...] = ()
    resolver: AbstractResolver | None = field(default=None, compare=False)

    def check_address(self, address: str) -> None:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise TargetRefused(f"bukan alamat IP: {address!r}") from None
        forms = _forms(ip)
        if any(f in net for f in forms for net in self.allowed if f.version == net.version):
            return
        if any(_inside(f) for f in forms):
            raise TargetRefused(f"alamat {ip} ada di jaringan internal dan tidak diizinkan")

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address `host` names (an IP literal is its own answer); each one checked."""
        host = host.strip("[]")
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
            addresses = [host]
        except ValueError:
            resolver = self.resolver or aiohttp.ThreadedResolver()
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT):
                    answers = await resolver.resolve(host, port, socket.AF_UNSPEC)
            except (OSError, TimeoutError, ValueError):  # ValueError: IDNA refuses the name (UnicodeError)
                raise TargetRefused(f"nama host {host} tidak dapat di-resolve") from None
            finally:
                if self.resolver is None:
                    await resolver.close()
            addresses = [a["host"] for a in answers]
        if not addresses:
            raise TargetRefused(f"nama host {host} tidak dapat di-resolve")
        for address in addresses:
            self.check_address(address)
        return addresses

    async def check_url(self, url: str) -> None:
        """Registration: the URL's host and every address it resolves to must be reachable."""
        parsed = URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise TargetRefused("hanya URL http atau https dengan nama host")
        await self.resolve(parsed.host, parsed.port or 0)

    def session(self, timeout: aiohttp.ClientTimeout = TIMEOUT) -> aiohttp.ClientSession:
        """A client session that can only connect to addresses this guard allows (checked on
        every connection: resolver answers and the socket's own address), ignoring proxies."""
        connector = aiohttp.TCPConnector(resolver=_GuardedResolver(self), socket_factory=self._socket)
        return aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=False)

    def _socket(self, addr_info: aiohttp.AddrInfoType) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        try:
            self.check_address(str(sockaddr[0]))
        except TargetRefused as exc:
            raise OSError(errno.EACCES, str(exc)) from None
        return socket.socket(family=family, type=type_, proto=proto)


class _GuardedResolver(AbstractResolver):
    """Connect-time resolution: the name's answers now, every one of them checked."""

    def __init__(self, guard: TargetGuard) -> None:
        self._guard = guard
        self._inner = guard.resolver or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            try:
                self._guard.check_address(answer["host"])
            except TargetRefused as exc:
                raise OSError(errno.EACCES, f"{host}: {exc}") from None
        return answers

    async def close(self) -> None:
        if self._guard.resolver is None:
            await self._inner.close()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers: the receiver checks them with any Standard Webhooks library,
    whose timestamp tolerance refuses replays of old deliveries."""
    key: str | bytes = secret if secret.startswith("whsec_") else secret.encode()
    signed = Webhook(key).sign(message_id, at, body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signed,
    }


def short_reason(exc: BaseException) -> str:
    """What the delivery log says of a failed connection: the kind, never the details."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "batas waktu habis"
    text = f"{exc} {getattr(exc, 'os_error', '')}"
    if "tidak diizinkan" in text:
        return "alamat tujuan tidak diizinkan"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "nama host tidak dapat di-resolve"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "koneksi gagal"
    return f"gagal: {type(exc).__name__}"


def _reason(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status}: pengalihan tidak diikuti"
    return f"HTTP {status}"


def _jsonable(entry: dict[str, Any]) -> dict[str, Any]:
    out = {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in entry.items()
        if k not in ("_id", "pos")
    }
    out["id"] = entry["_id"]
    return out


class MongoWebhooks:
    """The registrations (the `Webhooks` of ports.py) and their delivery log."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db

    async def register(self, opd_id: str, url: str, secret: str, by: str) -> None:
        doc = {
            "url": url,
            "secret": secret,
            "by": by,
            "updated_at": clock.now(),
            "failures": 0,
            # Deliveries are scheduled on the wall clock: they read the feed by its positions (ULIDs).
            "next_attempt": clock.wall(),
        }
        await self._db["webhooks"].update_one(
            {"_id": opd_id}, {"$set": doc, "$setOnInsert": {"cursor": None}}, upsert=True
        )

    async def deliveries(self, opd_id: str, limit: int) -> list[dict[str, Any]]:
        found = (
            self._db["webhook_deliveries"]
            .find({"opd_id": opd_id})
            .sort([("opd_id", 1), ("at", -1)])
            .limit(limit)
        )
        return [d async for d in found]


async def deliver_once(
    db: AsyncDatabase[dict[str, Any]], feed: FeedStore, session: aiohttp.ClientSession, now: datetime
) -> int:
    """One pass over the webhooks that are due; the number of entries delivered."""
    delivered = 0
    async for due in db["webhooks"].find({"next_attempt": {"$lte": now}}, {"_id": 1}):
        hook = await db["webhooks"].find_one_and_update(
            {
                "_id": due["_id"],
                "next_attempt": {"$lte": now},
                "$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}],
            },
            {"$set": {"lease_until": now + LEASE}},
            return_document=ReturnDocument.AFTER,
        )
        if hook is None:
            continue  # another routing process is pushing it
        entries = await feed.after(hook["_id"], hook.get("cursor"), BATCH, now)
        if not entries:
            await db["webhooks"].update_one({"_id": hook["_id"]}, {"$set": {"lease_until": None}})
            continue
        body = json.dumps({"opd_id": hook["_id"], "items": [_jsonable(e) for e in entries]}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Pengaduan-Signature": signature(hook["secret"], body),
            "X-Pengaduan-Delivery": entries[-1]["_id"],
            # The same id on every retry of these entries: receivers dedupe by it.
            **standard_headers(hook["secret"], entries[-1]["_id"], body, now),
        }
        status: int | None = None
        error = None
        try:
            post = session.post(hook["url"], data=body, headers=headers, allow_redirects=False)
            async with post as response:
                status = response.status
                error = _reason(status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = short_reason(exc)
        ok = status is not None and 200 <= status < 300
        metrics.WEBHOOK_DELIVERIES.labels("delivered" if ok else "failed").inc()
        failures = 0 if ok else hook.get("failures", 0) + 1
        backoff = min(timedelta(seconds=2**failures), MAX_BACKOFF) if failures else timedelta(0)
        update: dict[str, Any] = {"failures": failures, "next_attempt": now + backoff, "lease_until": None}
        if ok:
            update["cursor"] = entries[-1]["pos"]
            delivered += len(entries)
        await db["webhooks"].update_one({"_id": hook["_id"]}, {"$set": update})
        await db["webhook_deliveries"].insert_one(
            {
                "opd_id": hook["_id"],
                "at": now,
                "url": hook["url"],
                "entries": len(entries),
                "first": entries[0]["_id"],
                "last": entries[-1]["_id"],
                "status": status,
                "error": error,
                "ok": ok,
                "attempt": failures if not ok else 0,
            }
        )
    return delivered


async def run(db: AsyncDatabase[dict[str, Any]], guard: TargetGuard, interval: float = 1.0) -> None:
    feed = FeedStore(db)
    async with guard.session() as session:
        while True:
            try:
                await deliver_once(db, feed, session, clock.wall())  # the feed's time
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook pass failed; retrying")
            await asyncio.sleep(interval)
