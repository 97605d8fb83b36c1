"""Rate limits of sla's public endpoints (issue 15 item 9): the calendar answers
(`/api/v1/calendar/{pemda}/due` and `/working-time`) per client address (shared/ratelimit.py;
`SLA_RATE_*`, 0 = unlimited). The supervisor API and dashboard need a staff token."""

from __future__ import annotations

from functools import cached_property

from aiohttp import web
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import ratelimit
from shared.ratelimit import Database, IpNetwork, RateLimits, SharedWindows, app_database, parse_networks


class SlaRateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_RATE_", extra="ignore")

    # Calendar answers per minute from one client address.
    calendar_per_minute: int = 120
    # Our reverse proxies (CIDRs, comma-separated); `TRUSTED_PROXIES` applies to every service.
    trusted_proxies: str = Field(
        default="", validation_alias=AliasChoices("SLA_RATE_TRUSTED_PROXIES", "TRUSTED_PROXIES")
    )
    max_clients: int = 100_000
    # Count in the database, together with the service's other processes (see shared/ratelimit.py).
    shared: bool = False

    @cached_property
    def proxies(self) -> tuple[IpNetwork, ...]:
        return parse_networks(self.trusted_proxies)


ROUTES = {
    ("GET", "/api/v1/calendar/{pemda}/due"): "calendar",
    ("GET", "/api/v1/calendar/{pemda}/working-time"): "calendar",
}


def install(
    app: web.Application, settings: SlaRateSettings | None = None, *, database: Database | None = None
) -> None:
    """Limit the calendar; `database` is where shared counters live (by default the service's own)."""
    settings = settings or SlaRateSettings()
    limits = RateLimits(
        {"calendar": settings.calendar_per_minute},
        proxies=settings.proxies,
        max_clients=settings.max_clients,
        shared=SharedWindows(database or app_database(app)) if settings.shared else None,
    )
    ratelimit.install(app, limits, ROUTES)
