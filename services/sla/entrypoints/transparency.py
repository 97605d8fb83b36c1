"""The public transparency page (transparan, akuntabel), without signing in:
`GET /transparansi` (HTML with a server-rendered SVG chart), `GET /api/v1/public/transparency`
(JSON, or CSV with `format=csv`: open data).

Per pemda (`?pemda=`, its own row and its OPDs') or, without one, every pemda; by month
(`from`/`to` as `YYYY-MM`). Reads only the monthly counters (domain/monthly.py), at most
(OPDs + 1) × months small documents on an index (every pemda: pemdas × months, 6,624 for a
year), each once, never a complaint: its cost does not depend on how many complaints there are
(bench/transparency.py). Answers are cached in the process for `SLA_PUBLIC_CACHE_SECONDS` and
carry `Cache-Control` and an `ETag` (a matching `If-None-Match` is a 304), so a crowd reading
the page costs one read per period.

What the page shows is counts and figures derived from counts: no complaint id, text or identity
exists in the counters, so none can leak, and a confidential complaint is only a count
(DESIGN §3).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic_core import to_json

from services.sla.domain.monthly import months_between
from services.sla.domain.transparency import Doc, Figures, ScopeFigures, scope_figures, summed, tally
from services.sla.entrypoints.dashboard import STATIC_DIR
from services.sla.entrypoints.report_params import (
    Column,
    csv_response,
    guarded,
    months_param,
    pemda_param,
    reader,
    reading_instant,
    wants_csv,
)
from shared.http import browser_headers, database_free
from shared.regions import lookup
from shared.survey import CURRENT

PAGE = "/transparansi"
CSS = "/transparansi/transparansi.css"
API_PATH = "/api/v1/public/transparency"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
Made = tuple[bytes, str, dict[str, str]]  # body, content type, headers
CACHE_ENTRIES = 512  # distinct (pemda, period, format) answers kept; the oldest go first


@dataclass
class Cached:
    expires: float
    body: bytes
    content_type: str
    etag: str
    headers: dict[str, str]


@dataclass
class PublicCache:
    """Answers by their normalised request, for `ttl` seconds (monotonic clock), bounded."""

    ttl: float = 60.0
    entries: OrderedDict[tuple[str, ...], Cached] = field(default_factory=OrderedDict)
    reads: int = 0  # counter reads made (tests and the bench see the cache work)
    now: Callable[[], float] = time.monotonic
    # A cold answer being made, by key: a burst of requests for it (a link shared on social
    # media, a crawler) waits for that one instead of each reading the counters again.
    making: dict[tuple[str, ...], asyncio.Future[Cached]] = field(default_factory=dict)

    def get(self, key: tuple[str, ...]) -> Cached | None:
        found = self.entries.get(key)
        if found is None or found.expires <= self.now():
            self.entries.pop(key, None)
            return None
        return found

    def put(self, key: tuple[str, ...], body: bytes, content_type: str, headers: dict[str, str]) -> Cached:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        cached = Cached(self.now() + self.ttl, body, content_type, etag, headers)
        self.entries[key] = cached
        self.entries.move_to_end(key)
        while len(self.entries) > CACHE_ENTRIES:
            self.entries.popitem(last=False)
        return cached

    async def get_or_make(self, key: tuple[str, ...], make: Callable[[], Awaitable[Made]]) -> Cached:
        found = self.get(key)
        if found is not None:
            return found
        running = self.making.get(key)
        if running is None:
            running = asyncio.ensure_future(self._make(key, make))
            self.making[key] = running
            running.add_done_callback(lambda done: self._made(key, done))
        # shielded: one client going away does not cancel the answer the others wait for
        return await asyncio.shield(running)

    def _made(self, key: tuple[str, ...], done: asyncio.Future[Cached]) -> None:
        self.making.pop(key, None)
        if not done.cancelled():
            done.exception()  # seen, even when every waiter has gone (its error reached those that waited)

    async def _make(self, key: tuple[str, ...], make: Callable[[], Awaitable[Made]]) -> Cached:
        self.reads += 1
        body, content_type, headers = await make()
        return self.put(key, body, content_type, headers)


PUBLIC_CACHE = web.AppKey("sla_public_cache", PublicCache)


def public_cache(app: web.Application, ttl: float | None = None) -> PublicCache:
    if PUBLIC_CACHE not in app:
        app[PUBLIC_CACHE] = PublicCache() if ttl is None else PublicCache(ttl)
    return app[PUBLIC_CACHE]


# --- reading ------------------------------------------------------------------------------------


def _months(first: str, last: str) -> list[str]:
    return months_between(date.fromisoformat(first + "-01"), date.fromisoformat(last + "-01"))


def _name(scope: str) -> str:
    """A pemda's name from the region data; an OPD by its slug (sla keeps no OPD names)."""
    if "/" in scope:
        return scope.split("/", 1)[1].replace("-", " ").upper()
    region = lookup(scope)
    return region.name if region else scope


@dataclass(frozen=True)
class Read:
    pemda: str | None
    months: tuple[str, str]
    head: ScopeFigures | None  # the pemda's own row, or the sum of every pemda (the page shows it)
    scopes: list[ScopeFigures]


async def _counters(request: web.Request, pemda: str | None, months: tuple[str, str]) -> list[Doc]:
    store = reader(request)
    if pemda is None:
        return await store.monthly(level="pemda", pemda=None, scope=None, months=months)
    docs = await store.monthly(level="pemda", pemda=None, scope=pemda, months=months)
    return docs + await store.monthly(level="opd", pemda=pemda, scope=None, months=months)


def _figures(pemda: str | None, months: tuple[str, str], docs: list[Doc], national: bool) -> Read:
    """`national`: with every pemda, also their sum (the page's summary and chart; the JSON and
    CSV list the pemdas only, and skip that pass over every document)."""
    every = _months(*months)
    tallies = tally(docs, CURRENT.version)
    scopes = scope_figures(tallies, every, CURRENT.version)
    if pemda is None:
        head = summed(tallies, every, CURRENT.version, "nasional", "nasional") if national else None
        return Read(pemda, months, head, scopes)
    head = scopes[0] if scopes and scopes[0].scope == pemda else None
    return Read(pemda, months, head, scopes)


def _document(found: Read) -> dict[str, Any]:
    scopes = found.scopes
    return {
        "pemda": found.pemda,
        "from": found.months[0],
        "to": found.months[1],
        "questionnaire": CURRENT.version,
        "items": [
            {"scope": s.scope, "level": s.level, "name": _name(s.scope), "month": month, **f.as_json()}
            for s in scopes
            for month, f in s.by_month
        ],
        "totals": [
            {"scope": s.scope, "level": s.level, "name": _name(s.scope), **s.period.as_json()} for s in scopes
        ],
    }


CSV_COLUMNS: list[Column] = [
    ("Kode", lambda r: r["scope"]),
    ("Tingkat", lambda r: r["level"]),
    ("Nama", lambda r: r["name"]),
    ("Bulan", lambda r: r["month"]),
    ("Pengaduan diterima", lambda r: r["received"]),
    ("Dijawab", lambda r: r["answered"]),
    ("Dijawab sesuai standar pelayanan", lambda r: r["answered_on_time"]),
    ("Persen sesuai standar", lambda r: r["answered_on_time_pct"]),
    ("Median waktu tanggapan (hari kerja)", lambda r: r["median_response_hk"]),
    ("Masih terbuka", lambda r: r["open"]),
    ("Melewati tenggat penyelesaian", lambda r: r["overdue"]),
    ("Responden SKM", lambda r: r["ikm_respondents"]),
    ("IKM", lambda r: r["ikm"]),
    ("Mutu IKM", lambda r: r["ikm_grade"]),
]


# --- the chart ------------------------------------------------------------------------------------

CHART_W, CHART_H, PAD_L, PAD_B, PAD_T, PAD_R = 640, 240, 44, 36, 16, 44


def chart(rows: Sequence[tuple[str, Figures]]) -> dict[str, Any]:
    """Bars of complaints received per month and a line of the share answered within the
    standard (right axis, 0–100 %), as coordinates the template draws."""
    n = max(len(rows), 1)
    top = max([f.received for _, f in rows] + [1])
    inner_w, inner_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    slot = inner_w / n
    bars, points, labels = [], [], []
    for i, (month, f) in enumerate(rows):
        h = inner_h * f.received / top
        x = PAD_L + i * slot + slot * 0.15
        bars.append({"x": round(x, 1), "y": round(PAD_T + inner_h - h, 1), "w": round(slot * 0.7, 1),
                     "h": round(h, 1), "title": f"{month}: {f.received} diterima"})  # fmt: skip
        cx = round(PAD_L + i * slot + slot / 2, 1)
        labels.append({"x": cx, "text": month[2:]})
        if f.answered_on_time_pct is not None:
            points.append(f"{cx},{round(PAD_T + inner_h * (1 - f.answered_on_time_pct / 100), 1)}")
    return {
        "w": CHART_W, "h": CHART_H, "left": PAD_L, "right": CHART_W - PAD_R, "top": PAD_T,
        "base": PAD_T + inner_h, "max": top, "bars": bars, "line": " ".join(points), "labels": labels,
        "label_y": CHART_H - 12,
    }  # fmt: skip


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(found: Read) -> str:
    return _env.get_template("transparansi.html").render(
        pemda=found.pemda,
        pemda_name=_name(found.pemda) if found.pemda else "Semua pemda",
        months=found.months,
        head=found.head,
        scopes=found.scopes,
        name=_name,
        chart=chart(found.head.by_month) if found.head is not None else None,
        questionnaire=CURRENT,
        css=CSS,
        page=PAGE,
    )


# --- views ----------------------------------------------------------------------------------------


def _cached_response(request: web.Request, cached: Cached, ttl: float) -> web.Response:
    headers = {**cached.headers, "ETag": cached.etag, "Cache-Control": f"public, max-age={int(ttl)}"}
    if cached.etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    return web.Response(body=cached.body, headers={**headers, "Content-Type": cached.content_type})


def _make(kind: str, csv_wanted: bool, pemda: str | None, months: tuple[str, str], docs: list[Doc]) -> Made:
    """The answer's bytes from the counters: pure CPU (about 0.2 s for every pemda over a year on
    a small, busy machine: bench/transparency.py), so it runs off the event loop."""
    found = _figures(pemda, months, docs, national=kind == "page")
    if kind == "page":
        return render(found).encode(), "text/html; charset=utf-8", browser_headers(PAGE_CSP)
    if csv_wanted:
        name = f"transparansi-{pemda or 'semua'}-{months[0]}-{months[1]}"
        made = csv_response(name, CSV_COLUMNS, _document(found)["items"], None)
        disposition = {"Content-Disposition": made.headers["Content-Disposition"]}
        return bytes(made.body), "text/csv; charset=utf-8", disposition  # type: ignore[arg-type]
    return _json(found), "application/json; charset=utf-8", {}


def _json(found: Read) -> bytes:
    # pydantic's encoder: the same bytes as json.dumps(separators=(",", ":"), ensure_ascii=False)
    # for these numbers, about four times as fast on every pemda's 1.8 MB (bench/transparency.py).
    return to_json(_document(found))


async def _answer(request: web.Request, kind: str) -> web.Response:
    cache = request.app[PUBLIC_CACHE]
    csv_wanted = kind == "api" and wants_csv(request)
    pemda = pemda_param(request)
    months = months_param(request, pemda, reading_instant(request))
    key = (kind, "csv" if csv_wanted else "json", pemda or "", *months)

    async def make() -> Made:
        docs = await _counters(request, pemda, months)
        return await asyncio.to_thread(_make, kind, csv_wanted, pemda, months, docs)

    return _cached_response(request, await cache.get_or_make(key, make), cache.ttl)


async def page(request: web.Request) -> web.Response:
    return await _answer(request, "page")


async def data(request: web.Request) -> web.Response:
    return await _answer(request, "api")


async def css(request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        STATIC_DIR / "transparansi.css",
        headers={"Cache-Control": "public, max-age=3600", **browser_headers(PAGE_CSP)},
    )


def add_routes(app: web.Application, ttl: float | None = None) -> None:
    public_cache(app, ttl)
    app.router.add_get(PAGE, guarded(page))
    app.router.add_get(CSS, css)
    app.router.add_get(API_PATH, guarded(data))
    database_free(app, CSS)
