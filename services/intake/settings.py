"""Intake's one settings object, `IntakeSettings`, read from the environment once (bootstrap.py)
and passed down. The features with settings of their own prefix (`INTAKE_LISTING_*`,
`INTAKE_OPEN311_*`, `INTAKE_RATE_*`) are parts of it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Literal

from pydantic import AliasChoices, AwareDatetime, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.mail import SmtpSettings
from shared.ratelimit import ClientLimitSettings
from shared.regions import lookup
from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO, FileSettings, shared_env
from shared.startup import Secret, register_secret
from shared.topics import INTAKE_DEAD_COMMANDS_GROUP, INTAKE_GROUP, ROUTING_GROUP

PREFIX = "INTAKE_"


DEV_IDEMPOTENCY_SECRET = "development-only-idempotency-secret-do-not-deploy"


class ListingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_LISTING_", extra="ignore")

    # No complaint is older than this (the service's start): the oldest window a page reads.
    floor: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    # Width of a page's first window when no cursor says better.
    first_window_seconds: int = 3600
    # Items per page of the public listing when `limit` is not given.
    default_limit: int = 20
    # The largest `limit` a client may ask for.
    max_limit: int = 100


class Open311Settings(FileSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_OPEN311_", extra="ignore")

    # Seeded as a valid key at start-up (the local run; deployments issue keys with the admin command).
    api_key: str = Field(
        default="", validation_alias=AliasChoices("OPEN311_API_KEY", "INTAKE_OPEN311_API_KEY")
    )
    # Shown to Open311 clients in discovery.json as whom to contact.
    contact: str = "Layanan pengaduan pemerintah daerah — hubungi admin koordinator pemda Anda"
    # Shown in discovery.json: how a client obtains an API key.
    key_service: str = (
        "Kunci API diterbitkan oleh admin: python -m services.intake.apikeys issue --name <nama-klien>"
    )
    # Most service requests one GET requests answers (newest first), and its widest date range.
    max_requests: int = 200
    # The widest date range (start_date to end_date) one GET requests may ask for.
    max_days: int = 90


DEV_API_KEY = "pengaduan-lokal-open311"  # what `make run` seeds (devtools/cli.py)


@register_secret
def _seeded_api_key() -> Secret | None:
    key = Open311Settings().api_key
    return Secret("OPEN311_API_KEY", key, is_default=key == DEV_API_KEY) if key else None


class RateLimitSettings(ClientLimitSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_RATE_", extra="ignore")

    # Submits per minute (and burst) from one client address. Generous: mobile carriers put many
    # citizens behind one address (CGNAT).
    submit_per_minute: int = 60
    # Submits per minute per credential (bearer token, Open311 api_key): a gateway relays many people.
    submit_per_minute_per_key: int = 600
    # Pages of the public listing per minute from one address.
    listing_per_minute: int = 120
    # Open311 GET requests (discovery, services, requests, one request, tokens) per minute.
    open311_read_per_minute: int = 120
    # Attachment uploads per minute from one address.
    upload_per_minute: int = 30
    # Reporter commands (information, feedback, survey, reopen, withdraw) per minute from one address.
    command_per_minute: int = 30
    # Tracking code + PIN exchanges per minute from one address (each code also slows down on its
    # own after wrong PINs: INTAKE_TRACKING_*).
    track_per_minute: int = 10


class TrackingSettings(FileSettings):
    """Following a complaint without a bearer header (services/intake/domain/tracking.py): the
    notification links, the tracking code + PIN, and the session cookie they are exchanged for."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_TRACKING_", extra="ignore")

    # How long the session cookie (and its server-side session) lasts.
    session_hours: float = Field(default=7 * 24, gt=0, le=90 * 24)
    # Development only (plain http on a machine): the cookie without its Secure attribute.
    insecure_cookie: bool = False
    # Wrong PINs for one code: this many are free, then a delay of `first_delay_seconds` doubling
    # per wrong PIN up to `max_delay_seconds`; never a lockout (the right PIN works after the delay).
    free_tries: int = Field(default=3, ge=1)
    # The delay after the first wrong PIN past the free ones (it doubles with each further one).
    first_delay_seconds: float = Field(default=2.0, gt=0)
    # The longest delay one code waits after wrong PINs.
    max_delay_seconds: float = Field(default=900.0, gt=0, le=24 * 3600)
    # How long a browser that proved a code (right PIN or the link) stays trusted with it: its
    # tries then wait only for its own wrong PINs, never for a stranger's (a device cookie).
    device_days: float = Field(default=180, gt=0, le=400)


DEV_NOTIFY_SECRET = "development-only-notification-link-secret-do-not-deploy"
NotifyChannel = Literal["email", "sms", "whatsapp"]
GATEWAY_CHANNELS: tuple[NotifyChannel, ...] = ("sms", "whatsapp")


class NotifySettings(SmtpSettings, FileSettings):
    """Notifications to the reporter (services/intake/domain/notifications.py): off unless an SMTP
    host (e-mail; the `smtp_*` and mail settings are shared/mail.py's) or a gateway URL (SMS,
    WhatsApp) is set. Every value may come from `<NAME>_FILE` (the password and the gateway key
    especially)."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_NOTIFY_", extra="ignore")

    # SMS / WhatsApp through a gateway's HTTP API: a JSON POST signed with HMAC-SHA256 of the body.
    gateway_url: str = ""
    # The gateway's API key (sent as a bearer token); best from `INTAKE_NOTIFY_GATEWAY_KEY_FILE`.
    gateway_key: str = ""
    # The HMAC key of the gateway's X-Signature, when the gateway gives one apart from the API key
    # (empty: the API key signs).
    gateway_signing_secret: str = ""
    # Which channels the gateway carries (JSON list: sms, whatsapp).
    gateway_channels: list[NotifyChannel] = Field(default_factory=lambda: list(GATEWAY_CHANNELS))
    # The gateway's (pre-approved, for WhatsApp) template name per kind; a kind not listed is sent
    # as `pengaduan_<kind>`.
    gateway_templates: dict[str, str] = Field(default_factory=dict)
    # Longest wait for one gateway request before it counts as failed.
    gateway_timeout_seconds: float = 10.0
    # Tries of one request to the gateway before the notification waits for the worker's next pass.
    gateway_tries: int = 3
    # Wait before the second try of a gateway request, doubling per try.
    gateway_backoff_seconds: float = 0.5
    # Signs the opt-out links (HMAC). The default is for development only: set your own.
    secret: str = DEV_NOTIFY_SECRET
    # Notifications sent to one address per day (WIB); what is over it is recorded as `capped`.
    daily_cap: int = 20
    # The worker: how often it looks for due notifications, how long one send may hold a
    # notification before another pass (or instance) may try it again, and the retries.
    poll_seconds: float = 1.0
    # How long one send may hold a notification before another pass or process may try it.
    lease_seconds: float = 120.0
    # A notification the channel's server keeps deferring (down, 4xx SMTP, 5xx/429 gateway) is
    # tried again after 5 s, doubling up to `retry_max_seconds`: 30 tries span about 6 hours (an
    # outage that long is waited out), then it is recorded `failed`.
    max_attempts: int = 30
    # The longest wait between tries of a deferred notification.
    retry_max_seconds: float = 900.0

    def channels(self) -> frozenset[str]:
        """The channels this deployment can send on."""
        found: set[str] = set()
        if self.smtp_host:
            found.add("email")
        if self.gateway_url:
            found.update(self.gateway_channels)
        return frozenset(found)


@register_secret
def _notify_secret() -> Secret | None:
    """The opt-out links' secret, when notifications are on."""
    settings = NotifySettings()
    if not settings.channels():
        return None
    return Secret("INTAKE_NOTIFY_SECRET", settings.secret, is_default=settings.secret == DEV_NOTIFY_SECRET)


class IntakeSettings(FileSettings):
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
    mongo_db: str = "intake"
    # The view consumer's group (its dead-letter topic is `<group>.dlq`); tests run apps in their own.
    consumer_group: str = INTAKE_GROUP
    # The group that follows routing's dead letters (`<routing_group>.dlq`), so that a reporter's
    # command routing dead-lettered shows as rejected (services/intake/handlers.py, reject_dead_commands).
    dead_commands_group: str = INTAKE_DEAD_COMMANDS_GROUP
    # Routing's consumer group, whose dead letters (`<group>.dlq`) the dead-commands follower reads.
    routing_group: str = ROUTING_GROUP
    # Address to listen on; beyond loopback the secrets must be set and real (shared/startup.py).
    http_host: str = "127.0.0.1"
    # Port of the API, /healthz, /readyz, /metrics and the pages.
    http_port: int = 8081
    # Base of the URLs given to citizens (`status_url`, the links in notifications, the redirect
    # after a tracking exchange); empty: the request's host for `status_url`, the local address
    # (http_host:http_port) for notifications.
    public_base_url: str = ""
    # How long a submit (or a reporter's command) waits for Kafka's acknowledgement before 503.
    publish_timeout_seconds: float = 10.0
    # Attachments (photos, PDF): the largest accepted and how many one complaint may have.
    attachment_max_bytes: int = 5 * 1024 * 1024
    # Most attachments one complaint may have.
    attachment_max_count: int = 10
    # Every upload is opened (and for anonymous complaints rewritten) in worker processes: photos up
    # to this many pixels, PDFs up to this many pages (more is a 422).
    attachment_max_pixels: int = 40_000_000
    # Most pages of an attached PDF.
    attachment_max_pages: int = 300
    # The workers: how many, how many uploads may wait for one (more is a 503 with Retry-After),
    # and each task's limits (wall time, CPU seconds, address space); a worker past them is killed
    # and replaced, and the upload is a 422.
    attachment_workers: int = 2
    # Uploads that may wait for a worker; more is a 503 with Retry-After.
    attachment_queue_limit: int = 8
    # Wall time one upload's cleaning may take before its worker is killed (a 422).
    attachment_timeout_seconds: float = 20.0
    # CPU seconds one upload's cleaning may take (a worker's RLIMIT_CPU).
    attachment_cpu_seconds: int = 10
    # Address space of a cleaning worker (RLIMIT_AS): a decompression bomb fails there.
    attachment_memory_bytes: int = 1024 * 1024 * 1024
    # How often the working-day calendars (extra dates announced by sla) are reloaded, so every
    # instance's countdowns follow a calendar change that another instance consumed.
    calendar_refresh_seconds: float = 60.0
    # Python logging level of this service (DEBUG, INFO, WARNING, ERROR).
    log_level: str = "INFO"
    # Reporter identity is erased this many years after its complaint closed (UU 27/2022 on
    # personal data protection: kept no longer than needed); 0 keeps it until erased on request
    # (`pengaduan erase-reporter`). Checked at start-up and then every `retention_check_seconds`.
    retention_years: int = Field(default=0, ge=0, le=100)
    # How often the retention erasure runs (and once at start-up).
    retention_check_seconds: float = Field(default=6 * 3600, gt=0)
    # Seals the access token an Idempotency-Key record keeps for its replay (services/intake/
    # adapters/idempotency.py), with the raw key; a key derived from it signs the tracking links and
    # hashes the PINs (TrackingSettings). The default is for development only: set your own.
    idempotency_secret: str = DEV_IDEMPOTENCY_SECRET
    # The pemda (province or kab/kota code, e.g. 33.74) an Open311 request belongs to when it names
    # no region_code or jurisdiction_id; empty: the region comes from lat/long (its province).
    default_pemda: str = ""
    # Routing's staff sign-in page: intake's staff page (a reporter's identity, /staff/pelapor/{id})
    # sends a person without a valid staff token there, to come back signed in.
    staff_sign_in_url: str = "http://127.0.0.1:8082/staff/masuk"
    listing: ListingSettings = Field(default_factory=ListingSettings)
    open311: Open311Settings = Field(default_factory=Open311Settings)
    rate: RateLimitSettings = Field(default_factory=RateLimitSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)

    def tracking_key(self) -> str:
        """The HMAC key of tracking links and PIN hashes, derived from the one intake secret
        (INTAKE_IDEMPOTENCY_SECRET) under its own label, so neither use can stand in for the other."""
        label = b"pengaduan intake tracking links and PINs v1"
        return hmac.new(self.idempotency_secret.encode(), label, hashlib.sha256).hexdigest()

    def staff_form_key(self) -> bytes:
        """The HMAC key of the CSRF tokens of intake's staff page, derived from the one intake
        secret under its own label."""
        label = b"pengaduan intake staff forms v1"
        return hmac.new(self.idempotency_secret.encode(), label, hashlib.sha256).digest()

    @field_validator("default_pemda")
    @classmethod
    def _a_pemda(cls, value: str) -> str:
        region = lookup(value) if value else None
        if value and (region is None or region.level > 2):
            raise ValueError("INTAKE_DEFAULT_PEMDA: kode provinsi atau kab/kota dari data (mis. 33.74)")
        return value


@register_secret
def _idempotency_secret() -> Secret:
    """Beyond loopback, the secret that keeps a replay's access token unreadable must be real."""
    value = IntakeSettings().idempotency_secret
    return Secret(f"{PREFIX}IDEMPOTENCY_SECRET", value, is_default=value == DEV_IDEMPOTENCY_SECRET)
