"""The reporter's commands over HTTP (DESIGN §2, §6): add information, give feedback, reopen,
withdraw, and each command's outcome.

Routing owns the lifecycle, so intake only *asks*: each command goes durably to
`complaints.commands` (key = complaint id, seq null, the envelope's `event_id` is the command id,
and its `correlation_id` too, so the lifecycle event it causes can be matched back). Before that,
the command is checked against intake's own view (domain/commands.py), so the reporter hears at
once (409, with the reason in Indonesian) when the state does not allow it; routing checks again
against the true state and answers with the lifecycle event or `CommandRejected`. The reporter
follows the outcome at the `status_url` of the 202 answer (pending → accepted / rejected).

A command routing cannot process at all (its consumer dead-letters it: a complaint routing does not
know, a message it cannot read, a handler that keeps failing) would stay pending for ever: intake
follows routing's dead letters (`handlers.reject_dead_commands`, group `intake-dead-commands`) and
shows such a command as rejected, with a reason that names no internal detail and the marker
`dead_lettered`. When an operator replays the letter after a fix (`pengaduan dlq replay routing`),
routing's real answer replaces that rejection (`MongoComplaintStore.settle_commands`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from services.intake import handlers
from services.intake.entrypoints.access import complaint_for, require_reporter
from services.intake.entrypoints.edge import ADAPTERS, CALENDARS, base_url, idempotency_key
from services.intake.handlers import ReporterTexts
from services.intake.models import (
    AddInformationBody,
    CommandStatus,
    FeedbackBody,
    ReopenBody,
    SurveyBody,
    WithdrawBody,
)
from shared.envelope import Payload
from shared.events import AddInformation, GiveFeedback, ReopenComplaint, SubmitSurvey, WithdrawComplaint
from shared.http import FieldError, ProblemError, json_response, read_json
from shared.survey import CURRENT, QuestionnaireDoc, problems

B = TypeVar("B", bound=BaseModel)


async def _send(
    request: web.Request, model: type[B], build: Callable[[B, ReporterTexts], Payload], action: str
) -> web.Response:
    doc = await complaint_for(request)
    await require_reporter(request, doc, action)
    body = await read_json(request, model)
    key = idempotency_key(request)
    adapters = request.app[ADAPTERS]
    accepted = await handlers.send_command(
        doc,
        body,
        build,
        key,
        base_url(request),
        store=adapters.complaints,
        publisher=adapters.publisher,
        calendars=request.app[CALENDARS],
    )
    return json_response(accepted, status=202)


@dataclass(frozen=True)
class Command:
    """A reporter's command as both the API and the complaint page take it: its body, the message
    it becomes, and what the reporter does (for the refusals' wording)."""

    model: type[BaseModel]
    build: Callable[[Any, ReporterTexts], Payload]
    action: str


INFORMATION = Command(
    AddInformationBody, lambda b, text: AddInformation(message=text.required(b.message)), "menambah informasi"
)
FEEDBACK = Command(
    FeedbackBody, lambda b, text: GiveFeedback(rating=b.rating, comment=text(b.comment)), "memberi penilaian"
)


def _survey(body: SurveyBody, text: ReporterTexts) -> Payload:
    found = problems(body.version, body.answers)
    if found:
        raise ProblemError(422, errors=[FieldError(field=name, message=why) for name, why in found])
    return SubmitSurvey(version=body.version, scores=dict(body.answers))


SURVEY = Command(SurveyBody, _survey, "mengisi survei kepuasan masyarakat")
REOPEN = Command(
    ReopenBody, lambda b, text: ReopenComplaint(reason=text.required(b.reason)), "membuka kembali"
)
WITHDRAW = Command(
    WithdrawBody, lambda b, text: WithdrawComplaint(reason=text(b.reason)), "mencabut pengaduan"
)


async def add_information(request: web.Request) -> web.Response:
    return await _send(request, INFORMATION.model, INFORMATION.build, INFORMATION.action)


async def give_feedback(request: web.Request) -> web.Response:
    return await _send(request, FEEDBACK.model, FEEDBACK.build, FEEDBACK.action)


async def submit_survey(request: web.Request) -> web.Response:
    """The Survei Kepuasan Masyarakat (PermenPANRB 14/2017) of a resolved or closed complaint,
    once; separate from the 1–5 rating, which is the reporter's satisfaction with how the
    complaint was handled."""
    return await _send(request, SURVEY.model, SURVEY.build, SURVEY.action)


async def questionnaire(request: web.Request) -> web.Response:
    """The questionnaire in force (public): what a client shows the reporter."""
    return json_response(QuestionnaireDoc.of(CURRENT))


async def reopen(request: web.Request) -> web.Response:
    return await _send(request, REOPEN.model, REOPEN.build, REOPEN.action)


async def withdraw(request: web.Request) -> web.Response:
    return await _send(request, WITHDRAW.model, WITHDRAW.build, WITHDRAW.action)


async def command_status(request: web.Request) -> web.Response:
    doc = await complaint_for(request)
    await require_reporter(request, doc, "melihat status permintaan")
    record = await request.app[ADAPTERS].complaints.get_command(doc["_id"], request.match_info["command_id"])
    if record is None:
        raise ProblemError(404)
    return json_response(
        CommandStatus(
            command_id=record["_id"],
            command=record["command"],
            status=record["status"],
            reason=record.get("reason"),
            submitted_at=record["created_at"],
        )
    )


def add_routes(app: web.Application) -> None:
    base = "/api/v1/complaints/{id}"
    app.router.add_post(f"{base}/information", add_information)
    app.router.add_post(f"{base}/feedback", give_feedback)
    app.router.add_post(f"{base}/survey", submit_survey)
    app.router.add_get("/api/v1/survey", questionnaire)
    app.router.add_post(f"{base}/reopen", reopen)
    app.router.add_post(f"{base}/withdraw", withdraw)
    app.router.add_get(f"{base}/commands/{{command_id}}", command_status)
