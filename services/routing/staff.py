"""Staff HTTP API of routing: OPD queues and actions, coordinator triage, internal notes, the
per-OPD feed and webhooks, rule overrides. Every endpoint checks the staff JWT (shared.auth) and
its scope: a handler acts only on its OPD's complaints, a coordinator only on its pemda's.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator
from standardwebhooks.webhooks import EmptyWebhookSecretError

from services.routing import lifecycle as lc
from services.routing.adapters import NO_DUE, FeedStore
from services.routing.lifecycle import Refused
from services.routing.service import Lifecycle, shown_text
from services.routing.webhooks import GUARD, TargetGuard, TargetRefused, standard_headers
from shared import clock
from shared.auth import Staff, require_staff
from shared.categories import CATEGORIES
from shared.events import Tier
from shared.http import FieldError, ProblemError, json_response, read_json
from shared.regions import lookup
from shared.states import STATE_LABELS, STATES

LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
FEED = web.AppKey("feed", FeedStore)
DEFAULT_GUARD = TargetGuard()  # no allow-listed networks: an app built without create_app

HANDLER_STATES = ("assigned", "in_progress", "waiting_reporter")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageBody(_Body):
    message: str = Field(min_length=1, max_length=4000)


class ResolveBody(_Body):
    answer: str = Field(min_length=1, max_length=4000)


class TierBody(_Body):
    tier: Tier


class TransferBody(_Body):
    to_opd_id: str = Field(min_length=3, max_length=80)
    reason: str = Field(min_length=5, max_length=1000)


class DisposeBody(_Body):
    opd_id: str = Field(min_length=3, max_length=80)
    category: str | None = None


class ArchiveBody(_Body):
    reason: str = Field(min_length=5, max_length=1000)
    forwarded_to: str | None = Field(default=None, max_length=200)


class UpdateBody(_Body):
    category: str | None = None
    region_code: str | None = None
    anonymous: bool | None = None
    confidential: bool | None = None


class NoteBody(_Body):
    text: str = Field(min_length=1, max_length=4000)


class WebhookBody(_Body):
    # A public http(s) address (or one in ROUTING_WEBHOOK_ALLOWED_NETWORKS): every address its
    # name resolves to is checked here and again at each delivery (services/routing/webhooks.py).
    url: HttpUrl
    # HMAC key of `X-Pengaduan-Signature` and of the Standard Webhooks `webhook-signature`
    # (a `whsec_<base64>` secret is used as Standard Webhooks libraries read it).
    secret: str = Field(min_length=16, max_length=200)

    @field_validator("secret")
    @classmethod
    def _usable(cls, value: str) -> str:
        if value.startswith("whsec_"):
            try:
                standard_headers(value, "uji", b"", clock.wall())
            except (ValueError, binascii.Error, EmptyWebhookSecretError):
                raise ValueError("secret whsec_ harus berisi base64 yang sah") from None
        return value


class RuleBody(_Body):
    opd_slug: str = Field(min_length=2, max_length=60)
    note: str | None = Field(default=None, max_length=500)


# --- views ---------------------------------------------------------------------------------------


def staff_view(doc: dict[str, Any]) -> dict[str, Any]:
    """What staff see of a complaint: never identity (that lives in intake), masked text when
    anonymous (DESIGN §3)."""
    anonymous = bool(doc.get("anonymous"))
    due = doc.get("sla_due")
    return {
        "id": doc["_id"],
        "status": doc["state"],
        "status_label": STATE_LABELS[doc["state"]],
        "seq": doc["seq"],
        "title": shown_text(doc["title"], anonymous),
        "description": shown_text(doc["description"], anonymous),
        "category": doc.get("category"),
        "region_code": doc["region_code"],
        "pemda": doc["pemda"],
        "opd_id": doc.get("opd_id"),
        "classification": doc.get("classification"),
        "anonymous": anonymous,
        "confidential": bool(doc.get("confidential")),
        "tier": doc.get("tier", "normatif"),
        "transfers": doc.get("transfers", 0),
        "sla_due": due.isoformat() if due and due != NO_DUE else None,
        "claimed_by": doc.get("claimed_by"),
        "lease_until": doc["lease_until"].isoformat() if doc.get("lease_until") else None,
        "submitted_at": doc["submitted_at"].isoformat(),
        "updated_at": doc["updated_at"].isoformat() if doc.get("updated_at") else None,
    }


def _covers(staff: Staff, doc: dict[str, Any]) -> bool:
    return staff.covers(opd_id=doc.get("opd_id"), pemda=doc.get("pemda"))


async def _complaint(request: web.Request, staff: Staff) -> dict[str, Any]:
    doc = await request.app[LIFECYCLE].store.get(request.match_info["id"])
    if doc is None:
        raise ProblemError(404)
    if not _covers(staff, doc):
        raise ProblemError(403, "pengaduan ini di luar kewenangan Anda")
    return doc


def reachable_pemdas(region_code: str) -> frozenset[str]:
    """The pemdas whose OPDs may take a complaint of `region_code` (DESIGN §4 levels): its
    kab/kota and its province, in either direction; never another pemda's."""
    province = region_code[:2]
    return frozenset({province, region_code[:5]} if len(region_code) >= 5 else {province})


def _within_reach(doc: dict[str, Any], opd_id: str, field: str) -> None:
    pemda = opd_id.split("/", 1)[0]
    allowed = reachable_pemdas(doc["region_code"])
    if pemda not in allowed:
        places = " atau ".join(sorted(allowed))
        raise ProblemError(
            422,
            errors=[
                FieldError(
                    field=field,
                    message=f"OPD harus milik pemda wilayah pengaduan ({places}), bukan pemda {pemda}",
                )
            ],
        )


async def _known_opd(request: web.Request, opd_id: str) -> frozenset[str]:
    found = await request.app[LIFECYCLE].store.db["opds"].find_one({"_id": opd_id}, {"_id": 1})
    return frozenset({opd_id}) if found else frozenset()


async def _act(request: web.Request, doc: dict[str, Any], action: lc.Action, **kw: Any) -> web.Response:
    try:
        new = await request.app[LIFECYCLE].act(doc["_id"], action, **kw)
    except Refused as refused:
        raise ProblemError(409, refused.reason) from None
    except LookupError:
        raise ProblemError(404) from None
    return json_response(staff_view(new))


# --- one complaint ------------------------------------------------------------------------------


async def get_complaint(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    return json_response(staff_view(await _complaint(request, staff)))


async def _handler_doc(request: web.Request) -> tuple[Staff, dict[str, Any]]:
    staff = await require_staff(request, "handler")
    doc = await _complaint(request, staff)
    return staff, doc


async def claim(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    return await _act(request, doc, lc.Claim(staff.sub))


async def answer(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, MessageBody)
    return await _act(request, doc, lc.Answer(staff.sub, body.message))


async def request_info(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, MessageBody)
    return await _act(request, doc, lc.RequestInfo(staff.sub, body.message))


async def set_tier(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, TierBody)
    return await _act(request, doc, lc.SetTier(staff.sub, body.tier))


async def resolve(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, ResolveBody)
    return await _act(request, doc, lc.Resolve(staff.sub, body.answer))


async def transfer(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, TransferBody)
    _within_reach(doc, body.to_opd_id, "to_opd_id")
    known = await _known_opd(request, body.to_opd_id)
    return await _act(request, doc, lc.Transfer(staff.sub, body.to_opd_id, body.reason), known_opd=known)


async def _coordinator_doc(request: web.Request) -> tuple[Staff, dict[str, Any]]:
    staff = await require_staff(request, "coordinator", "admin")
    doc = await _complaint(request, staff)
    return staff, doc


async def dispose(request: web.Request) -> web.Response:
    staff, doc = await _coordinator_doc(request)
    body = await read_json(request, DisposeBody)
    _within_reach(doc, body.opd_id, "opd_id")
    known = await _known_opd(request, body.opd_id)
    return await _act(request, doc, lc.Dispose(staff.sub, body.opd_id, body.category), known_opd=known)


async def archive(request: web.Request) -> web.Response:
    staff, doc = await _coordinator_doc(request)
    body = await read_json(request, ArchiveBody)
    return await _act(request, doc, lc.Archive(staff.sub, body.reason, body.forwarded_to))


async def update(request: web.Request) -> web.Response:
    staff, doc = await _coordinator_doc(request)
    body = await read_json(request, UpdateBody)
    errors = []
    if body.category is not None and body.category not in CATEGORIES:
        errors.append(FieldError(field="category", message="kategori tidak dikenal"))
    if body.region_code is not None and lookup(body.region_code) is None:
        errors.append(FieldError(field="region_code", message="kode wilayah tidak dikenal"))
    if errors:
        raise ProblemError(422, errors=errors)
    action = lc.Update(staff.sub, body.category, body.region_code, body.anonymous, body.confidential)
    return await _act(request, doc, action)


# --- notes (staff only; never on Kafka, never to the reporter) ----------------------------------


async def add_note(request: web.Request) -> web.Response:
    staff = await require_staff(request, "handler", "coordinator", "admin")
    doc = await _complaint(request, staff)
    body = await read_json(request, NoteBody)
    note = {
        "complaint_id": doc["_id"],
        "opd_id": doc.get("opd_id"),
        "by": staff.sub,
        "role": staff.role,
        "text": body.text,
        "at": clock.now(),
    }
    await request.app[LIFECYCLE].store.db["notes"].insert_one(note)
    return json_response(_note(note), status=201)


async def list_notes(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    doc = await _complaint(request, staff)
    found = request.app[LIFECYCLE].store.db["notes"].find({"complaint_id": doc["_id"]}).sort("at", 1)
    return json_response({"items": [_note(n) async for n in found], "next_cursor": None})


def _note(note: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in note.items() if k != "_id"}


# --- queues --------------------------------------------------------------------------------------


MAX_CURSOR = 200  # characters of a queue cursor: an ISO instant and a complaint id, base64
MAX_STATUS_VALUES = 20  # raw values of `status` (repeated and/or comma-separated) before de-duplication


def _one(request: web.Request, name: str) -> str | None:
    """The single value of query parameter `name`, or a 422 when it is repeated."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise ProblemError(422, errors=[FieldError(field=name, message="hanya boleh satu nilai")])
    return values[0] if values else None


def _limit(request: web.Request) -> int:
    raw = _one(request, "limit") or "50"
    if not raw.isdigit() or len(raw) > 3 or not 1 <= int(raw) <= 200:
        raise ProblemError(422, errors=[FieldError(field="limit", message="bilangan 1–200")])
    return int(raw)


def _cursor(request: web.Request) -> tuple[datetime, str] | None:
    raw = _one(request, "cursor")
    if not raw:
        return None
    bad = ProblemError(422, errors=[FieldError(field="cursor", message="kursor tidak valid")])
    if len(raw) > MAX_CURSOR:
        raise bad
    try:
        due, _, last = base64.urlsafe_b64decode(raw.encode()).decode().partition("|")
        instant = datetime.fromisoformat(due)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if instant.tzinfo is None or not last:
        raise bad
    return instant, last


def _page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    next_cursor = None
    if len(items) == limit:
        last = items[-1]
        next_cursor = base64.urlsafe_b64encode(
            f"{last['sla_due'].isoformat()}|{last['_id']}".encode()
        ).decode()
    return {"items": [staff_view(d) for d in items], "next_cursor": next_cursor}


def _states(request: web.Request, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The wanted states: `status` repeated and/or comma-separated, de-duplicated, at most
    MAX_STATUS_VALUES values in all (each state is one database range read)."""
    raw = [s.strip() for value in request.query.getall("status", []) for s in value.split(",") if s.strip()]
    if not raw:
        return allowed
    if len(raw) > MAX_STATUS_VALUES:
        message = f"paling banyak {MAX_STATUS_VALUES} nilai"
        raise ProblemError(422, errors=[FieldError(field="status", message=message)])
    wanted = tuple(dict.fromkeys(raw))
    bad = [s for s in wanted if s not in STATES]
    if bad:
        message = f"status tidak dikenal: {', '.join(b[:40] for b in bad[:5])}"
        raise ProblemError(422, errors=[FieldError(field="status", message=message)])
    return wanted


async def opd_queue(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    opd_id = request.match_info["pemda"] + "/" + request.match_info["slug"]
    if not staff.covers(opd_id=opd_id, pemda=None):
        raise ProblemError(403, "antrean OPD ini di luar kewenangan Anda")
    limit = _limit(request)
    items = await request.app[LIFECYCLE].store.queue(
        field="opd_id",
        value=opd_id,
        states=_states(request, HANDLER_STATES),
        limit=limit,
        after=_cursor(request),
    )
    return json_response(_page(items, limit))


async def triage_queue(request: web.Request) -> web.Response:
    staff = await require_staff(request, "coordinator", "supervisor", "admin")
    pemda = request.match_info["pemda"]
    if staff.role == "supervisor" and staff.opd:
        raise ProblemError(403, "antrean triage pemda bukan untuk supervisor satu OPD")
    if staff.role != "admin" and staff.pemda != pemda:
        raise ProblemError(403, "pemda ini di luar kewenangan Anda")
    limit = _limit(request)
    items = await request.app[LIFECYCLE].store.queue(
        field="pemda", value=pemda, states=_states(request, ("triage",)), limit=limit, after=_cursor(request)
    )
    return json_response(_page(items, limit))


# --- the OPD's own systems: feed and webhook ------------------------------------------------------


def _opd_scope(staff: Staff, request: web.Request) -> str:
    opd_id = request.match_info["pemda"] + "/" + request.match_info["slug"]
    if not staff.covers(opd_id=opd_id, pemda=None):
        raise ProblemError(403, "OPD ini di luar kewenangan Anda")
    return opd_id


async def feed(request: web.Request) -> web.Response:
    """Assignments and later lifecycle changes of this OPD's complaints in the order they were
    written, from about two seconds ago back (FeedStore); `next_cursor` continues after the last
    one. An entry may, rarely, come twice: its `id` tells."""
    staff = await require_staff(request)
    opd_id = _opd_scope(staff, request)
    limit = _limit(request)
    cursor = _one(request, "cursor")
    if cursor is not None and len(cursor) > MAX_CURSOR:
        raise ProblemError(422, errors=[FieldError(field="cursor", message="kursor tidak valid")])
    entries = await request.app[FEED].after(opd_id, cursor, limit)
    items = [{**{k: v for k, v in e.items() if k not in ("_id", "pos")}, "id": e["_id"]} for e in entries]
    return json_response({"items": items, "next_cursor": entries[-1]["pos"] if entries else None})


async def put_webhook(request: web.Request) -> web.Response:
    staff = await require_staff(request, "handler", "coordinator", "admin")
    opd_id = _opd_scope(staff, request)
    body = await read_json(request, WebhookBody)
    try:
        await request.app.get(GUARD, DEFAULT_GUARD).check_url(str(body.url))
    except TargetRefused as exc:
        refused = [FieldError(field="url", message=str(exc))]
        raise ProblemError(422, "URL webhook ditolak", errors=refused) from None
    db = request.app[LIFECYCLE].store.db
    doc = {
        "url": str(body.url),
        "secret": body.secret,
        "by": staff.sub,
        "updated_at": clock.now(),
        "failures": 0,
        # Deliveries are scheduled on the wall clock: they read the feed by its positions (ULIDs).
        "next_attempt": clock.wall(),
    }
    await db["webhooks"].update_one(
        {"_id": opd_id}, {"$set": doc, "$setOnInsert": {"cursor": None}}, upsert=True
    )
    return json_response({"opd_id": opd_id, "url": doc["url"]})


async def webhook_deliveries(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    opd_id = _opd_scope(staff, request)
    db = request.app[LIFECYCLE].store.db
    found = (
        db["webhook_deliveries"]
        .find({"opd_id": opd_id})
        .sort([("opd_id", 1), ("at", -1)])
        .limit(_limit(request))
    )
    items = [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items() if k != "_id"}
        async for d in found
    ]
    return json_response({"items": items, "next_cursor": None})


# --- rule overrides and OPD names (data, audited, effective at once) ----------------------------


async def put_rule(request: web.Request) -> web.Response:
    staff = await require_staff(request, "coordinator", "admin")
    pemda, category = request.match_info["pemda"], request.match_info["category"]
    if staff.role != "admin" and staff.pemda != pemda:
        raise ProblemError(403, "pemda ini di luar kewenangan Anda")
    if category not in CATEGORIES:
        raise ProblemError(404, f"kategori {category!r} tidak dikenal")
    body = await read_json(request, RuleBody)
    db = request.app[LIFECYCLE].store.db
    opd_id = f"{pemda}/{body.opd_slug}"
    if await db["opds"].find_one({"_id": opd_id}) is None:
        raise ProblemError(422, errors=[FieldError(field="opd_slug", message=f"OPD {opd_id} tidak ada")])
    now = clock.now()
    await db["rules"].update_one(
        {"pemda": pemda, "category": category},
        {"$set": {"opd_slug": body.opd_slug, "note": body.note, "by": staff.sub, "at": now}},
        upsert=True,
    )
    request.app[LIFECYCLE].store.forget_rules()
    await _audit(
        request, staff, "rule.put", {"pemda": pemda, "category": category, "opd_slug": body.opd_slug}
    )
    return json_response(
        {"pemda": pemda, "category": category, "opd_id": opd_id, "rule": f"override:{pemda}:{category}"}
    )


async def delete_rule(request: web.Request) -> web.Response:
    staff = await require_staff(request, "coordinator", "admin")
    pemda, category = request.match_info["pemda"], request.match_info["category"]
    if staff.role != "admin" and staff.pemda != pemda:
        raise ProblemError(403, "pemda ini di luar kewenangan Anda")
    result = await request.app[LIFECYCLE].store.db["rules"].delete_one({"pemda": pemda, "category": category})
    request.app[LIFECYCLE].store.forget_rules()
    if result.deleted_count == 0:
        raise ProblemError(404)
    await _audit(request, staff, "rule.delete", {"pemda": pemda, "category": category})
    return web.Response(status=204)


class OpdBody(_Body):
    name: str = Field(min_length=3, max_length=200)


async def put_opd(request: web.Request) -> web.Response:
    """Rename a standard OPD or add a pemda's own (the catalog loader never overwrites these)."""
    staff = await require_staff(request, "coordinator", "admin")
    pemda, slug = request.match_info["pemda"], request.match_info["slug"]
    if staff.role != "admin" and staff.pemda != pemda:
        raise ProblemError(403, "pemda ini di luar kewenangan Anda")
    region = lookup(pemda)
    if region is None or region.level > 2:
        raise ProblemError(404, f"pemda {pemda!r} tidak dikenal")
    body = await read_json(request, OpdBody)
    opd_id = f"{pemda}/{slug}"
    await (
        request.app[LIFECYCLE]
        .store.db["opds"]
        .update_one(
            {"_id": opd_id},
            {"$set": {"pemda": pemda, "slug": slug, "name": body.name, "overridden": True}},
            upsert=True,
        )
    )
    await _audit(request, staff, "opd.put", {"opd_id": opd_id, "name": body.name})
    return json_response({"opd_id": opd_id, "name": body.name})


async def _audit(request: web.Request, staff: Staff, what: str, data: dict[str, Any]) -> None:
    await (
        request.app[LIFECYCLE]
        .store.db["audit"]
        .insert_one({"what": what, "by": staff.sub, "role": staff.role, "at": clock.now(), "data": data})
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    base = "/api/v1/staff/complaints/{id}"
    r.add_get(base, get_complaint)
    for name, view in (
        ("claim", claim),
        ("answer", answer),
        ("request-info", request_info),
        ("tier", set_tier),
        ("resolve", resolve),
        ("transfer", transfer),
        ("dispose", dispose),
        ("archive", archive),
    ):
        r.add_post(f"{base}/{name}", view)
    r.add_patch(base, update)
    r.add_post(f"{base}/notes", add_note)
    r.add_get(f"{base}/notes", list_notes)
    r.add_get("/api/v1/opd/{pemda}/{slug}/queue", opd_queue)
    r.add_get("/api/v1/opd/{pemda}/{slug}/feed", feed)
    r.add_put("/api/v1/opd/{pemda}/{slug}/webhook", put_webhook)
    r.add_get("/api/v1/opd/{pemda}/{slug}/webhook/deliveries", webhook_deliveries)
    r.add_put("/api/v1/admin/opds/{pemda}/{slug}", put_opd)
    r.add_get("/api/v1/pemda/{pemda}/triage", triage_queue)
    r.add_put("/api/v1/admin/rules/{pemda}/{category}", put_rule)
    r.add_delete("/api/v1/admin/rules/{pemda}/{category}", delete_rule)


def _op(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    example: dict[str, Any] | None = None,
    params: tuple[str, ...] = (),
    query: tuple[str, ...] = (),
    ok: str = "200",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"staffJwt": []}],
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
        ]
        + [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in query],
        "responses": {
            ok: {"description": "berhasil"},
            **{
                code: {"$ref": "#/components/responses/Problem"}
                for code in ("401", "403", "404", "409", "422")
            },
        },
    }
    if body is not None:
        op["requestBody"] = {
            "content": {"application/json": {"schema": body.model_json_schema(), "example": example or {}}}
        }
    return op


def openapi_paths() -> dict[str, Any]:
    base = "/api/v1/staff/complaints/{id}"
    idp = ("id",)
    opd = ("pemda", "slug")
    return {
        base: {
            "get": _op("Detail pengaduan untuk petugas (tanpa identitas pelapor)", params=idp),
            "patch": _op(
                "Koordinator: ubah kategori/wilayah (saat triage) atau perketat privasi (selama terbuka)",
                body=UpdateBody,
                example={"category": "jalan-jembatan", "confidential": True},
                params=idp,
            ),
        },
        f"{base}/claim": {"post": _op("Petugas OPD mengambil pengaduan (sewa kerja 30 menit)", params=idp)},
        f"{base}/answer": {
            "post": _op(
                "Jawab pelapor (tindak lanjut)",
                body=MessageBody,
                example={"message": "Tim kami akan meninjau lokasi besok pagi."},
                params=idp,
            )
        },
        f"{base}/request-info": {
            "post": _op(
                "Minta informasi tambahan dari pelapor",
                body=MessageBody,
                example={"message": "Mohon kirim foto dan patokan lokasi."},
                params=idp,
            )
        },
        f"{base}/tier": {
            "post": _op("Ubah tingkat pengaduan", body=TierBody, example={"tier": "ringan"}, params=idp)
        },
        f"{base}/resolve": {
            "post": _op(
                "Selesaikan dengan jawaban",
                body=ResolveBody,
                example={"answer": "Lubang jalan sudah ditambal pada 12 Maret."},
                params=idp,
            )
        },
        f"{base}/transfer": {
            "post": _op(
                "Alihkan: bukan wewenang OPD ini",
                body=TransferBody,
                example={"to_opd_id": "33.74/dinas-perhubungan", "reason": "Lampu jalan wewenang Dishub"},
                params=idp,
            )
        },
        f"{base}/dispose": {
            "post": _op(
                "Koordinator: disposisikan ke OPD",
                body=DisposeBody,
                example={"opd_id": "33.74/dinas-pupr", "category": "jalan-jembatan"},
                params=idp,
            )
        },
        f"{base}/archive": {
            "post": _op(
                "Koordinator: arsipkan dengan alasan",
                body=ArchiveBody,
                example={"reason": "Di luar kewenangan pemda", "forwarded_to": "Kementerian PUPR"},
                params=idp,
            )
        },
        f"{base}/notes": {
            "get": _op("Catatan internal (khusus petugas)", params=idp),
            "post": _op(
                "Tambah catatan internal",
                body=NoteBody,
                example={"text": "Sudah koordinasi dengan UPT wilayah timur."},
                params=idp,
                ok="201",
            ),
        },
        "/api/v1/opd/{pemda}/{slug}/queue": {
            "get": _op(
                "Antrean OPD, tenggat SLA terdekat dulu", params=opd, query=("status", "limit", "cursor")
            )
        },
        "/api/v1/opd/{pemda}/{slug}/feed": {
            "get": _op(
                "Umpan perubahan pengaduan OPD ini (untuk sistem OPD)", params=opd, query=("limit", "cursor")
            )
        },
        "/api/v1/opd/{pemda}/{slug}/webhook": {
            "put": _op(
                "Daftarkan webhook OPD (ditandatangani HMAC-SHA256 dan Standard Webhooks; alamat internal "
                "ditolak kecuali jaringannya diizinkan)",
                body=WebhookBody,
                example={
                    "url": "https://opd.example.go.id/pengaduan",
                    "secret": "rahasia-panjang-sekali-123",
                },
                params=opd,
            )
        },
        "/api/v1/opd/{pemda}/{slug}/webhook/deliveries": {
            "get": _op("Log pengiriman webhook", params=opd, query=("limit",))
        },
        "/api/v1/pemda/{pemda}/triage": {
            "get": _op("Daftar triage Admin Koordinator", params=("pemda",), query=("limit", "cursor"))
        },
        "/api/v1/admin/rules/{pemda}/{category}": {
            "put": _op(
                "Aturan disposisi khusus pemda (tercatat di audit, berlaku seketika)",
                body=RuleBody,
                example={"opd_slug": "dinas-pupr", "note": "PJU dikelola Dinas PUPR"},
                params=("pemda", "category"),
            ),
            "delete": _op("Hapus aturan khusus", params=("pemda", "category"), ok="204"),
        },
        "/api/v1/admin/opds/{pemda}/{slug}": {
            "put": _op(
                "Ganti nama OPD atau tambah OPD milik pemda",
                body=OpdBody,
                example={"name": "Dinas Perumahan dan Kawasan Permukiman Kota Semarang"},
                params=opd,
            )
        },
    }
