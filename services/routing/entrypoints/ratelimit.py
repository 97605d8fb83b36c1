"""Rate limits of routing's public endpoint (issue 15 item 9): `POST /api/v1/routing/explain`,
which classifies a stranger's text, per client address (shared/ratelimit.py; `ROUTING_RATE_*`,
0 = unlimited), the start of an OIDC sign-in (entrypoints/staff_oidc.py, which checks it itself:
only then does a visit write to the database) and the provider's back-channel logout. The staff
API needs a token and is not limited here."""

from __future__ import annotations

from aiohttp import web
from pydantic_settings import SettingsConfigDict

from shared import ratelimit
from shared.ratelimit import ClientLimitSettings, Database, app_database


class RoutingRateSettings(ClientLimitSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTING_RATE_", extra="ignore")

    # Classifications per minute from one client address.
    explain_per_minute: int = 60
    # Sign-ins sent to the OIDC provider per minute from one client address (each start stores a
    # short-lived attempt in the database; an office behind one address signs in far less often).
    oidc_sign_in_per_minute: int = 60
    # Back-channel Logout Tokens posted per minute from one client address (the provider's: each
    # costs a signature check; a pemda's provider logs out far fewer people than this).
    oidc_logout_per_minute: int = 600


ROUTES = {
    ("POST", "/api/v1/routing/explain"): "explain",
    ("POST", "/staff/oidc/backchannel-logout"): "oidc_logout",
}


def install(
    app: web.Application, settings: RoutingRateSettings | None = None, *, database: Database | None = None
) -> None:
    """Limit explain; `database` is where shared counters live (by default the service's own)."""
    settings = settings or RoutingRateSettings()
    per_minute = {
        "explain": settings.explain_per_minute,
        "oidc_sign_in": settings.oidc_sign_in_per_minute,
        "oidc_logout": settings.oidc_logout_per_minute,
    }
    limits = settings.limits(per_minute, database or app_database(app))
    ratelimit.install(app, limits, ROUTES)
