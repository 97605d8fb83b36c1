"""Rate limits of routing's public endpoint (issue 15 item 9): `POST /api/v1/routing/explain`,
which classifies a stranger's text, per client address (shared/ratelimit.py; `ROUTING_RATE_*`,
0 = unlimited). The staff API needs a token and is not limited here."""

from __future__ import annotations

from functools import cached_property

from aiohttp import web
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import ratelimit
from shared.ratelimit import Database, IpNetwork, RateLimits, SharedWindows, app_database, parse_networks


class RoutingRateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_RATE_", extra="ignore")

    # Classifications per minute from one client address.
    explain_per_minute: int = 60
    # Our reverse proxies (CIDRs, comma-separated); `TRUSTED_PROXIES` applies to every service.
    trusted_proxies: str = Field(
        default="", validation_alias=AliasChoices("ROUTING_RATE_TRUSTED_PROXIES", "TRUSTED_PROXIES")
    )
    max_clients: int = 100_000
    # Count in the database, together with the service's other processes (see shared/ratelimit.py).
    shared: bool = False

    @cached_property
    def proxies(self) -> tuple[IpNetwork, ...]:
        return parse_networks(self.trusted_proxies)


ROUTES = {("POST", "/api/v1/routing/explain"): "explain"}


def install(
    app: web.Application, settings: RoutingRateSettings | None = None, *, database: Database | None = None
) -> None:
    """Limit explain; `database` is where shared counters live (by default the service's own)."""
    settings = settings or RoutingRateSettings()
    limits = RateLimits(
        {"explain": settings.explain_per_minute},
        proxies=settings.proxies,
        max_clients=settings.max_clients,
        shared=SharedWindows(database or app_database(app)) if settings.shared else None,
    )
    ratelimit.install(app, limits, ROUTES)
