"""Public listing of complaints (DESIGN §3, §6): never confidential ones, never identity.

`GET /api/v1/complaints?region=&category=&status=&limit=&cursor=` → `{"items": [public views],
"next_cursor"}`, newest first. Items are the public view of DESIGN §3 (the same as a tokenless
`GET /api/v1/complaints/{id}`): region at kab/kota, no reporter identity, an anonymous complaint's
text-derived lines masked. `region=` is a province or kab/kota code and matches complaints in it or
anywhere below it; a deeper filter (kecamatan, desa) is refused, since it would reveal the village
the public view deliberately hides.

How pages are read (`_id` windows): services/intake/adapters/listing.py.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from ulid import ULID

from services.intake.adapters.listing import MAX_WINDOW, id_time, public_conditions
from services.intake.domain.view import CalendarFor, render
from services.intake.entrypoints.edge import ADAPTERS, CALENDARS, SETTINGS
from services.intake.models import ComplaintPage, ComplaintView
from services.intake.settings import ListingSettings
from shared import clock
from shared.categories import CATEGORIES
from shared.http import FieldError, ProblemError, json_response
from shared.regions import lookup
from shared.states import STATE_LABELS


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


def public_view(doc: dict[str, Any], now: datetime, calendar_for: CalendarFor) -> ComplaintView:
    """DESIGN §3's public view of a (non-confidential) complaint document: the one a tokenless
    `GET /api/v1/complaints/{id}` gives (region at kab/kota, anonymous text masked)."""
    return render(doc, now, calendar_for, "public")


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


async def list_complaints(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS].listing
    now = clock.now()
    query = parse_query(request.query, settings, now)
    # Complaint ids are ULIDs of the submission instant (intake's clock, also other processes').
    below: datetime | str = now + timedelta(minutes=1)
    first_window = timedelta(seconds=settings.first_window_seconds)
    if query.cursor is not None:
        below, first_window = query.cursor
    page = await request.app[ADAPTERS].listing.page(
        public_conditions(category=query.category, status=query.status, region=query.region),
        limit=query.limit,
        below=below,
        floor=settings.floor,
        first_window=first_window,
    )
    next_cursor = encode_cursor(page.docs[-1]["_id"], page.window) if page.more else None
    calendar_for = request.app[CALENDARS].calendar_for
    items = [public_view(d, now, calendar_for) for d in page.docs]
    return json_response(ComplaintPage(items=items, next_cursor=next_cursor))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/complaints", list_complaints)
