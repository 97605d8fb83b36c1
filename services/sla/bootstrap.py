"""The one place sla is put together: its adapters (the Mongo stores and the publisher, or an
`Sla` given by parameter), its HTTP routes, consumer groups and background workers.

Where things are: rules in domain/ (the clocks, the ladder, the stays, the report records); one
function per use case in handlers.py, over the ports of ports.py; the database in adapters/; HTTP
views per feature, the consumers, the workers, the recompute CLI and the OpenAPI document in
entrypoints/. Every calendar in this process comes from one `SlaRules` (`RULES`): the shared
working-day calendar with the pemdas' extra dates, cached and invalidated when they change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from services.sla.adapters import clock_store, report_store
from services.sla.adapters.clock_store import MongoClockStore, ensure_indexes
from services.sla.adapters.reference import MongoCalendars
from services.sla.adapters.report_store import MongoReportStore, ensure_report_indexes
from services.sla.domain.standards import SlaRules
from services.sla.entrypoints import (
    breaches,
    calendar,
    complaint_clocks,
    compliance,
    consumers,
    dashboard,
    extra_dates,
    misrouting,
    openapi,
    ratelimit,
    satisfaction,
    transparency,
)
from services.sla.entrypoints.edge import RULES, SLA, reports_state
from services.sla.entrypoints.workers import DetectorSettings, run_catch_up, run_detector
from services.sla.ports import Publish, Sla
from services.sla.settings import SlaSettings
from shared import clock, docs, metrics, outbox
from shared.auth import STAFF_AUTH, StaffAuth
from shared.http import add_standard_routes, problem_middleware
from shared.kafka import BatchHandler
from shared.lease import Lease, holder_id
from shared.runtime import INFRA, ConsumerSpec, Infra, with_consumers
from shared.topics import COMPLAINTS_EVENTS, GROUP_TOPICS, SLA_REPORTS_GROUP

__all__ = ["OpenSla", "add_supervisor_routes", "create_app", "mongo_sla", "report_consumer_specs"]

OpenSla = Callable[[Infra, SlaRules], Awaitable[Sla]]


def mongo_sla(db: AsyncDatabase[dict[str, Any]], publish: Publish, rules: SlaRules | None = None) -> Sla:
    """The real adapters on a database and a publisher (indexes: `ensure_indexes`,
    `ensure_report_indexes`)."""
    return Sla(
        clock_store=lambda: MongoClockStore(db),
        calendars=MongoCalendars(db),
        reports=MongoReportStore(db),
        publish=publish,
        rules=rules or SlaRules(),
    )


def _opener(app: web.Application, open_sla: OpenSla) -> Callable[[Infra], Awaitable[Sla]]:
    """Opens the adapters once, by whichever consumer group or worker needs them first."""
    opening = asyncio.Lock()

    async def opened(infra: Infra) -> Sla:
        async with opening:
            if SLA not in app:
                app[SLA] = await open_sla(infra, app[RULES])
        return app[SLA]

    return opened


async def _open_real(infra: Infra, rules: SlaRules) -> Sla:
    await ensure_indexes(infra.db)
    await ensure_report_indexes(infra.db)
    sla = mongo_sla(infra.db, infra.publish, rules)
    await sla.calendars.refresh(rules)
    return sla


def _reports_spec(app: web.Application, opened: Callable[[Infra], Awaitable[Sla]]) -> ConsumerSpec:
    state = reports_state(app)

    async def build(infra: Infra) -> BatchHandler:
        sla = await opened(infra)
        state.store = sla.reports  # what the supervisor views read from now on
        return consumers.report_batches(sla)

    return ConsumerSpec(SLA_REPORTS_GROUP, list(GROUP_TOPICS[SLA_REPORTS_GROUP]), build)


def report_consumer_specs(app: web.Application, open_sla: OpenSla = _open_real) -> list[ConsumerSpec]:
    """The consumer group that keeps the supervisor counters (`sla-reports`), for an app that
    serves the supervisor routes alone (tests, devtools/seed_reports.py)."""
    app[RULES] = app.get(RULES) or SlaRules()
    return [_reports_spec(app, _opener(app, open_sla))]


def add_supervisor_routes(app: web.Application, public_cache_seconds: float | None = None) -> None:
    """The supervisor API (it reads `reports_state(app).store`), the dashboard page, and the
    public transparency page and data from the same counters."""
    reports_state(app)
    transparency.add_routes(app, public_cache_seconds)
    compliance.add_routes(app)
    breaches.add_routes(app)
    satisfaction.add_routes(app)
    misrouting.add_routes(app)
    complaint_clocks.add_routes(app)
    dashboard.add_routes(app)


WIB = ZoneInfo("Asia/Jakarta")  # "today" of the breach count: the national calendar's day


def _watch(app: web.Application, reports: bool) -> None:
    """What /metrics tells of sla beyond the common series: its outbox, parked complaints, how
    late detection runs, and (with the reports) open breaches, today's and escalations by level."""
    outbox.watch_backlog(app, [clock_store.COLLECTION])
    metrics.watch_parked(app, "sla", clock_store.COLLECTION)

    async def figures() -> None:
        infra = app.get(INFRA)
        if infra is None:  # not started yet
            return
        now = clock.now()
        metrics.SLA_DETECTION_LAG.set((await clock_store.detection_lag(infra.db, now)).total_seconds())
        if reports:
            today = now.astimezone(WIB).replace(hour=0, minute=0, second=0, microsecond=0)
            found = await report_store.figures(infra.db, now, today)
            metrics.SLA_OPEN_BREACHES.set(found["open_breaches"])
            metrics.SLA_BREACHES_TODAY.set(found["breaches_today"])
            for level, count in found["escalations"].items():
                metrics.SLA_ESCALATIONS.labels(str(level)).set(count)

    metrics.add_source(app, "sla", figures)


def create_app(settings: SlaSettings, *, reports: bool = True, sla: OpenSla | None = None) -> web.Application:
    """The sla service. `reports=False` leaves out the supervisor counters and API (tests of the
    clocks alone); `sla` replaces the Mongo adapters."""
    app = web.Application(middlewares=[problem_middleware])
    app[RULES] = SlaRules()
    app[STAFF_AUTH] = StaffAuth()
    open_sla = sla or _open_real
    opened = _opener(app, open_sla)

    async def build(infra: Infra) -> BatchHandler:
        return consumers.lifecycle_batches(await opened(infra))

    async def detector(infra: Infra) -> None:
        ttl = settings.detector_lease_seconds
        lease = Lease(infra.db, "sla-detector", timedelta(seconds=ttl), holder_id()) if ttl else None
        try:
            await run_detector(
                await opened(infra),
                DetectorSettings(
                    batch=settings.detector_batch,
                    max_sleep=settings.detector_max_sleep,
                    relay_after=settings.relay_after,
                    refresh_every=settings.refresh_every,
                ),
                lease=lease,
            )
        finally:
            if lease is not None:  # a clean stop hands detection over at once
                with contextlib.suppress(Exception):
                    await asyncio.shield(lease.release())

    async def catch_up(infra: Infra) -> None:
        await run_catch_up(await opened(infra))

    specs = [ConsumerSpec(settings.consumer_group, [COMPLAINTS_EVENTS], build)]
    if reports:
        specs.append(_reports_spec(app, opened))
    ready = with_consumers(
        app, settings, specs, background=[("sla-detector", detector), ("sla-recompute", catch_up)]
    )
    add_standard_routes(app, ready_check=ready, openapi=openapi.document())
    docs.add_routes(app)
    _watch(app, reports)
    if reports:
        add_supervisor_routes(app, settings.public_cache_seconds)
    extra_dates.add_routes(app)
    calendar.add_routes(app)
    ratelimit.install(app)
    return app
