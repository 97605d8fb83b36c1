"""Rate limits of intake (issue 4 item 8, issue 15 item 9): submit per client address and per
credential, and every other public endpoint per client address — listing, Open311 reads, uploads
and reporter commands. The buckets, the client address behind trusted proxies and the 429 problem
are shared/ratelimit.py's; this module holds which route counts against which limit (the
settings, `INTAKE_RATE_*`, 0 = unlimited, are services/intake/settings.py's RateLimitSettings).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from services.intake.settings import RateLimitSettings
from shared import ratelimit as shared
from shared.ratelimit import (
    Database,
    TokenBuckets,
    app_database,
    bearer,
    client_address,
    credential_key,
    too_many,
)

__all__ = ["RateLimitSettings", "SubmitLimits", "TokenBuckets", "check_submit", "client_address", "install"]


class SubmitLimits:
    def __init__(self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.by_address = TokenBuckets(settings.submit_per_minute, settings.max_clients, clock)
        self.by_key = TokenBuckets(settings.submit_per_minute_per_key, settings.max_clients, clock)

    def check(self, address: str, credential: str | None) -> None:
        """Count one submit, or raise the 429 problem (counting nothing)."""
        key = credential_key(credential) if credential else None
        wait = max(self.by_address.wait(address), self.by_key.wait(key) if key else 0.0)
        if wait > 0:
            raise too_many(wait, "Terlalu banyak pengaduan dikirim dalam waktu singkat; coba lagi nanti")
        self.by_address.take(address)
        if key:
            self.by_key.take(key)


LIMITS = web.AppKey("submit_limits", SubmitLimits)
COMMAND_BASE = "/api/v1/complaints/{id}"
COMMANDS = ("information", "feedback", "survey", "reopen", "withdraw")
# (method, route) → the limit it counts against; Open311 reads are limited in open311.add_routes.
ROUTES = {
    ("GET", "/api/v1/complaints"): "listing",
    ("POST", f"{COMMAND_BASE}/attachments"): "upload",
    **{("POST", f"{COMMAND_BASE}/{name}"): "command" for name in COMMANDS},
    ("POST", "/api/v1/tracking"): "track",
}


def install(
    app: web.Application, settings: RateLimitSettings | None = None, *, database: Database | None = None
) -> None:
    """Give `app` its submit limits and the per-route ones (called while the app is built, from
    `open311.add_routes`)."""
    settings = settings or RateLimitSettings()
    app[LIMITS] = SubmitLimits(settings)
    per_minute = {
        "listing": settings.listing_per_minute,
        "open311_read": settings.open311_read_per_minute,
        "upload": settings.upload_per_minute,
        "command": settings.command_per_minute,
        "track": settings.track_per_minute,
    }
    limits = settings.limits(per_minute, database or app_database(app))
    shared.install(app, limits, ROUTES)


async def check_submit(request: web.Request, *, credential: str | None = None) -> None:
    """Raise a 429 problem with Retry-After when this client is over its submit limit.

    `credential` is the caller's key (Open311 api_key); by default the request's bearer token.
    """
    limits = request.app[LIMITS]
    address = client_address(request, limits.settings.proxies)
    limits.check(address, credential if credential is not None else bearer(request))


async def check_open311_read(request: web.Request) -> None:
    await request.app[shared.RATE_LIMITS].check_request("open311_read", request)
