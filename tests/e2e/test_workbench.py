"""The handler workbench (issue 21 items 2 and 6) in Debian's chromium driven by Playwright, against
the three services as processes on the real Kafka and database (tests/e2e/conftest.py).

A handler signs in, watches the queue while a citizen submits (the row appears without a reload),
claims, asks for information, the reporter answers through intake's API, and resolves; a transfer
out of the region's reach is refused in words, then one within it goes; a handler of another OPD
is refused the page; a supervisor looks without forms; an anonymous complaint's page shows no
identity. axe-core finds no serious or critical fault on the queue and complaint pages. It runs
in Kota Mataram (52.71), a pemda no other e2e test uses, so its queues hold only its complaints.
Screenshots go to `.run/<profile>/screenshots/workbench-*.png`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page
from ulid import ULID

from devtools import infra
from devtools.services import ServiceSet
from services.routing.adapters.accounts import MongoStaffDirectory
from services.routing.domain.staff import Account
from shared import clock
from shared.auth import mint
from shared.envelope import new_event
from shared.events import SlaWarning
from shared.kafka import Outgoing, durable_producer, publish
from shared.mongo import mongo_client
from shared.topics import SLA_EVENTS
from tests.e2e.browser import screenshot, serious_faults
from tests.e2e.conftest import DB_PREFIX
from tests.smtp_server import Mailbox
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PEMDA, REGION = "52.71", "52.71.01.1004"
PUPR, DISHUB = "52.71/dinas-pupr", "52.71/dinas-perhubungan"
PASSWORD = "sandi-meja-kerja-uji"
SUBMISSION = {
    "title": "Gorong-gorong tersumbat di Ampenan",
    "description": "Air meluap ke jalan setiap hujan di depan pasar Ampenan sejak minggu lalu.",
    "category": "jalan-jembatan",
    "region_code": REGION,
    "reporter": {"name": "Lalu Ahmad Zaini", "phone": "0819-1234-5678"},
}


@pytest.fixture(scope="module")
async def people(services: ServiceSet, endpoints: infra.Endpoints) -> dict[str, Account]:
    """Accounts of this run (names of their own: the stack's database outlives a run)."""
    run = str(ULID()).lower()[-6:]
    accounts = {
        "handler": Account(
            id=f"budi.{run}",
            name="Budi Mataram",
            role="handler",
            pemda=PEMDA,
            opd=PUPR,
            email=f"budi.{run}@pupr.mataram.example",
        ),
        "dishub": Account(id=f"tono.{run}", name="Tono Dishub", role="handler", pemda=PEMDA, opd=DISHUB),
        "supervisor": Account(id=f"sri.{run}", name="Sri Pengawas", role="supervisor", pemda=PEMDA, opd=None),
    }
    client = mongo_client(endpoints.mongo_uri)
    try:
        directory = MongoStaffDirectory(client[f"{DB_PREFIX}routing"])
        for account in accounts.values():
            await directory.create(account, PASSWORD, "test")
    finally:
        await client.close()
    return accounts


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def _submit(services: ServiceSet, http: aiohttp.ClientSession, **changes: Any) -> tuple[str, str]:
    async with http.post(services.url("intake") + "/api/v1/complaints", json={**SUBMISSION, **changes}) as r:
        assert r.status == 202, await r.text()
        body = await r.json()
    return body["id"], body["access_token"]


async def _assigned(services: ServiceSet, http: aiohttp.ClientSession, complaint_id: str, opd: str) -> None:
    url = services.url("routing") + f"/api/v1/staff/complaints/{complaint_id}"
    headers = {"Authorization": f"Bearer {mint('admin')}"}

    async def probe() -> bool:
        async with http.get(url, headers=headers) as r:
            body = await r.json() if r.status == 200 else {}
        return body.get("status") == "assigned" and body.get("opd_id") == opd

    await eventually(probe, within=60, what=f"{complaint_id} assigned to {opd}")


async def _signed_in(
    browser: Browser, services: ServiceSet, account: Account, *, bypass_csp: bool = False
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(locale="id-ID", bypass_csp=bypass_csp)
    page = await context.new_page()
    await page.goto(services.url("routing") + "/staff/masuk?next=/staff/tugas")
    await page.fill("input[name=username]", account.id)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r"/staff/tugas$"))
    return context, page


async def _text(page: Page, selector: str) -> str:
    return (await page.text_content(selector) or "").strip()


async def test_a_handler_claims_asks_hears_back_and_resolves(
    services: ServiceSet, browser: Browser, people: dict[str, Account], http: aiohttp.ClientSession
) -> None:
    context, page = await _signed_in(browser, services, people["handler"])
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    assert await _text(page, "h1") == f"Antrean pengaduan {PUPR}"

    # A citizen submits while the queue is open: the row arrives without a reload.
    complaint_id, access = await _submit(services, http)
    row = page.locator(f"tr[data-id='{complaint_id}']")
    await row.wait_for(timeout=90_000)
    assert "pengaduan baru" in await _text(page, "#arrivals")
    assert await row.get_attribute("class") == "new"
    await screenshot(page, "workbench-queue-new-arrival.png")

    async def counted_down() -> bool:
        # The server's own row: the countdown coloured by its clock, once sla's clock has come back
        # to routing (group routing-dues); the polling script adds rows, it never redraws them.
        await page.reload()
        return await page.locator(f"tr[data-id='{complaint_id}'] .due").count() == 1

    await eventually(counted_down, within=60, what="the queue row's countdown")
    assert re.match(
        r"due due-(aman|dekat|lewat)$",
        await page.get_attribute(f"tr[data-id='{complaint_id}'] .due", "class") or "",
    )
    await page.click(f"tr[data-id='{complaint_id}'] a")
    await page.wait_for_url(re.compile(rf"/staff/pengaduan/{complaint_id}$"))
    content = await page.content()
    assert "Lalu Ahmad" not in content  # identity stays in intake
    assert "sejak minggu lalu." in content  # "Lalu", a title in the name, is not masked as a word
    await page.click("#form-ambil button")
    await page.wait_for_url(re.compile(r"\?pesan=ambil$"))
    assert await _text(page, "#status") == "Sedang diproses"
    assert people["handler"].id in await _text(page, "#claimed")

    await page.fill("#form-minta-info textarea", "Mohon kirim foto gorong-gorong dari dekat.")
    await page.click("#form-minta-info button")
    await page.wait_for_url(re.compile(r"\?pesan=minta-info$"))
    assert await _text(page, "#status") == "Menunggu tanggapan pelapor"

    # The reporter answers through intake's API; routing resumes the complaint.
    citizen = services.url("intake") + f"/api/v1/complaints/{complaint_id}"
    async with http.post(
        f"{citizen}/information",
        headers={"Authorization": f"Bearer {access}"},
        json={"message": "Foto sudah saya unggah, gorong-gorong tertutup sampah plastik."},
    ) as r:
        assert r.status == 202, await r.text()

    async def resumed() -> bool:
        # The status is routing's own record; the timeline is the OPD's feed, written by its own
        # consumer a moment later: both, before going on.
        await page.goto(services.url("routing") + f"/staff/pengaduan/{complaint_id}")
        return await _text(page, "#status") == "Sedang diproses" and (
            "tertutup sampah plastik" in await _text(page, "#timeline")
        )

    await eventually(resumed, within=60, what="the complaint back in progress with the reporter's answer")
    await page.fill("#form-catatan textarea", "Koordinasi dengan UPT kebersihan pasar.")
    await page.click("#form-catatan button")
    await page.wait_for_url(re.compile(r"\?pesan=catatan$"))
    assert "UPT kebersihan" in await _text(page, "#notes")

    await page.fill("#form-selesaikan textarea", "Gorong-gorong sudah dibersihkan pada hari Jumat.")
    await page.click("#form-selesaikan button")
    await page.wait_for_url(re.compile(r"\?pesan=selesaikan$"))
    assert await _text(page, "#status") == "Terdisposisi selesai"
    assert await page.locator("#actions").count() == 0  # nothing left to do
    await screenshot(page, "workbench-complaint-resolved.png")

    async def told() -> bool:
        async with http.get(citizen, headers={"Authorization": f"Bearer {access}"}) as r:
            return r.status == 200 and (await r.json())["status"] == "resolved"

    await eventually(told, within=60, what="the reporter's view resolved")
    assert blocked == []  # the page's script ran under the policy, nothing refused
    await context.close()


async def test_a_transfer_is_explained_when_refused_and_other_people_see_what_they_may(
    services: ServiceSet, browser: Browser, people: dict[str, Account], http: aiohttp.ClientSession
) -> None:
    complaint_id, _ = await _submit(services, http, title="Jembatan penyeberangan retak")
    await _assigned(services, http, complaint_id, PUPR)
    page_url = services.url("routing") + f"/staff/pengaduan/{complaint_id}"

    other, opage = await _signed_in(browser, services, people["dishub"])
    answer = await opage.goto(page_url)
    assert answer is not None and answer.status == 403
    assert await _text(opage, "h1") == "Bukan wewenang Anda"
    assert "Jembatan" not in await opage.content()
    await screenshot(opage, "workbench-other-opd-refused.png")

    watcher, wpage = await _signed_in(browser, services, people["supervisor"])
    await wpage.goto(page_url)
    assert await _text(wpage, "h1") == "Jembatan penyeberangan retak"
    assert await wpage.locator("form[method=post][action^='/staff/pengaduan']").count() == 0
    await watcher.close()

    context, page = await _signed_in(browser, services, people["handler"])
    await page.goto(page_url)
    await page.fill("#form-alihkan input[name=to_opd_id]", "33.74/dinas-perhubungan")
    await page.fill("#form-alihkan textarea", "Jembatan ini dikelola dinas perhubungan")
    async with page.expect_navigation() as sent:
        await page.click("#form-alihkan button")
    refused = await sent.value
    assert refused is not None and refused.status == 422
    assert "OPD harus milik pemda wilayah pengaduan" in await _text(page, ".error")
    await screenshot(page, "workbench-transfer-refused.png")

    await page.fill("#form-alihkan input[name=to_opd_id]", DISHUB)
    await page.fill("#form-alihkan textarea", "Jembatan penyeberangan dikelola Dinas Perhubungan")
    await page.click("#form-alihkan button")
    await page.wait_for_url(re.compile(r"/staff/tugas\?pesan=alihkan$"))
    assert "dialihkan ke OPD tujuan" in await _text(page, ".notice")
    answer = await page.goto(page_url)
    assert answer is not None and answer.status == 403  # no longer this OPD's

    async def arrived() -> bool:  # now the other OPD's, who may act on it; its feed a moment later
        await opage.goto(page_url)
        return "Diterima dari pengalihan OPD lain" in await _text(opage, "#timeline")

    await eventually(arrived, within=60, what="the transfer in the other OPD's timeline")
    assert await _text(opage, "#status") == "Terdisposisi, belum ditindaklanjuti"
    assert await opage.locator("#form-ambil").count() == 1
    for ctx in (context, other):
        await ctx.close()


async def test_an_anonymous_complaint_shows_no_identity_and_the_pages_pass_axe(
    services: ServiceSet, browser: Browser, people: dict[str, Account], http: aiohttp.ClientSession
) -> None:
    phone = "0878-5555-4444"
    complaint_id, _ = await _submit(
        services,
        http,
        anonymous=True,
        category="penerangan-jalan",
        title="Lampu jalan mati di gang",
        description=f"Sudah sebulan gelap, saya bisa dihubungi di {phone} atau lalu.zaini@contoh.id.",
    )
    await _assigned(services, http, complaint_id, "52.71/dinas-perhubungan")
    # axe's script is injected, which the pages' policy forbids: this context bypasses it.
    context, page = await _signed_in(browser, services, people["dishub"], bypass_csp=True)
    await page.locator(f"tr[data-id='{complaint_id}']").wait_for()
    assert await serious_faults(page) == []
    await screenshot(page, "workbench-queue.png")

    await page.goto(services.url("routing") + f"/staff/pengaduan/{complaint_id}")
    content = await page.content()
    assert "Lampu jalan mati" in content
    for secret in (phone, "lalu.zaini@contoh.id", "Lalu Ahmad", "Zaini"):
        assert secret not in content, secret
    assert (await _text(page, "#reporter")).startswith("Anonim")
    assert await serious_faults(page) == []
    await screenshot(page, "workbench-anonymous-complaint.png")
    await context.close()


async def test_the_handler_is_told_by_e_mail_of_the_assignment_and_of_a_warning(
    services: ServiceSet,
    http: aiohttp.ClientSession,
    people: dict[str, Account],
    staff_smtp: tuple[Mailbox, int, Path],
    endpoints: infra.Endpoints,
) -> None:
    """The stack's routing mails the OPD's handler through the SMTP server this session started:
    the new assignment, then a warning of the response clock (published on `sla.events` as sla
    publishes it at 75 % of the time; the stack's own clock is days away from one). Neither
    carries the reporter's name or phone."""
    mailbox, _, _ = staff_smtp
    address = people["handler"].email
    assert address
    cid, _ = await _submit(services, http)
    await _assigned(services, http, cid, PUPR)

    async def mails(subject: str) -> list[Any] | None:
        found = [m for m in mailbox.to(address) if str(m["Subject"]).startswith(subject)]
        return found or None

    [assigned] = await eventually(
        lambda: mails(f"Pengaduan {cid} masuk ke "), within=60, what="the assignment mail"
    )
    now = clock.now()
    warning = SlaWarning(
        clock_id=f"{cid}:response:1", clock="response", opd_id=PUPR, pemda=PEMDA, started_at=now,
        due_at=now + timedelta(days=1), budget_seconds=5 * 86400, state="running", at=now, version=1,
    )  # fmt: skip
    producer = durable_producer(endpoints.kafka_bootstrap)
    await producer.start()
    try:
        envelope = new_event(warning, producer="sla", complaint_id=cid, seq=1)
        await publish(producer, [Outgoing.of(SLA_EVENTS, cid, envelope)])
    finally:
        await producer.stop()
    [warned] = await eventually(
        lambda: mails(f"Tenggat tanggapan pengaduan {cid} segera berakhir"),
        within=60,
        what="the warning mail",
    )
    assert warned["Message-ID"] == f"<{envelope.event_id}.{people['handler'].id}@pengaduan.localhost>"
    for mail in (assigned, warned):
        text = mail.get_payload(decode=True).decode()
        assert f"Nomor pengaduan: {cid}" in text and "/staff/" in text
        assert "Lalu Ahmad" not in text and "1234-5678" not in text and "12345678" not in text
