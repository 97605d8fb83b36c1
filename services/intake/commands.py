"""The reporter's commands (DESIGN §2, §6): add information, give feedback, reopen, withdraw.

Routing owns the lifecycle, so intake only *asks*: each command goes durably to
`complaints.commands` (key = complaint id, seq null, the envelope's `event_id` is the command id,
and its `correlation_id` too, so the lifecycle event it causes can be matched back). Before that,
the command is checked against intake's own view, so the reporter hears at once (409, with the
reason in Indonesian) when the state does not allow it; routing checks again against the true
state and answers with the lifecycle event or `CommandRejected`. The reporter follows the outcome
at the `status_url` of the 202 answer (pending → accepted / rejected).

A command routing cannot process at all (its consumer dead-letters it: a complaint routing does not
know, a message it cannot read, a handler that keeps failing) would stay pending for ever: intake
follows routing's dead letters (`reject_dead_commands`, group `intake-dead-commands`) and shows
such a command as rejected, with a reason that names no internal detail and the marker
`dead_lettered`. When an operator replays the letter after a fix (`pengaduan dlq replay routing`),
routing's real answer replaces that rejection (`ComplaintStore.settle_commands`).

Also here: durable publishing with a bounded wait (Kafka down → 503 with Retry-After, and what
was written for the request is undone) and the Idempotency-Key helpers submit shares.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from ulid import ULID

from services.intake.identity import outgoing_text, require_reporter
from services.intake.models import (
    AddInformationBody,
    CommandAccepted,
    CommandStatus,
    FeedbackBody,
    ReopenBody,
    WithdrawBody,
)
from services.intake.settings import SETTINGS
from services.intake.store import CALENDARS, STORE, CommandOutcome, ComplaintStore
from services.intake.views import CalendarFor, is_lifecycle, reopen_window_end
from shared import clock, outbox
from shared.deadletters import Letter
from shared.envelope import Envelope, Payload, new_event
from shared.events import (
    AddInformation,
    CommandRejected,
    GiveFeedback,
    ReopenComplaint,
    WithdrawComplaint,
)
from shared.http import FieldError, ProblemError, json_response, read_json
from shared.kafka import Outgoing
from shared.runtime import INFRA
from shared.states import OPEN_STATES, STATE_LABELS, WITH_OPD
from shared.topics import COMPLAINTS_COMMANDS

log = logging.getLogger(__name__)

PRODUCER = "intake"
B = TypeVar("B", bound=BaseModel)


# --- the rules, against intake's own view (pure) ------------------------------------------------


class NotAllowed(Exception):
    """The view's state does not allow the command: `reason` is shown to the reporter (409)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotYet(NotAllowed):
    """Not yet: the complaint is not recorded by routing (a retry in a moment can succeed)."""


def check(doc: dict[str, Any], command: Payload, now: datetime, calendar_for: CalendarFor) -> None:
    """Raise NotAllowed when `command` cannot apply to the complaint as intake sees it now."""
    if doc.get("last_seq", 0) < 1:
        # Routing has not recorded the complaint yet (its first lifecycle event is not in the view):
        # a command now would reach routing before the submission and could only be refused.
        raise NotYet("Pengaduan baru saja diterima dan belum tercatat untuk ditangani; coba lagi sebentar")
    status = doc.get("status", "received")
    label = f"status pengaduan sekarang: {STATE_LABELS.get(status, status)}"
    if isinstance(command, AddInformation):
        if status not in WITH_OPD:
            raise NotAllowed(
                f"Informasi tambahan hanya dapat dikirim selama pengaduan ditangani OPD; {label}"
            )
    elif isinstance(command, GiveFeedback):
        if status != "resolved":
            raise NotAllowed(f"Penilaian hanya dapat diberikan setelah pengaduan diselesaikan OPD; {label}")
    elif isinstance(command, ReopenComplaint):
        if status != "resolved":
            raise NotAllowed(
                f"Hanya pengaduan yang sudah diselesaikan OPD yang dapat dibuka kembali; {label}"
            )
        if doc.get("reopened"):
            raise NotAllowed("Pengaduan ini sudah pernah dibuka kembali; pembukaan kembali hanya sekali")
        end = reopen_window_end(doc, calendar_for)
        if end is not None and now > end:
            local = calendar_for(doc.get("pemda") or doc["region_code"]).local(end)
            raise NotAllowed(
                "Batas waktu membuka kembali (10 hari kerja sejak diselesaikan) sudah lewat pada "
                f"{local.isoformat(timespec='minutes')}"
            )
    elif isinstance(command, WithdrawComplaint):
        if status not in OPEN_STATES:
            raise NotAllowed(f"Pengaduan yang sudah selesai atau diarsipkan tidak dapat dicabut; {label}")
    else:
        raise AssertionError(f"not a reporter command: {command!r}")


def command_outcomes(batch: Sequence[Envelope]) -> dict[str, CommandOutcome]:
    """What lifecycle events say about commands: `CommandRejected` names its command; any other
    lifecycle event caused by a command carries the command id as its correlation id."""
    outcomes: dict[str, CommandOutcome] = {}
    for event in batch:
        if event.seq is None or not is_lifecycle(event.payload):
            continue  # clock and escalation events are derived from lifecycle events, not answers
        if isinstance(event.payload, CommandRejected):
            outcomes[event.payload.command_id] = ("rejected", event.payload.reason)
        elif event.correlation_id:
            outcomes.setdefault(event.correlation_id, ("accepted", None))
    return outcomes


# What the reporter is told of a command routing dead-lettered: nothing internal, and that the
# status may still change (an operator replays the letter once the cause is fixed).
DEAD_LETTER_REASON = (
    "Permintaan ini belum dapat diproses karena kendala pada sistem; petugas sudah diberi tahu. "
    "Setelah kendala diatasi, permintaan Anda diproses ulang dan status ini diperbarui."
)
# A command id is a ULID (26 characters); anything much longer is not one of intake's.
_MAX_ID = 64


def command_id_of(value: bytes) -> str | None:
    """The envelope's `event_id` (a command's id) in a dead letter's raw value, read without
    validating the rest: a command routing could not decode still names its id. None when the
    value is not a JSON object with a string `event_id`."""
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        return None
    event_id = data.get("event_id") if isinstance(data, dict) else None
    return event_id if isinstance(event_id, str) and 0 < len(event_id) <= _MAX_ID else None


def dead_commands(letters: Sequence[Letter]) -> dict[str, dict[str, Any]]:
    """The commands among a group's dead letters (those read from `complaints.commands`): command
    id → the marker kept with the rejection (the group, the letter's offset in its `.dlq`, when
    it was dead-lettered). A letter without a readable id is skipped with a log line."""
    found: dict[str, dict[str, Any]] = {}
    for letter in letters:
        if letter.headers.get("dlq.topic") != COMPLAINTS_COMMANDS:
            continue  # a submission or another topic's event: not a command
        command_id = command_id_of(letter.value)
        if command_id is None:
            log.warning(
                "%s.dlq@%d: a dead command without a readable id; skipped", letter.group, letter.offset
            )
            continue
        found[command_id] = {"group": letter.group, "offset": letter.offset, "at": letter.at}
    return found


async def reject_dead_commands(letters: Sequence[Letter], store: ComplaintStore) -> None:
    """Routing's dead letters → its pending commands rejected (idempotent: a redelivered letter,
    or one whose command has its outcome already, changes nothing)."""
    dead = dead_commands(letters)
    if not dead:
        return
    rejected = await store.reject_dead_lettered(dead, DEAD_LETTER_REASON)
    if rejected:
        log.warning("%d command(s) dead-lettered by routing: shown to the reporter as rejected", rejected)


# --- durable, idempotent publishing (shared with submit) ----------------------------------------


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ProblemError(
            422, errors=[FieldError(field="Idempotency-Key", message="1–255 karakter yang dapat dicetak")]
        )
    return key


def body_hash(kind: str, body: BaseModel) -> str:
    return hashlib.sha256(f"{kind}:{body.model_dump_json()}".encode()).hexdigest()


def replayed(earlier: Mapping[str, Any], digest: str) -> dict[str, Any]:
    """The stored answer of an Idempotency-Key, or the problem a reuse of it deserves."""
    if earlier.get("body_hash") != digest:
        raise ProblemError(
            422,
            "Idempotency-Key ini sudah dipakai untuk permintaan lain",
            errors=[FieldError(field="Idempotency-Key", message="dipakai ulang dengan isi berbeda")],
        )
    if not earlier.get("done"):
        raise ProblemError(409, "Permintaan dengan kunci ini masih diproses", headers={"Retry-After": "1"})
    response: dict[str, Any] = earlier["response"]
    return response


def base_url(request: web.Request) -> str:
    return request.app[SETTINGS].public_base_url or f"{request.scheme}://{request.host}"


# --- HTTP ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Texts:
    """The reporter's free text as it may go on Kafka (see identity.outgoing_text)."""

    reporter: Mapping[str, Any] | None
    anonymous: bool

    def __call__(self, text: str | None) -> str | None:
        return None if text is None else outgoing_text(text, self.reporter, self.anonymous)

    def required(self, text: str) -> str:
        return outgoing_text(text, self.reporter, self.anonymous)


async def _send(
    request: web.Request, model: type[B], build: Callable[[B, _Texts], Payload], action: str
) -> web.Response:
    store = request.app[STORE]
    complaint_id = request.match_info["id"]
    doc = await store.get(complaint_id)
    if doc is None:
        raise ProblemError(404)
    await require_reporter(request, doc, action)
    body = await read_json(request, model)
    key = idempotency_key(request)
    owner = await store.identity_of(complaint_id) or {}
    command = build(body, _Texts(owner.get("reporter"), bool(doc.get("anonymous"))))
    now = clock.now()
    command_id = str(ULID())
    accepted = CommandAccepted(
        command_id=command_id,
        status_url=f"{base_url(request)}/api/v1/complaints/{complaint_id}/commands/{command_id}",
    )
    scoped_key = f"command:{complaint_id}:{key}" if key is not None else None
    digest = body_hash(command.TYPE, body)
    if scoped_key is not None:
        earlier = await store.find_key(scoped_key)
        if earlier is not None:  # a retry: the first request's answer (or a problem)
            return json_response(CommandAccepted.model_validate(replayed(earlier, digest)), status=202)
    try:
        check(doc, command, now, request.app[CALENDARS].calendar_for)
    except NotAllowed as refused:
        headers = {"Retry-After": "2"} if isinstance(refused, NotYet) else None
        raise ProblemError(409, refused.reason, headers=headers) from None
    envelope = new_event(
        command,
        producer=PRODUCER,
        complaint_id=complaint_id,
        occurred_at=now,
        event_id=command_id,
        correlation_id=command_id,
    )
    message = Outgoing.of(COMPLAINTS_COMMANDS, complaint_id, envelope)
    record = {"_id": command_id, "complaint_id": complaint_id, "command": command.TYPE, "status": "pending",
              "reason": None, "created_at": now}  # fmt: skip
    # The command and its message in one document (the outbox), with the key's record in the same
    # transaction: 202 once durable; a Kafka outage delays it, never refuses it.
    since = outbox.stage(record, [message])
    claim = None
    if scoped_key is not None:
        claim = {"_id": scoped_key, "body_hash": digest, "response": accepted.model_dump(), "done": True,
                 "created_at": clock.wall()}  # fmt: skip
    earlier = await store.insert_command(record, claim)
    if earlier is not None:  # the same key won by a concurrent request
        return json_response(CommandAccepted.model_validate(replayed(earlier, digest)), status=202)
    publish_soon(request.app, "commands", command_id, since, [message])
    return json_response(accepted, status=202)


# Publications in flight after their answer (kept referenced until done).
_PUBLISHING: set[asyncio.Task[None]] = set()


def publish_soon(
    app: web.Application, collection: str, doc_id: str, since: datetime, messages: Sequence[Outgoing]
) -> None:
    """Publish a durable outbox now, without holding the answer, and mark it; what fails here (a
    Kafka outage) the relay publishes later (shared/outbox.py)."""

    async def publish() -> None:
        try:
            async with asyncio.timeout(app[SETTINGS].publish_timeout_seconds):
                await app[INFRA].publish(messages)
            await outbox.mark_published(app[INFRA].db[collection], [(doc_id, since)])
        except Exception as exc:
            log.warning("%s %s: published later by the relay: %r", collection, doc_id, exc)

    task = asyncio.create_task(publish())
    _PUBLISHING.add(task)
    task.add_done_callback(_PUBLISHING.discard)


async def add_information(request: web.Request) -> web.Response:
    return await _send(
        request,
        AddInformationBody,
        lambda b, text: AddInformation(message=text.required(b.message)),
        "menambah informasi",
    )


async def give_feedback(request: web.Request) -> web.Response:
    return await _send(
        request,
        FeedbackBody,
        lambda b, text: GiveFeedback(rating=b.rating, comment=text(b.comment)),
        "memberi penilaian",
    )


async def reopen(request: web.Request) -> web.Response:
    return await _send(
        request,
        ReopenBody,
        lambda b, text: ReopenComplaint(reason=text.required(b.reason)),
        "membuka kembali",
    )


async def withdraw(request: web.Request) -> web.Response:
    return await _send(
        request, WithdrawBody, lambda b, text: WithdrawComplaint(reason=text(b.reason)), "mencabut pengaduan"
    )


async def command_status(request: web.Request) -> web.Response:
    store = request.app[STORE]
    complaint_id = request.match_info["id"]
    doc = await store.get(complaint_id)
    if doc is None:
        raise ProblemError(404)
    await require_reporter(request, doc, "melihat status permintaan")
    record = await store.get_command(complaint_id, request.match_info["command_id"])
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
    app.router.add_post(f"{base}/reopen", reopen)
    app.router.add_post(f"{base}/withdraw", withdraw)
    app.router.add_get(f"{base}/commands/{{command_id}}", command_status)
