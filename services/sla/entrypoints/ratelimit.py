"""Rate limits of sla's public endpoints (issue 15 item 9): the calendar answers
(`/api/v1/calendar/{pemda}/due` and `/working-time`) per client address (shared/ratelimit.py;
`SLA_RATE_*`, 0 = unlimited). The supervisor API and dashboard need a staff token."""

from __future__ import annotations

from aiohttp import web
from pydantic_settings import SettingsConfigDict

from shared import ratelimit
from shared.ratelimit import ClientLimitSettings, Database, app_database


class SlaRateSettings(ClientLimitSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_RATE_", extra="ignore")

    # Calendar answers per minute from one client address.
    calendar_per_minute: int = 120


ROUTES = {
    ("GET", "/api/v1/calendar/{pemda}/due"): "calendar",
    ("GET", "/api/v1/calendar/{pemda}/working-time"): "calendar",
}


def install(
    app: web.Application, settings: SlaRateSettings | None = None, *, database: Database | None = None
) -> None:
    """Limit the calendar; `database` is where shared counters live (by default the service's own)."""
    settings = settings or SlaRateSettings()
    limits = settings.limits({"calendar": settings.calendar_per_minute}, database or app_database(app))
    ratelimit.install(app, limits, ROUTES)
