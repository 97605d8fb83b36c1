"""Intake's process: the citizen API and the consumer that keeps the citizen's view current.

Where things are: submit and the status view here; the reporter's commands in `commands`;
who is asking (reporter token, staff JWT, public) and the audited identity endpoint in `identity`;
attachments in `attachments`; the view's rules in `views`; the database in `store`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pymongo.errors import PyMongoError
from ulid import ULID

from services.intake import attachments, commands, identity, listing, open311, ratelimit
from services.intake.commands import base_url, command_outcomes, replayed
from services.intake.idempotency import seal, unseal
from services.intake.identity import caller_for, identity_pattern, leaving_intake, redact_with, token_hash
from services.intake.models import (
    AddInformationBody,
    AttachmentInfo,
    AttachmentList,
    CommandAccepted,
    CommandStatus,
    ComplaintView,
    FeedbackBody,
    ReopenBody,
    ReporterIdentity,
    SubmitAccepted,
    SubmitComplaint,
    WithdrawBody,
)
from services.intake.settings import SETTINGS, IntakeSettings
from services.intake.store import CALENDARS, STORE, ComplaintStore, ensure_indexes
from services.intake.views import CalendarBook, Redact, apply, is_lifecycle, render
from shared import clock, outbox
from shared.auth import STAFF_AUTH, StaffAuth
from shared.calendar import WorkingCalendar, calendar_for, pemda_of
from shared.deadletters import Letter, LetterConsumer
from shared.envelope import Envelope, decode, new_event
from shared.events import CalendarChanged, ComplaintSubmitted, WithdrawComplaint
from shared.http import (
    ProblemError,
    add_standard_routes,
    json_response,
    openapi_document,
    problem_middleware,
    read_json,
)
from shared.kafka import BatchHandler, Outgoing, Rejected
from shared.runtime import HEALTH, ConsumerSpec, Infra, with_consumers
from shared.topics import (
    COMPLAINTS_COMMANDS,
    COMPLAINTS_EVENTS,
    COMPLAINTS_SUBMITTED,
    SLA_EVENTS,
)

log = logging.getLogger(__name__)

__all__ = ["SETTINGS", "STORE", "accept_submission", "create_app", "token_hash"]

PRODUCER = "intake"
Publish = Callable[[Sequence[Outgoing]], Awaitable[None]]


@lru_cache(maxsize=1024)
def pemda_calendar(pemda: str) -> WorkingCalendar:
    """The shared calendar without announced extra dates (the app's CalendarBook has those)."""
    return calendar_for(pemda)


async def submit(request: web.Request) -> web.Response:
    await ratelimit.check_submit(request)
    body = await read_json(request, SubmitComplaint)
    accepted = await accept_submission(request.app, body, _idempotency_key(request), base_url(request))
    return json_response(accepted, status=202)


async def accept_submission(
    app: web.Application, body: SubmitComplaint, key: str | None, base_url: str
) -> SubmitAccepted:
    """Store and publish one validated submission; the 202 answer once Kafka has it durably.

    Shared by the JSON API and Open311. With an Idempotency-Key, a retry gets the original answer
    (or a problem: 422 other body, 409 still in flight); Kafka down → 503, nothing kept but a
    tombstone of the id (no identity, no text) in case the message still reaches Kafka later.
    """
    store = app[STORE]
    now = clock.now()
    # The id's time part is the submission instant: listings page by id windows (listing.py).
    complaint_id = str(ULID.from_datetime(now))
    token = secrets.token_urlsafe(32)
    reporter_ref = f"rep_{ULID()}" if body.reporter else None
    reporter = body.reporter.model_dump() if body.reporter else None
    # What staff and the public may be shown of the text: the reporter's identity taken out.
    identity = identity_pattern(reporter)
    staff_title, staff_description = (
        redact_with(identity, body.title),
        redact_with(identity, body.description),
    )
    record: dict[str, Any] = {
        "_id": complaint_id,
        "token_hash": token_hash(token),
        "reporter": reporter,
        "reporter_ref": reporter_ref,
        "anonymous": body.anonymous,
        "confidential": body.confidential,
        "category": body.category,
        "region_code": body.region_code,
        "pemda": pemda_of(body.region_code),
        "title": body.title,
        "description": body.description,
        "staff_title": staff_title,
        "staff_description": staff_description,
        "status": "received",
        "opd_id": None,
        "escalation_level": 0,
        "escalations": [],
        "reopened": False,
        "resolved_at": None,
        "last_seq": 0,
        "deadlines": {},
        "timeline": [],
        "submitted_at": now,
        "rev": 0,
    }
    event = new_event(
        ComplaintSubmitted(
            # Identity never travels on Kafka (DESIGN §3), not even inside the reporter's own text.
            title=leaving_intake(staff_title, body.anonymous),
            description=leaving_intake(staff_description, body.anonymous),
            category=body.category,
            region_code=body.region_code,
            location=body.location,
            # The place stays; the reporter's identity (and, anonymous, any phone or NIK) goes.
            address=None
            if body.address is None
            else leaving_intake(redact_with(identity, body.address), body.anonymous),
            incident_date=body.incident_date,
            classification=body.classification,
            anonymous=body.anonymous,
            confidential=body.confidential,
            reporter_ref=reporter_ref,
            channel=body.channel,
        ),
        producer=PRODUCER,
        complaint_id=complaint_id,
        occurred_at=now,
    )
    submitted = Outgoing.of(COMPLAINTS_SUBMITTED, complaint_id, event)
    accepted = SubmitAccepted(
        id=complaint_id, access_token=token, status_url=f"{base_url}/api/v1/complaints/{complaint_id}"
    )
    # The complaint and its ComplaintSubmitted in one document (the outbox), and with an
    # Idempotency-Key its record in the same transaction: durable together, or not at all.
    since = outbox.stage(record, [submitted])
    if key is None:
        await store.insert(record)
    else:
        digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        claim = {
            "_id": key,
            "body_hash": digest,
            "response": seal(accepted.model_dump(), key, app[SETTINGS].idempotency_secret),
            "done": True,
            "created_at": clock.wall(),  # expired by a TTL index: the database's clock
            "complaint_id": complaint_id,
        }
        earlier = await store.insert_with_key(record, claim)
        if earlier is not None:  # a retry: the complaint of the first request is stored already
            replay = replayed(earlier, digest)
            return SubmitAccepted.model_validate(unseal(replay, key, app[SETTINGS].idempotency_secret))
    # Durable: the answer goes out now. Publishing does not hold it: a Kafka outage delays
    # routing, never the citizen; what is not published now the relay publishes.
    commands.publish_soon(app, "complaints", complaint_id, since, [submitted])
    return accepted


_idempotency_key = commands.idempotency_key


async def get_complaint(request: web.Request) -> web.Response:
    """The reporter's view with the access token, the staff view with a JWT in scope; otherwise
    the public view of DESIGN §3 (404 for a confidential complaint)."""
    doc = await request.app[STORE].get(request.match_info["id"])
    if doc is None:
        raise ProblemError(404)
    caller = await caller_for(request, doc)
    if caller.audience == "public" and doc.get("confidential"):
        raise ProblemError(404)  # a confidential complaint does not exist without its token
    calendars = request.app[CALENDARS]
    view: ComplaintView = render(doc, clock.now(), calendars.calendar_for, caller.audience)
    return json_response(view, headers={"Cache-Control": "private, no-store"})


async def handle_view_events(
    batch: list[Envelope],
    store: ComplaintStore,
    calendars: CalendarBook | None = None,
    publish: Publish | None = None,
) -> list[Rejected]:
    """complaints.events + sla.events → the citizen's views, the outcome of the reporter's
    commands, and the pemdas' calendars. Idempotent: a redelivered batch changes nothing."""
    for event in batch:
        if isinstance(event.payload, CalendarChanged):
            p = event.payload
            await store.save_calendar(p.pemda, p.revision, p.extra_dates)
            if calendars is not None:
                calendars.learn(p.pemda, p.revision, p.extra_dates)
    ids = sorted({e.complaint_id for e in batch if e.complaint_id})
    docs = await store.load_views(ids)
    missing = [cid for cid in ids if cid not in docs]
    abandoned = await store.abandoned(missing) if missing else {}
    changed: dict[str, dict[str, Any]] = {}
    rejected = []
    # Notes' texts are kept with a copy without the reporter's identity (views.apply).
    redactors = await identity.redactors(
        store, {e.complaint_id for e in batch if e.complaint_id in docs and is_lifecycle(e.payload)}
    )
    lifecycle: dict[str, list[Envelope]] = {}
    for event in batch:
        if event.complaint_id is None:
            continue
        doc = docs.get(event.complaint_id)
        if doc is None:
            if event.complaint_id not in abandoned:
                rejected.append(Rejected(event, "complaint unknown to intake"))
        elif is_lifecycle(event.payload) and event.seq is not None:
            lifecycle.setdefault(doc["_id"], []).append(event)  # in seq order, below
        elif apply(doc, event, redactors.get(event.complaint_id)):
            changed[doc["_id"]] = doc
    for complaint_id, events in lifecycle.items():
        if _apply_in_order(docs[complaint_id], events, redactors.get(complaint_id)):
            changed[complaint_id] = docs[complaint_id]
    await store.save_views(list(changed.values()))
    await store.settle_commands(command_outcomes(batch))
    await _withdraw_abandoned(store, abandoned, publish)
    return rejected


def _apply_in_order(doc: dict[str, Any], events: list[Envelope], redact: Redact | None) -> bool:
    """A complaint's lifecycle events, in seq order and never past a hole: events after a missing
    seq wait in the view (`parked`) until it arrives. True when the view changed."""
    held = [decode(bytes(value)) for value in doc.get("parked") or []]
    waiting = {e.seq: e for e in [*held, *events] if e.seq is not None and e.seq > doc.get("last_seq", 0)}
    changed = False
    while doc.get("last_seq", 0) + 1 in waiting:
        changed |= apply(doc, waiting.pop(doc.get("last_seq", 0) + 1), redact)
    still = [waiting[seq] for seq in sorted(waiting)]
    if [e.event_id for e in still] != [e.event_id for e in held]:
        doc["parked"] = [e.to_bytes() for e in still]
        doc["parked_count"] = len(still)
        changed = True
        if still:
            log.warning(
                "complaint %s: seq %d missing; %d later event(s) held until it arrives",
                doc["_id"], doc.get("last_seq", 0) + 1, len(still),
            )  # fmt: skip
    return changed


async def _withdraw_abandoned(
    store: ComplaintStore, abandoned: dict[str, dict[str, Any]], publish: Publish | None
) -> None:
    """A submission answered 503 that reached Kafka after all: nobody holds its token, so ask
    the lifecycle owner to withdraw it (once)."""
    pending = sorted(cid for cid, t in abandoned.items() if not t.get("withdrawn"))
    if not pending or publish is None:
        return
    reason = "Pengiriman tidak dikonfirmasi ke pelapor (antrean pesan sempat tidak tersedia)"
    await publish(
        [
            Outgoing.of(
                COMPLAINTS_COMMANDS,
                cid,
                new_event(WithdrawComplaint(reason=reason), producer=PRODUCER, complaint_id=cid),
            )
            for cid in pending
        ]
    )
    await store.mark_withdrawn(pending)


async def _refresh_calendars(app: web.Application, store: ComplaintStore) -> None:
    for pemda, revision, dates in await store.calendars():
        app[CALENDARS].learn(pemda, revision, dates)


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _problems(*statuses: int) -> dict[str, Any]:
    return {str(status): {"$ref": "#/components/responses/Problem"} for status in statuses}


def _command_path(summary: str, body: type[BaseModel], example: dict[str, Any], when: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "description": (
                f"{when} Dikirim ke pengelola alur pengaduan; hasilnya dapat dipantau di `status_url`. "
                "Header `Idempotency-Key` membuat pengiriman ulang mendapat jawaban yang sama."
            ),
            "parameters": [_ID],
            "security": [{"accessToken": []}],
            "requestBody": {
                "content": {"application/json": {"schema": body.model_json_schema(), "example": example}}
            },
            "responses": {
                "202": {
                    "description": "Permintaan diterima dan tersimpan di antrean",
                    "content": {
                        "application/json": {
                            "schema": CommandAccepted.model_json_schema(),
                            "example": {
                                "command_id": "01JQ6Z8Y7X3V5T4R2P1N0M9K8J",
                                "status_url": "http://127.0.0.1:8081/api/v1/complaints/01JQ6Z1D4QH3K6W8C2M5N7P9RT"
                                "/commands/01JQ6Z8Y7X3V5T4R2P1N0M9K8J",
                            },
                        }
                    },
                },
                **_problems(401, 403, 404, 409, 422, 503),
            },
        }
    }


_COMMAND_PATHS = {
    "/api/v1/complaints/{id}/information": _command_path(
        "Tambahkan informasi",
        AddInformationBody,
        {"message": "Lubangnya kini sekitar 1 meter; foto terbaru saya lampirkan."},
        "Selama pengaduan ditangani OPD (termasuk saat OPD meminta informasi).",
    ),
    "/api/v1/complaints/{id}/feedback": _command_path(
        "Beri penilaian atas penyelesaian",
        FeedbackBody,
        {"rating": 4, "comment": "Sudah ditambal, terima kasih."},
        "Hanya setelah pengaduan diselesaikan OPD; menutup pengaduan.",
    ),
    "/api/v1/complaints/{id}/reopen": _command_path(
        "Buka kembali pengaduan",
        ReopenBody,
        {"reason": "Tambalan sudah rusak lagi setelah hujan."},
        "Hanya setelah diselesaikan, dalam 10 hari kerja, dan hanya sekali.",
    ),
    "/api/v1/complaints/{id}/withdraw": _command_path(
        "Cabut pengaduan",
        WithdrawBody,
        {"reason": "Masalah sudah selesai sendiri."},
        "Selama pengaduan masih terbuka.",
    ),
}


OPENAPI = openapi_document(
    "Pengaduan — intake",
    "0.1.0",
    "Layanan pengaduan warga: kirim pengaduan, pantau status dan tenggat layanan.",
    {
        "/api/v1/complaints": {
            "post": {
                "summary": "Kirim pengaduan",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": (
                            "Kunci unik dari klien; pengiriman ulang dalam 24 jam mendapat "
                            "jawaban yang sama (termasuk token), bukan pengaduan kedua."
                        ),
                        "schema": {"type": "string", "maxLength": 255},
                        "example": "2f1c7a52-5d1e-4a53-9a4b-0c9f8e1d2b3a",
                    }
                ],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": SubmitComplaint.model_json_schema(),
                            "example": {
                                "title": "Jalan berlubang di Jl. Pemuda",
                                "description": "Lubang besar di depan SD Negeri 2, sudah dua minggu.",
                                "category": "jalan-jembatan",
                                "region_code": "33.74.01.1001",
                                "reporter": {"name": "Sari", "phone": "0812-3456-7890"},
                            },
                        }
                    }
                },
                "responses": {
                    "202": {
                        "description": "Pengaduan diterima dan tersimpan; simpan token akses untuk memantau",
                        "content": {"application/json": {"schema": SubmitAccepted.model_json_schema()}},
                    },
                    "400": {"$ref": "#/components/responses/Problem"},
                    "413": {"$ref": "#/components/responses/Problem"},
                    "415": {"$ref": "#/components/responses/Problem"},
                    "409": {"$ref": "#/components/responses/Problem"},
                    "422": {"$ref": "#/components/responses/Problem"},
                    "503": {"$ref": "#/components/responses/Problem"},
                },
            }
        },
        "/api/v1/complaints/{id}": {
            "get": {
                "summary": "Status pengaduan, disposisi dan tenggat layanan",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "security": [{"accessToken": []}, {}],
                "responses": {
                    "200": {
                        "description": "Status pengaduan",
                        "content": {"application/json": {"schema": ComplaintView.model_json_schema()}},
                    },
                    "401": {"$ref": "#/components/responses/Problem"},
                    "404": {"$ref": "#/components/responses/Problem"},
                },
            }
        },
        **_COMMAND_PATHS,
        "/api/v1/complaints/{id}/commands/{command_id}": {
            "get": {
                "summary": "Hasil permintaan pelapor (menunggu, diterima, ditolak beserta alasannya)",
                "description": (
                    "`pending` sampai pengelola alur pengaduan memutuskan; lalu `accepted`, atau "
                    "`rejected` dengan alasannya. Permintaan yang tidak dapat diproses sama sekali "
                    "(kendala sistem; petugas diberi tahu) juga tampil `rejected` dengan alasan itu, "
                    "tidak menunggu selamanya; bila petugas memprosesnya ulang setelah kendala "
                    "diatasi, status itu diganti hasil yang sebenarnya."
                ),
                "parameters": [
                    _ID,
                    {"name": "command_id", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "security": [{"accessToken": []}],
                "responses": {
                    "200": {
                        "description": "Status permintaan",
                        "content": {
                            "application/json": {
                                "schema": CommandStatus.model_json_schema(),
                                "example": {
                                    "command_id": "01JQ6Z8Y7X3V5T4R2P1N0M9K8J",
                                    "command": "ReopenComplaint",
                                    "status": "rejected",
                                    "reason": "pengaduan hanya dapat dibuka kembali satu kali",
                                    "submitted_at": "2026-03-16T03:12:00Z",
                                },
                            }
                        },
                    },
                    **_problems(401, 403, 404),
                },
            }
        },
        "/api/v1/complaints/{id}/reporter": {
            "get": {
                "summary": "Identitas pelapor untuk petugas berwenang (setiap akses dicatat)",
                "description": (
                    "Pengaduan anonim: hanya Admin Koordinator pemda (dan admin). Lainnya: petugas OPD yang "
                    "sedang menangani, Admin Koordinator pemda, dan supervisor dalam cakupan. Setiap "
                    "pembacaan, diizinkan maupun ditolak, dicatat dalam audit."
                ),
                "parameters": [_ID],
                "security": [{"staffJwt": []}],
                "responses": {
                    "200": {
                        "description": "Identitas pelapor",
                        "content": {
                            "application/json": {
                                "schema": ReporterIdentity.model_json_schema(),
                                "example": {
                                    "complaint_id": "01JQ6Z1D4QH3K6W8C2M5N7P9RT",
                                    "reporter_ref": "rep_01JQ6Z1D4QH3K6W8C2M5N7P9RV",
                                    "anonymous": False,
                                    "name": "Sari Wulandari",
                                    "phone": "+6281234567890",
                                    "email": "sari@example.id",
                                },
                            }
                        },
                    },
                    **_problems(401, 403, 404),
                },
            }
        },
        "/api/v1/complaints/{id}/reporter/audit": {
            "get": {
                "summary": "Audit pembacaan identitas pelapor",
                "description": (
                    "Setiap upaya membaca identitas pelapor pengaduan ini, terbaru dulu (paling banyak 200): "
                    "siapa, peran dan cakupannya, kapan, diizinkan atau tidak, dan alasannya. Untuk admin, "
                    "serta Admin Koordinator dan supervisor pemda pengaduan."
                ),
                "parameters": [_ID],
                "security": [{"staffJwt": []}],
                "responses": {
                    "200": {
                        "description": "Catatan audit",
                        "content": {
                            "application/json": {
                                "example": {
                                    "complaint_id": "01JQ6Z1D4QH3K6W8C2M5N7P9RT",
                                    "items": [
                                        {
                                            "who": "koord-semarang",
                                            "role": "coordinator",
                                            "pemda": "33.74",
                                            "opd": None,
                                            "at": "2026-03-02T03:15:00Z",
                                            "allowed": True,
                                            "reason": "admin koordinator pemda pengaduan anonim",
                                        },
                                        {
                                            "who": "petugas-pupr",
                                            "role": "handler",
                                            "pemda": "33.74",
                                            "opd": "33.74/dinas-pupr",
                                            "at": "2026-03-02T03:10:00Z",
                                            "allowed": False,
                                            "reason": (
                                                "identitas pelapor anonim hanya dapat dibaca Admin "
                                                "Koordinator pemda"
                                            ),
                                        },
                                    ],
                                }
                            }
                        },
                    },
                    **_problems(401, 403, 404),
                },
            }
        },
        "/api/v1/complaints/{id}/attachments": {
            "post": {
                "summary": "Unggah lampiran (foto JPEG/PNG/WebP atau PDF)",
                "description": (
                    "multipart/form-data (bagian berkas pertama) atau isi mentah dengan Content-Type. Jenis "
                    "berkas diperiksa dari isinya dan berkas dibuka dengan batas piksel, halaman dan waktu "
                    "(422 bila melewatinya, 503 bila antrean penuh). Untuk pengaduan anonim metadata (EXIF, "
                    "XMP, info dokumen, penulis anotasi, berkas sisipan, skrip) dan nama berkas dihapus."
                ),
                "parameters": [_ID],
                "security": [{"accessToken": []}],
                "requestBody": {
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                            }
                        },
                        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                    }
                },
                "responses": {
                    "201": {
                        "description": "Lampiran tersimpan",
                        "content": {"application/json": {"schema": AttachmentInfo.model_json_schema()}},
                    },
                    **_problems(401, 403, 404, 409, 413, 415, 422, 503),
                },
            },
            "get": {
                "summary": "Daftar lampiran (pelapor, atau petugas yang menangani)",
                "parameters": [_ID],
                "security": [{"accessToken": []}, {"staffJwt": []}],
                "responses": {
                    "200": {
                        "description": "Daftar lampiran",
                        "content": {"application/json": {"schema": AttachmentList.model_json_schema()}},
                    },
                    **_problems(401, 403, 404),
                },
            },
        },
        "/api/v1/complaints/{id}/attachments/{aid}": {
            "get": {
                "summary": "Unduh lampiran",
                "parameters": [
                    _ID,
                    {"name": "aid", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "security": [{"accessToken": []}, {"staffJwt": []}],
                "responses": {"200": {"description": "Isi berkas"}, **_problems(401, 403, 404, 422, 503)},
            }
        },
    },
)


def create_app(settings: IntakeSettings) -> web.Application:
    app = web.Application(middlewares=[problem_middleware], client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    app[STAFF_AUTH] = StaffAuth()
    app[CALENDARS] = CalendarBook()

    async def build(infra: Infra) -> BatchHandler:
        await ensure_indexes(infra.db)
        await attachments.ensure_indexes(infra.db)
        await listing.ensure_indexes(infra.db)
        store = ComplaintStore(infra.db)
        app[STORE] = store
        app[attachments.ATTACHMENTS] = attachments.AttachmentStore(infra.db)
        await _refresh_calendars(app, store)

        async def on_view_events(batch: list[Envelope]) -> list[Rejected]:
            return await handle_view_events(batch, store, app[CALENDARS], infra.publish)

        return on_view_events

    async def calendar_refresh(infra: Infra) -> None:
        # Another instance may have consumed a CalendarChanged: reload what it stored.
        while True:
            await asyncio.sleep(settings.calendar_refresh_seconds)  # a period, not a wait for a condition
            try:
                await _refresh_calendars(app, app[STORE])
            except PyMongoError as exc:
                log.warning("calendar refresh failed: %r", exc)

    async def relay(infra: Infra) -> None:
        after = timedelta(seconds=settings.publish_timeout_seconds + 5)  # what the writer gave up on
        relays = []
        for name in ("complaints", "commands"):  # submissions and reporter commands
            await outbox.ensure_outbox_index(infra.db[name])
            relays.append(outbox.run_relay(infra.db[name], infra.publish, older_than=after))
        await asyncio.gather(*relays)

    async def dead_commands(infra: Infra) -> None:
        # Routing's dead letters: a command among them is rejected for the reporter, not pending
        # for ever. A consumer of its own (no dead-letter topic, nothing to replay), watched by
        # /readyz like the others.
        store = app[STORE]  # built by the view consumer's `build`, which runs first

        async def on_letters(letters: list[Letter]) -> None:
            await commands.reject_dead_commands(letters, store)

        consumer = LetterConsumer(
            bootstrap=settings.kafka_bootstrap,
            group=settings.dead_commands_group,
            source=settings.routing_group,
            handler=on_letters,
        )
        app[HEALTH].consumers.append(consumer)
        await consumer.run()

    ready = with_consumers(
        app,
        settings,
        [ConsumerSpec(settings.consumer_group, [COMPLAINTS_EVENTS, SLA_EVENTS], build)],
        background=[
            ("calendar-refresh", calendar_refresh),
            ("outbox-relay", relay),
            ("dead-commands", dead_commands),
        ],
    )
    add_standard_routes(app, ready_check=ready, openapi=OPENAPI)
    app.router.add_post("/api/v1/complaints", submit)
    app.router.add_get("/api/v1/complaints/{id}", get_complaint)
    commands.add_routes(app)
    identity.add_routes(app)
    attachments.add_routes(app)
    listing.add_routes(app)
    open311.add_routes(app)
    return app
