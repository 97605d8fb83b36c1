"""The golden scenario: one fixed story through every route of the three services, over HTTP only,
and what it put on the topics (read back from Kafka).

It runs in its own pemda, Kota Yogyakarta (34.71), which no other test uses, so what it lists and
counts (queues, feeds, triage, listing, supervisor reports) is its own whatever ran before it on
the same stack. Every read of something the services compute asynchronously waits first (bounded,
`eventually`) for the condition the story needs; the reports are read once every consumer group has
caught up (`settled`).

The result is raw (ids, tokens and instants as they came); `tests/golden/normalise.py` makes it
comparable.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.auth import mint
from shared.openapi import DOCS_FILES, DOCS_PAGE
from shared.topics import (
    COMPLAINTS_ASSIGNED,
    COMPLAINTS_COMMANDS,
    COMPLAINTS_EVENTS,
    COMPLAINTS_SUBMITTED,
    SLA_EVENTS,
    TOPICS,
)
from tests.attachment_files import photo
from tests.waiting import eventually

PEMDA = "34.71"  # Kota Yogyakarta
SKM = "skm-2017-1"  # the SKM questionnaire's version (shared/survey.py)
DESA = "34.71.01.1001"  # Kricak, Tegalrejo
PUPR = f"{PEMDA}/dinas-pupr"
DISHUB = f"{PEMDA}/dinas-perhubungan"
DINKES = f"{PEMDA}/dinas-kesehatan"
QUIET_OPD = f"{PEMDA}/disnaker"  # no complaint ever goes there: its webhook has nothing to push

HANDLER = mint("handler", opd=PUPR, sub="golden-handler")
HANDLER_2 = mint("handler", opd=PUPR, sub="golden-handler-2")
DISHUB_HANDLER = mint("handler", opd=DISHUB, sub="golden-dishub")
DINKES_HANDLER = mint("handler", opd=DINKES, sub="golden-dinkes")
QUIET_HANDLER = mint("handler", opd=QUIET_OPD, sub="golden-disnaker")
COORDINATOR = mint("coordinator", pemda=PEMDA, sub="golden-koordinator")
SUPERVISOR = mint("supervisor", pemda=PEMDA, sub="golden-kepala")
OTHER_COORDINATOR = mint("coordinator", pemda="33.74", sub="golden-koordinator-lain")
ADMIN = mint("admin", sub="golden-admin")

WAIT = 60.0  # every wait on the services, bounded

IDENTIFIED = {
    "title": "Jalan berlubang di Jl. Magelang",
    "description": "Lubang besar di depan SD Negeri Kricak sudah dua minggu membahayakan pengendara motor.",
    "category": "jalan-jembatan",
    "region_code": DESA,
    "address": "Jl. Magelang No. 10, Kricak",
    "location": {"lat": -7.7744, "lon": 110.3653},
    "incident_date": "2027-03-01",
    "reporter": {"name": "Rina Kusumawati", "phone": "0813-2222-3344", "email": "rina@example.id"},
}
ANONYMOUS = {
    "title": "Pungutan di puskesmas",
    "description": "Petugas puskesmas meminta bayaran tambahan; hubungi saya di 0813-5555-6677 (Rina).",
    "category": "kesehatan",
    "region_code": DESA,
    "anonymous": True,
    "confidential": True,
    "reporter": {"name": "Rina Kusumawati", "phone": "0813-5555-6677"},
}
UNCATEGORISED = {
    "title": "Keluhan warga Kricak",
    "description": "Ada masalah di lingkungan kami yang perlu ditangani segera oleh pemerintah kota.",
    "category": None,
    "region_code": DESA,
}
SPAM = {
    "title": "Pesan berulang",
    "description": "Pesan yang sama dikirim berulang-ulang tanpa isi pengaduan yang jelas sama sekali.",
    "category": None,
    "region_code": DESA,
}
OPEN311_FORM = {
    "service_code": "penerangan-jalan",
    "lat": "-7.7744",
    "long": "110.3653",
    "address_string": "Jl. Magelang No. 20, Yogyakarta",
    "region_code": DESA,
    "description": "Lampu jalan di depan pasar Kricak mati sejak seminggu, jalan gelap dan rawan.",
    "first_name": "Dimas",
    "last_name": "Prakoso",
    "email": "dimas@example.id",
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes = b""  # not recorded: what a later step reads from a page (a form's CSRF token)
    cookies: dict[str, str] = field(default_factory=dict)  # not recorded (sessions, tokens)


# Response headers worth keeping: the ones a client acts on, and the pages' security headers.
KEPT_HEADERS = (
    "location",
    "content-disposition",
    "retry-after",
    "cache-control",
    "etag",
    "www-authenticate",
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
)


@dataclass
class Recorder:
    http: aiohttp.ClientSession
    urls: dict[str, str]
    bootstrap: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    complaints: list[str] = field(default_factory=list)  # the scenario's complaint ids, in order
    tokens: dict[str, str] = field(default_factory=dict)  # complaint id → its access token

    async def call(
        self,
        step: str,
        service: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        record: bool = True,
    ) -> Answer:
        sent = {**(auth(token) if token else {}), **(headers or {})}
        kwargs: dict[str, Any] = {"headers": sent, "params": params, "allow_redirects": False}
        if json_body is not None:
            kwargs["json"] = json_body
        elif form is not None:
            kwargs["data"] = form
        elif data is not None:
            kwargs["data"] = data
        async with self.http.request(method, self.urls[service] + path, **kwargs) as resp:
            raw = await resp.read()
            content_type = resp.content_type
            kept = {h: resp.headers[h] for h in KEPT_HEADERS if h in resp.headers}
            cookies = {name: morsel.value for name, morsel in resp.cookies.items()}
        body = _body(content_type, raw)
        answer = Answer(resp.status, body, kept, raw, cookies)
        if record:
            entry: dict[str, Any] = {
                "step": f"{len(self.steps) + 1:03d} {step}",
                "request": f"{method} {service} {path}",
                "status": resp.status,
                "content_type": content_type,
                "body": body,
            }
            if params:
                entry["query"] = params
            if json_body is not None or form is not None:
                entry["sent"] = json_body if json_body is not None else form
            if kept:
                entry["headers"] = kept
            self.steps.append(entry)
        return answer

    async def poll(
        self, what: str, service: str, path: str, token: str | None, ready: Callable[[Any], bool], **kw: Any
    ) -> Any:
        """GET `path` (unrecorded) until `ready(body)`; the caller records the read it wants."""

        last: list[Any] = []

        async def probe() -> Any:
            answer = await self.call(what, service, "GET", path, token=token, record=False, **kw)
            last[:] = [answer.status, answer.body]
            return answer.body if answer.status == 200 and ready(answer.body) else None

        try:
            return await eventually(probe, within=WAIT, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last answer: {last!r}") from None


def _body(content_type: str, raw: bytes) -> Any:
    """JSON as such, text (CSV, XML) as its lines, anything else (pages, scripts, files) by digest."""
    if not raw:
        return None
    if content_type in ("application/json", "application/problem+json"):
        return json.loads(raw)
    if content_type in ("text/csv", "application/xml", "text/xml", "text/plain"):
        return raw.decode().splitlines()
    if content_type == "text/html":  # a form's fresh key (its Idempotency-Key) is not behaviour
        raw = re.sub(rb'name="kunci" value="[^"]*"', b'name="kunci" value="<kunci>"', raw)
    if content_type == "text/html":  # the staff pages' per-run values: CSRF tokens, one-time links
        raw = VOLATILE_HTML.sub(lambda m: m.group(1) + b"<id>", raw)
        # Links the pages print carry the stack's own address, whose port depends on the test slot.
        raw = re.sub(rb"http://127\.0\.0\.1:\d+", b"http://<stack>", raw)
        raw = re.sub(rb'data-now="[^"]*"', b'data-now="<t>"', raw)  # the workbench's server clock
        # The coordinator pages name complaints (ids) and print instants (dues, the identity audit).
        raw = re.sub(rb"\b[0-9A-HJKMNP-TV-Z]{26}\b", b"<ulid>", raw)
        raw = re.sub(rb"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?", b"<t>", raw)
        # …and as people read them (shared/calendar.py `local_text`: `06-12-2026 14:30 WIB`).
        raw = re.sub(rb"\b\d{2}-\d{2}-\d{4} \d{2}:\d{2}(:\d{2})? (WIB|WITA|WIT)\b", b"<t>", raw)
    return {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}


VOLATILE_HTML = re.compile(rb'(name="csrf" value="|/staff/atur-sandi/)[A-Za-z0-9_-]+')


async def settled(bootstrap: str) -> None:
    """Wait until every consumer group of the services has committed every message on its topics,
    and the topics have stopped growing (what one group wrote, the next one read too)."""
    from tests.e2e.conftest import GROUP_TOPICS

    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await probe.start()
    await admin.start()
    counts = {spec.name: spec.partitions for spec in TOPICS}
    wanted = [
        TopicPartition(t, p)
        for t in {t for ts in GROUP_TOPICS.values() for t in ts}
        for p in range(counts[t])
    ]
    previous: dict[TopicPartition, int] = {}
    quiet_rounds = 0
    try:

        async def done() -> bool:
            nonlocal previous, quiet_rounds
            ends = await probe.end_offsets(wanted)
            for group, topics in GROUP_TOPICS.items():
                committed = await admin.list_consumer_group_offsets(group)
                for tp, end in ends.items():
                    if tp.topic in topics and end > 0 and (tp not in committed or committed[tp].offset < end):
                        previous, quiet_rounds = ends, 0
                        return False
            quiet_rounds = quiet_rounds + 1 if ends == previous else 0
            previous = ends
            return quiet_rounds >= 3

        await eventually(done, within=WAIT, what="every consumer group caught up and the topics quiet")
    finally:
        await probe.stop()
        await admin.close()


EVENT_TOPICS = (COMPLAINTS_SUBMITTED, COMPLAINTS_COMMANDS, COMPLAINTS_EVENTS, SLA_EVENTS, COMPLAINTS_ASSIGNED)


async def events_of(bootstrap: str, complaints: list[str], pemda: str) -> dict[str, dict[str, list[Any]]]:
    """complaint id → topic → its messages (key, envelope), in the order of their partition; the
    OPD feed topic is keyed by OPD, so its messages are found by the complaint id they carry. Messages
    keyed by the pemda (calendar changes) are listed under the pemda. A message published twice (a
    relay's retry; consumers dedupe by event id) is listed once."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    wanted = set(complaints) | {pemda}
    found: dict[str, dict[str, list[Any]]] = {c: {} for c in [*complaints, pemda]}
    seen: set[tuple[str, str]] = set()
    try:
        counts = {spec.name: spec.partitions for spec in TOPICS}
        partitions = [TopicPartition(t, p) for t in EVENT_TOPICS for p in range(counts[t])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                for msgs in (await consumer.getmany(tp, timeout_ms=1000)).values():
                    for m in msgs:
                        if m.offset >= ends[tp]:
                            continue
                        key = (m.key or b"").decode()
                        try:
                            envelope = json.loads(m.value or b"{}")
                        except ValueError:  # another test's poison message (dead-letter tests)
                            continue
                        owner = key if key in wanted else envelope.get("complaint_id")
                        if owner not in wanted or (tp.topic, envelope.get("event_id", "")) in seen:
                            continue
                        seen.add((tp.topic, envelope.get("event_id", "")))
                        found[owner].setdefault(tp.topic, []).append({"key": key, "envelope": envelope})
    finally:
        await consumer.stop()
    return found


async def run(
    http: aiohttp.ClientSession,
    urls: dict[str, str],
    bootstrap: str,
    open311_key: str,
    mongo_uri: str = "",
    routing_db: str = "e2e_routing",
) -> Recorder:
    rec = Recorder(http, urls, bootstrap)
    await public_surface(rec)
    await staff_sign_in(rec, mongo_uri, routing_db)
    await rules_and_catalog(rec)
    a = await identified_complaint(rec)
    b = await anonymous_confidential_complaint(rec)
    c = await triaged_transferred_reopened(rec, a)
    await archived_spam(rec)
    await open311(rec, open311_key)
    await webhooks(rec)
    await settled(bootstrap)
    await calendar(rec)
    await settled(bootstrap)
    await reports(rec, a, b, c)
    await duplicates_merged(rec)
    await docs_pages(rec)
    return rec


# --- the steps ---------------------------------------------------------------------------------


EARLY_DOCS = (("intake", DOCS_PAGE), ("intake", "/docs/docs.js"), ("routing", DOCS_PAGE))


async def docs_pages(rec: Recorder) -> None:
    """The Swagger UI page and its files on every service (shared/docs.py), but `EARLY_DOCS`."""
    for service in ("intake", "routing", "sla"):
        for path in (DOCS_PAGE, *DOCS_FILES):
            if (service, path) not in EARLY_DOCS:
                await rec.call("browsable API docs", service, "GET", path)


async def public_surface(rec: Recorder) -> None:
    for service in ("intake", "routing", "sla"):
        await rec.call("health", service, "GET", "/healthz")
        await rec.call("readiness", service, "GET", "/readyz")
        await rec.call("OpenAPI document", service, "GET", "/openapi.json")
    # Three of the docs pages' steps here, none whose answer carries an ETag (an id: it would
    # renumber every id after it); the rest at the end (`docs_pages`).
    for service, path in EARLY_DOCS:
        await rec.call("browsable API docs", service, "GET", path)
    await rec.call("dashboard without its slash", "sla", "GET", "/dashboard")
    for path in ("/dashboard/", "/dashboard/static/dashboard.css", "/dashboard/static/dashboard.js"):
        await rec.call("dashboard", "sla", "GET", path)
    await rec.call("dashboard static: unknown file", "sla", "GET", "/dashboard/static/nothing.js")
    await rec.call("citizen form page", "intake", "GET", "/lapor")
    for path in ("/halaman/halaman.css", "/halaman/lapor.js"):
        await rec.call("citizen pages' files", "intake", "GET", path)
    await rec.call(
        "citizen form: the next region level (without JavaScript)",
        "intake",
        "POST",
        "/lapor",
        data=b"kunci=golden-form-key-0001&provinsi=34&kabkota=34.71&langkah=wilayah",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    await rec.call("region levels", "intake", "GET", "/api/v1/regions", params={"parent": "34.71"})
    await rec.call("tracking page", "intake", "GET", "/lacak")
    await rec.call(
        "tracking page: a wrong code",
        "intake",
        "POST",
        "/lacak",
        data=b"code=ZZ-ZZZZ-ZZ&pin=000000",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    await rec.call(
        "complaint page action: unknown complaint",
        "intake",
        "POST",
        "/api/v1/complaints/01HZZZZZZZZZZZZZZZZZZZZZZZ/halaman",
        data=b"aksi=cabut&csrf=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    await rec.call("transparency page style", "sla", "GET", "/transparansi/transparansi.css")
    await rec.call(
        "invalid submission",
        "intake",
        "POST",
        "/api/v1/complaints",
        json_body={**IDENTIFIED, "category": "parkir-liar", "region_code": "34.99"},
    )


def _csrf(answer: Answer) -> str:
    found = re.search(rb'name="csrf" value="([^"]+)"', answer.raw)
    assert found, answer.status
    return found.group(1).decode()


ADMIN_PASSWORD = "sandi-admin-emas-yang-panjang"


def _cookie(**values: str) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in values.items())}


async def staff_sign_in(rec: Recorder, mongo_uri: str, routing_db: str) -> None:
    """People's sign-in (issue 21 item 1): the first admin from `pengaduan staff create-admin`, its
    one-time link, sign-in (refused without the form's CSRF token), the staff page, the token
    cookie read by sla, logout. Cookies are sent by hand (the session's jar drops an IP host's)."""
    from devtools import ops

    variables = {
        "ROUTING_MONGO_URI": mongo_uri,
        "ROUTING_MONGO_DB": routing_db,
        "ROUTING_STAFF_PUBLIC_URL": rec.urls["routing"],
    }
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), _environment(variables):
        assert await ops.staff_create_admin("golden-admin", "Admin Emas", None, password_stdin=False) == 0
    link = printed.getvalue().strip().splitlines()[-1].removeprefix(rec.urls["routing"])
    form_page = await rec.call("staff: the one-time link", "routing", "GET", link)
    csrf = form_page.cookies["pengaduan_csrf"]
    password = ADMIN_PASSWORD
    await rec.call(
        "staff: set the password",
        "routing",
        "POST",
        link,
        form={"csrf": _csrf(form_page), "new": password, "repeat": password},
        headers=_cookie(pengaduan_csrf=csrf),
    )
    await rec.call("staff: the link works once", "routing", "GET", link)
    await rec.call("staff: without its slash", "routing", "GET", "/staff")
    await rec.call("staff: home without a session", "routing", "GET", "/staff/")
    # The OIDC provider's way back (tests/integration/test_staff_oidc.py): none is configured here.
    await rec.call("staff: OIDC return without a provider", "routing", "GET", "/staff/masuk/oidc")
    await rec.call(
        "staff: OIDC back-channel logout without a provider",
        "routing",
        "POST",
        "/staff/oidc/backchannel-logout",
        form={"logout_token": "tanpa-penyedia"},
    )
    sign_in = await rec.call("staff: sign-in page", "routing", "GET", "/staff/masuk")
    csrf = sign_in.cookies["pengaduan_csrf"]
    account = {"username": "golden-admin", "password": password}
    await rec.call("staff: sign-in without CSRF token", "routing", "POST", "/staff/masuk", form=account)
    signed = await rec.call(
        "staff: sign in",
        "routing",
        "POST",
        "/staff/masuk",
        form={**account, "csrf": _csrf(sign_in), "next": "/staff/akun"},
        headers=_cookie(pengaduan_csrf=csrf),
    )
    session = _cookie(pengaduan_sesi=signed.cookies["pengaduan_sesi"])
    home = await rec.call("staff: home", "routing", "GET", "/staff/", headers=session)
    token = home.cookies["pengaduan_staff_token"]
    await rec.call("staff: style sheet", "routing", "GET", "/staff/static/staff.css")
    await rec.call("staff: password page", "routing", "GET", "/staff/sandi", headers=session)
    await rec.call(
        "staff: password change with a wrong current one",
        "routing",
        "POST",
        "/staff/sandi",
        form={"csrf": _csrf(home), "current": "salah", "new": "x" * 12, "repeat": "x" * 12},
        headers=session,
    )
    await rec.call(
        "staff: e-mail address change with a wrong current password",
        "routing",
        "POST",
        "/staff/alamat-surel",
        form={"csrf": _csrf(home), "email": "admin.baru@example.id", "current_email": "salah"},
        headers=session,
    )
    await rec.call("staff: e-mail choice", "routing", "GET", "/staff/surel", headers=session)
    await rec.call(
        "staff: e-mail as a daily digest",
        "routing",
        "POST",
        "/staff/surel",
        form={"csrf": _csrf(home), "digest": "harian"},
        headers=session,
    )
    await rec.call("staff: accounts", "routing", "GET", "/staff/akun", headers=session)
    new = {
        "username": "golden.pupr",
        "name": "Petugas Emas",
        "role": "handler",
        "pemda": PEMDA,
        "opd": "dinas-pupr",
    }
    await rec.call(
        "staff: new account",
        "routing",
        "POST",
        "/staff/akun",
        form={**new, "csrf": _csrf(home)},
        headers=session,
    )
    for action in ("tautan-sandi", "nonaktifkan"):
        await rec.call(
            f"staff: account {action}",
            "routing",
            "POST",
            f"/staff/akun/golden.pupr/{action}",
            form={"csrf": _csrf(home)},
            headers=session,
        )
    await rec.call(
        "staff: who is signed in (sla, the token cookie)",
        "sla",
        "GET",
        "/api/v1/supervisor/me",
        headers=_cookie(pengaduan_staff_token=token),
    )
    await workbench(rec, session, _csrf(home))
    await rec.call(
        "staff: logout", "routing", "POST", "/staff/keluar", form={"csrf": _csrf(home)}, headers=session
    )
    await rec.call("staff: home after logout", "routing", "GET", "/staff/", headers=session)


UNKNOWN_COMPLAINT = "01J0000000000000000000000X"


async def workbench(rec: Recorder, session: dict[str, str], csrf: str) -> None:
    """The handler workbench's routes (issue 21 item 2) as the admin: the queue without an OPD (a
    chooser), a bad filter, the polled list, and an unknown complaint's page and forms (refusal
    pages). A complaint's own page prints its id and live countdowns, which no baseline can hold:
    tests/integration/test_workbench_pages.py and tests/e2e/test_workbench.py read those."""
    await rec.call("workbench: queue, no OPD named", "routing", "GET", "/staff/tugas", headers=session)
    await rec.call(
        "workbench: queue with an unknown category",
        "routing",
        "GET",
        "/staff/tugas",
        params={"opd": f"{PEMDA}/dinas-pupr", "kategori": "bukan-kategori"},
        headers=session,
    )
    await rec.call(
        "workbench: new assignments (the page's poll)",
        "routing",
        "GET",
        "/staff/tugas/baru",
        params={"opd": f"{PEMDA}/dinas-pupr", "status": "archived"},
        headers=session,
    )
    page = f"/staff/pengaduan/{UNKNOWN_COMPLAINT}"
    await rec.call("workbench: unknown complaint", "routing", "GET", page, headers=session)
    await rec.call(
        "workbench: an unknown complaint's file", "routing", "GET", f"{page}/lampiran/x", headers=session
    )
    for action in ("ambil", "jawab", "minta-info", "tingkat", "selesaikan", "alihkan", "catatan"):
        await rec.call(
            f"workbench: {action} on an unknown complaint",
            "routing",
            "POST",
            f"{page}/{action}",
            form={"csrf": csrf},
            headers=session,
        )


async def coordinator_pages(rec: Recorder, c: str) -> None:
    """The coordinator pages (issue 21 item 3) with complaint `c` in triage, as the first admin
    (with `?pemda=`): the queue and the complaint's page, refusals that change nothing (a
    disposition without a category, a short archive reason, privacy unchanged), the catalog with a
    rule set and removed again, and intake's identity page (the audit trail, the reveal by its form)."""
    sign_in = await rec.call("coordinator pages: sign-in page", "routing", "GET", "/staff/masuk")
    signed = await rec.call(
        "coordinator pages: sign in",
        "routing",
        "POST",
        "/staff/masuk",
        form={
            "username": "golden-admin",
            "password": ADMIN_PASSWORD,
            "csrf": _csrf(sign_in),
            "next": "/staff/",
        },
        headers=_cookie(pengaduan_csrf=sign_in.cookies["pengaduan_csrf"]),
    )
    session = _cookie(pengaduan_sesi=signed.cookies["pengaduan_sesi"])
    token = signed.cookies["pengaduan_staff_token"]
    queue = await rec.call(
        "coordinator pages: triage queue",
        "routing",
        "GET",
        "/staff/triase",
        params={"pemda": PEMDA},
        headers=session,
    )
    csrf = _csrf(queue)
    await rec.call("coordinator pages: complaint", "routing", "GET", f"/staff/triase/{c}", headers=session)
    for step, action, form in (
        ("disposition without a category", "disposisi", {"opd_id": PUPR}),
        ("archive with a short reason", "arsip", {"reason": "spam"}),
        ("privacy unchanged", "privasi", {}),
    ):
        await rec.call(
            f"coordinator pages: {step}",
            "routing",
            "POST",
            f"/staff/triase/{c}/{action}",
            form={"csrf": csrf, **form},
            headers=session,
        )
    catalog = {"pemda": PEMDA, "csrf": csrf}
    await rec.call(
        "coordinator pages: catalog",
        "routing",
        "GET",
        "/staff/katalog",
        params={"pemda": PEMDA},
        headers=session,
    )
    await rec.call(
        "coordinator pages: OPD with a bad code",
        "routing",
        "POST",
        "/staff/katalog/opd",
        form={**catalog, "slug": "Bukan Kode!", "name": "Dinas Contoh"},
        headers=session,
    )
    await rec.call(
        "coordinator pages: rule",
        "routing",
        "POST",
        "/staff/katalog/aturan",
        form={**catalog, "category": "penerangan-jalan", "opd_slug": "dinas-pupr"},
        headers=session,
    )
    await rec.call(
        "coordinator pages: rule removed",
        "routing",
        "POST",
        "/staff/katalog/aturan/penerangan-jalan/hapus",
        form=catalog,
        headers=session,
    )
    cookie = _cookie(pengaduan_staff_token=token)
    identity = await rec.call("identity page", "intake", "GET", f"/staff/pelapor/{c}", headers=cookie)
    await rec.call(
        "identity page: a post without its token",
        "intake",
        "POST",
        f"/staff/pelapor/{c}",
        form={},
        headers=cookie,
    )
    await rec.call(
        "identity page: reveal",
        "intake",
        "POST",
        f"/staff/pelapor/{c}",
        form={"csrf": _csrf(identity)},
        headers=cookie,
    )


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Any:
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def rules_and_catalog(rec: Recorder) -> None:
    probe = {"category": "jalan-jembatan", "region_code": DESA}
    await rec.call(
        "explain the DESIGN §4 rule", "routing", "POST", "/api/v1/routing/explain", json_body=probe
    )
    await rec.call(
        "explain an uncategorised text",
        "routing",
        "POST",
        "/api/v1/routing/explain",
        json_body={
            "region_code": DESA,
            "title": "Lampu jalan mati",
            "description": "PJU di depan pasar mati",
        },
    )
    rule = f"/api/v1/admin/rules/{PEMDA}/jalan-jembatan"
    body = {"opd_slug": "dinas-perhubungan", "note": "uji golden"}
    await rec.call(
        "rule override by the handler: refused", "routing", "PUT", rule, token=HANDLER, json_body=body
    )
    await rec.call(
        "rule override: unknown OPD",
        "routing",
        "PUT",
        rule,
        token=COORDINATOR,
        json_body={"opd_slug": "tidak-ada"},
    )
    await rec.call("rule override", "routing", "PUT", rule, token=COORDINATOR, json_body=body)
    await rec.call(
        "explain under the override", "routing", "POST", "/api/v1/routing/explain", json_body=probe
    )
    await rec.call("remove the override", "routing", "DELETE", rule, token=COORDINATOR)
    await rec.call("remove it again", "routing", "DELETE", rule, token=COORDINATOR)
    await rec.call("explain after removal", "routing", "POST", "/api/v1/routing/explain", json_body=probe)
    await rec.call(
        "add an OPD to the catalog",
        "routing",
        "PUT",
        f"/api/v1/admin/opds/{PEMDA}/upt-jalan",
        token=COORDINATOR,
        json_body={"name": "UPT Pemeliharaan Jalan Kota Yogyakarta"},
    )
    await rec.call(
        "add an OPD in another pemda: refused",
        "routing",
        "PUT",
        "/api/v1/admin/opds/33.74/upt-jalan",
        token=COORDINATOR,
        json_body={"name": "UPT Jalan Semarang"},
    )


async def submit(rec: Recorder, step: str, body: dict[str, Any], key: str | None = None) -> tuple[str, str]:
    headers = {"Idempotency-Key": key} if key else None
    answer = await rec.call(step, "intake", "POST", "/api/v1/complaints", json_body=body, headers=headers)
    assert answer.status == 202, answer.body
    rec.complaints.append(answer.body["id"])
    rec.tokens[answer.body["id"]] = answer.body["access_token"]
    return answer.body["id"], answer.body["access_token"]


def staff_path(complaint: str, action: str = "") -> str:
    return f"/api/v1/staff/complaints/{complaint}" + (f"/{action}" if action else "")


async def staff_state(rec: Recorder, complaint: str, state: str, token: str = COORDINATOR) -> None:
    await rec.poll(
        f"staff view {state}", "routing", staff_path(complaint), token, lambda b: b.get("status") == state
    )
    await settled(rec.bootstrap)


async def citizen_state(
    rec: Recorder, complaint: str, token: str, ready: Callable[[Any], bool], what: str
) -> None:
    await rec.poll(what, "intake", f"/api/v1/complaints/{complaint}", token, ready)
    # What follows the lifecycle (the clocks, the citizen's view of them, the queues' dues) has
    # caught up too: what is recorded next is the settled state.
    await settled(rec.bootstrap)


def clocks(*expected: tuple[str, str]) -> Callable[[Any], bool]:
    """The citizen's view shows exactly these (clock, state) pairs."""

    def ready(view: Any) -> bool:
        return sorted((d["clock"], d["state"]) for d in view.get("deadlines", [])) == sorted(expected)

    return ready


def both(*checks: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda body: all(check(body) for check in checks)


def status(state: str) -> Callable[[Any], bool]:
    return lambda body: body.get("status") == state


async def command(
    rec: Recorder, step: str, complaint: str, token: str, name: str, body: dict[str, Any]
) -> str:
    answer = await rec.call(
        step, "intake", "POST", f"/api/v1/complaints/{complaint}/{name}", token=token, json_body=body
    )
    assert answer.status == 202, answer.body
    command_id: str = answer.body["command_id"]
    path = f"/api/v1/complaints/{complaint}/commands/{command_id}"
    await rec.poll(f"command {name} decided", "intake", path, token, lambda b: b.get("status") != "pending")
    await rec.call(f"{step}: its outcome", "intake", "GET", path, token=token)
    return command_id


async def identified_complaint(rec: Recorder) -> str:
    """Submit (with a replayed Idempotency-Key), assigned, the whole OPD path, information asked and
    given, resolved, rated and closed; identity and attachments."""
    a, token = await submit(rec, "submit with reporter identity", IDENTIFIED, key="golden-kunci-0001")
    replay = await rec.call(
        "same Idempotency-Key: the original answer",
        "intake",
        "POST",
        "/api/v1/complaints",
        json_body=IDENTIFIED,
        headers={"Idempotency-Key": "golden-kunci-0001"},
    )
    assert replay.body["id"] == a
    assigned = clocks(("verification", "met"), ("response", "running"), ("resolution", "running"))
    await citizen_state(rec, a, token, both(status("assigned"), assigned), "assigned with its clocks")
    url = f"/api/v1/complaints/{a}"
    await rec.call("reporter's view", "intake", "GET", url, token=token)
    await rec.call("public view", "intake", "GET", url)
    await rec.call("wrong token", "intake", "GET", url, token="x" * 43)
    await rec.call("staff view through intake", "intake", "GET", url, token=HANDLER)
    await rec.call("unknown complaint", "intake", "GET", "/api/v1/complaints/01HZZZZZZZZZZZZZZZZZZZZZZZ")
    # Following it without a bearer header: the code + PIN (given once, and to the replay) for a
    # session cookie and a 303 to the clean URL (unrecorded: the code is random and sent as
    # `code`); a wrong code or PIN, and a wrong link token, recorded.
    login = {"code": replay.body["tracking_code"], "pin": replay.body["pin"]}
    signed_in = await rec.call(
        "code + PIN", "intake", "POST", "/api/v1/tracking", json_body=login, record=False
    )
    assert signed_in.status == 303 and signed_in.headers["location"] == url, signed_in
    wrong_pin = {"code": "ZZ-ZZZZ-ZZ", "pin": "000000"}
    await rec.call("tracking code + wrong PIN", "intake", "POST", "/api/v1/tracking", json_body=wrong_pin)
    await rec.call("tracking link, wrong token", "intake", "GET", f"{url}/track", params={"t": "x" * 32})
    # Notifications are off on this stack (no SMTP host, no gateway): the opt-out link opens nothing.
    opt_out = f"{url}/notifications/opt-out"
    await rec.call("opt-out page, notifications off", "intake", "GET", opt_out, params={"token": "x" * 43})
    await rec.call("opt-out, notifications off", "intake", "POST", opt_out, params={"token": "x" * 43})
    await rec.call(
        "rating before it is resolved: refused",
        "intake",
        "POST",
        f"{url}/feedback",
        token=token,
        json_body={"rating": 4},
    )
    await rec.call(
        "reopen before it is resolved: refused",
        "intake",
        "POST",
        f"{url}/reopen",
        token=token,
        json_body={"reason": "Belum beres"},
    )
    await rec.call(
        "command without the token", "intake", "POST", f"{url}/information", json_body={"message": "x"}
    )

    queue = f"/api/v1/opd/{PUPR}/queue"
    await rec.poll(
        "queued with its due",
        "routing",
        queue,
        HANDLER,
        lambda b: any(i["id"] == a and i.get("sla_due") for i in b["items"]),
    )
    await rec.call("OPD queue", "routing", "GET", queue, token=HANDLER)
    await rec.call(
        "OPD queue, one category",
        "routing",
        "GET",
        queue,
        token=HANDLER,
        params={"category": "jalan-jembatan"},
    )
    await rec.call(
        "OPD queue, unknown category", "routing", "GET", queue, token=HANDLER, params={"category": "jalan"}
    )
    await rec.call("OPD queue of another OPD", "routing", "GET", f"/api/v1/opd/{DISHUB}/queue", token=HANDLER)
    await rec.call(
        "OPD queue, one per page",
        "routing",
        "GET",
        queue,
        token=HANDLER,
        params={"limit": "1", "status": "assigned"},
    )
    await rec.call("staff view", "routing", "GET", staff_path(a), token=HANDLER)
    await rec.call("staff view, no token", "routing", "GET", staff_path(a))
    await rec.call("staff view, other pemda", "routing", "GET", staff_path(a), token=OTHER_COORDINATOR)

    await rec.call("claim", "routing", "POST", staff_path(a, "claim"), token=HANDLER, json_body={})
    await rec.call(
        "answer by a colleague: leased",
        "routing",
        "POST",
        staff_path(a, "answer"),
        token=HANDLER_2,
        json_body={"message": "Kami cek."},
    )
    await rec.call(
        "request information",
        "routing",
        "POST",
        staff_path(a, "request-info"),
        token=HANDLER,
        json_body={"message": "Mohon kirim foto lokasi."},
    )
    await citizen_state(rec, a, token, status("waiting_reporter"), "the reporter is asked")
    await rec.call("reporter's view: asked", "intake", "GET", url, token=token)
    await command(
        rec,
        "reporter adds information",
        a,
        token,
        "information",
        {"message": "Foto sudah saya kirim, lubang di sisi kiri."},
    )
    await staff_state(rec, a, "in_progress")
    await rec.call(
        "answer",
        "routing",
        "POST",
        staff_path(a, "answer"),
        token=HANDLER,
        json_body={"message": "Tim akan menambal besok."},
    )
    await rec.call(
        "tier",
        "routing",
        "POST",
        staff_path(a, "tier"),
        token=HANDLER,
        json_body={"tier": "berkadar-pengawasan"},
    )
    await rec.call(
        "tier: unknown", "routing", "POST", staff_path(a, "tier"), token=HANDLER, json_body={"tier": "lain"}
    )
    await rec.call(
        "note",
        "routing",
        "POST",
        staff_path(a, "notes"),
        token=HANDLER,
        json_body={"text": "Koordinasi dengan UPT."},
    )
    await rec.call(
        "note by the coordinator",
        "routing",
        "POST",
        staff_path(a, "notes"),
        token=COORDINATOR,
        json_body={"text": "Pantau."},
    )
    await rec.call("notes", "routing", "GET", staff_path(a, "notes"), token=SUPERVISOR)

    png = photo(fmt="PNG")
    attachments = f"{url}/attachments"
    upload = await rec.call(
        "attachment upload (raw body, named)",
        "intake",
        "POST",
        attachments,
        token=token,
        data=png,
        headers={"Content-Type": "image/png", "Content-Disposition": 'attachment; filename="lubang.png"'},
    )
    await rec.call(
        "attachment upload: not an image",
        "intake",
        "POST",
        attachments,
        token=token,
        data=b"%not a picture%",
        headers={"Content-Type": "application/octet-stream"},
    )
    await rec.call(
        "attachment upload without the token",
        "intake",
        "POST",
        attachments,
        data=png,
        headers={"Content-Type": "image/png"},
    )
    await rec.call("attachments (staff)", "intake", "GET", attachments, token=HANDLER)
    await rec.call("attachments (reporter)", "intake", "GET", attachments, token=token)
    await rec.call(
        "attachment download", "intake", "GET", f"{attachments}/{upload.body['id']}", token=HANDLER
    )
    await rec.call(
        "attachment download: unknown",
        "intake",
        "GET",
        f"{attachments}/01HZZZZZZZZZZZZZZZZZZZZZZZ",
        token=HANDLER,
    )

    await rec.call("identity (handler in scope)", "intake", "GET", f"{url}/reporter", token=HANDLER)
    await rec.call("identity (other OPD)", "intake", "GET", f"{url}/reporter", token=DISHUB_HANDLER)
    await rec.call(
        "identity audit (handler): refused", "intake", "GET", f"{url}/reporter/audit", token=HANDLER
    )
    await rec.call("identity audit", "intake", "GET", f"{url}/reporter/audit", token=COORDINATOR)

    await rec.call(
        "resolve",
        "routing",
        "POST",
        staff_path(a, "resolve"),
        token=HANDLER,
        json_body={"answer": "Lubang sudah ditambal."},
    )
    await rec.call(
        "resolve again",
        "routing",
        "POST",
        staff_path(a, "resolve"),
        token=HANDLER,
        json_body={"answer": "lagi"},
    )
    await citizen_state(
        rec,
        a,
        token,
        both(status("resolved"), lambda v: any(d["clock"] == "reporter_reply" for d in v["deadlines"])),
        "resolved, reply window open",
    )
    await rec.call("reporter's view: resolved", "intake", "GET", url, token=token)
    await command(
        rec, "reporter rates", a, token, "feedback", {"rating": 5, "comment": "Cepat, terima kasih."}
    )
    await citizen_state(rec, a, token, status("closed"), "closed")
    await rec.call("reporter's view: closed", "intake", "GET", url, token=token)
    await rec.call("the SKM questionnaire", "intake", "GET", "/api/v1/survey")
    answers = dict(zip([f"u{n}" for n in range(1, 10)], [4, 3, 4, 4, 3, 4, 4, 3, 4], strict=True))
    await command(
        rec, "reporter answers the SKM survey", a, token, "survey", {"version": SKM, "answers": answers}
    )
    await rec.call(
        "SKM survey with a score out of the scale: refused",
        "intake",
        "POST",
        f"{url}/survey",
        token=token,
        json_body={"version": SKM, "answers": {**answers, "u9": 5}},
    )
    await rec.call(
        "withdraw once closed: refused", "intake", "POST", f"{url}/withdraw", token=token, json_body={}
    )
    await rec.call(
        "attachment once closed: refused",
        "intake",
        "POST",
        attachments,
        token=token,
        data=png,
        headers={"Content-Type": "image/png"},
    )
    await rec.call("staff view: closed", "routing", "GET", staff_path(a), token=HANDLER)
    return a


async def anonymous_confidential_complaint(rec: Recorder) -> str:
    b, token = await submit(rec, "submit anonymous and confidential", ANONYMOUS)
    assigned = clocks(("verification", "met"), ("response", "running"), ("resolution", "running"))
    await citizen_state(rec, b, token, both(status("assigned"), assigned), "anonymous assigned")
    url = f"/api/v1/complaints/{b}"
    await rec.call("reporter's view (anonymous)", "intake", "GET", url, token=token)
    await rec.call("public view of a confidential complaint", "intake", "GET", url)
    await rec.call("staff view (anonymous, masked)", "routing", "GET", staff_path(b), token=DINKES_HANDLER)
    png = photo(fmt="PNG")
    upload = await rec.call(
        "attachment upload (multipart, anonymous: name dropped, cleaned)",
        "intake",
        "POST",
        f"{url}/attachments",
        token=token,
        data=_multipart(png),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    await rec.call(
        "anonymous attachment download",
        "intake",
        "GET",
        f"{url}/attachments/{upload.body['id']}",
        token=DINKES_HANDLER,
    )
    await rec.call(
        "identity (anonymous, handler): refused", "intake", "GET", f"{url}/reporter", token=DINKES_HANDLER
    )
    await rec.call("identity (anonymous, coordinator)", "intake", "GET", f"{url}/reporter", token=COORDINATOR)
    await rec.call("identity audit (anonymous)", "intake", "GET", f"{url}/reporter/audit", token=SUPERVISOR)
    await command(
        rec,
        "reporter withdraws",
        b,
        token,
        "withdraw",
        {"reason": "Sudah diselesaikan langsung di puskesmas."},
    )
    await citizen_state(rec, b, token, status("closed"), "closed as withdrawn")
    await rec.call("reporter's view: withdrawn", "intake", "GET", url, token=token)
    return b


BOUNDARY = "golden-boundary-7d3f"


def old_feed(a: str, c: str) -> list[tuple[str, str]]:
    """Dinas PUPR's feed once everything of the identified complaint and the transfer is in it."""
    story = (
        "ComplaintAssigned ComplaintClaimed InformationRequested InformationAdded ComplaintAnswered "
        "TierChanged ComplaintResolved ComplaintClosed"
    )
    return [(a, t) for t in story.split()] + [(c, "ComplaintAssigned"), (c, "ComplaintTransferred")]


def _multipart(content: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="foto-rina.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def triaged_transferred_reopened(rec: Recorder, a: str) -> str:
    c, token = await submit(rec, "submit uncategorised", UNCATEGORISED)
    await staff_state(rec, c, "triage")
    url = f"/api/v1/complaints/{c}"
    await citizen_state(
        rec, c, token, both(status("triage"), clocks(("verification", "running"))), "in triage"
    )
    await rec.call("reporter's view: triage", "intake", "GET", url, token=token)
    triage = f"/api/v1/pemda/{PEMDA}/triage"
    await rec.call("triage queue", "routing", "GET", triage, token=COORDINATOR)
    await rec.call("triage queue of another pemda", "routing", "GET", triage, token=OTHER_COORDINATOR)
    await coordinator_pages(rec, c)
    await rec.call(
        "dispose without a category",
        "routing",
        "POST",
        staff_path(c, "dispose"),
        token=COORDINATOR,
        json_body={"opd_id": PUPR},
    )
    await rec.call(
        "update the category",
        "routing",
        "PATCH",
        staff_path(c),
        token=COORDINATOR,
        json_body={"category": "jalan-jembatan"},
    )
    await rec.call(
        "update: unknown category",
        "routing",
        "PATCH",
        staff_path(c),
        token=COORDINATOR,
        json_body={"category": "parkir-liar"},
    )
    await rec.call(
        "dispose", "routing", "POST", staff_path(c, "dispose"), token=COORDINATOR, json_body={"opd_id": PUPR}
    )
    await staff_state(rec, c, "assigned")
    await citizen_state(rec, c, token, status("assigned"), "disposed")
    await rec.call(
        "transfer to an OPD not in the catalog",
        "routing",
        "POST",
        staff_path(c, "transfer"),
        token=HANDLER,
        json_body={"to_opd_id": f"{PEMDA}/tidak-ada", "reason": "salah kirim"},
    )
    await rec.call(
        "transfer",
        "routing",
        "POST",
        staff_path(c, "transfer"),
        token=HANDLER,
        json_body={"to_opd_id": DISHUB, "reason": "Wewenang Dishub"},
    )
    await rec.call("staff view by the old OPD", "routing", "GET", staff_path(c), token=HANDLER)
    await staff_state(rec, c, "assigned", DISHUB_HANDLER)
    assigned = clocks(
        ("verification", "met"),
        ("response", "transferred"),
        ("resolution", "transferred"),
        ("response", "running"),
        ("resolution", "running"),
    )
    await citizen_state(
        rec, c, token, both(status("assigned"), lambda v: v.get("opd_id") == DISHUB, assigned), "transferred"
    )
    feed = f"/api/v1/opd/{PUPR}/feed"
    await rec.poll(
        "the old OPD's feed settled",
        "routing",
        feed,
        HANDLER,
        lambda b: [(i["complaint_id"], i["type"]) for i in b["items"]] == old_feed(a, c),
    )
    await rec.call("the old OPD's feed", "routing", "GET", feed, token=HANDLER, params={"limit": "200"})
    dishub_feed = f"/api/v1/opd/{DISHUB}/feed"
    await rec.poll(
        "the new OPD's feed settled",
        "routing",
        dishub_feed,
        DISHUB_HANDLER,
        lambda b: any(i["complaint_id"] == c for i in b["items"]),
    )
    await rec.call("the new OPD's feed", "routing", "GET", dishub_feed, token=DISHUB_HANDLER)
    await rec.call("feed, one per page", "routing", "GET", feed, token=HANDLER, params={"limit": "1"})
    await rec.call(
        "claim (Dishub)", "routing", "POST", staff_path(c, "claim"), token=DISHUB_HANDLER, json_body={}
    )
    await rec.call(
        "resolve (Dishub)",
        "routing",
        "POST",
        staff_path(c, "resolve"),
        token=DISHUB_HANDLER,
        json_body={"answer": "Sudah diperbaiki."},
    )
    await citizen_state(
        rec,
        c,
        token,
        both(status("resolved"), lambda v: any(d["clock"] == "reporter_reply" for d in v["deadlines"])),
        "resolved, reply window open",
    )
    await command(
        rec, "reporter reopens", c, token, "reopen", {"reason": "Masih belum beres, lubang muncul lagi."}
    )
    await citizen_state(
        rec,
        c,
        token,
        lambda v: v.get("status") not in ("resolved",),
        "reopened",
    )
    await rec.call("reporter's view: reopened", "intake", "GET", url, token=token)
    await rec.call("staff view: reopened", "routing", "GET", staff_path(c), token=DISHUB_HANDLER)
    return c


async def archived_spam(rec: Recorder) -> str:
    d, token = await submit(rec, "submit spam", SPAM)
    await staff_state(rec, d, "triage")
    await rec.call(
        "archive by a handler: refused",
        "routing",
        "POST",
        staff_path(d, "archive"),
        token=HANDLER,
        json_body={"reason": "Spam berulang"},
    )
    await rec.call(
        "archive",
        "routing",
        "POST",
        staff_path(d, "archive"),
        token=COORDINATOR,
        json_body={"reason": "Spam berulang dari nomor yang sama", "forwarded_to": "tidak ada"},
    )
    await citizen_state(rec, d, token, status("archived"), "archived")
    await rec.call("reporter's view: archived", "intake", "GET", f"/api/v1/complaints/{d}", token=token)
    await rec.call(
        "withdraw once archived: refused",
        "intake",
        "POST",
        f"/api/v1/complaints/{d}/withdraw",
        token=token,
        json_body={"reason": "batal"},
    )
    await rec.call(
        "triage queue, emptied", "routing", "GET", f"/api/v1/pemda/{PEMDA}/triage", token=SUPERVISOR
    )
    listing = "/api/v1/complaints"
    await rec.call("public listing of the pemda", "intake", "GET", listing, params={"region": PEMDA})
    await rec.call(
        "public listing, one per page",
        "intake",
        "GET",
        listing,
        params={"region": PEMDA, "limit": "1", "category": "jalan-jembatan"},
    )
    await rec.call(
        "public listing by status", "intake", "GET", listing, params={"region": PEMDA, "status": "closed"}
    )
    await rec.call("public listing: bad cursor", "intake", "GET", listing, params={"cursor": "rusak"})
    return d


DRAIN = {
    "title": "Saluran air tersumbat di Jl. Kyai Mojo",
    "description": "Saluran air di tepi Jalan Kyai Mojo tersumbat sampah, air meluap ke jalan setiap hujan.",
    "category": "jalan-jembatan",
    "region_code": DESA,
    "location": {"lat": -7.7801, "lon": 110.3702},
    "reporter": {"name": "Wahyu Hidayat", "email": "wahyu@example.id"},
}
SAME_DRAIN = {
    "title": "Got mampet Kyai Mojo, jalan banjir",
    "description": "Got di Jalan Kyai Mojo mampet penuh sampah sehingga air meluap dan jalan banjir "
    "saat hujan.",
    "category": "jalan-jembatan",
    "region_code": DESA,
    "location": {"lat": -7.7798, "lon": 110.3703},
    "anonymous": True,
    "reporter": {"name": "Sri Lestari", "phone": "0813-7777-8899"},
}


async def duplicates_merged(rec: Recorder) -> None:
    """The same blocked drain reported twice: the second shows the first as a suggested duplicate;
    the coordinator merges it; its reporter follows the survivor, which takes the stricter flags."""
    survivor, survivor_token = await submit(rec, "submit: a blocked drain", DRAIN)
    duplicate, duplicate_token = await submit(rec, "submit: the same drain, anonymous", SAME_DRAIN)
    await staff_state(rec, duplicate, "assigned")
    await rec.call(
        "suggested duplicates", "routing", "GET", staff_path(duplicate, "duplicates"), token=HANDLER
    )
    merge = staff_path(duplicate, "merge")
    await rec.call(
        "merge by a handler: refused", "routing", "POST", merge, token=HANDLER, json_body={"into": survivor}
    )
    await rec.call(
        "merge into itself: refused",
        "routing",
        "POST",
        merge,
        token=COORDINATOR,
        json_body={"into": duplicate},
    )
    body = {"into": survivor, "reason": "Saluran yang sama"}
    await rec.call("merge", "routing", "POST", merge, token=COORDINATOR, json_body=body)
    await rec.call(
        "merge again: nothing changes", "routing", "POST", merge, token=COORDINATOR, json_body=body
    )
    back = {"into": duplicate}
    await rec.call(
        "merge into a merged complaint: refused", "routing", "POST", staff_path(survivor, "merge"),
        token=COORDINATOR, json_body=back,
    )  # fmt: skip
    await citizen_state(
        rec, duplicate, duplicate_token, lambda b: "merged_into" in b, "merged, following the survivor"
    )
    await citizen_state(
        rec, survivor, survivor_token, lambda b: b.get("anonymous") is True, "survivor anonymous"
    )
    path = "/api/v1/complaints/"
    await rec.call("reporter's view: merged", "intake", "GET", path + duplicate, token=duplicate_token)
    await rec.call("survivor's reporter view", "intake", "GET", path + survivor, token=survivor_token)
    await rec.call(
        "survivor's duplicates, merged gone",
        "routing",
        "GET",
        staff_path(survivor, "duplicates"),
        token=COORDINATOR,
    )


async def open311(rec: Recorder, key: str) -> str:
    root = "/open311/v2"
    for fmt in ("json", "xml"):
        await rec.call("Open311 discovery", "intake", "GET", f"{root}/discovery.{fmt}")
        await rec.call(
            "Open311 services", "intake", "GET", f"{root}/services.{fmt}", params={"jurisdiction_id": PEMDA}
        )
    await rec.call("Open311 service definition", "intake", "GET", f"{root}/services/penerangan-jalan.json")
    await rec.call("Open311 service definition: unknown", "intake", "GET", f"{root}/services/tidak-ada.json")
    await rec.call(
        "Open311 request without a key", "intake", "POST", f"{root}/requests.json", form=OPEN311_FORM
    )
    posted = await rec.call(
        "Open311 request", "intake", "POST", f"{root}/requests.json", form={**OPEN311_FORM, "api_key": key}
    )
    assert posted.status in (200, 201), posted.body
    item = posted.body[0]
    token = item.get("token")
    request_id = item.get("service_request_id")
    if token:
        tokens = f"{root}/tokens/{token}.json"
        found = await rec.poll(
            "the token answers its request",
            "intake",
            tokens,
            None,
            lambda b: bool(b) and bool(b[0].get("service_request_id")),
        )
        request_id = found[0]["service_request_id"]
        await rec.call("Open311 token", "intake", "GET", tokens)
    assert request_id
    rec.complaints.append(request_id)
    one = f"{root}/requests/{request_id}.json"
    await rec.poll(
        "routed, agency and expected instant known",
        "intake",
        one,
        None,
        lambda b: bool(b) and bool(b[0].get("agency_responsible")) and bool(b[0].get("expected_datetime")),
    )
    await rec.call("Open311 request", "intake", "GET", one)
    await rec.call("Open311 request (XML)", "intake", "GET", f"{root}/requests/{request_id}.xml")
    await rec.call(
        "Open311 requests by id",
        "intake",
        "GET",
        f"{root}/requests.json",
        params={"service_request_id": request_id},
    )
    await rec.call("Open311 requests: bad format", "intake", "GET", f"{root}/requests.yaml")
    await rec.call("Open311 unknown resource", "intake", "GET", f"{root}/tidak-ada")
    await rec.call("Open311 unknown resource (POST)", "intake", "POST", f"{root}/tidak-ada", form={"a": "b"})
    return str(request_id)


async def webhooks(rec: Recorder) -> None:
    hook = f"/api/v1/opd/{QUIET_OPD}/webhook"
    await rec.call(
        "webhook to a loopback address: refused",
        "routing",
        "PUT",
        hook,
        token=QUIET_HANDLER,
        json_body={"url": "http://127.0.0.1:9/terima", "secret": "rahasia-golden-0001"},
    )
    await rec.call(
        "webhook with a short secret",
        "routing",
        "PUT",
        hook,
        token=QUIET_HANDLER,
        json_body={"url": "https://93.184.215.14/terima", "secret": "pendek"},
    )
    await rec.call(
        "webhook of another OPD: refused",
        "routing",
        "PUT",
        hook,
        token=HANDLER,
        json_body={"url": "https://93.184.215.14/terima", "secret": "rahasia-golden-0001"},
    )
    await rec.call(
        "webhook registration",
        "routing",
        "PUT",
        hook,
        token=QUIET_HANDLER,
        json_body={"url": "https://93.184.215.14/terima", "secret": "rahasia-golden-0001"},
    )
    await rec.call(
        "webhook deliveries (none: no entries)", "routing", "GET", f"{hook}/deliveries", token=COORDINATOR
    )


async def calendar(rec: Recorder) -> None:
    base = f"/api/v1/calendar/{PEMDA}"
    await rec.call(
        "calendar due", "sla", "GET", f"{base}/due", params={"from": "2027-03-10T10:00:00+07:00", "hk": "5"}
    )
    await rec.call(
        "calendar due: bad hk",
        "sla",
        "GET",
        f"{base}/due",
        params={"from": "2027-03-10T10:00:00+07:00", "hk": "x"},
    )
    await rec.call(
        "calendar working time",
        "sla",
        "GET",
        f"{base}/working-time",
        params={"from": "2027-03-08T08:00:00+07:00", "to": "2027-03-17T12:00:00+07:00"},
    )
    await rec.call(
        "calendar of an unknown pemda",
        "sla",
        "GET",
        "/api/v1/calendar/99.99/due",
        params={"from": "2027-03-10T10:00:00+07:00", "hk": "1"},
    )
    extra = f"/api/v1/admin/calendar/{PEMDA}/extra-dates"
    await rec.call("extra dates", "sla", "GET", extra, token=SUPERVISOR)
    await rec.call(
        "extra dates by a coordinator: refused",
        "sla",
        "PUT",
        extra,
        token=COORDINATOR,
        json_body={"dates": ["2027-03-16"]},
    )
    await rec.call(
        "extra dates",
        "sla",
        "PUT",
        extra,
        token=ADMIN,
        json_body={"dates": ["2027-03-16"], "reason": "Libur daerah (uji golden)"},
    )
    await rec.call("extra dates after the change", "sla", "GET", extra, token=ADMIN)


async def reports(rec: Recorder, a: str, b: str, c: str) -> None:
    # The reopened complaint's running clocks were recomputed on the new calendar (16 March is no
    # longer a working day in Yogyakarta); the closed and withdrawn ones stay as they ended.
    await rec.call(
        "reporter's view after the calendar change",
        "intake",
        "GET",
        f"/api/v1/complaints/{c}",
        token=rec.tokens[c],
    )
    api = "/api/v1/supervisor"
    scope = {"pemda": PEMDA}
    for report in ("compliance", "trend", "breaches", "escalations", "satisfaction"):
        await rec.call(
            f"supervisor {report}", "sla", "GET", f"{api}/{report}", token=SUPERVISOR, params=scope
        )
    months = {"from": "2027-01", "to": "2027-06"}
    for fmt in ("json", "csv"):
        await rec.call(
            f"supervisor IKM ({fmt})",
            "sla",
            "GET",
            f"{api}/ikm",
            token=SUPERVISOR,
            params={**scope, **months, "format": fmt},
        )
        await rec.call(
            f"public transparency ({fmt})",
            "sla",
            "GET",
            "/api/v1/public/transparency",
            params={**scope, **months, "format": fmt},
        )
    await rec.call("public transparency page", "sla", "GET", "/transparansi", params={**scope, **months})
    await rec.call(
        "public transparency: bad month",
        "sla",
        "GET",
        "/api/v1/public/transparency",
        params={"from": "2027-13"},
    )
    await rec.call(
        "supervisor compliance (CSV)",
        "sla",
        "GET",
        f"{api}/compliance",
        token=SUPERVISOR,
        params={**scope, "format": "csv"},
    )
    await rec.call(
        "supervisor compliance of one OPD",
        "sla",
        "GET",
        f"{api}/compliance",
        token=COORDINATOR,
        params={"opd": PUPR},
    )
    await rec.call(
        "supervisor compliance of another pemda",
        "sla",
        "GET",
        f"{api}/compliance",
        token=SUPERVISOR,
        params={"pemda": "33.74"},
    )
    await rec.call(
        "supervisor breaches: bad limit",
        "sla",
        "GET",
        f"{api}/breaches",
        token=SUPERVISOR,
        params={**scope, "limit": "0"},
    )
    await rec.call(
        "supervisor trend (CSV)",
        "sla",
        "GET",
        f"{api}/trend",
        token=ADMIN,
        params={**scope, "format": "csv", "from": "2027-02-01", "to": "2027-03-10"},
    )
    for complaint in (a, b, c):
        await rec.call(
            "clocks of a complaint", "sla", "GET", f"{api}/complaints/{complaint}/clocks", token=SUPERVISOR
        )
    await rec.call(
        "clocks of a complaint (CSV)",
        "sla",
        "GET",
        f"{api}/complaints/{a}/clocks",
        token=SUPERVISOR,
        params={"format": "csv"},
    )
    await rec.call(
        "clocks, out of scope", "sla", "GET", f"{api}/complaints/{a}/clocks", token=OTHER_COORDINATOR
    )
    await rec.call("reports without a token", "sla", "GET", f"{api}/compliance")
    await rec.call("supervisor misrouting", "sla", "GET", f"{api}/misrouting", token=SUPERVISOR, params=scope)
    await rec.call(
        "supervisor misrouting (CSV)",
        "sla",
        "GET",
        f"{api}/misrouting",
        token=SUPERVISOR,
        params={**scope, "format": "csv"},
    )
    await rec.call(
        "classifier accuracy per month", "sla", "GET", f"{api}/classifier/{PEMDA}", token=COORDINATOR
    )
    await rec.call(
        "classifier accuracy of another pemda", "sla", "GET", f"{api}/classifier/33.74", token=SUPERVISOR
    )
    suggestions = f"/api/v1/pemda/{PEMDA}/rule-suggestions"
    await rec.call("rule suggestions from transfers", "routing", "GET", suggestions, token=COORDINATOR)
    await rec.call("rule suggestions: not for a handler", "routing", "GET", suggestions, token=HANDLER)
    await rec.call(
        "accept a suggestion that is not offered",
        "routing",
        "POST",
        f"{suggestions}/penerangan-jalan:dinas-perhubungan:dinas-pupr/accept",
        token=COORDINATOR,
        json_body={"note": "uji golden"},
    )
    await rec.call(
        "reject a suggestion without a reason",
        "routing",
        "POST",
        f"{suggestions}/penerangan-jalan:dinas-perhubungan:dinas-pupr/reject",
        token=COORDINATOR,
        json_body={},
    )
