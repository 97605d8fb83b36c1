from __future__ import annotations

from pydantic import AwareDatetime, Field
from pydantic_settings import SettingsConfigDict

from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO, FileSettings, shared_env
from shared.topics import SLA_GROUP

PREFIX = "SLA_"


class SlaSettings(FileSettings):
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
    mongo_db: str = "sla"
    # Address to listen on; beyond loopback the secrets must be set and real (shared/startup.py).
    http_host: str = "127.0.0.1"
    # Port of the API, the dashboard, /healthz, /readyz and /metrics.
    http_port: int = 8083
    # Python logging level of this service (DEBUG, INFO, WARNING, ERROR).
    log_level: str = "INFO"
    # The lifecycle consumer's group (a replay into an empty database uses a fresh one).
    consumer_group: str = SLA_GROUP
    # Detection (services/sla/entrypoints/workers.py): complaints per pass, and the longest sleep between
    # passes, which bounds how late a newly stored due is noticed.
    detector_batch: int = 500
    # Seconds, at most, between two detection passes: how late a newly stored due may be noticed.
    detector_max_sleep: float = 0.25
    # Seconds an outbox may stay unconfirmed before the relay publishes it again.
    relay_after: float = 10.0
    # Seconds the public transparency page and its JSON/CSV are kept in the process and told to
    # browsers and proxies (Cache-Control max-age) before the counters are read again.
    public_cache_seconds: float = 60.0
    # Seconds between reloads of the service standards and calendars (changes by other processes).
    refresh_every: float = 5.0
    # Seconds the detector's lease lasts (shared/lease.py): with several sla processes one detects
    # and relays, renewing it every third of this; when it dies another takes over within about
    # this long. 0: no lease (every process detects; harmless, the revision guard skips the
    # doubled saves, but each due complaint is then read and advanced by each process).
    detector_lease_seconds: float = Field(default=10.0, ge=0)
