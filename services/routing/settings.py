from __future__ import annotations

from pydantic import AwareDatetime, Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.routing.adapters.webhooks import parse_networks
from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO, FileSettings, shared_env

PREFIX = "ROUTING_"


class RoutingSettings(FileSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    kafka_bootstrap: str = shared_env("KAFKA_BOOTSTRAP", PREFIX, DEFAULT_KAFKA)
    mongo_uri: str = shared_env("MONGO_URI", PREFIX, DEFAULT_MONGO)
    # Run on a chosen day: the process's clock starts at this instant (RFC 3339 with an offset) and
    # ticks on from there (shared/clock.py). Unset: the wall clock.
    clock_start: AwareDatetime | None = shared_env("CLOCK_START", PREFIX, None)
    # The wall instant CLOCK_START refers to (default: this process's start), so that several
    # processes started one after another share one clock.
    clock_start_wall: AwareDatetime | None = shared_env("CLOCK_START_WALL", PREFIX, None)
    mongo_db: str = "routing"
    http_host: str = "127.0.0.1"
    http_port: int = 8082
    log_level: str = "INFO"
    max_transfers: int = 3  # the N-th transfer goes to the coordinator (DESIGN §5)
    lease_minutes: int = 30  # a claim keeps other clerks off a complaint this long
    webhook_interval_seconds: float = 1.0
    # Networks webhooks may reach although they are not public (an OPD system on the pemda's
    # intranet): CIDRs separated by commas, e.g. `10.20.0.0/16,192.168.5.0/24`. Empty: only
    # public addresses (services/routing/adapters/webhooks.py).
    webhook_allowed_networks: str = ""

    # Staff sign-in (issue 21; services/routing/entrypoints/staff_pages.py).
    # A signed-in session lasts this long at most (then the person signs in again).
    staff_session_hours: float = Field(default=10.0, gt=0, le=24 * 30)
    # Lifetime of the token a session hands the browser (cookie `STAFF_COOKIE_NAME`) for intake's
    # and sla's pages and APIs: kept short, because it stays valid until then after a logout or
    # a disabled account (those end the session at once).
    staff_jwt_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # A password-reset link works once, within this many hours.
    staff_reset_hours: float = Field(default=24.0, gt=0, le=24 * 14)
    # Cookies marked Secure (HTTPS only). Unset: Secure unless listening on loopback (development).
    staff_cookie_secure: bool | None = None
    # Domain of the token cookie, e.g. `pengaduan.example.go.id` when intake and sla are
    # `lapor.pengaduan.example.go.id` and `sla.pengaduan.example.go.id`. Empty: routing's host
    # only (on one host, as locally, the cookie reaches every port of it).
    staff_cookie_domain: str = ""
    # Where a sign-in may send the person back to (`?next=`), besides routing's own paths: origins
    # separated by commas, e.g. `https://sla.example.go.id`. Locally: intake's and sla's defaults.
    staff_return_origins: str = (
        "http://127.0.0.1:8081,http://127.0.0.1:8083,http://localhost:8081,http://localhost:8083"
    )
    # Where people reach routing's staff pages, for the links `pengaduan staff create-admin`
    # prints. Empty: http://<ROUTING_HTTP_HOST>:<ROUTING_HTTP_PORT>.
    staff_public_url: str = ""
    # The SLA dashboard's address, linked from the staff home page.
    staff_dashboard_url: str = "http://127.0.0.1:8083/dashboard/"

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        parse_networks(value)  # a typo fails at start-up, not at the first registration
        return value
