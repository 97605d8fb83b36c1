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
    # Duplicate suggestions (services/routing/domain/duplicates.py): an open complaint submitted
    # this many days before a new one may be its original; and the Jaccard similarity of their
    # texts' shingles a suggestion needs (0–1). The radii per category are a table in that module.
    duplicate_window_days: int = Field(default=30, ge=1, le=365)
    duplicate_min_similarity: float = Field(default=0.3, gt=0, le=1)
    webhook_interval_seconds: float = 1.0
    # Networks webhooks may reach although they are not public (an OPD system on the pemda's
    # intranet): CIDRs separated by commas, e.g. `10.20.0.0/16,192.168.5.0/24`. Empty: only
    # public addresses (services/routing/adapters/webhooks.py).
    webhook_allowed_networks: str = ""

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        parse_networks(value)  # a typo fails at start-up, not at the first registration
        return value
