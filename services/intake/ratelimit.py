"""Rate limits on submit per client address and per credential (issue 4 item 8).

Token buckets in process memory: each client may send a burst of `per_minute` submits, refilled
continuously at `per_minute / 60` a second; the next one gets `429` with `Retry-After` (whole
seconds until a token is back). Why memory and not the database: submit is the hot path, and a
database round trip per request would cost the throughput the benchmark holds intake to. The price:
N intake processes behind a balancer each hold their own buckets, so a client spread over them
gets up to N times the limit — set the limit per process accordingly (or pin clients to a process).

Who the client is: the peer address (IPv6 by its /64, which one host usually holds whole), and
separately the credential it presents (a bearer token on the JSON API, the api_key on Open311).
`X-Forwarded-For` is honoured only when the peer is one of `trusted_proxies`: the client is then
the right-most address in it that is not itself a trusted proxy (what our own proxies appended;
anything left of it is the client's word). Limits are settings (`INTAKE_RATE_*`); 0 = unlimited.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from aiohttp import web
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.http import ProblemError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RateLimitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_RATE_", extra="ignore")

    # Submits per minute (and burst) from one client address. Generous: mobile carriers put many
    # citizens behind one address (CGNAT).
    submit_per_minute: int = 60
    # Submits per minute per credential (bearer token, Open311 api_key): a gateway relays many people.
    submit_per_minute_per_key: int = 600
    # Comma-separated addresses or networks of our reverse proxies, e.g. "10.0.0.0/8,127.0.0.1".
    trusted_proxies: str = ""
    # Buckets kept at most; beyond it, full (idle) buckets go first, then the least recently used.
    max_clients: int = 100_000

    @cached_property
    def proxies(self) -> tuple[IpNetwork, ...]:
        return tuple(
            ipaddress.ip_network(p.strip(), strict=False)
            for p in self.trusted_proxies.split(",")
            if p.strip()
        )


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One bucket per key; `capacity` tokens, refilled at `capacity / 60` per second."""

    def __init__(self, per_minute: int, max_keys: int, clock: Callable[[], float] = time.monotonic) -> None:
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


class SubmitLimits:
    def __init__(self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.by_address = TokenBuckets(settings.submit_per_minute, settings.max_clients, clock)
        self.by_key = TokenBuckets(settings.submit_per_minute_per_key, settings.max_clients, clock)

    def check(self, address: str, credential: str | None) -> None:
        """Count one submit, or raise the 429 problem (counting nothing)."""
        key = f"key:{hashlib.sha256(credential.encode()).hexdigest()}" if credential else None
        wait = max(self.by_address.wait(address), self.by_key.wait(key) if key else 0.0)
        if wait > 0:
            raise ProblemError(
                429,
                "Terlalu banyak pengaduan dikirim dalam waktu singkat; coba lagi nanti",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        self.by_address.take(address)
        if key:
            self.by_key.take(key)


LIMITS = web.AppKey("submit_limits", SubmitLimits)


def install(app: web.Application, settings: RateLimitSettings | None = None) -> None:
    """Give `app` its submit limits (called while the app is built, from `open311.add_routes`)."""
    app[LIMITS] = SubmitLimits(settings or RateLimitSettings())


def client_address(request: web.Request, trusted: tuple[IpNetwork, ...]) -> str:
    """The client's address as a bucket key (see the module docstring)."""
    peer = _parse(request.remote or "")
    if peer is not None and trusted and _within(peer, trusted):
        for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
            hop = hop.strip()
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


async def check_submit(request: web.Request, *, credential: str | None = None) -> None:
    """Raise a 429 problem with Retry-After when this client is over its submit limit.

    `credential` is the caller's key (Open311 api_key); by default the request's bearer token.
    """
    limits = request.app[LIMITS]
    address = client_address(request, limits.settings.proxies)
    limits.check(address, credential if credential is not None else bearer(request))


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
