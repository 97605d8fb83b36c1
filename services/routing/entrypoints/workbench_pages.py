"""The handler workbench (issue 21 item 2): an OPD's queue and one complaint, for people, on the
staff session of staff_pages.py.

- `/staff/tugas`: the OPD's queue, nearest due first (the store's `queue`, as the JSON API reads
  it), each with a countdown coloured by how close its breach is (domain/workbench.py), filters by
  status and category, keyset paging. A handler (or an OPD's supervisor) sees their OPD; a
  coordinator, a pemda's supervisor or an admin names one (`?opd=`), within their scope.
- `/staff/tugas/baru`: the same first page as a small JSON list, polled by the page's script so
  new assignments appear without reloading (the page works without script: it is a table).
- `/staff/pengaduan/{id}`: the complaint as staff see it (`staff_view`: masked text when
  anonymous, never identity, which routing does not hold), its clocks, the timeline of its OPD's
  feed entries, internal notes.
- Its forms: the handler's actions (`ambil`, `jawab`, `minta-info`, `tingkat`, `selesaikan`,
  `alihkan`) and a note (`catatan`). Each is the JSON API's own use case (`handlers.act` with the
  lifecycle action, the request bodies' models, the transfer's reach check, `write_note`); a
  refusal comes back as the page with the reason in words, never a JSON problem.

Who: as the JSON API. Actions are the handler's; notes the handler's, coordinator's and admin's;
everyone in scope may look, and the page shows only the forms the person may use. Out of scope
is a 403 page, an unknown complaint a 404 page.

- `/staff/pengaduan/{id}/lampiran/{aid}`: one of the reporter's attachments, which live in
  intake: the page lists them and this route passes a file on, both asked of intake's own
  attachment API with the person's staff token (adapters/intake_files.py), so intake's rule
  decides (staff in scope; an anonymous complaint's files stripped and unnamed).

Script: `static/workbench.js` (the countdown, polling); the policy admits scripts from this
origin only on these pages (`_headers`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, TypeVar, get_args
from urllib.parse import quote, urlencode

from aiohttp import web
from pydantic import BaseModel, ValidationError

from services.routing import handlers
from services.routing.adapters.intake_files import IntakeFiles, IntakeUnavailable
from services.routing.domain import lifecycle as lc
from services.routing.domain import workbench as wb
from services.routing.domain.staff import Account
from services.routing.entrypoints.complaints import _known_opd, _within_reach
from services.routing.entrypoints.edge import routing_of, staff_view
from services.routing.entrypoints.models import MessageBody, NoteBody, ResolveBody, TierBody, TransferBody
from services.routing.entrypoints.notes import NOTE_ROLES, write_note
from services.routing.entrypoints.queues import HANDLER_STATES, _cursor, _page, _states
from services.routing.entrypoints.staff_pages import (
    PAGE_SETTINGS,
    Refusal,
    issue_token,
    page,
    render,
    signed_in,
    signed_in_form,
    staff_token,
)
from shared import clock
from shared.auth import Staff
from shared.calendar import local_text
from shared.categories import CATEGORIES
from shared.events import Tier
from shared.http import ProblemError
from shared.states import STATE_LABELS

QUEUE = "/staff/tugas"
COMPLAINT = "/staff/pengaduan/{id}"
PAGE_SIZE = 25
TIMELINE_MAX = 200  # feed entries of one complaint shown (a complaint sees a handful)
NOTES_MAX = 200
FILES_MAX = 20  # attachments listed (intake accepts a few per complaint)
FILE_POLICY = "default-src 'none'; sandbox"
INTAKE_FILES = web.AppKey("workbench_intake_files", IntakeFiles)
log = logging.getLogger(__name__)
FILTER_STATES = (*HANDLER_STATES, "resolved")
TIERS: tuple[str, ...] = get_args(Tier)
B = TypeVar("B", bound=BaseModel)

NOT_YOURS = Refusal(
    403,
    "Bukan wewenang Anda",
    "Pengaduan atau antrean ini milik OPD lain, di luar kewenangan akun Anda. "
    "Jika pengaduan ini seharusnya Anda tangani, hubungi Admin Koordinator pemda Anda.",
)
UNKNOWN = Refusal(404, "Pengaduan tidak ditemukan", "Tidak ada pengaduan dengan nomor ini.")
HANDLERS_ONLY = Refusal(
    403,
    "Bukan wewenang Anda",
    "Tindakan atas pengaduan hanya dapat dilakukan oleh petugas OPD yang menanganinya.",
)

FIELD_LABELS = {
    "message": "Pesan",
    "answer": "Jawaban penyelesaian",
    "tier": "Tingkat",
    "to_opd_id": "OPD tujuan",
    "reason": "Alasan",
    "text": "Catatan",
}
DONE = {
    "ambil": "Pengaduan sudah Anda ambil.",
    "jawab": "Jawaban terkirim kepada pelapor.",
    "minta-info": "Permintaan informasi terkirim; jam penyelesaian dijeda sampai pelapor menjawab.",
    "tingkat": "Tingkat pengaduan diubah.",
    "selesaikan": "Pengaduan diselesaikan; pelapor diberi tahu.",
    "alihkan": "Pengaduan dialihkan ke OPD tujuan sebagai bukan wewenang OPD Anda.",
    "catatan": "Catatan internal disimpan.",
}


# --- reading ------------------------------------------------------------------------------------


def _local(instant: datetime | None, region_code: str) -> str:
    return "" if instant is None else local_text(instant, region_code)


def _category_name(code: str | None) -> str:
    found = CATEGORIES.get(code or "")
    return found.name if found else (code or "—")


def _clock_dict(c: wb.ClockView, region_code: str) -> dict[str, Any]:
    return {
        "label": c.label,
        "state_label": c.state_label,
        "due": c.due.isoformat() if c.due else None,
        "due_local": _local(c.due, region_code),
        "started": c.started.isoformat() if c.started else None,
        "urgency": c.urgency,
        "urgency_label": c.urgency_label,
        "countdown": c.countdown,
    }


def _row(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    view = staff_view(doc)
    near = wb.nearest(doc.get("dues"), now)
    return {
        "id": view["id"],
        "href": COMPLAINT.format(id=view["id"]),
        "title": view["title"],
        "category": _category_name(view["category"]),
        "status_label": view["status_label"],
        "claimed_by": view["claimed_by"],
        "clock": _clock_dict(near, doc["region_code"]) if near else None,
    }


def _queue_opd(request: web.Request, staff: Staff) -> str | None:
    """The OPD whose queue is shown: the person's own, or the one they name (`?opd=`)."""
    if staff.opd:
        return staff.opd
    named = request.query.get("opd", "").strip()
    return named if named and len(named) <= 80 and "/" in named else None


async def _queue(request: web.Request, staff: Staff) -> dict[str, Any]:
    """The queue's page for the request's filters (raises a refusal page for bad ones)."""
    opd_id = _queue_opd(request, staff)
    if opd_id is None:
        return {"opd": None}
    if not staff.covers(opd_id=opd_id, pemda=None):
        raise NOT_YOURS
    category = request.query.get("kategori") or None
    try:
        states = _states(request, HANDLER_STATES)
        after = _cursor(request)
        if category is not None and category not in CATEGORIES:
            raise ProblemError(422, "kategori tidak dikenal")
    except ProblemError as problem:
        raise Refusal(
            422, "Filter tidak valid", "Filter atau halaman antrean ini tidak dikenal. Muat ulang antrean."
        ) from problem
    docs = await routing_of(request).complaints.queue(
        field="opd_id", value=opd_id, states=states, limit=PAGE_SIZE, after=after, category=category
    )
    now = clock.now()
    listed = _page(docs, PAGE_SIZE)
    filters = {
        "opd": opd_id if not staff.opd else None,
        "status": request.query.get("status"),
        "kategori": category,
    }
    kept = {k: v for k, v in filters.items() if v}
    return {
        "opd": opd_id,
        "rows": [_row(d, now) for d in docs],
        "status_filter": request.query.get("status", ""),
        "kategori": category or "",
        "first_page": after is None,
        "first_href": f"{QUEUE}?{urlencode(kept)}" if kept else QUEUE,
        "next_href": f"{QUEUE}?{urlencode({**kept, 'cursor': listed['next_cursor']})}"
        if listed["next_cursor"]
        else None,
        "poll_href": f"{QUEUE}/baru?{urlencode(kept)}" if kept else f"{QUEUE}/baru",
    }


async def queue_page(request: web.Request) -> web.Response:
    account, csrf = await signed_in(request)
    queue = await _queue(request, account.as_staff())
    response = render(
        request,
        "workbench_queue.html",
        account=account,
        csrf=csrf,
        notice=DONE.get(request.query.get("pesan", "")),
        now=clock.now().isoformat(),
        states=[(s, STATE_LABELS[s]) for s in FILTER_STATES],
        categories=[(c.code, c.name) for c in CATEGORIES.values()],
        **queue,
    )
    issue_token(request, response, account)
    return response


async def queue_poll(request: web.Request) -> web.Response:
    """The queue's first page as JSON, for the page's script (the session cookie, no token)."""
    account, _ = await signed_in(request)
    queue = await _queue(request, account.as_staff())
    response = web.json_response({"items": queue.get("rows", [])})
    response.headers["Cache-Control"] = "no-store"
    return response


async def _complaint(request: web.Request, staff: Staff) -> dict[str, Any]:
    doc = await routing_of(request).complaints.get(request.match_info["id"])
    if doc is None:
        raise UNKNOWN
    if not staff.covers(opd_id=doc.get("opd_id"), pemda=doc.get("pemda")):
        raise NOT_YOURS
    return doc


def _entry(entry: dict[str, Any], region_code: str) -> dict[str, Any]:
    data = entry.get("data") or {}
    texts = [(label, str(data[name])) for name, label in wb.EVENT_TEXTS.items() if data.get(name)]
    return {
        "at": _local(entry["at"], region_code),
        "at_iso": entry["at"].isoformat(),
        "label": wb.event_label(entry["type"], data),
        "texts": texts,
    }


async def _complaint_render(
    request: web.Request, account: Account, csrf: str, doc: dict[str, Any], status: int = 200, **context: Any
) -> web.Response:
    routing = routing_of(request)
    staff = account.as_staff()
    now = clock.now()
    view = staff_view(doc)
    opd = staff.opd or doc.get("opd_id")
    timeline = await routing.feed.of_complaint(opd, doc["_id"], TIMELINE_MAX) if opd else []
    notes = (await routing.notes.of(doc["_id"]))[:NOTES_MAX]
    files = await _files(request, account, doc["_id"])
    handler = staff.role == "handler"
    response = render(
        request,
        "workbench_complaint.html",
        status,
        account=account,
        csrf=csrf,
        c=view,
        now=now.isoformat(),
        category=_category_name(view["category"]),
        submitted=_local(doc["submitted_at"], doc["region_code"]),
        lease_until=_local(doc.get("lease_until"), doc["region_code"]),
        clocks=[_clock_dict(c, doc["region_code"]) for c in wb.clocks(doc.get("dues"), now)],
        timeline=[_entry(e, doc["region_code"]) for e in timeline],
        notes=[{**n, "at": _local(n["at"], doc["region_code"])} for n in notes],
        files=files,
        offered=wb.offered(doc["state"]) if handler else [],
        may_note=staff.role in NOTE_ROLES,
        tiers=TIERS,
        queue_href=QUEUE
        if staff.opd
        else f"{QUEUE}?{urlencode({'opd': doc['opd_id']})}"
        if doc.get("opd_id")
        else QUEUE,
        **context,
    )
    issue_token(request, response, account)
    return response


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} KB"


async def _files(request: web.Request, account: Account, complaint_id: str) -> list[dict[str, Any]] | None:
    """The reporter's attachments as intake shows them to this person; None when intake cannot
    be asked now (the page says so and shows the rest)."""
    try:
        items = await request.app[INTAKE_FILES].listing(complaint_id, staff_token(request, account))
    except IntakeUnavailable as exc:
        log.warning("attachments of %s not shown: %s", complaint_id, exc)
        return None
    shown = []
    for item in items[:FILES_MAX]:
        aid, kind = str(item.get("id", "")), str(item.get("content_type", ""))
        if not aid:
            continue
        shown.append(
            {
                "href": f"{COMPLAINT.format(id=quote(complaint_id, safe=''))}/lampiran/{quote(aid, safe='')}",
                "image": kind.startswith("image/"),
                "kind": kind,
                "name": item.get("filename") or f"lampiran-{aid}",
                "size": _size(int(item.get("size") or 0)),
            }
        )
    return shown


async def attachment(request: web.Request) -> web.StreamResponse:
    account, _ = await signed_in(request)
    doc = await _complaint(request, account.as_staff())
    try:
        got = await request.app[INTAKE_FILES].file(
            doc["_id"], request.match_info["aid"], staff_token(request, account)
        )
    except IntakeUnavailable as exc:
        log.warning("attachment of %s not passed on: %s", doc["_id"], exc)
        raise Refusal(
            503,
            "Lampiran tidak dapat dimuat",
            "Layanan pengaduan warga tidak menjawab. Coba lagi sebentar lagi.",
        ) from None
    if got.status != 200:
        raise Refusal(404, "Lampiran tidak ditemukan", "Lampiran ini tidak ada atau tidak boleh Anda lihat.")
    return web.Response(body=got.body, headers={**got.headers, "Cache-Control": "private, no-store"})


async def complaint_page(request: web.Request) -> web.Response:
    account, csrf = await signed_in(request)
    doc = await _complaint(request, account.as_staff())
    return await _complaint_render(
        request, account, csrf, doc, notice=DONE.get(request.query.get("pesan", ""))
    )


# --- acting -------------------------------------------------------------------------------------


class _FormRefused(Exception):
    """A form's values refused before the use case: the reason, in words."""


def _explain(exc: ValidationError) -> str:
    """pydantic's complaint about a form's field, in plain Indonesian."""
    said = []
    for error in exc.errors():
        field = FIELD_LABELS.get(str(error["loc"][0]) if error["loc"] else "", "Isian")
        ctx = error.get("ctx") or {}
        if error["type"] == "string_too_short" and ctx.get("min_length") == 1:
            said.append(f"{field} wajib diisi")
        elif error["type"] == "string_too_short":
            said.append(f"{field} minimal {ctx.get('min_length')} karakter")
        elif error["type"] == "string_too_long":
            said.append(f"{field} paling banyak {ctx.get('max_length')} karakter")
        elif error["type"] in ("literal_error", "enum"):
            said.append(f"{field} tidak dikenal")
        else:
            said.append(f"{field} tidak sah")
    return "; ".join(said) + "."


def _body(model: type[B], form: dict[str, str], *names: str) -> B:
    return model.model_validate({n: form.get(n, "") for n in names})


async def _action(
    request: web.Request, name: str, staff: Staff, doc: dict[str, Any], form: dict[str, str]
) -> tuple[lc.Action, dict[str, Any]]:
    """The lifecycle action a form asks for, as the JSON API builds it (complaints.py)."""
    if name == "ambil":
        return lc.Claim(staff.sub), {}
    if name == "jawab":
        return lc.Answer(staff.sub, _body(MessageBody, form, "message").message), {}
    if name == "minta-info":
        return lc.RequestInfo(staff.sub, _body(MessageBody, form, "message").message), {}
    if name == "tingkat":
        return lc.SetTier(staff.sub, _body(TierBody, form, "tier").tier), {}
    if name == "selesaikan":
        return lc.Resolve(staff.sub, _body(ResolveBody, form, "answer").answer), {}
    body = _body(
        TransferBody, {**form, "to_opd_id": form.get("to_opd_id", "").strip()}, "to_opd_id", "reason"
    )
    try:
        _within_reach(doc, body.to_opd_id, "to_opd_id")
    except ProblemError as problem:
        raise _FormRefused(f"{problem.errors[0].message}." if problem.errors else str(problem)) from None
    known = await _known_opd(request, body.to_opd_id)
    return lc.Transfer(staff.sub, body.to_opd_id, body.reason), {"known_opd": known}


def _act_view(name: str) -> Any:
    async def act(request: web.Request) -> web.Response:
        account, csrf, form = await signed_in_form(request)
        staff = account.as_staff()
        doc = await _complaint(request, staff)
        if staff.role != "handler":
            raise HANDLERS_ONLY
        try:
            action, kw = await _action(request, name, staff, doc, form)
            await handlers.act(routing_of(request), doc["_id"], action, **kw)
        except ValidationError as exc:
            return await _refused(request, account, csrf, doc, 422, _explain(exc), form)
        except _FormRefused as exc:
            return await _refused(request, account, csrf, doc, 422, str(exc), form)
        except lc.Refused as refused:
            fresh = await routing_of(request).complaints.get(doc["_id"]) or doc
            return await _refused(
                request, account, csrf, fresh, 409, f"Tindakan ditolak: {refused.reason}.", form
            )
        except LookupError:
            raise UNKNOWN from None
        if name == "alihkan":  # no longer this OPD's: back to its queue
            raise web.HTTPSeeOther(f"{QUEUE}?pesan=alihkan")
        raise web.HTTPSeeOther(f"{COMPLAINT.format(id=doc['_id'])}?pesan={name}")

    return act


async def _refused(
    request: web.Request,
    account: Account,
    csrf: str,
    doc: dict[str, Any],
    status: int,
    error: str,
    form: dict[str, str],
) -> web.Response:
    kept = {k: v for k, v in form.items() if k != "csrf"}
    return await _complaint_render(request, account, csrf, doc, status, error=error, form=kept)


async def add_note(request: web.Request) -> web.Response:
    account, csrf, form = await signed_in_form(request)
    staff = account.as_staff()
    doc = await _complaint(request, staff)
    if staff.role not in NOTE_ROLES:
        raise Refusal(
            403,
            "Bukan wewenang Anda",
            "Catatan internal hanya ditulis oleh petugas OPD dan Admin Koordinator.",
        )
    try:
        body = _body(NoteBody, form, "text")
    except ValidationError as exc:
        return await _refused(request, account, csrf, doc, 422, _explain(exc), form)
    await write_note(request, staff, doc, body)
    raise web.HTTPSeeOther(f"{COMPLAINT.format(id=doc['_id'])}?pesan=catatan")


# --- wiring -------------------------------------------------------------------------------------


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    """These pages run their own script file (and fetch from their own origin): the staff pages'
    policy with exactly that added."""
    if request.path.startswith("/staff/pengaduan/") and "/lampiran/" in request.path:
        if response.status == 200:  # the file as intake serves it: nothing in it may run
            response.headers["Content-Security-Policy"] = FILE_POLICY
        return
    if request.path.startswith((QUEUE, "/staff/pengaduan/")):
        policy = response.headers.get("Content-Security-Policy", "")
        if "script-src" not in policy:
            response.headers["Content-Security-Policy"] = policy.replace(
                "default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';", 1
            )


async def _intake_files(app: web.Application) -> AsyncIterator[None]:
    files = app[INTAKE_FILES] = IntakeFiles(app[PAGE_SETTINGS].intake_url)
    yield
    await files.close()


def add_routes(app: web.Application) -> None:
    """Wired from staff_pages.add_routes (after its headers hook, which this one amends)."""
    app.on_response_prepare.append(_headers)
    app.cleanup_ctx.append(_intake_files)
    r = app.router
    r.add_get(QUEUE, page(queue_page))
    r.add_get(f"{QUEUE}/baru", page(queue_poll))
    r.add_get(COMPLAINT, page(complaint_page))
    r.add_get(f"{COMPLAINT}/lampiran/{{aid}}", page(attachment))
    for name in wb.ACTIONS:
        r.add_post(f"{COMPLAINT}/{name}", page(_act_view(name)))
    r.add_post(f"{COMPLAINT}/catatan", page(add_note))
