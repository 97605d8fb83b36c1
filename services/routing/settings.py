from __future__ import annotations

from pydantic import AwareDatetime, Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.routing.adapters.webhooks import parse_networks
from services.routing.domain.suggestions import MAX_THRESHOLD
from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO, FileSettings, shared_env

PREFIX = "ROUTING_"


class RoutingSettings(FileSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    # Kafka brokers (host:port, comma-separated); the unprefixed `KAFKA_BOOTSTRAP` serves all three
    # services.
    kafka_bootstrap: str = shared_env("KAFKA_BOOTSTRAP", PREFIX, DEFAULT_KAFKA)
    # The database server (a MongoDB URI: a replica set in production, with its user and password:
    # best from `MONGO_URI_FILE`).
    mongo_uri: str = shared_env("MONGO_URI", PREFIX, DEFAULT_MONGO)
    # Run on a chosen day: the process's clock starts at this instant (RFC 3339 with an offset) and
    # ticks on from there (shared/clock.py). Unset: the wall clock.
    clock_start: AwareDatetime | None = shared_env("CLOCK_START", PREFIX, None)
    # The wall instant CLOCK_START refers to (default: this process's start), so that several
    # processes started one after another share one clock.
    clock_start_wall: AwareDatetime | None = shared_env("CLOCK_START_WALL", PREFIX, None)
    # This service's own database on that server (no service reads another's).
    mongo_db: str = "routing"
    # Address to listen on; beyond loopback the secrets must be set and real (shared/startup.py).
    http_host: str = "127.0.0.1"
    # Port of the API, /healthz, /readyz and /metrics.
    http_port: int = 8082
    # Python logging level of this service (DEBUG, INFO, WARNING, ERROR).
    log_level: str = "INFO"
    # The N-th transfer of one complaint goes to the pemda's coordinator instead (docs/design.md
    # §5).
    max_transfers: int = 3
    # A claim keeps other handlers off a complaint this long.
    lease_minutes: int = 30
    # Transfers that become rules (issue 22): the coordinator is offered a rule override once
    # complaints of one category in one pemda were transferred from one OPD to the same other OPD
    # this many times within `rule_suggest_window_days` days (and since the pair's last
    # accept/reject).
    rule_suggest_after: int = Field(default=3, ge=1, le=MAX_THRESHOLD)
    # Only transfers of the last this many days count towards a rule suggestion.
    rule_suggest_window_days: int = Field(default=90, ge=1, le=3650)
    # Duplicate suggestions (services/routing/domain/duplicates.py): an open complaint submitted
    # this many days before a new one may be its original; and the Jaccard similarity of their
    # texts' shingles a suggestion needs (0–1). The radii per category are a table in that module.
    duplicate_window_days: int = Field(default=30, ge=1, le=365)
    # The Jaccard similarity (0–1) of two texts' shingles a duplicate suggestion needs.
    duplicate_min_similarity: float = Field(default=0.3, gt=0, le=1)
    # How often the webhook pusher looks for new feed entries to deliver.
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
