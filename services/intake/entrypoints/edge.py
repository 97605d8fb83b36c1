"""What every intake HTTP view shares: where the app keeps its parts (set by bootstrap.py), the
base of the URLs given out, the Idempotency-Key header, and the one translation of domain errors
into problem responses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.intake import handlers
from services.intake.adapters.scrubber import Scrubber
from services.intake.domain.errors import (
    AnswerSealed,
    Forbidden,
    IntakeError,
    KeyInFlight,
    KeyReused,
    NotAllowed,
    NotFound,
    NotYet,
)
from services.intake.models import SubmitAccepted, SubmitComplaint
from services.intake.ports import Adapters
from services.intake.settings import IntakeSettings
from shared.calendar import CalendarBook
from shared.http import FieldError, ProblemError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS = web.AppKey("settings", IntakeSettings)
# The stores and the publisher (set once the database and the producer are open).
ADAPTERS = web.AppKey("adapters", Adapters)
# The working-day calendars countdowns are computed with (extra dates from sla.events).
CALENDARS = web.AppKey("calendars", CalendarBook)
SCRUBBER = web.AppKey("attachment_scrubber", Scrubber)


def base_url(request: web.Request) -> str:
    return request.app[SETTINGS].public_base_url or f"{request.scheme}://{request.host}"


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ProblemError(
            422, errors=[FieldError(field="Idempotency-Key", message="1–255 karakter yang dapat dicetak")]
        )
    return key


def problem(error: IntakeError) -> ProblemError:
    """The problem response a domain error is answered with."""
    if isinstance(error, NotFound):
        return ProblemError(404)
    if isinstance(error, Forbidden):
        return ProblemError(403, error.reason)
    if isinstance(error, NotYet):
        return ProblemError(409, error.reason, headers={"Retry-After": "2"})
    if isinstance(error, NotAllowed | AnswerSealed):
        return ProblemError(409, error.reason)
    if isinstance(error, KeyInFlight):
        return ProblemError(409, error.reason, headers={"Retry-After": "1"})
    if isinstance(error, KeyReused):
        return ProblemError(
            422,
            error.reason,
            errors=[FieldError(field="Idempotency-Key", message="dipakai ulang dengan isi berbeda")],
        )
    raise AssertionError(f"no problem for {error!r}")


@web.middleware
async def domain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A domain error a view lets through becomes its problem (shared.http renders it)."""
    try:
        return await handler(request)
    except IntakeError as error:
        raise problem(error) from None


async def accept_submission(request: web.Request, body: SubmitComplaint, key: str | None) -> SubmitAccepted:
    """The submit use case as every entry point calls it (the JSON API, Open311, the form page)."""
    adapters, settings = request.app[ADAPTERS], request.app[SETTINGS]
    return await handlers.submit(
        body,
        key,
        base_url(request),
        store=adapters.complaints,
        publisher=adapters.publisher,
        secret=settings.idempotency_secret,
        tracking=adapters.tracking,
        tracking_key=settings.tracking_key(),
        notify_channels=settings.notify.channels(),
    )
