from __future__ import annotations

from aiohttp import web
from pydantic import AwareDatetime
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO, shared_env
from shared.startup import Secret, register_secret
from shared.topics import INTAKE_DEAD_COMMANDS_GROUP, INTAKE_GROUP, ROUTING_GROUP

PREFIX = "INTAKE_"


DEV_IDEMPOTENCY_SECRET = "development-only-idempotency-secret-do-not-deploy"


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    kafka_bootstrap: str = shared_env("KAFKA_BOOTSTRAP", PREFIX, DEFAULT_KAFKA)
    mongo_uri: str = shared_env("MONGO_URI", PREFIX, DEFAULT_MONGO)
    # Run on a chosen day: the process's clock starts at this instant (RFC 3339 with an offset) and
    # ticks on from there (shared/clock.py). Unset: the wall clock.
    clock_start: AwareDatetime | None = shared_env("CLOCK_START", PREFIX, None)
    # The wall instant CLOCK_START refers to (default: this process's start), so that several
    # processes started one after another share one clock.
    clock_start_wall: AwareDatetime | None = shared_env("CLOCK_START_WALL", PREFIX, None)
    mongo_db: str = "intake"
    # The view consumer's group (its dead-letter topic is `<group>.dlq`); tests run apps in their own.
    consumer_group: str = INTAKE_GROUP
    # The group that follows routing's dead letters (`<routing_group>.dlq`), so that a reporter's
    # command routing dead-lettered shows as rejected (services/intake/commands.py).
    dead_commands_group: str = INTAKE_DEAD_COMMANDS_GROUP
    routing_group: str = ROUTING_GROUP
    http_host: str = "127.0.0.1"
    http_port: int = 8081
    # Base of the `status_url` given to citizens; empty = derived from the request's host.
    public_base_url: str = ""
    # How long a submit (or a reporter's command) waits for Kafka's acknowledgement before 503.
    publish_timeout_seconds: float = 10.0
    # Attachments (photos, PDF): the largest accepted and how many one complaint may have.
    attachment_max_bytes: int = 5 * 1024 * 1024
    attachment_max_count: int = 10
    # Every upload is opened (and for anonymous complaints rewritten) in worker processes: photos up
    # to this many pixels, PDFs up to this many pages (more is a 422).
    attachment_max_pixels: int = 40_000_000
    attachment_max_pages: int = 300
    # The workers: how many, how many uploads may wait for one (more is a 503 with Retry-After),
    # and each task's limits (wall time, CPU seconds, address space); a worker past them is killed
    # and replaced, and the upload is a 422.
    attachment_workers: int = 2
    attachment_queue_limit: int = 8
    attachment_timeout_seconds: float = 20.0
    attachment_cpu_seconds: int = 10
    attachment_memory_bytes: int = 1024 * 1024 * 1024
    # How often the working-day calendars (extra dates announced by sla) are reloaded, so every
    # instance's countdowns follow a calendar change that another instance consumed.
    calendar_refresh_seconds: float = 60.0
    log_level: str = "INFO"
    # Seals the access token an Idempotency-Key record keeps for its replay (services/intake/
    # idempotency.py), with the raw key. The default is for development only: set your own.
    idempotency_secret: str = DEV_IDEMPOTENCY_SECRET


SETTINGS = web.AppKey("settings", IntakeSettings)


@register_secret
def _idempotency_secret() -> Secret:
    """Beyond loopback, the secret that keeps a replay's access token unreadable must be real."""
    value = IntakeSettings().idempotency_secret
    return Secret(f"{PREFIX}IDEMPOTENCY_SECRET", value, is_default=value == DEV_IDEMPOTENCY_SECRET)
