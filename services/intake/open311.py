"""Open311 GeoReport v2 under /open311/v2/ (issue 4 item 6; http://wiki.open311.org/GeoReport_v2).

Every resource in JSON and XML by its suffix (`services.json`, `services.xml`, …); errors are the
spec's list of `{code, description}` with the HTTP status in `code`. Service codes are the
categories of DESIGN §4. What this server adds to the spec, announced in `discovery`:

- `region_code` (required on POST): the spec has no region and lat/long cannot be turned into a
  Kemendagri code exactly with the data we have, so the client names it — as a top-level field or as
  the service attribute `attribute[region_code]` (every service definition lists it). Optional
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
  `device_id`, `account_id` and `media_url` are accepted and dropped; `jurisdiction_id` is accepted
  and ignored (one endpoint serves every pemda).
"""

from __future__ import annotations

import json
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from services.intake import apikeys, docs, listing, ratelimit
from services.intake.commands import base_url
from services.intake.models import SubmitComplaint
from services.intake.store import CALENDARS
from services.intake.views import STATUS_LABELS, CalendarFor
from shared.calendar import pemda_of
from shared.categories import CATEGORIES, CLASSIFICATIONS
from shared.http import ProblemError
from shared.runtime import INFRA

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-23T00:00:00Z"
FORMATS = {"json": "application/json", "xml": "text/xml"}
BASE = "/open311/v2"
TOKENS = "open311_tokens"
CLOSED_STATES = ("resolved", "closed", "archived")
OPEN_STATES = tuple(s for s in STATUS_LABELS if s not in CLOSED_STATES)
MAX_FORM_BYTES = 64 * 1024
MAX_IDS = 100
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_TITLE_WORDS = 12


class Open311Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_OPEN311_", extra="ignore")

    # Seeded as a valid key at start-up (the local run; deployments issue keys with the admin command).
    api_key: str = Field(
        default="", validation_alias=AliasChoices("OPEN311_API_KEY", "INTAKE_OPEN311_API_KEY")
    )
    contact: str = "Layanan pengaduan pemerintah daerah — hubungi admin koordinator pemda Anda"
    key_service: str = (
        "Kunci API diterbitkan oleh admin: python -m services.intake.apikeys issue --name <nama-klien>"
    )
    # Most service requests one GET requests answers (newest first), and its widest date range.
    max_requests: int = 200
    max_days: int = 90


SETTINGS = web.AppKey("open311_settings", Open311Settings)


# --- errors and rendering --------------------------------------------------------------------


@dataclass
class Open311Error(Exception):
    """Answered as the spec's error list; `status` is also each error's `code`."""

    status: int
    descriptions: list[str]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    root: str  # the XML root element; JSON is `data` itself
    data: Any
    status: int = 200


# A JSON list inside an XML element: the element name of each item (the spec's names).
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "extensions": "extension",
}


def to_xml(root: str, data: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, data)
    document: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return document


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEM_TAGS[element.tag]), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, datetime):
        element.text = value.isoformat()
    elif value is not None:
        element.text = str(value)


def render(fmt: str, reply: Reply, headers: Mapping[str, str] | None = None) -> web.Response:
    body = to_xml(reply.root, reply.data) if fmt == "xml" else _dumps(reply.data).encode()
    return web.Response(
        body=body, status=reply.status, content_type=FORMATS[fmt], charset="utf-8", headers=headers
    )


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=lambda v: v.isoformat())


def error_reply(status: int, descriptions: list[str]) -> Reply:
    return Reply("errors", [{"code": status, "description": d} for d in descriptions], status)


def from_problem(exc: ProblemError) -> Open311Error:
    """A problem raised by shared code (rate limit, idempotency, Kafka down) in the spec's shape."""
    descriptions = [f"{e.field}: {e.message}" for e in exc.errors] if exc.errors else [exc.detail or str(exc)]
    return Open311Error(exc.status, descriptions, dict(exc.headers))


Handler = Callable[[web.Request], Awaitable[Reply]]


def endpoint(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def respond(request: web.Request) -> web.Response:
        fmt = request.match_info.get("fmt", "json")
        if fmt not in FORMATS:
            return render(
                "json", error_reply(404, [f"format '{fmt}' tidak didukung; gunakan .json atau .xml"])
            )
        try:
            return render(fmt, await handler(request))
        except ProblemError as exc:
            error = from_problem(exc)
        except Open311Error as exc:
            error = exc
        return render(fmt, error_reply(error.status, error.descriptions), error.headers)

    return respond


# --- services --------------------------------------------------------------------------------

_LEVEL_GROUP = {"kabkota": "Urusan kabupaten/kota", "provinsi": "Urusan provinsi"}


def service_list() -> list[dict[str, Any]]:
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": f"{c.name}: {c.covers}",
            "metadata": True,  # the attributes below, region_code required
            "type": "realtime",
            "keywords": c.covers,
            "group": _LEVEL_GROUP[c.level],
        }
        for c in CATEGORIES.values()
    ]


_YES_NO = [{"key": "false", "name": "Tidak"}, {"key": "true", "name": "Ya"}]


def _attribute(
    order: int,
    code: str,
    description: str,
    *,
    datatype: str = "singlevaluelist",
    required: bool = False,
    datatype_description: str | None = None,
    values: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    found = {
        "variable": True,
        "code": code,
        "datatype": datatype,
        "required": required,
        "datatype_description": datatype_description,
        "order": order,
        "description": description,
    }
    return found | ({"values": values} if values else {})


def service_definition(code: str) -> dict[str, Any]:
    classifications = [{"key": c, "name": c.replace("-", " ").capitalize()} for c in CLASSIFICATIONS]
    attributes = [
        _attribute(
            1,
            "region_code",
            "Wilayah lokasi masalah: provinsi, kab/kota, kecamatan atau desa/kelurahan",
            datatype="string",
            required=True,
            datatype_description="Kode wilayah Kemendagri bertitik, contoh 33.74.01.1001",
        ),
        _attribute(2, "classification", "Jenis laporan (bawaan: pengaduan)", values=classifications),
        _attribute(
            3,
            "anonymous",
            "Anonim: identitas pelapor tidak pernah ditunjukkan kepada OPD maupun publik",
            values=_YES_NO,
        ),
        _attribute(
            4,
            "confidential",
            "Rahasia: pengaduan tidak pernah tampil di daftar atau status publik",
            values=_YES_NO,
        ),
        _attribute(
            5,
            "incident_date",
            "Tanggal kejadian",
            datatype="string",
            datatype_description="Tanggal YYYY-MM-DD, tidak di masa depan",
        ),
    ]
    return {"service_code": code, "attributes": attributes}


ATTRIBUTES = ("region_code", "classification", "anonymous", "confidential", "incident_date")


async def discovery(request: web.Request) -> Reply:
    settings = request.app[SETTINGS]
    base = base_url(request)
    endpoint_doc = {
        "specification": SPECIFICATION,
        "url": base + BASE,
        "changeset": CHANGESET,
        "type": "production",
        "formats": ["application/json", "text/xml"],
    }
    extensions = [
        {
            "name": "region_code",
            "applies_to": "POST requests; GET requests",
            "description": (
                "Wajib saat mengirim: kode wilayah Kemendagri (mis. 33.74.01.1001), sebagai field "
                "region_code atau attribute[region_code]. Pada jawaban GET: wilayah sampai kab/kota."
            ),
        },
        {
            "name": "attribute[classification|anonymous|confidential|incident_date]",
            "applies_to": "POST requests",
            "description": "Atribut layanan opsional; lihat services/{service_code}",
        },
        {
            "name": "access_token, status_url",
            "applies_to": "POST requests (jawaban)",
            "description": (
                "Token akses pribadi pelapor dan alamat status /api/v1/complaints/{id}; simpan token "
                "untuk memantau pengaduan (satu-satunya jalan untuk pengaduan rahasia)."
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
        },
    )


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

# The spec's POST parameters (grouped as it describes them), and our extension `region_code`.
_REQUEST = ("jurisdiction_id", "api_key", "service_code", "description", "media_url")
_LOCATION = ("lat", "long", "address_string", "address_id")
_PERSON = ("email", "device_id", "account_id", "first_name", "last_name", "phone")
POST_PARAMS = frozenset((*_REQUEST, *_LOCATION, *_PERSON, "region_code"))
# Where a SubmitComplaint field came from in the form, to name it in an error.
FORM_NAMES = {
    "title": "description",
    "category": "service_code",
    "location": "lat",
    "location.lat": "lat",
    "location.lon": "long",
    "address": "address_string",
    "reporter.name": "first_name",
    "reporter.phone": "phone",
    "reporter.email": "email",
    **{a: f"attribute[{a}]" for a in ("classification", "anonymous", "confidential", "incident_date")},
}


def derive_title(category_name: str, description: str) -> str:
    """The spec has no title: the service name and the description's first words (≤ 150 chars)."""
    words = description.split()
    head = " ".join(words[:_TITLE_WORDS])
    if len(words) > _TITLE_WORDS:
        head += "…"
    title = f"{category_name}: {head}" if head else category_name
    return title if len(title) <= 150 else title[:149].rstrip() + "…"


def _flag(name: str, value: str | None, errors: list[str]) -> bool:
    if value is None or value == "":
        return False
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    errors.append(f"attribute[{name}]: isi dengan true atau false")
    return False


def _number(name: str, value: str, errors: list[str]) -> float | None:
    try:
        return float(value)
    except ValueError:
        errors.append(f"{name}: harus berupa angka desimal")
        return None


def submission_from_form(form: Mapping[str, str]) -> SubmitComplaint:
    """A spec GeoReport v2 POST as intake's submission, or Open311Error(400) naming each bad field."""
    errors: list[str] = []
    attributes: dict[str, str] = {}
    for name, value in form.items():
        match = re.fullmatch(r"attribute\[([^\]]+)\]", name)
        if match:
            if match.group(1) in ATTRIBUTES:
                attributes[match.group(1)] = value.strip()
            else:
                errors.append(f"{name}: atribut tidak dikenal; lihat services/{{service_code}}")
        elif name not in POST_PARAMS:
            errors.append(f"{name}: parameter tidak dikenal")

    def text(name: str) -> str | None:
        value = form.get(name, "").strip()
        return value or None

    service_code = text("service_code")
    category = CATEGORIES.get(service_code or "")
    if service_code is None:
        errors.append("service_code: wajib diisi")
    elif category is None:
        errors.append(f"service_code: '{service_code}' tidak dikenal; lihat services.json")

    lat, long = text("lat"), text("long")
    location = None
    if (lat is None) != (long is None):
        errors.append(f"{'long' if lat else 'lat'}: lat dan long harus diisi berdua")
    elif lat is not None and long is not None:
        lat_value, long_value = _number("lat", lat, errors), _number("long", long, errors)
        if lat_value is not None and long_value is not None:
            location = {"lat": lat_value, "lon": long_value}
    if lat is None and text("address_string") is None and text("address_id") is None:
        errors.append("lat: lokasi wajib: lat dan long, address_string, atau address_id")

    region_top, region_attr = text("region_code"), attributes.get("region_code") or None
    if region_top and region_attr and region_top != region_attr:
        errors.append("region_code: berbeda dengan attribute[region_code]")
    region = region_top or region_attr
    if region is None:
        errors.append("region_code: wajib diisi (ekstensi: kode wilayah Kemendagri, mis. 33.74.01.1001)")

    description = text("description") or ""
    full_name = " ".join(p for p in (text("first_name"), text("last_name")) if p) or None
    reporter = {
        k: v for k, v in (("name", full_name), ("phone", text("phone")), ("email", text("email"))) if v
    }
    submission: dict[str, Any] = {
        "title": derive_title(category.name if category else "Pengaduan", description),
        "description": description,
        "category": service_code,
        "region_code": region or "",
        "location": location,
        "address": text("address_string"),
        "incident_date": attributes.get("incident_date") or None,
        "classification": attributes.get("classification") or "pengaduan",
        "anonymous": _flag("anonymous", attributes.get("anonymous"), errors),
        "confidential": _flag("confidential", attributes.get("confidential"), errors),
        "reporter": reporter or None,
        "channel": "open311",
    }
    try:
        body = SubmitComplaint.model_validate(submission)
    except ValidationError as exc:
        reported = {e.split(":", 1)[0] for e in errors}
        for err in exc.errors(include_url=False):
            path = ".".join(str(p) for p in err["loc"])
            form_name = FORM_NAMES.get(path, FORM_NAMES.get(path.split(".")[0], path))
            if form_name in reported:
                continue
            reported.add(form_name)
            errors.append(f"{form_name}: {err['msg'].removeprefix('Value error, ')}")
        raise Open311Error(400, errors) from exc
    if errors:
        raise Open311Error(400, errors)
    return body


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
    from services.intake.app import accept_submission

    form = await _read_form(request)
    api_key = form.get("api_key", "")
    await ratelimit.check_submit(request, credential=api_key)
    db = request.app[INFRA].db
    if await apikeys.client_of(db, api_key) is None:
        raise Open311Error(403, ["api_key tidak ada atau tidak sah"])
    body = submission_from_form(form)
    accepted = await accept_submission(request.app, body, _idempotency_key(request), base_url(request))
    token = await _token_for(db, accepted.id)
    notice = (
        "Pengaduan diterima dan segera diverifikasi (tenggat 3 hari kerja). Simpan access_token untuk "
        "memantau status secara pribadi."
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
            }
        ],
        201,
    )


async def _token_for(db: AsyncDatabase[dict[str, Any]], request_id: str) -> str:
    """The spec token of a request: one per request, so a replayed POST gets the same one."""
    found = await db[TOKENS].find_one_and_update(
        {"service_request_id": request_id},
        {
            "$setOnInsert": {
                "_id": secrets.token_urlsafe(16),
                "service_request_id": request_id,
                "created_at": datetime.now(UTC),
            }
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    if found is None:  # an upsert that returns the document after it always has one
        raise RuntimeError(f"no Open311 token stored for {request_id}")
    return str(found["_id"])


# --- GET requests ------------------------------------------------------------------------------

GET_PARAMS = {"jurisdiction_id", "service_request_id", "service_code", "start_date", "end_date", "status"}


def _known_params(query: MultiMapping[str], known: set[str]) -> None:
    unknown = sorted(set(query) - known)
    if unknown:
        raise Open311Error(400, [f"{name}: parameter tidak dikenal" for name in unknown])


def _listed(query: MultiMapping[str], name: str) -> list[str]:
    """A filter that may be comma delimited and/or repeated (the spec allows both)."""
    return [v.strip() for value in query.getall(name, []) for v in value.split(",") if v.strip()]


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
    view = listing.public_view(doc, now, calendar_for)
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
    settings = request.app[SETTINGS]
    now = datetime.now(UTC)
    query = parse_request_query(request.query, now, settings.max_days)
    complaints = request.app[INFRA].db["complaints"]
    if query.ids:
        # The spec: a list of ids overrides every other filter.
        found = complaints.find({"_id": {"$in": query.ids}, "confidential": False}, listing.PUBLIC_FIELDS)
        docs_ = sorted(await found.to_list(), key=lambda d: d["_id"], reverse=True)
    else:
        conditions = listing.public_conditions(
            category={"$in": query.codes} if query.codes else None,
            status={"$in": query.states} if query.states else None,
        )
        conditions["submitted_at"] = {"$gte": query.start, "$lte": query.end}
        slack = timedelta(seconds=1)  # an id's instant and submitted_at differ by microseconds
        page = await listing.newest_first(
            complaints,
            conditions,
            listing.PUBLIC_FIELDS,
            limit=settings.max_requests,
            below=query.end + slack,
            floor=query.start - slack,
            first_window=timedelta(hours=1),
        )
        docs_ = page.docs
    calendar_for = request.app[CALENDARS].calendar_for
    return Reply("service_requests", [request_item(d, now, calendar_for) for d in docs_])


async def get_request(request: web.Request) -> Reply:
    _known_params(request.query, {"jurisdiction_id"})
    request_id = request.match_info["id"]
    doc = (
        await request.app[INFRA]
        .db["complaints"]
        .find_one({"_id": request_id, "confidential": False}, listing.PUBLIC_FIELDS)
    )
    if doc is None:
        raise Open311Error(404, [f"service_request_id '{request_id}' tidak ditemukan"])
    return Reply(
        "service_requests", [request_item(doc, datetime.now(UTC), request.app[CALENDARS].calendar_for)]
    )


async def get_token(request: web.Request) -> Reply:
    _known_params(request.query, {"jurisdiction_id"})
    token = request.match_info["token"]
    found = await request.app[INFRA].db[TOKENS].find_one({"_id": token})
    if found is None:
        raise Open311Error(404, [f"token '{token}' tidak ditemukan"])
    return Reply("service_requests", [{"service_request_id": found["service_request_id"], "token": token}])


async def unknown_resource(request: web.Request) -> Reply:
    raise Open311Error(404, [f"sumber {request.path} tidak dikenal; lihat {BASE}/discovery.json"])


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Indexes this module's queries need, and the local run's key from `OPEN311_API_KEY`."""
    await apikeys.ensure_indexes(db)
    await db[TOKENS].create_index("service_request_id", unique=True)
    key = Open311Settings().api_key
    if key:
        await apikeys.seed(db, key)


async def _prepare(app: web.Application) -> None:
    # Runs after the infrastructure is open (the app's cleanup context starts first).
    await ensure_indexes(app[INFRA].db)


def add_routes(app: web.Application) -> None:
    """Register this module's routes on intake's app (and the submit rate limits); its indexes and
    the seeded key are made at start-up."""
    app[SETTINGS] = Open311Settings()
    ratelimit.install(app)
    app.on_startup.append(_prepare)
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
        app.router.add_route(method, BASE + path, endpoint(handler))
    docs.document(app, OPENAPI_PATHS)


# --- OpenAPI --------------------------------------------------------------------------------------


def _param(name: str, where: str, description: str, example: str | None = None) -> dict[str, Any]:
    found = {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": {"type": "string"},
    }
    return found | ({"example": example} if example is not None else {})


_FMT = _param("fmt", "path", "Format jawaban: json atau xml", "json") | {
    "schema": {"type": "string", "enum": ["json", "xml"]}
}
_ID = "01KDVDNA00Y1HZ1G6WHQ1ZZJPH"
_ERRORS = {
    "description": "Kesalahan (daftar {code, description} sesuai spesifikasi)",
    "content": {
        "application/json": {"example": [{"code": 400, "description": "service_code: wajib diisi"}]},
        "text/xml": {
            "example": "<?xml version='1.0' encoding='utf-8'?>\n<errors><error><code>400</code>"
            "<description>service_code: wajib diisi</description></error></errors>"
        },
    },
}
_EXAMPLE_REQUEST = {
    "service_request_id": _ID,
    "status": "open",
    "status_notes": "Didisposisikan ke 33.74/dinas-pupr",
    "service_name": "Jalan dan Jembatan",
    "service_code": "jalan-jembatan",
    "description": None,
    "agency_responsible": "33.74/dinas-pupr",
    "service_notice": None,
    "requested_datetime": "2026-03-02T10:14:58+07:00",
    "updated_datetime": "2026-03-02T10:15:00+07:00",
    "expected_datetime": "2026-03-10T00:00:00+07:00",
    "address": None,
    "address_id": None,
    "zipcode": None,
    "lat": None,
    "long": None,
    "media_url": None,
    "region_code": "33.74",
}
_EXAMPLE_FORM = (
    "api_key=o311_contoh&service_code=jalan-jembatan&lat=-6.9932&long=110.4203"
    "&address_string=Jl.+Pemuda+No.+12,+Semarang&region_code=33.74.01.1001"
    "&description=Lubang+besar+di+depan+SD+Negeri+2+sudah+dua+minggu+membahayakan+motor"
    "&first_name=Sari&last_name=Wulandari&phone=0812-3456-7890"
)
_EXAMPLE_CREATED = {
    "service_request_id": _ID,
    "token": "k3J9c2VjcmV0LXRva2Vu",
    "account_id": None,
    "service_notice": "Pengaduan diterima dan segera diverifikasi (tenggat 3 hari kerja).",
    "access_token": "rahasia-pelapor",
    "status_url": f"http://127.0.0.1:8081/api/v1/complaints/{_ID}",
}


def _operation(summary: str, description: str, status: str, example: Any, *params: dict[str, Any]) -> Any:
    return {
        "tags": ["Open311 GeoReport v2"],
        "summary": summary,
        "description": description,
        "parameters": [_FMT, *params],
        "responses": {
            status: {"description": "OK", "content": {"application/json": {"example": example}}},
            **{code: _ERRORS for code in ("400", "404")},
        },
    }


_POST = _operation(
    "Open311: kirim pengaduan (form, dengan api_key)",
    "Form application/x-www-form-urlencoded sesuai spesifikasi. Ekstensi: region_code wajib. Judul "
    "diturunkan dari layanan dan deskripsi. Header Idempotency-Key didukung.",
    "201",
    [_EXAMPLE_CREATED],
)
_POST["requestBody"] = {"content": {"application/x-www-form-urlencoded": {"example": _EXAMPLE_FORM}}}
_POST["responses"] |= {code: _ERRORS for code in ("403", "413", "415", "429", "503")}

OPENAPI_PATHS: dict[str, Any] = {
    BASE + "/discovery.{fmt}": {
        "get": _operation(
            "Open311: penemuan layanan (discovery)",
            "Titik akhir, format dan ekstensi server ini (region_code, access_token).",
            "200",
            {"changeset": CHANGESET, "endpoints": [{"specification": SPECIFICATION, "type": "production"}]},
        )
    },
    BASE + "/services.{fmt}": {
        "get": _operation(
            "Open311: daftar layanan (kategori pengaduan)",
            "Setiap kategori DESIGN §4 adalah satu service_code.",
            "200",
            service_list()[:1],
        )
    },
    BASE + "/services/{code}.{fmt}": {
        "get": _operation(
            "Open311: definisi layanan dan atributnya",
            "Atribut attribute[region_code] wajib; lainnya opsional.",
            "200",
            service_definition("jalan-jembatan"),
            _param("code", "path", "service_code", "kependudukan"),
        )
    },
    BASE + "/requests.{fmt}": {
        "get": _operation(
            "Open311: cari pengaduan publik",
            "Hanya data publik; pengaduan rahasia tidak pernah tampil. Terbaru lebih dulu, paling banyak "
            "200, rentang tanggal paling lama 90 hari (bawaan: 90 hari terakhir).",
            "200",
            [_EXAMPLE_REQUEST],
            _param("service_request_id", "query", "Id dipisah koma (mengabaikan filter lain)", _ID),
            _param("service_code", "query", "Kategori, dipisah koma", "jalan-jembatan,air-minum"),
            _param(
                "start_date", "query", "Waktu paling awal (W3C, dengan zona)", "2026-03-01T00:00:00+07:00"
            ),
            _param("end_date", "query", "Waktu paling akhir (W3C, dengan zona)", "2026-03-31T23:59:59+07:00"),
            _param("status", "query", "open atau closed, dipisah koma", "open"),
        ),
        "post": _POST,
    },
    BASE + "/requests/{id}.{fmt}": {
        "get": _operation(
            "Open311: satu pengaduan publik",
            "Pengaduan rahasia menjawab 404.",
            "200",
            [_EXAMPLE_REQUEST],
            _param("id", "path", "service_request_id", _ID),
        )
    },
    BASE + "/tokens/{token}.{fmt}": {
        "get": _operation(
            "Open311: token → service_request_id",
            "Menukar token dari jawaban POST dengan id pengaduan.",
            "200",
            [{"service_request_id": _ID, "token": "k3J9c2VjcmV0LXRva2Vu"}],
            _param("token", "path", "token dari jawaban POST", "k3J9c2VjcmV0LXRva2Vu"),
        )
    },
}
