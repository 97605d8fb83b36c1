"""Coordinator pages (issue 21 item 3): a pemda's Admin Koordinator (or an admin) in a browser.

- `/staff/triase`: the pemda's triage queue, nearest due first, each complaint with why it is in
  triage (the classifier unsure, no OPD for the category in a province-only region, the transfer
  limit reached, …: kept on the complaint while it is in triage), the classifier's guess and its
  confidence, and a one-step disposition (category and OPD
  preselected from the guess, by the same routing table and the pemda's own rules that route
  submissions). `/staff/triase/{id}`: one complaint (the text as staff may see it, DESIGN §3),
  disposition, archive with a reason, privacy flags, and a link to intake's page for the
  reporter's identity (identity lives only in intake; that page reveals it only on a POST with
  its CSRF token, audited, and shows the audit trail).
- `/staff/katalog`: the pemda's OPDs (names) and its rule overrides: rename or add an OPD, set or
  remove a rule.

Every action goes through the same functions as the JSON API (complaints.py `disposed`,
`archived`, `updated`; admin.py `set_rule`, `remove_rule`, `name_opd`; queues.py `triage_docs`):
the same scope checks, validation and lifecycle rules. Their refusals (problems) are shown on the
page in Indonesian. An admin, who has no pemda, picks one with `?pemda=` (a hidden field in forms).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from services.routing.domain.complaint import NO_DUE, triage_explained
from services.routing.domain.staff import Account
from services.routing.domain.table import route, with_overrides
from services.routing.entrypoints import admin, complaints, queues
from services.routing.entrypoints.edge import complaint_for, routing_of, staff_view
from services.routing.entrypoints.models import ArchiveBody, DisposeBody, OpdBody, RuleBody, UpdateBody
from services.routing.entrypoints.staff_pages import (
    PAGE_SETTINGS,
    Refusal,
    issue_token,
    page,
    render,
    signed_in,
    signed_in_form,
)
from shared.auth import Staff
from shared.calendar import local_text
from shared.categories import CATEGORIES
from shared.http import FieldError, ProblemError
from shared.regions import lookup

PAGE_SIZE = 50
M = TypeVar("M", bound=BaseModel)
FIELD_LABELS = {
    "opd_id": "OPD tujuan",
    "opd_slug": "OPD",
    "category": "Kategori",
    "reason": "Alasan",
    "forwarded_to": "Diteruskan ke",
    "name": "Nama OPD",
    "note": "Catatan",
    "slug": "Kode OPD",
    "cursor": "Alamat halaman",
    "status": "Status",
}
NOT_YOURS = Refusal(403, "Bukan wewenang Anda", "Halaman ini hanya untuk Admin Koordinator pemda dan admin.")


# --- who, and which pemda ------------------------------------------------------------------------


def _must_coordinate(account: Account) -> None:
    if account.role not in ("coordinator", "admin"):
        raise NOT_YOURS


def _pemda(account: Account, asked: str | None) -> str:
    """The pemda the page is about: the coordinator's own; an admin's choice."""
    if account.role == "coordinator":
        assert account.pemda is not None  # scoped() gives every coordinator a pemda
        return account.pemda
    pemda = (asked or "").strip()
    region = lookup(pemda) if pemda else None
    if region is None or region.level > 2:
        raise Refusal(404, "Pemda tidak dikenal", "Pilih pemda dengan ?pemda=<kode>, mis. ?pemda=33.74.")
    return pemda


async def _coordinator(request: web.Request) -> tuple[Account, str]:
    account, csrf = await signed_in(request)
    _must_coordinate(account)
    return account, csrf


async def _coordinator_form(request: web.Request) -> tuple[Account, str, dict[str, str]]:
    account, csrf, form = await signed_in_form(request)
    _must_coordinate(account)
    return account, csrf, form


# --- refusals in plain Indonesian ----------------------------------------------------------------


def _field_message(error: FieldError) -> str:
    label = FIELD_LABELS.get(error.field, error.field)
    return f"{label}: {error.message}"


def explained(problem: ProblemError) -> str:
    """What a refused action's problem says, for a person."""
    if problem.errors:
        return "Periksa isian: " + "; ".join(_field_message(e) for e in problem.errors) + "."
    if problem.status == 404:
        return problem.detail or "Data ini tidak ditemukan atau sudah berubah."
    if problem.status == 403:
        return f"Bukan wewenang Anda: {problem.detail}." if problem.detail else "Bukan wewenang Anda."
    if problem.status == 409:
        return f"Tindakan ditolak: {problem.detail}." if problem.detail else "Tindakan ditolak."
    return problem.detail or "Permintaan tidak dapat diproses."


PYDANTIC_WORDS = {
    "missing": "wajib diisi",
    "string_too_short": "terlalu pendek (minimal {min_length} karakter)",
    "string_too_long": "terlalu panjang (maksimal {max_length} karakter)",
    "string_pattern_mismatch": "berisi karakter yang tidak diperbolehkan",
    "extra_forbidden": "isian tidak dikenal",
}


def _validated(model: type[M], fields: dict[str, Any]) -> M:
    """A form's fields as the API's body model, or a 422 problem naming each field in Indonesian."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            words = PYDANTIC_WORDS.get(err["type"])
            message = words.format(**(err.get("ctx") or {})) if words else err["msg"]
            errors.append(FieldError(field=".".join(str(p) for p in err["loc"]), message=message))
        raise ProblemError(422, errors=errors) from None


def _text(form: dict[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


# --- the triage queue ----------------------------------------------------------------------------


def _category_name(code: str | None) -> str | None:
    if code is None:
        return None
    spec = CATEGORIES.get(code)
    return spec.name if spec else code


async def _opds_for(request: web.Request, region_code: str) -> list[dict[str, Any]]:
    """The OPDs a complaint of `region_code` may be disposed to (its kab/kota's and province's)."""
    return await routing_of(request).catalog.opds_of(sorted(complaints.reachable_pemdas(region_code)))


def _suggested(doc: dict[str, Any], overrides: dict[tuple[str, str], str]) -> tuple[str | None, str | None]:
    """The category and OPD a disposition form starts with: the complaint's category, else the
    classifier's guess, routed by the table and the pemda's rules (the submissions' own route)."""
    category = doc.get("category") or (doc.get("classifier") or {}).get("guess")
    if category not in CATEGORIES:
        return None, None
    decision = with_overrides(route(category, doc["region_code"]), overrides)
    return category, decision.opd_id if decision.assigns else None


async def _rows(request: web.Request, docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the pages show of each triaged complaint: staff's view, the guess, the form's choices."""
    rows: list[dict[str, Any]] = []
    opds_by_region: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        reach = sorted(complaints.reachable_pemdas(doc["region_code"]))
        overrides = await routing_of(request).catalog.overrides(reach)
        key = ",".join(reach)
        if key not in opds_by_region:
            opds_by_region[key] = await _opds_for(request, doc["region_code"])
        category, opd_id = _suggested(doc, overrides)
        guess = doc.get("classifier") or {}
        region = lookup(doc["region_code"])
        rows.append(
            {
                "view": staff_view(doc),
                "region": region.path if region is not None else doc["region_code"],
                "due": _local(doc.get("sla_due"), doc["region_code"]),
                "opd_name": next(
                    (o.get("name") for o in opds_by_region[key] if o["_id"] == doc.get("opd_id")), None
                ),
                "triage_reason": triage_explained(doc.get("triage"), int(doc.get("transfers") or 0)),
                "guess": _category_name(guess.get("guess")),
                "confidence": guess.get("confidence"),
                "category_name": _category_name(doc.get("category")),
                "pick_category": category,
                "pick_opd": opd_id,
                "opds": opds_by_region[key],
            }
        )
    return rows


def _local(instant: datetime | None, region_code: str) -> str | None:
    """A due as people of the region read it: their local time (WIB, WITA or WIT)."""
    if instant is None or instant.replace(tzinfo=instant.tzinfo or UTC) == NO_DUE:
        return None
    return local_text(instant, region_code)


def _pemda_name(pemda: str) -> str:
    region = lookup(pemda)
    return region.name if region is not None else pemda


def _common(request: web.Request, account: Account, csrf: str, pemda: str) -> dict[str, Any]:
    return {
        "account": account,
        "csrf": csrf,
        "pemda": pemda,
        "pemda_name": _pemda_name(pemda),
        "as_admin": account.role == "admin",
        "categories": [(c.code, c.name) for c in CATEGORIES.values()],
        "intake_url": request.app[PAGE_SETTINGS].staff_intake_url.rstrip("/"),
    }


async def _queue_page(
    request: web.Request, account: Account, csrf: str, pemda: str, status: int = 200, **extra: Any
) -> web.Response:
    staff = account.as_staff()
    try:
        docs = await queues.triage_docs(request, staff, pemda, PAGE_SIZE)
    except ProblemError as problem:  # a bad cursor or status in the address
        raise Refusal(problem.status, "Antrean tidak dapat ditampilkan", explained(problem)) from None
    response = render(
        request,
        "coord_triage.html",
        status,
        rows=await _rows(request, docs),
        next_cursor=queues.next_cursor(docs, PAGE_SIZE),
        **_common(request, account, csrf, pemda),
        **extra,
    )
    issue_token(request, response, account)
    return response


async def triage(request: web.Request) -> web.Response:
    account, csrf = await _coordinator(request)
    return await _queue_page(request, account, csrf, _pemda(account, request.query.get("pemda")))


# --- one complaint ---------------------------------------------------------------------------------


async def _complaint(request: web.Request, staff: Staff) -> dict[str, Any]:
    try:
        return await complaint_for(request, staff)
    except ProblemError as problem:
        message = "Pengaduan ini tidak ada." if problem.status == 404 else explained(problem)
        raise Refusal(problem.status, "Pengaduan tidak dapat dibuka", message) from None


async def _complaint_page(
    request: web.Request, account: Account, csrf: str, doc: dict[str, Any], status: int = 200, **extra: Any
) -> web.Response:
    (row,) = await _rows(request, [doc])
    response = render(
        request,
        "coord_complaint.html",
        status,
        row=row,
        **_common(request, account, csrf, doc["pemda"]),
        **extra,
    )
    issue_token(request, response, account)
    return response


async def complaint(request: web.Request) -> web.Response:
    account, csrf = await _coordinator(request)
    doc = await _complaint(request, account.as_staff())
    return await _complaint_page(request, account, csrf, doc)


async def _acted(
    request: web.Request, account: Account, csrf: str, form: dict[str, str], doc: dict[str, Any], done: str
) -> web.Response:
    """After an action: back where the form was (the queue, or the complaint's page)."""
    if form.get("kembali") == "antrean":
        return await _queue_page(request, account, csrf, doc["pemda"], notice=done)
    return await _complaint_page(request, account, csrf, doc, notice=done)


async def _refused(
    request: web.Request, account: Account, csrf: str, form: dict[str, str], problem: ProblemError
) -> web.Response:
    doc = await _complaint(request, account.as_staff())
    status = problem.status if 400 <= problem.status < 500 else 409
    if form.get("kembali") == "antrean":
        return await _queue_page(request, account, csrf, doc["pemda"], status, error=explained(problem))
    return await _complaint_page(request, account, csrf, doc, status, error=explained(problem))


async def dispose(request: web.Request) -> web.Response:
    account, csrf, form = await _coordinator_form(request)
    staff = account.as_staff()
    doc = await _complaint(request, staff)
    try:
        if not _text(form, "opd_id"):  # the queue's "— pilih OPD —" when the guess gave none
            raise ProblemError(422, errors=[FieldError(field="opd_id", message="pilih OPD tujuan")])
        body = _validated(
            DisposeBody, {"opd_id": form.get("opd_id", ""), "category": _text(form, "category")}
        )
        new = await complaints.disposed(request, staff, doc, body)
    except ProblemError as problem:
        return await _refused(request, account, csrf, form, problem)
    names = {o["_id"]: o.get("name") for o in await _opds_for(request, doc["region_code"])}
    done = f"Pengaduan {new['_id']} didisposisikan ke {names.get(new['opd_id']) or new['opd_id']}."
    return await _acted(request, account, csrf, form, new, done)


async def archive(request: web.Request) -> web.Response:
    account, csrf, form = await _coordinator_form(request)
    staff = account.as_staff()
    doc = await _complaint(request, staff)
    try:
        fields = {"reason": form.get("reason", "").strip(), "forwarded_to": _text(form, "forwarded_to")}
        new = await complaints.archived(request, staff, doc, _validated(ArchiveBody, fields))
    except ProblemError as problem:
        return await _refused(request, account, csrf, form, problem)
    return await _acted(request, account, csrf, form, new, f"Pengaduan {new['_id']} diarsipkan.")


async def privacy(request: web.Request) -> web.Response:
    """The privacy flags as the form's checkboxes say: a tightened flag is set; one the complaint
    has but the form leaves unticked asks to loosen it, which the lifecycle refuses (DESIGN §3)."""
    account, csrf, form = await _coordinator_form(request)
    staff = account.as_staff()
    doc = await _complaint(request, staff)
    try:
        fields = {
            "anonymous": form.get("anonymous") == "ya",
            "confidential": form.get("confidential") == "ya",
        }
        if all(fields[f] == bool(doc.get(f)) for f in fields):
            return await _complaint_page(request, account, csrf, doc, notice="Tidak ada perubahan privasi.")
        new = await complaints.updated(request, staff, doc, _validated(UpdateBody, fields))
    except ProblemError as problem:
        return await _refused(request, account, csrf, form, problem)
    return await _acted(request, account, csrf, form, new, "Status privasi disimpan.")


# --- the OPD catalog and rule overrides ------------------------------------------------------------


async def _catalog_page(
    request: web.Request, account: Account, csrf: str, pemda: str, status: int = 200, **extra: Any
) -> web.Response:
    catalog = routing_of(request).catalog
    opds = await catalog.opds_of([pemda])
    names = {o["slug"]: o.get("name") for o in opds}
    rules = [
        {**r, "category_name": _category_name(r["category"]), "opd_name": names.get(r["opd_slug"])}
        for r in await catalog.rules_of(pemda)
    ]
    response = render(
        request,
        "coord_catalog.html",
        status,
        opds=opds,
        rules=rules,
        **_common(request, account, csrf, pemda),
        **extra,
    )
    issue_token(request, response, account)
    return response


async def catalog(request: web.Request) -> web.Response:
    account, csrf = await _coordinator(request)
    return await _catalog_page(request, account, csrf, _pemda(account, request.query.get("pemda")))


async def put_opd(request: web.Request) -> web.Response:
    account, csrf, form = await _coordinator_form(request)
    pemda = _pemda(account, form.get("pemda"))
    slug = form.get("slug", "").strip().lower()
    try:
        body = _validated(OpdBody, {"name": " ".join(form.get("name", "").split())})
        named = await admin.name_opd(request, account.as_staff(), pemda, slug, body)
    except ProblemError as problem:
        return await _catalog_page(request, account, csrf, pemda, 422, error=explained(problem))
    done = f"OPD {named['name']} ({named['opd_id']}) disimpan."
    return await _catalog_page(request, account, csrf, pemda, notice=done)


async def put_rule(request: web.Request) -> web.Response:
    account, csrf, form = await _coordinator_form(request)
    pemda = _pemda(account, form.get("pemda"))
    category = form.get("category", "")
    try:
        body = _validated(RuleBody, {"opd_slug": form.get("opd_slug", ""), "note": _text(form, "note")})
        ruled = await admin.set_rule(request, account.as_staff(), pemda, category, body)
    except ProblemError as problem:
        if problem.status == 404:  # the API's unknown category in the path: here a form field
            problem = ProblemError(
                422, errors=[FieldError(field="category", message="kategori tidak dikenal")]
            )
        return await _catalog_page(request, account, csrf, pemda, problem.status, error=explained(problem))
    done = f"Aturan {_category_name(category)} → {ruled['opd_id']} disimpan; berlaku untuk pengaduan baru."
    return await _catalog_page(request, account, csrf, pemda, notice=done)


async def delete_rule(request: web.Request) -> web.Response:
    account, csrf, form = await _coordinator_form(request)
    pemda = _pemda(account, form.get("pemda"))
    category = request.match_info["category"]
    try:
        await admin.remove_rule(request, account.as_staff(), pemda, category)
    except ProblemError as problem:
        message = "Aturan ini sudah tidak ada." if problem.status == 404 else explained(problem)
        return await _catalog_page(request, account, csrf, pemda, problem.status, error=message)
    done = f"Aturan {_category_name(category)} dihapus; kategori ini kembali mengikuti tabel baku."
    return await _catalog_page(request, account, csrf, pemda, notice=done)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/staff/triase", page(triage))
    r.add_get("/staff/triase/{id}", page(complaint))
    r.add_post("/staff/triase/{id}/disposisi", page(dispose))
    r.add_post("/staff/triase/{id}/arsip", page(archive))
    r.add_post("/staff/triase/{id}/privasi", page(privacy))
    r.add_get("/staff/katalog", page(catalog))
    r.add_post("/staff/katalog/opd", page(put_opd))
    r.add_post("/staff/katalog/aturan", page(put_rule))
    r.add_post("/staff/katalog/aturan/{category}/hapus", page(delete_rule))
