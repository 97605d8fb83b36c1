"""Intake's process: the citizen API and the consumer that keeps the citizen's view current."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aiohttp import web
from aiokafka.errors import KafkaError
from ulid import ULID

from services.intake import listing, open311, ratelimit
from services.intake.models import ComplaintView, SubmitAccepted, SubmitComplaint
from services.intake.settings import IntakeSettings
from services.intake.store import ComplaintStore, ensure_indexes
from services.intake.views import apply, render
from shared.calendar import WorkingCalendar, calendar_for, pemda_of
from shared.envelope import Envelope, new_event
from shared.events import ComplaintSubmitted
from shared.http import (
    FieldError,
    ProblemError,
    add_standard_routes,
    json_response,
    openapi_document,
    problem_middleware,
    read_json,
)
from shared.kafka import BatchHandler, Outgoing, Rejected
from shared.runtime import INFRA, Infra, with_consumer
from shared.topics import COMPLAINTS_EVENTS, COMPLAINTS_SUBMITTED, INTAKE_GROUP, SLA_EVENTS

log = logging.getLogger(__name__)

STORE = web.AppKey("store", ComplaintStore)
SETTINGS = web.AppKey("settings", IntakeSettings)
PRODUCER = "intake"


@lru_cache(maxsize=1024)
def pemda_calendar(pemda: str) -> WorkingCalendar:
    return calendar_for(pemda)


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


async def submit(request: web.Request) -> web.Response:
    await ratelimit.check_submit(request)
    body = await read_json(request, SubmitComplaint)
    base = request.app[SETTINGS].public_base_url or f"{request.scheme}://{request.host}"
    accepted = await accept_submission(request.app, body, _idempotency_key(request), base)
    return json_response(accepted, status=202)


async def accept_submission(
    app: web.Application, body: SubmitComplaint, key: str | None, base_url: str
) -> SubmitAccepted:
    """Store and publish one validated submission; the 202 answer once Kafka has it durably.

    Shared by the JSON API and Open311. With an Idempotency-Key, a retry gets the original answer
    (or a problem: 422 other body, 409 still in flight); Kafka down → 503, nothing kept.
    """
    settings, store, infra = app[SETTINGS], app[STORE], app[INFRA]
    complaint_id = str(ULID())
    token = secrets.token_urlsafe(32)
    reporter_ref = f"rep_{ULID()}" if body.reporter else None
    now = datetime.now(UTC)
    record: dict[str, Any] = {
        "_id": complaint_id,
        "token_hash": token_hash(token),
        "reporter": body.reporter.model_dump() if body.reporter else None,
        "reporter_ref": reporter_ref,
        "anonymous": body.anonymous,
        "confidential": body.confidential,
        "category": body.category,
        "region_code": body.region_code,
        "title": body.title,
        "description": body.description,
        "status": "received",
        "opd_id": None,
        "escalation_level": 0,
        "last_seq": 0,
        "deadlines": {},
        "timeline": [],
        "submitted_at": now,
        "rev": 0,
    }
    event = new_event(
        ComplaintSubmitted(
            title=body.title,
            description=body.description,
            category=body.category,
            region_code=body.region_code,
            location=body.location,
            address=body.address,
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
    accepted = SubmitAccepted(
        id=complaint_id, access_token=token, status_url=f"{base_url}/api/v1/complaints/{complaint_id}"
    )
    if key is not None:
        earlier = await store.claim_key(
            {
                "_id": key,
                "body_hash": hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
                "response": accepted.model_dump(),
                "done": False,
                "created_at": now,
            }
        )
        if earlier is not None:
            return _replay(earlier, body)
    await store.insert(record)
    try:
        async with asyncio.timeout(settings.publish_timeout_seconds):
            await infra.publish([Outgoing.of(COMPLAINTS_SUBMITTED, complaint_id, event)])
    except (KafkaError, TimeoutError) as exc:
        # Not durable, so no 2xx and no half-written record left behind.
        log.warning("submit %s not published: %r", complaint_id, exc)
        await store.delete(complaint_id)
        if key is not None:
            await store.release_key(key)
        raise ProblemError(
            503, "Antrean pesan sedang tidak tersedia; coba lagi", headers={"Retry-After": "5"}
        ) from exc
    if key is not None:
        await store.complete_key(key)
    return accepted


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise ProblemError(
            422, errors=[FieldError(field="Idempotency-Key", message="1–255 karakter yang dapat dicetak")]
        )
    return key


def _replay(earlier: dict[str, Any], body: SubmitComplaint) -> SubmitAccepted:
    """The answer for a retried submit: the original one, never a second complaint."""
    if earlier.get("body_hash") != hashlib.sha256(body.model_dump_json().encode()).hexdigest():
        raise ProblemError(
            422,
            "Idempotency-Key ini sudah dipakai untuk pengaduan lain",
            errors=[FieldError(field="Idempotency-Key", message="dipakai ulang dengan isi berbeda")],
        )
    if not earlier.get("done"):
        raise ProblemError(409, "Pengiriman dengan kunci ini masih diproses", headers={"Retry-After": "1"})
    return SubmitAccepted.model_validate(earlier["response"])


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def get_complaint(request: web.Request) -> web.Response:
    """The reporter's view with the access token; otherwise the public view of DESIGN §3."""
    doc = await request.app[STORE].get(request.match_info["id"])
    if doc is None:
        raise ProblemError(404)
    token = _bearer(request)
    reporter = token is not None and hmac.compare_digest(token_hash(token), doc["token_hash"])
    if not reporter and doc.get("confidential"):
        raise ProblemError(404)  # a confidential complaint does not exist without its token
    if token is not None and not reporter:
        raise ProblemError(401, "Token akses tidak sah")
    view: ComplaintView = render(doc, datetime.now(UTC), pemda_calendar)
    if not reporter:
        # The public sees where (kab/kota), not the reporter's street or village.
        view = view.model_copy(update={"region_code": pemda_of(view.region_code)})
    return json_response(view)


async def handle_view_events(batch: list[Envelope], store: ComplaintStore) -> list[Rejected]:
    ids = sorted({e.complaint_id for e in batch if e.complaint_id})
    docs = await store.load_views(ids)
    changed: dict[str, dict[str, Any]] = {}
    rejected = []
    for event in batch:
        doc = docs.get(event.complaint_id or "")
        if doc is None:
            rejected.append(Rejected(event, "complaint unknown to intake"))
        elif apply(doc, event):
            changed[doc["_id"]] = doc
    await store.save_views(list(changed.values()))
    return rejected


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
    },
)


def create_app(settings: IntakeSettings) -> web.Application:
    app = web.Application(middlewares=[problem_middleware], client_max_size=1024 * 1024)
    app[SETTINGS] = settings

    async def build(infra: Infra) -> BatchHandler:
        await ensure_indexes(infra.db)
        await listing.ensure_indexes(infra.db)
        store = ComplaintStore(infra.db)
        app[STORE] = store

        async def on_view_events(batch: list[Envelope]) -> list[Rejected]:
            return await handle_view_events(batch, store)

        return on_view_events

    ready = with_consumer(
        app, settings, group=INTAKE_GROUP, topics=[COMPLAINTS_EVENTS, SLA_EVENTS], build=build
    )
    add_standard_routes(app, ready_check=ready, openapi=OPENAPI)
    app.router.add_post("/api/v1/complaints", submit)
    app.router.add_get("/api/v1/complaints/{id}", get_complaint)
    listing.add_routes(app)
    open311.add_routes(app)
    return app
