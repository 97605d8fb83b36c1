"""Rate limits of routing's public endpoint (issue 15 item 9): `POST /api/v1/routing/explain`,
which classifies a stranger's text, per client address (shared/ratelimit.py; `ROUTING_RATE_*`,
0 = unlimited). The staff API needs a token and is not limited here."""

from __future__ import annotations

from aiohttp import web
from pydantic_settings import SettingsConfigDict

from shared import ratelimit
from shared.ratelimit import ClientLimitSettings, Database, app_database


class RoutingRateSettings(ClientLimitSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_RATE_", extra="ignore")

    # Classifications per minute from one client address.
    explain_per_minute: int = 60


ROUTES = {("POST", "/api/v1/routing/explain"): "explain"}


def install(
    app: web.Application, settings: RoutingRateSettings | None = None, *, database: Database | None = None
) -> None:
    """Limit explain; `database` is where shared counters live (by default the service's own)."""
    settings = settings or RoutingRateSettings()
    limits = settings.limits({"explain": settings.explain_per_minute}, database or app_database(app))
    ratelimit.install(app, limits, ROUTES)
