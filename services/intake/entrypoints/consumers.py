"""Intake's consumers and background loops: each decodes what it reads, hands it to one handler
(handlers.py) and nothing else; bootstrap.py starts them with the app."""

from __future__ import annotations

import asyncio
import logging

from pymongo.errors import PyMongoError

from services.intake import handlers
from services.intake.ports import Adapters
from services.intake.settings import IntakeSettings
from shared.calendar import CalendarBook
from shared.deadletters import Letter, LetterConsumer
from shared.envelope import Envelope
from shared.kafka import BatchHandler, Rejected
from shared.lease import Lease
from shared.runtime import Health, Infra

log = logging.getLogger(__name__)


def view_events(
    adapters: Adapters, calendars: CalendarBook, infra: Infra, notify_channels: frozenset[str] = frozenset()
) -> BatchHandler:
    """complaints.events + sla.events + catalog.changes → handlers.handle_view_events (and the
    notifications they cause, on the channels this deployment sends on)."""
    notifying = None
    if adapters.notifications is not None and notify_channels:
        notifying = handlers.Notifying(adapters.notifications, notify_channels)

    async def on_view_events(batch: list[Envelope]) -> list[Rejected]:
        return await handlers.handle_view_events(
            batch, adapters.complaints, calendars, infra.publish, notifying, adapters.names
        )

    return on_view_events


async def calendar_refresh(adapters: Adapters, calendars: CalendarBook, period_seconds: float) -> None:
    """Another instance may have consumed a CalendarChanged: reload what it stored."""
    while True:
        await asyncio.sleep(period_seconds)  # a period, not a wait for a condition
        try:
            await handlers.refresh_calendars(adapters.complaints, calendars)
        except PyMongoError as exc:
            log.warning("calendar refresh failed: %r", exc)


async def retention(
    adapters: Adapters, years: int, period_seconds: float, lease: Lease | None = None
) -> None:
    """Erase the reporter identity of complaints closed more than `years` ago, now and then; with
    `lease`, only in the process holding it (its `ttl` outlasts a period, so the holder keeps it
    from pass to pass and another takes over about a period after it dies)."""
    while True:
        try:
            if lease is not None and not await lease.acquire():
                await asyncio.sleep(period_seconds)  # a period, not a wait for a condition
                continue
            erased = await handlers.erase_expired(years, store=adapters.complaints)
            if erased:
                log.info(
                    "retention: reporter identity erased from %d complaint(s) closed over %d years ago",
                    erased,
                    years,
                )
        except PyMongoError as exc:
            log.warning("retention pass failed: %r; next pass in %.0fs", exc, period_seconds)
        await asyncio.sleep(period_seconds)  # a period, not a wait for a condition


async def dead_commands(adapters: Adapters, settings: IntakeSettings, health: Health) -> None:
    """Routing's dead letters: a command among them is rejected for the reporter, not pending for
    ever. A consumer of its own (no dead-letter topic, nothing to replay), watched by /readyz like
    the others."""

    async def on_letters(letters: list[Letter]) -> None:
        await handlers.reject_dead_commands(letters, adapters.complaints)

    consumer = LetterConsumer(
        bootstrap=settings.kafka_bootstrap,
        group=settings.dead_commands_group,
        source=settings.routing_group,
        handler=on_letters,
    )
    health.consumers.append(consumer)
    await consumer.run()
