"""Public listing of complaints (DESIGN §3, §6): never confidential ones, never identity.

`GET /api/v1/complaints?region=&category=&status=&limit=&cursor=` → `{"items": [public views],
"next_cursor"}`, newest first. Items are the public view of DESIGN §3 (the same as a tokenless
`GET /api/v1/complaints/{id}`): region at kab/kota, no reporter identity, an anonymous complaint's
text-derived lines masked. `region=` is a province or kab/kota code and matches complaints in it or
anywhere below it; a deeper filter (kecamatan, desa) is refused, since it would reveal the village
the public view deliberately hides.

How pages are read. Complaint ids are ULIDs, so `_id` order is submission order and a page is
"the `limit` newest public complaints below the cursor". The database server we run here gathers a
query's whole match set before it applies `limit` (and a `hint` turns its index routing off), so a
newest-first query costs what it matches, however well indexed: ~1–10 pages/s at 50k complaints.
A page is therefore read in `_id` windows: the newest hour below the cursor, then windows four times
wider, until the page is full or the floor (`INTAKE_LISTING_FLOOR`, the service's start) is reached.
A window with one equality filter (`pemda` — a kab/kota is one value —, `category` or `status`) is
an exact range of `(confidential, <filter>, _id)`; other filters (a province, two filters together)
read the window through `_id` and check the rest. The cursor carries the last id and the window
that filled its page, so the next page starts at the right width. Measured here at 50k complaints
over 180 days (first page, pages/s, windows vs one query): no filter 75 vs 1, a busy kab/kota 57
vs 10, a category 33 vs 5, a status 47 vs 3, a province 41 vs 5, kab/kota + category 7 vs 1; a
kab/kota with almost no complaints 24 vs 123 (its windows grow to the floor). On MongoDB the same
queries are plain index scans with a limit.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from services.intake import docs
from services.intake.models import ComplaintView
from services.intake.store import CALENDARS
from services.intake.views import CalendarFor, render
from shared import clock
from shared.categories import CATEGORIES
from shared.http import FieldError, ProblemError, json_response
from shared.regions import lookup
from shared.runtime import INFRA
from shared.states import STATE_LABELS

# What a public view is built from: never the reporter, the token hash, the text or the location.
PUBLIC_FIELDS = {
    f: 1
    for f in (
        "status",
        "category",
        "region_code",
        "opd_id",
        "escalation_level",
        "deadlines",
        "timeline",
        "pemda",
        "anonymous",
        "confidential",
        "submitted_at",
    )
}
WINDOW_GROWTH = 4
MAX_WINDOW = timedelta(days=3660)


class ListingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_LISTING_", extra="ignore")

    # No complaint is older than this (the service's start): the oldest window a page reads.
    floor: datetime = datetime(2025, 1, 1, tzinfo=UTC)
    # Width of a page's first window when no cursor says better.
    first_window_seconds: int = 3600
    default_limit: int = 20
    max_limit: int = 100


class ComplaintPage(BaseModel):
    items: list[ComplaintView]
    next_cursor: str | None


# --- ids and windows ---------------------------------------------------------------------------


def id_floor(instant: datetime) -> str:
    """The smallest ULID of `instant`'s millisecond: `_id >= id_floor(t)` ⇔ submitted at or after t."""
    ms = max(0, int(instant.timestamp() * 1000))
    return str(ULID.from_bytes(ms.to_bytes(6, "big") + bytes(10)))


def id_time(ulid: str) -> datetime:
    return ULID.from_str(ulid).datetime


@dataclass(frozen=True)
class Page:
    docs: list[dict[str, Any]]
    more: bool
    window: timedelta  # the width that filled the page: where the next page starts


async def newest_first(
    collection: AsyncCollection[dict[str, Any]],
    conditions: dict[str, Any],
    projection: dict[str, Any],
    *,
    limit: int,
    below: datetime | str,
    floor: datetime,
    first_window: timedelta,
) -> Page:
    """Up to `limit` documents matching `conditions` with `_id` below `below` (an id, or an
    instant) and not before `floor`, newest first — read in growing `_id` windows (module doc)."""
    top = below if isinstance(below, str) else id_floor(below)
    top_time = id_time(top) if isinstance(below, str) else below
    bottom = id_floor(floor)
    window = min(max(first_window, timedelta(seconds=1)), MAX_WINDOW)
    found: list[dict[str, Any]] = []
    while top > bottom:
        reaches_floor = top_time - floor <= window
        low = bottom if reaches_floor else max(bottom, id_floor(top_time - window))
        # `_id` first: a server that routes a query by one of its fields takes the window.
        query = {"_id": {"$gte": low, "$lt": top}, **conditions}
        cursor = collection.find(query, projection).sort("_id", -1).limit(limit + 1 - len(found))
        found.extend(await cursor.to_list())
        if len(found) > limit or reaches_floor:
            break
        top, top_time = low, top_time - window
        window = min(window * WINDOW_GROWTH, MAX_WINDOW)
    return Page(found[:limit], len(found) > limit, window)


def encode_cursor(last_id: str, window: timedelta) -> str:
    raw = f"{last_id}.{int(window.total_seconds())}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_CURSOR = 64  # characters: base64 of a ULID, a dot and a window in seconds


def decode_cursor(
    cursor: str, *, floor: datetime | None = None, latest: datetime | None = None
) -> tuple[str, timedelta]:
    """(last id, window); ValueError when it is not one of ours, or (a forged one) names an
    instant before `floor` or after `latest`, which no page can continue from."""
    if len(cursor) > MAX_CURSOR:
        raise ValueError("kursor tidak valid; gunakan next_cursor dari halaman sebelumnya")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        last_id, _, seconds = raw.partition(".")
        ULID.from_str(last_id)
        window = int(seconds)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("kursor tidak valid; gunakan next_cursor dari halaman sebelumnya") from exc
    if len(last_id) != 26 or last_id != last_id.upper() or not 1 <= window <= MAX_WINDOW.total_seconds():
        raise ValueError("kursor tidak valid; gunakan next_cursor dari halaman sebelumnya")
    try:
        instant = id_time(last_id)
    except (ValueError, OverflowError):  # a ULID past year 9999: no id of ours
        raise ValueError("kursor tidak valid; gunakan next_cursor dari halaman sebelumnya") from None
    if (floor is not None and instant < floor) or (latest is not None and instant > latest):
        raise ValueError("kursor di luar rentang pengaduan; gunakan next_cursor dari halaman sebelumnya")
    return last_id, timedelta(seconds=window)


# --- the public view -------------------------------------------------------------------------


def public_view(doc: dict[str, Any], now: datetime, calendar_for: CalendarFor) -> ComplaintView:
    """DESIGN §3's public view of a (non-confidential) complaint document: the one a tokenless
    `GET /api/v1/complaints/{id}` gives (region at kab/kota, anonymous text masked)."""
    return render(doc, now, calendar_for, "public")


def region_condition(region: str) -> Any:
    """Complaints in `region` (a pemda) or below it, by their `pemda` (kab/kota, or the province
    for a province-level complaint): a kab/kota is one value; a province is itself and its kab/kota,
    which sort together as `33` < `33.01` < … < `33/`."""
    return region if "." in region else {"$gte": region, "$lt": region + "/"}


# --- the endpoint ----------------------------------------------------------------------------

SETTINGS = web.AppKey("listing_settings", ListingSettings)
QUERY_FIELDS = ("region", "category", "status", "limit", "cursor")


@dataclass(frozen=True)
class ListQuery:
    region: str | None
    category: str | None
    status: str | None
    limit: int
    cursor: tuple[str, timedelta] | None


def parse_query(
    query: MultiMapping[str], settings: ListingSettings, now: datetime | None = None
) -> ListQuery:
    """The listing's filters, or a 422 problem naming every bad one."""
    errors: list[FieldError] = []
    values: dict[str, str] = {}
    for name in sorted(set(query)):
        if name not in QUERY_FIELDS:
            errors.append(FieldError(field=name, message="parameter tidak dikenal"))
        elif len(query.getall(name)) > 1:
            errors.append(FieldError(field=name, message="hanya boleh satu nilai"))
        else:
            values[name] = query[name].strip()

    region = values.get("region") or None
    if region is not None:
        found = lookup(region)
        if found is None:
            errors.append(
                FieldError(field="region", message="kode wilayah Kemendagri tidak dikenal (contoh: 33.74)")
            )
        elif found.level > 2:
            errors.append(
                FieldError(
                    field="region",
                    message="filter wilayah hanya sampai provinsi atau kab/kota (contoh: 33.74)",
                )
            )
    category = values.get("category") or None
    if category is not None and category not in CATEGORIES:
        errors.append(
            FieldError(
                field="category", message=f"kategori tidak dikenal; pilih salah satu: {', '.join(CATEGORIES)}"
            )
        )
    status = values.get("status") or None
    if status is not None and status not in STATE_LABELS:
        errors.append(
            FieldError(
                field="status", message=f"status tidak dikenal; pilih salah satu: {', '.join(STATE_LABELS)}"
            )
        )
    limit = settings.default_limit
    if values.get("limit"):
        try:
            limit = int(values["limit"])
        except ValueError:
            limit = 0
        if not 1 <= limit <= settings.max_limit:
            errors.append(FieldError(field="limit", message=f"bilangan bulat 1–{settings.max_limit}"))
    cursor = None
    if values.get("cursor"):
        try:
            latest = (now or clock.now()) + timedelta(minutes=1)
            cursor = decode_cursor(values["cursor"], floor=settings.floor, latest=latest)
        except ValueError as exc:
            errors.append(FieldError(field="cursor", message=str(exc)))
    if errors:
        raise ProblemError(422, errors=errors)
    return ListQuery(region, category, status, limit, cursor)


def public_conditions(
    *, category: Any = None, status: Any = None, region: str | None = None
) -> dict[str, Any]:
    """Filter of public complaints; equality fields in the order of the indexes below."""
    conditions: dict[str, Any] = {"confidential": False}
    if category is not None:
        conditions["category"] = category
    if status is not None:
        conditions["status"] = status
    if region is not None:
        conditions["pemda"] = region_condition(region)
    return conditions


async def list_complaints(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    now = clock.now()
    query = parse_query(request.query, settings, now)
    # Complaint ids are ULIDs of the submission instant (intake's clock, also other processes').
    below: datetime | str = now + timedelta(minutes=1)
    first_window = timedelta(seconds=settings.first_window_seconds)
    if query.cursor is not None:
        below, first_window = query.cursor
    page = await newest_first(
        request.app[INFRA].db["complaints"],
        public_conditions(category=query.category, status=query.status, region=query.region),
        PUBLIC_FIELDS,
        limit=query.limit,
        below=below,
        floor=settings.floor,
        first_window=first_window,
    )
    next_cursor = encode_cursor(page.docs[-1]["_id"], page.window) if page.more else None
    calendar_for = request.app[CALENDARS].calendar_for
    items = [public_view(d, now, calendar_for) for d in page.docs]
    return json_response(ComplaintPage(items=items, next_cursor=next_cursor))


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    """One index per equality filter, `_id` last (the windows). Filters combined read their
    windows through `_id` alone: every index costs every submit a write, so not all 8 combinations."""
    complaints = db["complaints"]
    for equalities in ((), ("pemda",), ("category",), ("status",)):
        keys = [("confidential", ASCENDING), *((f, ASCENDING) for f in equalities), ("_id", ASCENDING)]
        await complaints.create_index(keys)


def add_routes(app: web.Application) -> None:
    """Register this module's routes on intake's app (and the browsable docs)."""
    app[SETTINGS] = ListingSettings()
    app.router.add_get("/api/v1/complaints", list_complaints)
    docs.add_routes(app)
    docs.document(app, OPENAPI_PATHS)


_EXAMPLE_PAGE = {
    "items": [
        {
            "id": "01KDVDNA00Y1HZ1G6WHQ1ZZJPH",
            "status": "assigned",
            "category": "jalan-jembatan",
            "region_code": "33.74",
            "opd_id": "33.74/dinas-pupr",
            "escalation_level": 0,
            "deadlines": [
                {
                    "clock": "response",
                    "opd_id": "33.74/dinas-pupr",
                    "started_at": "2026-03-02T10:15:00+07:00",
                    "due_at": "2026-03-10T00:00:00+07:00",
                    "remaining_seconds": 302400,
                    "state": "running",
                }
            ],
            "timeline": [
                {
                    "at": "2026-03-02T10:14:58+07:00",
                    "type": "ComplaintReceived",
                    "summary": "Pengaduan diterima dan menunggu verifikasi",
                },
                {
                    "at": "2026-03-02T10:15:00+07:00",
                    "type": "ComplaintAssigned",
                    "summary": "Didisposisikan ke 33.74/dinas-pupr",
                },
            ],
        }
    ],
    "next_cursor": "MDFLRFZETkEwMFkxSFoxRzZXSFExWlpKUEguMzYwMA",
}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/complaints": {
        "get": {
            "summary": "Daftar pengaduan publik",
            "description": (
                "Pengaduan terbaru lebih dulu, tampilan publik (DESIGN §3): tanpa identitas pelapor, "
                "wilayah sampai kab/kota; pengaduan rahasia tidak pernah tercantum. Halaman berikutnya "
                "dengan `cursor=<next_cursor>`."
            ),
            "parameters": [
                {
                    "name": "region",
                    "in": "query",
                    "description": "Kode provinsi atau kab/kota; mencakup semua wilayah di bawahnya",
                    "schema": {"type": "string"},
                    "example": "33.74",
                },
                {
                    "name": "category",
                    "in": "query",
                    "description": "Kode kategori (DESIGN §4)",
                    "schema": {"type": "string", "enum": list(CATEGORIES)},
                    "example": "jalan-jembatan",
                },
                {
                    "name": "status",
                    "in": "query",
                    "description": "Status siklus pengaduan",
                    "schema": {"type": "string", "enum": list(STATE_LABELS)},
                    "example": "in_progress",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "description": "Jumlah per halaman (1–100, bawaan 20)",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    "example": 20,
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "description": "`next_cursor` dari halaman sebelumnya",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "Satu halaman pengaduan publik",
                    "content": {
                        "application/json": {
                            "schema": ComplaintPage.model_json_schema(),
                            "example": _EXAMPLE_PAGE,
                        }
                    },
                },
                "422": {"$ref": "#/components/responses/Problem"},
            },
        }
    }
}
