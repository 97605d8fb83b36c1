"""Open311 GeoReport v2 under /open311/v2/ (issue 4 item 6; http://wiki.open311.org/GeoReport_v2).

Every resource in JSON and XML by its suffix (`services.json`, `services.xml`, …); errors are the
spec's list of `{code, description}` with the HTTP status in `code`. Service codes are the
categories of DESIGN §4. What this server adds to the spec, announced in `discovery`:

- Where a POST is (DESIGN §6, Open311 location; open311_forms.py): `region_code` (an optional
  extension, top-level or `attribute[region_code]`) if given, else `jurisdiction_id` (a pemda
  code; `discovery` lists them all), else the deployment's default pemda
  (`INTAKE_DEFAULT_PEMDA`), else the province of `lat`/`long` (the nearest place in shipped
  GeoNames data, adapters/places.py), whose coordinator triages. The answer says which
  (`region_code`, `region_source`). Only a request with none of these is a 400. Optional
  attributes: `classification`, `anonymous`, `confidential`, `incident_date`.
- The spec has no title: one is derived from the service name and the description's first words.
- POST answers `service_request_id` at once (intake assigns ids synchronously), and also a spec
  `token` (tokens/{token} gives the id back), the citizen's private `access_token` and its
  `status_url` — the only way to follow a confidential complaint later.
- GET requests are public data only (DESIGN §3): never a confidential complaint; no description,
  address, coordinates or media (the public view has none of them); `region_code` at kab/kota.
  `status` is `closed` for resolved, closed and archived complaints, otherwise `open`;
  `expected_datetime` is the due of the current `response` clock; `agency_responsible` the OPD.
- Identity from the form (first/last name, phone, email) goes to the reporter record only;
  `device_id`, `account_id` and `media_url` are accepted and dropped; on GETs `jurisdiction_id`
  is accepted and ignored (one endpoint serves every pemda).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from services.intake.adapters import places
from services.intake.adapters.listing import public_conditions
from services.intake.domain.errors import IntakeError
from services.intake.domain.view import CalendarFor
from services.intake.entrypoints import ratelimit
from services.intake.entrypoints.edge import (
    ADAPTERS,
    CALENDARS,
    SETTINGS,
    accept_submission,
    base_url,
    problem,
)
from services.intake.entrypoints.listing import public_view
from services.intake.entrypoints.open311_format import (
    Handler,
    Open311Error,
    Reply,
    endpoint,
    error_reply,
    to_xml,
)
from services.intake.entrypoints.open311_forms import (
    derive_title,
    submission_and_region,
    submission_from_form,
)
from services.intake.entrypoints.open311_services import (
    BASE,
    CHANGESET,
    SPECIFICATION,
    service_definition,
    service_list,
)
from shared import clock
from shared.calendar import pemda_of
from shared.categories import CATEGORIES
from shared.regions import all_pemda
from shared.states import STATE_LABELS

# The names used from outside (intake's app, the tests); some live in the open311_* modules:
# open311_format (JSON/XML and the spec's errors), open311_services (the service list and
# definitions), open311_forms (the POST form as a submission), open311_docs (the OpenAPI paths).
__all__ = [
    "Open311Error",
    "Reply",
    "add_routes",
    "derive_title",
    "discovery",
    "endpoint",
    "error_reply",
    "parse_request_query",
    "request_item",
    "service_definition",
    "service_list",
    "submission_from_form",
    "to_xml",
]

CLOSED_STATES = ("resolved", "closed", "archived")
OPEN_STATES = tuple(s for s in STATE_LABELS if s not in CLOSED_STATES)
MAX_FORM_BYTES = 64 * 1024
MAX_IDS = 100
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


# --- services --------------------------------------------------------------------------------


async def discovery(request: web.Request) -> Reply:
    settings = request.app[SETTINGS].open311
    base = base_url(request)
    endpoint_doc = {
        "specification": SPECIFICATION,
        "url": base + BASE,
        "changeset": CHANGESET,
        "type": "production",
        "formats": ["application/json", "text/xml"],
    }
    default_pemda = request.app[SETTINGS].default_pemda
    extensions = [
        {
            "name": "region_code",
            "applies_to": "POST requests; GET requests",
            "description": (
                "Opsional saat mengirim: kode wilayah Kemendagri (mis. 33.74.01.1001), sebagai field "
                "region_code atau attribute[region_code]. Tanpanya wilayah diambil dari "
                "jurisdiction_id (kode pemda, lihat jurisdictions), lalu pemda bawaan server"
                + (f" ({default_pemda})" if default_pemda else "")
                + ", lalu provinsi dari lat/long (tempat terdekat; Admin Koordinator provinsi "
                "memverifikasi). Pada jawaban GET: wilayah sampai kab/kota."
            ),
        },
        {
            "name": "jurisdictions",
            "applies_to": "discovery; POST requests (jurisdiction_id)",
            "description": "Pemda yang dilayani: jurisdiction_id adalah kode provinsi atau kab/kota.",
        },
        {
            "name": "attribute[classification|anonymous|confidential|incident_date]",
            "applies_to": "POST requests",
            "description": "Atribut layanan opsional; lihat services/{service_code}",
        },
        {
            "name": "access_token, status_url, tracking_code, pin",
            "applies_to": "POST requests (jawaban)",
            "description": (
                "Token akses pribadi pelapor dan alamat status /api/v1/complaints/{id}; kode pelacakan "
                "dan PIN (sekali tampil) yang dapat diketik di POST /api/v1/tracking. Simpan untuk "
                "memantau pengaduan (satu-satunya jalan untuk pengaduan rahasia)."
            ),
        },
        {
            "name": "region_code, region_source",
            "applies_to": "POST requests (jawaban)",
            "description": (
                "Wilayah yang dipakai dan asalnya: region_code, jurisdiction_id, default (pemda "
                "bawaan server) atau lat/long (provinsi dari titik)."
            ),
        },
        {
            "name": "token",
            "applies_to": "POST requests (jawaban); tokens/{token}",
            "description": "service_request_id langsung diberikan; token tetap dapat ditukar dengannya.",
        },
    ]
    return Reply(
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": settings.contact,
            "key_service": settings.key_service,
            "endpoints": [endpoint_doc],
            "extensions": extensions,
            "default_jurisdiction_id": default_pemda or None,
            "jurisdictions": _jurisdictions(),
        },
    )


def _jurisdictions() -> list[dict[str, str]]:
    """Every pemda (DESIGN §4: each gets the standard OPD set), as Open311 jurisdictions."""
    return [
        {"jurisdiction_id": r.code, "name": r.name, "level": "provinsi" if r.level == 1 else "kabkota"}
        for r in all_pemda()
    ]


async def get_services(request: web.Request) -> Reply:
    _known_params(request.query, {"jurisdiction_id"})
    return Reply("services", service_list())


async def get_service_definition(request: web.Request) -> Reply:
    _known_params(request.query, {"jurisdiction_id"})
    code = request.match_info["code"]
    if code not in CATEGORIES:
        raise Open311Error(404, [f"service_code '{code}' tidak dikenal"])
    return Reply("service_definition", service_definition(code))


# --- POST requests -----------------------------------------------------------------------------


async def _read_form(request: web.Request) -> dict[str, str]:
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Open311Error(415, ["Content-Type harus application/x-www-form-urlencoded"])
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise Open311Error(413, [f"isi permintaan maksimal {MAX_FORM_BYTES} byte"])
    form = await request.post()
    values: dict[str, str] = {}
    for name in form:
        items = form.getall(name)
        if len(items) > 1:
            raise Open311Error(400, [f"{name}: hanya boleh satu nilai"])
        if not isinstance(items[0], str):
            raise Open311Error(400, [f"{name}: unggah berkas tidak didukung; gunakan media_url"])
        values[name] = items[0]
    return values


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 255 and key.isprintable()):
        raise Open311Error(400, ["Idempotency-Key: 1–255 karakter yang dapat dicetak"])
    return key


async def post_request(request: web.Request) -> Reply:
    form = await _read_form(request)
    api_key = form.get("api_key", "")
    await ratelimit.check_submit(request, credential=api_key)
    adapters = request.app[ADAPTERS]
    if await adapters.open311.client_of(api_key) is None:
        raise Open311Error(403, ["api_key tidak ada atau tidak sah"])
    # In a thread: the first request that needs lat/long reads the place data (half a second).
    body, region = await asyncio.to_thread(
        submission_and_region,
        form,
        default_pemda=request.app[SETTINGS].default_pemda,
        locate=places.province_at,
    )
    try:
        accepted = await accept_submission(request, body, _idempotency_key(request))
    except IntakeError as error:
        raise problem(error) from None  # in the spec's error format (open311_format.endpoint)
    token = await adapters.open311.token_for(accepted.id)
    notice = (
        "Pengaduan diterima dan segera diverifikasi (tenggat 3 hari kerja). Simpan access_token, atau "
        "kode pelacakan (tracking_code) dan PIN, untuk memantau status secara pribadi."
    )
    return Reply(
        "service_requests",
        [
            {
                "service_request_id": accepted.id,
                "token": token,
                "service_notice": notice,
                "account_id": None,
                "access_token": accepted.access_token,
                "status_url": accepted.status_url,
                "tracking_code": accepted.tracking_code,
                "pin": accepted.pin,
                "region_code": region.code,
                "region_source": region.source,
            }
        ],
        201,
    )


# --- GET requests ------------------------------------------------------------------------------

GET_PARAMS = {"jurisdiction_id", "service_request_id", "service_code", "start_date", "end_date", "status"}


def _known_params(query: MultiMapping[str], known: set[str]) -> None:
    unknown = sorted(set(query) - known)
    if unknown:
        raise Open311Error(400, [f"{name}: parameter tidak dikenal" for name in unknown])


MAX_LISTED = 100  # raw values of one filter (repeated and/or comma delimited)
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2100, 12, 31, tzinfo=UTC)


def _listed(query: MultiMapping[str], name: str) -> list[str]:
    """A filter that may be comma delimited and/or repeated (the spec allows both), de-duplicated;
    more than MAX_LISTED values is a 400."""
    values = [v.strip() for value in query.getall(name, []) for v in value.split(",") if v.strip()]
    if len(values) > MAX_LISTED:
        raise Open311Error(400, [f"{name}: paling banyak {MAX_LISTED} nilai"])
    return list(dict.fromkeys(values))


def _instant(query: MultiMapping[str], name: str, errors: list[str]) -> datetime | None:
    values = query.getall(name, [])
    if not values:
        return None
    try:
        parsed = datetime.fromisoformat(values[-1].strip())
    except ValueError:
        errors.append(f"{name}: format W3C dengan zona waktu, mis. 2026-01-01T00:00:00Z")
        return None
    if parsed.tzinfo is None:
        errors.append(f"{name}: sertakan zona waktu (Z atau +07:00)")
        return None
    try:
        inside = EARLIEST <= parsed <= LATEST
    except OverflowError:  # an offset that pushes the instant past year 1 or 9999
        inside = False
    if not inside:
        errors.append(f"{name}: harus antara tahun 1900 dan 2100")
        return None
    return parsed


@dataclass(frozen=True)
class RequestQuery:
    ids: list[str]
    codes: list[str]
    states: list[str]
    start: datetime
    end: datetime


def parse_request_query(query: MultiMapping[str], now: datetime, max_days: int) -> RequestQuery:
    _known_params(query, GET_PARAMS)
    errors: list[str] = []
    ids = _listed(query, "service_request_id")
    if len(ids) > MAX_IDS:
        errors.append(f"service_request_id: paling banyak {MAX_IDS} sekaligus")
    errors.extend(f"service_request_id: '{i}' bukan id pengaduan" for i in ids if not _ULID.match(i))
    codes = _listed(query, "service_code")
    errors.extend(f"service_code: '{c}' tidak dikenal" for c in codes if c not in CATEGORIES)
    states: list[str] = []
    for status in _listed(query, "status"):
        if status == "open":
            states.extend(OPEN_STATES)
        elif status == "closed":
            states.extend(CLOSED_STATES)
        else:
            errors.append(f"status: '{status}' tidak dikenal; gunakan open atau closed")
    start, end = _instant(query, "start_date", errors), _instant(query, "end_date", errors)
    span = timedelta(days=max_days)
    if start is None and end is None:
        end = now
    if end is None:
        end = min(now, start + span) if start is not None else now
    if start is None:
        start = end - span
    if start > end:
        errors.append("start_date: harus sebelum end_date")
    elif end - start > span:
        errors.append(f"end_date: rentang tanggal paling lama {max_days} hari")
    if errors:
        raise Open311Error(400, errors)
    return RequestQuery(ids, codes, sorted(set(states)), start, end)


def request_item(doc: dict[str, Any], now: datetime, calendar_for: CalendarFor) -> dict[str, Any]:
    """One service request as the public may see it (module docstring)."""
    view = public_view(doc, now, calendar_for)
    calendar = calendar_for(pemda_of(doc["region_code"]))
    requested = calendar.local(doc["submitted_at"])
    updated = max([requested, *(calendar.local(t.at) for t in view.timeline)])
    responses = sorted((d for d in view.deadlines if d.clock == "response"), key=lambda d: d.started_at)
    category = CATEGORIES.get(view.category or "")
    return {
        "service_request_id": view.id,
        "status": "closed" if view.status in CLOSED_STATES else "open",
        "status_notes": view.timeline[-1].summary if view.timeline else None,
        "service_name": category.name if category else None,
        "service_code": view.category,
        "description": None,
        "agency_responsible": view.opd_id,
        "service_notice": None,
        "requested_datetime": requested,
        "updated_datetime": updated,
        "expected_datetime": responses[-1].due_at if responses else None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
        "region_code": view.region_code,
    }


async def get_requests(request: web.Request) -> Reply:
    settings = request.app[SETTINGS].open311
    now = clock.now()
    query = parse_request_query(request.query, now, settings.max_days)
    listing = request.app[ADAPTERS].listing
    if query.ids:
        # The spec: a list of ids overrides every other filter.
        docs = await listing.by_ids(query.ids)
    else:
        conditions = public_conditions(
            category={"$in": query.codes} if query.codes else None,
            status={"$in": query.states} if query.states else None,
        )
        conditions["submitted_at"] = {"$gte": query.start, "$lte": query.end}
        slack = timedelta(seconds=1)  # an id's instant and submitted_at differ by microseconds
        page = await listing.page(
            conditions,
            limit=settings.max_requests,
            below=query.end + slack,
            floor=query.start - slack,
            first_window=timedelta(hours=1),
        )
        docs = page.docs
    calendar_for = request.app[CALENDARS].calendar_for
    return Reply("service_requests", [request_item(d, now, calendar_for) for d in docs])


async def get_request(request: web.Request) -> Reply:
    _known_params(request.query, {"jurisdiction_id"})
    request_id = request.match_info["id"]
    doc = await request.app[ADAPTERS].listing.one(request_id)
    if doc is None:
        raise Open311Error(404, [f"service_request_id '{request_id}' tidak ditemukan"])
    return Reply("service_requests", [request_item(doc, clock.now(), request.app[CALENDARS].calendar_for)])


async def get_token(request: web.Request) -> Reply:
    _known_params(request.query, {"jurisdiction_id"})
    token = request.match_info["token"]
    request_id = await request.app[ADAPTERS].open311.request_of(token)
    if request_id is None:
        raise Open311Error(404, [f"token '{token}' tidak ditemukan"])
    return Reply("service_requests", [{"service_request_id": request_id, "token": token}])


async def unknown_resource(request: web.Request) -> Reply:
    raise Open311Error(404, [f"sumber {request.path} tidak dikenal; lihat {BASE}/discovery.json"])


def _read_limited(handler: Handler) -> Handler:
    """`handler` behind the Open311 read limit (writes count against the submit limit)."""

    async def limited(request: web.Request) -> Reply:
        await ratelimit.check_open311_read(request)
        return await handler(request)

    return limited


def add_routes(app: web.Application) -> None:
    """Register the Open311 routes on intake's app; GETs count against the Open311 read limit."""
    routes = [
        ("GET", "/discovery.{fmt}", discovery),
        ("GET", "/services.{fmt}", get_services),
        ("GET", "/services/{code}.{fmt}", get_service_definition),
        ("GET", "/requests.{fmt}", get_requests),
        ("POST", "/requests.{fmt}", post_request),
        ("GET", "/requests/{id}.{fmt}", get_request),
        ("GET", "/tokens/{token}.{fmt}", get_token),
        ("GET", "/{tail:.*}", unknown_resource),
        ("POST", "/{tail:.*}", unknown_resource),
    ]
    for method, path, handler in routes:
        limited = _read_limited(handler) if method == "GET" else handler
        app.router.add_route(method, BASE + path, endpoint(limited))
