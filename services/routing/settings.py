from __future__ import annotations

from pydantic import AwareDatetime, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.routing.adapters.webhooks import parse_networks
from services.routing.domain.oidc import parse_role_map
from services.routing.domain.suggestions import MAX_THRESHOLD
from shared.mail import SmtpSettings
from shared.settings import DEFAULT_KAFKA, DEFAULT_MONGO, FileSettings, shared_env

PREFIX = "ROUTING_"


class StaffMailSettings(SmtpSettings, FileSettings):
    """E-mail to staff (issue 21 item 4; services/routing/domain/staff_mail.py): off unless an SMTP
    host is set (the `smtp_*` and mail settings are shared/mail.py's, as intake's notifications
    have them; both may name one server). Every value may come from `<NAME>_FILE`."""

    model_config = SettingsConfigDict(env_prefix="ROUTING_MAIL_", extra="ignore")

    # The hour (WIB, 0–23) at which a person who chose the daily digest gets the previous day's.
    digest_hour: int = Field(default=7, ge=0, le=23)
    # An event older than this when it is read tells nobody (a consumer group started late, or
    # e-mail just switched on, would otherwise mail the whole history).
    max_age_hours: float = Field(default=48.0, gt=0)
    # The worker: how often it looks for due mails.
    poll_seconds: float = Field(default=1.0, gt=0)
    # How long one send may hold a mail before another pass or process may try it.
    lease_seconds: float = Field(default=120.0, gt=0)
    # A mail the server keeps deferring is tried again after 5 s, doubling up to
    # `retry_max_seconds`; after this many tries it is recorded `failed`.
    max_attempts: int = Field(default=30, ge=1)
    # The longest wait between tries of a deferred mail.
    retry_max_seconds: float = Field(default=900.0, gt=0)
    # How long the record of a settled mail (sent, or set aside with its reason) is kept; then the
    # database drops it (a TTL index). A mail not yet settled is never dropped. Safe because a
    # record is what makes a redelivered event stage nothing, and redelivery is bounded far below
    # this: Kafka redelivers from the group's committed offsets (the batch in hand at a crash or a
    # rebalance: seconds to minutes), and an event older than `max_age_hours` stages nothing at
    # all, so it must exceed that (checked).
    keep_days: int = Field(default=90, ge=1, le=3650)

    @model_validator(mode="after")
    def _kept_longer_than_redelivered(self) -> StaffMailSettings:
        if self.keep_days * 24 <= self.max_age_hours:
            raise ValueError("keep_days must be longer than max_age_hours, or a redelivery could mail again")
        return self

    def on(self) -> bool:
        return bool(self.smtp_host)


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
    # Intake's address as routing reaches it (server to server), for the reporter's attachments
    # on the workbench's complaint page: asked with the signed-in person's token, never intake's
    # database.
    intake_url: str = "http://127.0.0.1:8081"
    # Intake's address as people reach it: the coordinator pages link to intake's page that shows
    # a reporter's identity (identity lives only in intake, DESIGN §3).
    staff_intake_url: str = "http://127.0.0.1:8081"
    mail: StaffMailSettings = Field(default_factory=StaffMailSettings)

    # Staff sign-in through the pemda's OpenID Connect provider (Keycloak, Azure AD / Entra ID, …;
    # services/routing/entrypoints/staff_oidc.py). Set, `/staff/masuk` sends people to it
    # (authorization code with PKCE) instead of asking for a password. The provider's issuer URL
    # exactly as its discovery document states it, e.g. `https://sso.semarangkota.go.id/realms/pemkot`.
    oidc_issuer: str = ""
    # The client id registered at the provider for routing (confidential client; its redirect
    # URI is `<ROUTING_STAFF_PUBLIC_URL>/staff/masuk/oidc`).
    oidc_client_id: str = ""
    # That client's secret (best from `ROUTING_OIDC_CLIENT_SECRET_FILE`).
    oidc_client_secret: str = ""
    # Scopes asked for, separated by spaces (`openid` is always added): those that bring the
    # claims below into the ID token.
    oidc_scopes: str = "openid profile email"
    # The ID token's claim holding the username (each claim setting is a name, or a dotted path
    # into nested claims such as `realm_access.roles`): the account's id, the staff token's `sub`.
    oidc_username_claim: str = "preferred_username"
    # The claim holding the person's display name.
    oidc_name_claim: str = "name"
    # The claim holding the person's e-mail address (for staff notifications).
    oidc_email_claim: str = "email"
    # The claim holding the role. A list (groups, realm roles) may hold other values; exactly one
    # must be a role, after `ROUTING_OIDC_ROLE_MAP`.
    oidc_role_claim: str = "role"
    # The claim holding the pemda code (e.g. `33.74`); none for an admin.
    oidc_pemda_claim: str = "pemda"
    # The claim holding the OPD of handlers and OPD supervisors (its slug or `<pemda>/<slug>`); it
    # must be in the OPD catalog.
    oidc_opd_claim: str = "opd"
    # The provider's role names → this system's roles, e.g.
    # `petugas-opd=handler,koordinator=coordinator,pengawas=supervisor`. A value absent here counts
    # as itself; anything that is not then a role is refused.
    oidc_role_map: str = ""
    # The pemdas this deployment serves (codes separated by commas): a sign-in whose pemda claim
    # is another is refused. Empty: any pemda.
    oidc_pemdas: str = ""
    # A sign-in sent to the provider must come back within this many minutes.
    oidc_login_minutes: int = Field(default=10, ge=1, le=60)

    @field_validator("oidc_role_map")
    @classmethod
    def _role_map(cls, value: str) -> str:
        parse_role_map(value)
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> RoutingSettings:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError(
                "ROUTING_OIDC_ISSUER needs ROUTING_OIDC_CLIENT_ID and ROUTING_OIDC_CLIENT_SECRET(_FILE)"
            )
        return self

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        parse_networks(value)  # a typo fails at start-up, not at the first registration
        return value
