"""The one place routing is put together: its settings, its adapters (the Mongo stores, the outbox
delivery and the webhook guard, or a `Routing` given by parameter), its HTTP routes, consumer
groups and background loops.

Where things are: rules in domain/; one function per use case in handlers.py, over the ports of
ports.py; the database and Kafka in adapters/; HTTP views per feature, the consumers and the
OpenAPI document in entrypoints/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from services.routing.adapters import accounts, staff_mail, store
from services.routing.adapters.catalog import MongoCatalog, run_catalog_relay
from services.routing.adapters.delivery import OutboxDelivery
from services.routing.adapters.feed import FeedStore
from services.routing.adapters.notes import MongoNotes
from services.routing.adapters.staff_mailer import StaffMailer, StaffTemplates
from services.routing.adapters.transfer_pairs import MongoTransferPairs
from services.routing.adapters.webhooks import MongoWebhooks, TargetGuard, parse_networks
from services.routing.domain.model import model as classifier_model
from services.routing.entrypoints import (
    admin,
    complaints,
    consumers,
    coordinator_pages,
    duplicates,
    explain,
    notes,
    opd_systems,
    openapi,
    queues,
    ratelimit,
    staff_mail_pages,
    staff_oidc,
    staff_pages,
    suggestions,
)
from services.routing.entrypoints.edge import GUARD, ROUTING
from services.routing.ports import Publish, Routing, StaffDirectory, StaffMailing
from services.routing.settings import RoutingSettings
from shared import docs, outbox
from shared.auth import STAFF_AUTH, StaffAuth
from shared.http import add_standard_routes, problem_middleware
from shared.kafka import BatchHandler
from shared.runtime import INFRA, REPLAYING, ConsumerSpec, Infra, with_consumers
from shared.topics import (
    COMPLAINTS_COMMANDS,
    COMPLAINTS_EVENTS,
    COMPLAINTS_SUBMITTED,
    ROUTING_DUES_GROUP,
    ROUTING_GROUP,
    ROUTING_STAFF_MAIL_GROUP,
    ROUTING_TRANSFERS_GROUP,
    SLA_EVENTS,
)

__all__ = ["OpenRouting", "add_staff_routes", "create_app", "mongo_routing"]

OpenRouting = Callable[[Infra, bool], Awaitable[Routing]]


def mongo_routing(
    db: AsyncDatabase[dict[str, object]],
    publish: Publish,
    *,
    max_transfers: int = 3,
    lease_minutes: int = 30,
    finish_later: bool = False,
    suggest_after: int = 3,
    suggest_window_days: int = 90,
    duplicate_window_days: int = 30,
    duplicate_min_similarity: float = 0.3,
) -> Routing:
    """The real adapters on a database and a publisher (indexes are `store.ensure_indexes`)."""
    complaints_ = store.MongoComplaintStore(db)
    feed = FeedStore(db)
    return Routing(
        complaints=complaints_,
        catalog=MongoCatalog(db),
        delivery=OutboxDelivery(complaints_, feed, publish, finish_later=finish_later),
        feed=feed,
        notes=MongoNotes(db),
        webhooks=MongoWebhooks(db),
        transfer_pairs=MongoTransferPairs(db),
        max_transfers=max_transfers,
        lease_minutes=lease_minutes,
        suggest_after=suggest_after,
        suggest_window_days=suggest_window_days,
        duplicate_window_days=duplicate_window_days,
        duplicate_min_similarity=duplicate_min_similarity,
    )


def add_staff_routes(app: web.Application) -> None:
    """The staff API's views (they read `app[ROUTING]`)."""
    complaints.add_routes(app)
    duplicates.add_routes(app)
    notes.add_routes(app)
    queues.add_routes(app)
    opd_systems.add_routes(app)
    admin.add_routes(app)
    suggestions.add_routes(app)


async def open_staff_directory(db: AsyncDatabase[dict[str, object]]) -> StaffDirectory:
    """People's accounts and sessions (adapters/accounts.py), indexes made first."""
    await accounts.ensure_indexes(db)
    return accounts.MongoStaffDirectory(db)


async def open_staff_mailing(db: AsyncDatabase[dict[str, object]], settings: RoutingSettings) -> StaffMailing:
    """What the staff-mail group stages with (indexes made first); off without an SMTP host."""
    await staff_mail.ensure_indexes(db)
    await accounts.ensure_indexes(db)
    return StaffMailing(
        mailbox=staff_mail.MongoStaffMailbox(db, timedelta(days=settings.mail.keep_days)),
        addresses=accounts.MongoStaffDirectory(db),
        on=settings.mail.on(),
        digest_hour=settings.mail.digest_hour,
        max_age=timedelta(hours=settings.mail.max_age_hours),
        calendars=staff_mail.stored_calendars(db),
    )


def staff_url(settings: RoutingSettings) -> str:
    """Where people reach routing's staff pages (the links in staff e-mails)."""
    return settings.staff_public_url or f"http://{settings.http_host}:{settings.http_port}"


async def run_staff_mailer(db: AsyncDatabase[dict[str, object]], settings: RoutingSettings) -> None:
    """The staff e-mails' worker, for the app's lifetime (started when staff e-mail is on)."""
    await staff_mail.ensure_indexes(db)
    templates = StaffTemplates()
    templates.check()  # a missing package file fails at start-up, not at a send
    mailer = StaffMailer(
        staff_mail.MongoStaffMailbox(db, timedelta(days=settings.mail.keep_days)),
        accounts.MongoStaffDirectory(db),
        settings.mail,
        staff_url(settings),
        templates,
    )
    await mailer.run()


async def _load_classifier(app: web.Application) -> None:
    """The classifier's coefficients (3 MB of JSON), read off the event loop at start-up rather
    than by the first uncategorised complaint."""
    await asyncio.to_thread(classifier_model)


def create_app(settings: RoutingSettings, *, routing: OpenRouting | None = None) -> web.Application:
    """Routing's app; `routing` replaces the Mongo/Kafka adapters (tests)."""
    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = StaffAuth()
    app.on_startup.append(_load_classifier)
    guard = TargetGuard(parse_networks(settings.webhook_allowed_networks))
    app[GUARD] = guard

    async def open_real(infra: Infra, finish_later: bool) -> Routing:
        await store.ensure_indexes(infra.db)
        return mongo_routing(
            infra.db,
            infra.publish,
            max_transfers=settings.max_transfers,
            lease_minutes=settings.lease_minutes,
            finish_later=finish_later,
            suggest_after=settings.rule_suggest_after,
            suggest_window_days=settings.rule_suggest_window_days,
            duplicate_window_days=settings.duplicate_window_days,
            duplicate_min_similarity=settings.duplicate_min_similarity,
        )

    open_routing = routing or open_real
    opening = asyncio.Lock()

    async def opened(infra: Infra) -> Routing:
        # Once the database and the producer are open: by whichever consumer group is built
        # first at start-up, and by a dead-letter replay (`pengaduan dlq replay`), which builds a
        # group's handler without starting the app. A replay runs no finisher task, so it
        # finishes each delivery at once instead of handing it to the finisher.
        async with opening:
            if ROUTING not in app:
                app[ROUTING] = await open_routing(infra, not app.get(REPLAYING, False))
        return app[ROUTING]

    async def build(infra: Infra) -> BatchHandler:
        return consumers.routing_batches(await opened(infra))

    async def build_dues(infra: Infra) -> BatchHandler:
        return consumers.dues_batches(await opened(infra))

    async def build_transfers(infra: Infra) -> BatchHandler:
        return consumers.transfer_batches(await opened(infra))

    async def relay(infra: Infra) -> None:
        delivery = consumers.delivery_of(await opened(infra))
        await store.run_relay(infra.db, infra.publish, delivery.after_publish)

    async def catalog_relay(infra: Infra) -> None:
        await opened(infra)  # the indexes, the outbox's among them
        await run_catalog_relay(infra.db, infra.publish)

    async def finisher(infra: Infra) -> None:
        await consumers.delivery_of(await opened(infra)).finisher()

    async def push_webhooks(infra: Infra) -> None:
        await consumers.push_webhooks(infra, guard, settings.webhook_interval_seconds)

    async def build_staff_mail(infra: Infra) -> BatchHandler:
        return consumers.staff_mail_batches(await open_staff_mailing(infra.db, settings))

    async def send_staff_mail(infra: Infra) -> None:
        await run_staff_mailer(infra.db, settings)

    mailer = [("routing-staff-mailer", send_staff_mail)] if settings.mail.on() else []

    ready = with_consumers(
        app,
        settings,
        [
            ConsumerSpec(ROUTING_GROUP, [COMPLAINTS_SUBMITTED, COMPLAINTS_COMMANDS], build),
            ConsumerSpec(ROUTING_DUES_GROUP, [SLA_EVENTS], build_dues),
            ConsumerSpec(ROUTING_TRANSFERS_GROUP, [COMPLAINTS_EVENTS], build_transfers),
            ConsumerSpec(ROUTING_STAFF_MAIL_GROUP, [COMPLAINTS_EVENTS, SLA_EVENTS], build_staff_mail),
        ],
        background=[
            ("routing-relay", relay),
            ("routing-catalog-relay", catalog_relay),
            ("routing-finisher", finisher),
            ("routing-webhooks", push_webhooks),
            *mailer,
        ],
    )
    add_standard_routes(app, ready_check=ready, openapi=openapi.document())
    docs.add_routes(app)
    outbox.watch_backlog(app, ["complaints", "pemda"])
    explain.add_routes(app)
    ratelimit.install(app)
    add_staff_routes(app)
    staff_pages.add_routes(app, settings)
    staff_mail_pages.add_routes(app)
    staff_oidc.add_routes(app, settings)
    coordinator_pages.add_routes(app)

    async def staff_directory(app: web.Application) -> AsyncIterator[None]:
        # After with_consumers' lifecycle (appended first): the database is open.
        if staff_pages.DIRECTORY not in app:
            app[staff_pages.DIRECTORY] = await open_staff_directory(app[INFRA].db)
        if staff_oidc.CATALOG not in app:  # an OIDC sign-in's OPD must exist
            app[staff_oidc.CATALOG] = MongoCatalog(app[INFRA].db)
        yield

    app.cleanup_ctx.append(staff_directory)
    return app
