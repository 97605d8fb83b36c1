"""The one place intake is put together: its settings, its adapters (the Mongo stores and the
outbox publisher, or fakes given by parameter), its HTTP routes, consumers and background loops.

Where things are: rules in domain/; one function per use case in handlers.py, over the ports of
ports.py; the database and Kafka in adapters/; HTTP views per feature, the consumers and the
OpenAPI document in entrypoints/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from aiohttp import web

from services.intake import handlers
from services.intake.adapters import attachments as attachment_store
from services.intake.adapters import listing as listing_queries
from services.intake.adapters import notifications as notification_store
from services.intake.adapters import open311 as open311_records
from services.intake.adapters import store
from services.intake.adapters import tracking as tracking_store
from services.intake.adapters.names import MongoOpdNames
from services.intake.adapters.notifier import Notifier
from services.intake.adapters.notify_templates import Templates
from services.intake.adapters.publisher import OUTBOXES, OutboxPublisher
from services.intake.adapters.scrubber import Scrubber
from services.intake.adapters.senders import GatewaySender, SmtpSender
from services.intake.entrypoints import (
    attachments,
    commands,
    complaints,
    consumers,
    identity,
    identity_pages,
    listing,
    notifications,
    open311,
    openapi,
    pages,
    ratelimit,
    tracking,
)
from services.intake.entrypoints.edge import ADAPTERS, CALENDARS, SCRUBBER, SETTINGS, domain_errors
from services.intake.ports import Adapters, NotificationSender
from services.intake.settings import IntakeSettings, NotifySettings
from shared import docs, metrics, outbox
from shared.auth import STAFF_AUTH, StaffAuth
from shared.calendar import CalendarBook
from shared.http import add_standard_routes, problem_middleware
from shared.kafka import BatchHandler
from shared.lease import Lease, holder_id
from shared.runtime import HEALTH, INFRA, ConsumerSpec, Infra, with_consumers
from shared.topics import GROUP_TOPICS, INTAKE_GROUP

__all__ = ["OpenAdapters", "create_app", "mongo_adapters"]

OpenAdapters = Callable[[Infra], Awaitable[Adapters]]


def mongo_adapters(settings: IntakeSettings) -> OpenAdapters:
    """The real adapters on the process's database and producer (indexes made first)."""

    async def open_adapters(infra: Infra) -> Adapters:
        db = infra.db
        await store.ensure_indexes(db)
        await attachment_store.ensure_indexes(db)
        await listing_queries.ensure_indexes(db)
        await tracking_store.ensure_indexes(db)
        notifications = None
        if settings.notify.channels():
            await notification_store.ensure_indexes(db)
            notifications = notification_store.MongoNotificationStore(db)
        return Adapters(
            complaints=store.MongoComplaintStore(db),
            publisher=OutboxPublisher(infra, settings.publish_timeout_seconds),
            attachments=attachment_store.AttachmentStore(db),
            listing=listing_queries.PublicComplaints(db),
            open311=open311_records.Open311Records(db),
            notifications=notifications,
            tracking=tracking_store.MongoTrackingStore(db),
            names=MongoOpdNames(db),
        )

    return open_adapters


def create_app(settings: IntakeSettings, *, adapters: OpenAdapters | None = None) -> web.Application:
    """Intake's app; `adapters` replaces the Mongo/Kafka ones (tests)."""
    app = web.Application(middlewares=[problem_middleware, domain_errors], client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    app[STAFF_AUTH] = StaffAuth()
    app[CALENDARS] = CalendarBook()
    open_adapters = adapters or mongo_adapters(settings)

    async def opened(infra: Infra) -> Adapters:
        # Once the database and the producer are open: by the view consumer's build, which runs
        # first at start-up, and by a dead-letter replay (`pengaduan dlq replay`), which builds the
        # consumer's handler without starting the app.
        if ADAPTERS not in app:
            app[ADAPTERS] = await open_adapters(infra)
            await handlers.refresh_calendars(app[ADAPTERS].complaints, app[CALENDARS])
        return app[ADAPTERS]

    async def build_view_consumer(infra: Infra) -> BatchHandler:
        return consumers.view_events(await opened(infra), app[CALENDARS], infra, settings.notify.channels())

    async def calendar_refresh(infra: Infra) -> None:
        await consumers.calendar_refresh(
            await opened(infra), app[CALENDARS], settings.calendar_refresh_seconds
        )

    async def relay(infra: Infra) -> None:
        adapters_ = await opened(infra)
        assert isinstance(adapters_.publisher, OutboxPublisher), "the relay needs the real publisher"
        await adapters_.publisher.relay()

    async def dead_commands(infra: Infra) -> None:
        await consumers.dead_commands(await opened(infra), settings, app[HEALTH])

    async def retention(infra: Infra) -> None:
        # One sweep at a time over all of intake's processes (shared/lease.py): a doubled one would
        # erase nothing twice but write each erasure's audit entry twice.
        period = settings.retention_check_seconds
        lease = Lease(infra.db, "intake-retention", timedelta(seconds=2 * period), holder_id())
        await consumers.retention(await opened(infra), settings.retention_years, period, lease)

    async def notify(infra: Infra) -> None:
        await run_notifier(await opened(infra), settings)

    background: list[tuple[str, Callable[[Infra], Awaitable[None]]]] = [
        ("calendar-refresh", calendar_refresh),
        ("outbox-relay", relay),
        ("dead-commands", dead_commands),
    ]
    if settings.retention_years:
        background.append(("retention", retention))
    if settings.notify.channels():
        background.append(("notifier", notify))
    ready = with_consumers(
        app,
        settings,
        [ConsumerSpec(settings.consumer_group, list(GROUP_TOPICS[INTAKE_GROUP]), build_view_consumer)],
        background=background,
    )
    app.cleanup_ctx.append(_scrubber(settings))

    async def open311_keys(app: web.Application) -> None:
        # At start-up only (after the infrastructure is open), never for a dead-letter replay:
        # it seeds the local run's API key.
        await open311_records.ensure_indexes(app[INFRA].db, settings.open311.api_key)

    app.on_startup.append(open311_keys)
    add_standard_routes(app, ready_check=ready, openapi=openapi.document())
    outbox.watch_backlog(app, OUTBOXES)
    metrics.watch_parked(app, "intake", "complaints")
    complaints.add_routes(app)
    commands.add_routes(app)
    identity.add_routes(app)
    identity_pages.add_routes(app)
    attachments.add_routes(app)
    listing.add_routes(app)
    docs.add_routes(app)
    open311.add_routes(app)
    notifications.add_routes(app)
    pages.add_routes(app)
    tracking.add_routes(app)
    ratelimit.install(app, settings.rate)
    return app


def notification_senders(settings: NotifySettings, templates: Templates) -> list[NotificationSender]:
    """The senders of the channels configured: e-mail with an SMTP host, SMS and WhatsApp with a
    gateway URL."""
    senders: list[NotificationSender] = []
    if settings.smtp_host:
        senders.append(SmtpSender(settings))
    if settings.gateway_url:
        senders.append(GatewaySender(settings, templates))
    return senders


def public_base_url(settings: IntakeSettings) -> str:
    """Where the links in notifications point: the configured public base URL, never a request's
    Host header (there is no request); the local address otherwise."""
    return settings.public_base_url or f"http://{settings.http_host}:{settings.http_port}"


async def run_notifier(adapters: Adapters, settings: IntakeSettings) -> None:
    """The notifications' worker, for the app's lifetime (bootstrap starts it when they are on)."""
    assert adapters.notifications is not None, "notifications are on: their store is open"
    templates = Templates(settings.notify.gateway_templates)
    templates.check()
    senders = notification_senders(settings.notify, templates)
    base_url = public_base_url(settings)
    notifier = Notifier(
        adapters.notifications,
        senders,
        templates,
        settings.notify,
        base_url,
        settings.tracking_key(),
        adapters.names,
    )
    try:
        await notifier.run()
    finally:
        await notifier.close()


def _scrubber(settings: IntakeSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    """The attachments' worker pool, for the app's lifetime."""

    async def scrubber_ctx(app: web.Application) -> AsyncIterator[None]:
        scrubber = Scrubber(settings)
        await scrubber.start()
        app[SCRUBBER] = scrubber
        yield
        await scrubber.stop()

    return scrubber_ctx
