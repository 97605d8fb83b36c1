"""What sla's HTTP views find on the app: the rules every calendar comes from (`RULES`, from the
start: the calendar answers need no database), the adapters (`SLA`, set once the database and the
producer are open) and the supervisor reports' reading state (`REPORTS`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from services.sla.domain.standards import SlaRules
from services.sla.ports import ReportReader, Sla
from shared import clock
from shared.http import ProblemError

RULES = web.AppKey("sla_rules", SlaRules)
SLA = web.AppKey("sla", Sla)


@dataclass
class Reports:
    """What the supervisor views read: the report store once the consumer's infrastructure is
    open, and `now`, the reading instant for aging and the lateness of open breaches (tests pin
    it)."""

    store: ReportReader | None = None
    now: Callable[[], datetime] = field(default=clock.now)


REPORTS = web.AppKey("sla_reports", Reports)


def reports_state(app: web.Application) -> Reports:
    if REPORTS not in app:
        app[REPORTS] = Reports()
    return app[REPORTS]


def sla_of(request: web.Request) -> Sla:
    """The adapters, or 503 while the service is still opening them."""
    sla = request.app.get(SLA)
    if sla is None:
        raise ProblemError(503, "layanan belum siap", headers={"Retry-After": "5"})
    return sla
