"""Rate limits per client address for every public endpoint (issue 4 item 8, issue 15 item 9).

Token buckets in process memory: each client may send a burst of `per_minute` requests to one
limited endpoint group, refilled continuously at `per_minute / 60` a second; the next one gets a
`429` problem with `Retry-After` (whole seconds until a token is back). Why memory and not the
database: these are hot paths, and a database round trip per request would cost the throughput
the benchmarks hold the services to. The price: N processes behind a balancer each hold their own
buckets, so a client spread over them gets up to N times the limit — set the limit per process
accordingly (or pin clients to a process).

Who the client is: the peer address (IPv6 by its /64, which one host usually holds whole), and
optionally the credential it presents. `X-Forwarded-For` is honoured only when the peer is one of
the trusted proxies (`<PREFIX>_RATE_TRUSTED_PROXIES`, or `TRUSTED_PROXIES` for all services; CIDRs):
the client is then the right-most address in it that is not itself a trusted proxy (what our own
proxies appended; anything left of it is the client's word). A limit of 0 is no limit.
With `<PREFIX>_RATE_SHARED=true` the processes of a service count together in the database
(`SharedWindows`, PyMongo async) instead.

Each service names its groups and their settings; a middleware (`middleware`) applies them by
route, so a handler needs no code of its own.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

from aiohttp import web
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared import clock
from shared.http import ProblemError
from shared.runtime import INFRA

log = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Clock = Callable[[], float]
Database = Callable[[], "AsyncDatabase[dict[str, Any]] | None"]
# Limits are in requests per second of the monotonic clock; never domain time (shared.clock).
MONOTONIC: Clock = time.monotonic


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """Comma-separated addresses or networks ("10.0.0.0/8,127.0.0.1"); ValueError when one is not."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip())


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One bucket per key; `capacity` tokens, refilled at `capacity / 60` per second."""

    def __init__(self, per_minute: int, max_keys: int, clock: Clock = MONOTONIC) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def wait(self, key: str) -> float:
        """Seconds until `key` may send again; 0 when it may now (nothing is taken)."""
        if self.capacity <= 0:
            return 0.0
        bucket = self._refilled(key)
        return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / self.rate

    def take(self, key: str) -> None:
        if self.capacity > 0:
            self._refilled(key).tokens -= 1.0

    def _refilled(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(self.capacity, now)
            if len(self._buckets) >= self.max_keys:
                self._evict(now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        self._buckets[key] = bucket  # re-inserted last: the dict is in least-recently-used order
        return bucket

    def _evict(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: forgetting it changes nothing.
        for key in [
            k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.capacity
        ]:
            del self._buckets[key]
        while len(self._buckets) >= self.max_keys:
            del self._buckets[next(iter(self._buckets))]

    def __len__(self) -> int:
        return len(self._buckets)


def too_many(wait: float, detail: str) -> ProblemError:
    return ProblemError(429, detail, headers={"Retry-After": str(max(1, math.ceil(wait)))})


TOO_MANY = "Terlalu banyak permintaan dalam waktu singkat; coba lagi nanti"
SHARED_COLLECTION = "rate_limits"
WINDOW = timedelta(minutes=1)


class SharedWindows:
    """Counters several processes share through the database (`<PREFIX>_RATE_SHARED=true`): one
    document per group, client and wall-clock minute (`$inc`, upserted; a TTL index removes old
    ones). A fixed window, so a client may send up to twice the limit across a minute's edge —
    the price of one round trip per request and no coordination between processes. When the
    database does not answer, the process's own buckets decide (a limit is no reason to fail)."""

    # After a failure the database is left alone this long: a limit must not make every request
    # wait out the driver's server-selection timeout.
    PAUSE_AFTER_FAILURE = 10.0

    def __init__(self, database: Database, monotonic: Clock = MONOTONIC) -> None:
        self._database = database
        self._indexed = False
        self._monotonic = monotonic
        self._paused_until = 0.0

    async def wait(self, group: str, address: str, per_minute: int) -> float | None:
        """Seconds until `address` may send again (0: now; the request is counted), or None when
        the database cannot say."""
        if self._monotonic() < self._paused_until:
            return None
        db = self._database()
        if db is None:
            return None
        # The window by domain time, which a service's processes share (CLOCK_START); the
        # document's expiry by the wall clock the database's TTL monitor reads.
        now = clock.now()
        start = now.replace(second=0, microsecond=0)
        key = f"{group}|{address}|{start:%Y%m%dT%H%M}"
        try:
            collection = db[SHARED_COLLECTION]
            if not self._indexed:
                await collection.create_index("expires", expireAfterSeconds=0)
                self._indexed = True
            update = {"$inc": {"n": 1}, "$setOnInsert": {"expires": clock.wall() + 2 * WINDOW}}
            try:
                doc = await collection.find_one_and_update(
                    {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
                )
            except DuplicateKeyError:  # another process inserted the window first: count in it
                doc = await collection.find_one_and_update(
                    {"_id": key}, update, return_document=ReturnDocument.AFTER
                )
        except PyMongoError as exc:
            log.warning("shared rate limit unavailable (%r): this process's own limits apply", exc)
            self._paused_until = self._monotonic() + self.PAUSE_AFTER_FAILURE
            return None
        if doc is None or int(doc.get("n", 0)) <= per_minute:
            return 0.0
        return (start + WINDOW - now).total_seconds()


class RateLimits:
    """Named groups of endpoints, each with its own buckets per client address (and, when
    `shared`, counters shared with the service's other processes)."""

    def __init__(
        self,
        per_minute: Mapping[str, int],
        *,
        proxies: tuple[IpNetwork, ...] = (),
        max_clients: int = 100_000,
        clock: Clock = MONOTONIC,
        shared: SharedWindows | None = None,
    ) -> None:
        self.proxies = proxies
        self.per_minute = dict(per_minute)
        self.groups = {name: TokenBuckets(n, max_clients, clock) for name, n in per_minute.items()}
        self.shared = shared

    def check(self, group: str, address: str) -> None:
        """Count one request of `group` from `address`, or raise the 429 problem (counting nothing)."""
        buckets = self.groups[group]
        wait = buckets.wait(address)
        if wait > 0:
            raise too_many(wait, TOO_MANY)
        buckets.take(address)

    async def check_request(self, group: str, request: web.Request) -> None:
        address = client_address(request, self.proxies)
        limit = self.per_minute[group]
        if self.shared is not None and limit > 0:
            wait = await self.shared.wait(group, address, limit)
            if wait is not None:
                if wait > 0:
                    raise too_many(wait, TOO_MANY)
                return
        self.check(group, address)


def _proxies_of_every_service() -> str:
    return os.environ.get("TRUSTED_PROXIES", "")


class ClientLimitSettings(BaseSettings):
    """What every service's rate-limit settings share; a service's subclass sets its prefix
    (`<PREFIX>_RATE_`) and adds its per-minute limits."""

    model_config = SettingsConfigDict(extra="ignore")

    # Comma-separated addresses or networks of our reverse proxies, e.g. "10.0.0.0/8,127.0.0.1":
    # the service's own variable, else `TRUSTED_PROXIES` (every service).
    trusted_proxies: str = Field(default_factory=_proxies_of_every_service)
    # Buckets kept at most per limit; beyond it, full (idle) buckets go first, then the least recently used.
    max_clients: int = 100_000
    # Count in the database, together with the service's other processes (`SharedWindows`).
    shared: bool = False

    @cached_property
    def proxies(self) -> tuple[IpNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    def limits(self, per_minute: Mapping[str, int], database: Database) -> RateLimits:
        """These groups' limits, counted in `database` when `shared`."""
        return RateLimits(
            per_minute,
            proxies=self.proxies,
            max_clients=self.max_clients,
            shared=SharedWindows(database) if self.shared else None,
        )


def app_database(app: web.Application) -> Database:
    """The service's database once its infrastructure is open (None before)."""

    def database() -> AsyncDatabase[dict[str, Any]] | None:
        infra = app.get(INFRA)
        return infra.db if infra is not None else None

    return database


RATE_LIMITS = web.AppKey("rate_limits", RateLimits)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def install(app: web.Application, limits: RateLimits, routes: Mapping[tuple[str, str], str]) -> None:
    """Give `app` its limits and apply them to `routes` ((method, route path) → group) before
    their handlers run. Call before the app is frozen; the middleware goes inside the problem one."""
    app[RATE_LIMITS] = limits

    @web.middleware
    async def rate_limited(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        resource = route.resource
        method = "GET" if request.method == "HEAD" else request.method  # add_get serves HEAD too
        group = routes.get((method, resource.canonical)) if resource is not None else None
        if group is not None:
            await request.app[RATE_LIMITS].check_request(group, request)
        return await handler(request)

    app.middlewares.append(rate_limited)


def _without_port(hop: str) -> str:
    if hop.startswith("["):  # [v6] or [v6]:port
        return hop[1 : hop.index("]")] if "]" in hop else hop
    if hop.count(":") == 1:  # v4:port (a bare v6 address has several colons)
        return hop.split(":", 1)[0]
    return hop


def credential_key(credential: str) -> str:
    return f"key:{hashlib.sha256(credential.encode()).hexdigest()}"


def client_address(request: web.Request, trusted: tuple[IpNetwork, ...]) -> str:
    """The client's address as a bucket key (see the module docstring)."""
    peer = _parse(request.remote or "")
    if peer is not None and trusted and _within(peer, trusted):
        # Every X-Forwarded-For line, in order (a proxy may add its own as a second line), each hop
        # without a port ("1.2.3.4:5678", "[2001:db8::1]:443").
        hops = ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
        for raw in reversed(hops):
            hop = _without_port(raw.strip())
            if not hop:
                continue
            address = _parse(hop)
            if address is None:
                return f"unparsed:{hop[:64]}"
            if not _within(address, trusted):
                return _key(address)
    return _key(peer) if peer is not None else f"unparsed:{request.remote}"


def bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _parse(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _within(address: IpAddress, networks: tuple[IpNetwork, ...]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def _key(address: IpAddress) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
