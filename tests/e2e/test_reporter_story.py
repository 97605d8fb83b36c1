"""The citizen's whole story in a real browser (Debian's chromium driven by Playwright) on a phone's
screen, on the three services as processes (tests/e2e/conftest.py): submit with a photo → the
confirmation's code and PIN → the complaint page; the handler requests information (routing's
API, a handler's token) → the citizen answers from the page → the handler resolves → the citizen
rates (with the keyboard) and fills the Survei Kepuasan Masyarakat from the page; the status
label, the plain-words line and each countdown checked in every state, axe on each; screenshots
under `.run/<profile>/screenshots/`.

Its own file, named after test_dashboard.py: it starts the session's service stack, whose sla
would also escalate the dashboard's seeded complaints (see test_dashboard.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from devtools.services import ServiceSet
from shared.auth import mint
from tests.attachment_files import photo
from tests.e2e.browser import screenshot, serious_faults
from tests.e2e.test_citizen_pages import PHONE
from tests.e2e.test_routing_flow import Staff
from tests.waiting import eventually

pytestmark = [pytest.mark.e2e]

# The story's pemda is Kota Malang, which no other e2e test counts in (the dashboard's figures of
# Kota Semarang are exact).
PUPR = "35.73/dinas-pupr"
PUPR_NAME = "Dinas Pekerjaan Umum dan Penataan Ruang Kota Malang"  # routing's catalog
HANDLER = mint("handler", opd=PUPR, sub="dewi")


class Story:
    """The citizen's phone (a page under the pages' own policy), a second context with the same
    session for axe (whose injected script that policy forbids), and the citizen's view as JSON
    (the access token from the confirmation) to wait on the services before looking."""

    def __init__(self, services: ServiceSet, http: aiohttp.ClientSession, page: Page, audit: Page) -> None:
        self.base = services.url("intake")
        self.http = http
        self.page = page
        self.audit = audit
        self.url = ""
        self.token = ""
        self.step = 0

    async def view(self) -> dict[str, Any]:
        async with self.http.get(self.url, headers={"Authorization": f"Bearer {self.token}"}) as r:
            assert r.status == 200, await r.text()
            body: dict[str, Any] = await r.json()
            return body

    async def reach(
        self,
        status: str,
        running: tuple[str, ...] = (),
        paused: tuple[str, ...] = (),
        note: str | None = None,
    ) -> dict[str, Any]:
        """Wait until the citizen's view is in `status` with exactly these clocks running and
        paused (sla's events arrived) and the timeline holds `note`; then open the page."""

        async def probe() -> dict[str, Any] | None:
            view = await self.view()
            clocks = {
                state: {d["clock"] for d in view["deadlines"] if d["state"] == state}
                for state in ("running", "paused")
            }
            noted = note is None or any(note in t["summary"] for t in view["timeline"])
            settled = clocks == {"running": set(running), "paused": set(paused)}
            return view if view["status"] == status and settled and noted else None

        what = f"the citizen's view {status}, running {running}, paused {paused}, noting {note}"
        view = await eventually(probe, within=90, what=what)
        await self.page.goto(self.url)
        return view

    async def look(self, name: str) -> None:
        """A screenshot of the phone, and axe on the same page in the audit context."""
        self.step += 1
        await screenshot(self.page, f"citizen-story-{self.step}-{name}.png")
        await self.audit.goto(self.page.url)
        assert await serious_faults(self.audit) == [], name

    async def status_shown(self) -> tuple[str, str]:
        shown = self.page.locator("[data-status]")
        return (await shown.get_attribute("data-status") or ""), (await shown.text_content() or "")

    async def countdown(self, clock_name: str) -> str:
        return (await self.page.text_content(f'[data-tenggat="{clock_name}"]') or "").strip()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def test_the_citizens_story_from_the_form_to_the_survey(
    services: ServiceSet, http: aiohttp.ClientSession, browser: Browser
) -> None:
    phone = await browser.new_context(viewport=PHONE, locale="id-ID", is_mobile=True)
    audit = await browser.new_context(viewport=PHONE, locale="id-ID", bypass_csp=True)
    page = await phone.new_page()
    story = Story(services, http, page, await audit.new_page())
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # A refused script, style or image (the pages' policy) is a console error.
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)

    # Submit from the form: the region picker level by level, a photo.
    await page.goto(f"{story.base}/lapor")
    await page.fill("#f-title", "Jalan berlubang di Jl. Pemuda")
    await page.fill(
        "#f-description", "Lubang besar di depan SD Negeri 2, dua minggu membahayakan pengendara."
    )
    await page.select_option("#f-category", "jalan-jembatan")
    for level, code in (("provinsi", "35"), ("kabkota", "35.73"), ("kecamatan", "35.73.01")):
        await page.select_option(f"#f-{level}", code)
    await page.wait_for_selector("#f-desa")
    await page.select_option("#f-desa", "35.73.01.1002")
    await page.fill("#f-name", "Sari Wulandari")
    await page.fill("#f-phone", "081234567890")
    await page.set_input_files(
        "#f-foto", files=[{"name": "lubang.jpg", "mimeType": "image/jpeg", "buffer": photo((320, 240))}]
    )
    await story.look("lapor")
    await page.click("button.utama")
    await page.wait_for_selector("[data-nomor]")
    await story.look("terkirim")
    number = (await page.text_content("[data-nomor]") or "").strip()
    code = (await page.text_content("[data-kode]") or "").strip()
    pin = (await page.text_content("[data-pin]") or "").strip()
    story.token = (await page.text_content("[data-token]") or "").strip()
    story.url = f"{story.base}/api/v1/complaints/{number}"

    # The confirmation's code and PIN open the complaint's page (the session cookie).
    await page.click("text=Lacak pengaduan")
    await page.fill("#f-code", code)
    await page.fill("#f-pin", pin)
    await page.click("button.utama")
    await page.wait_for_url(story.url)
    await audit.add_cookies(await phone.cookies())

    # Routed to the OPD: waiting for it, both of its clocks counting (Idul Fitri's cuti bersama
    # spends none of their working days yet).
    await story.reach("assigned", running=("response", "resolution"))
    assert await story.status_shown() == ("assigned", "Terdisposisi, belum ditindaklanjuti")
    assert await page.get_attribute("[data-opd]", "data-opd") == PUPR
    # By the name routing's catalog announced; times in the pemda's zone (Malang: WIB).
    assert await page.text_content("[data-opd]") == PUPR_NAME
    assert (await page.text_content(".riwayat time") or "").endswith(" WIB")
    assert (await story.countdown("response")).startswith("sisa 5 hari kerja (paling lambat akhir hari ")
    assert (await story.countdown("resolution")).startswith("sisa 5 hari kerja (paling lambat akhir hari ")
    # The photo, as a thumbnail the page's policy lets through.
    loaded = await page.eval_on_selector("[data-lampiran] img", "img => img.complete && img.naturalWidth")
    assert loaded == 320
    await story.look("menunggu-opd")

    # The handler asks for more information (routing's API, the handler's token).
    staff = Staff(services, http, number)
    status, body = await staff.post("claim", HANDLER)
    assert status == 200, body
    status, body = await staff.post(
        "request-info", HANDLER, {"message": "Mohon sebutkan nomor tiang terdekat."}
    )
    assert (status, body["status"]) == (200, "waiting_reporter"), body
    await story.reach("waiting_reporter", paused=("resolution",))
    assert await story.status_shown() == ("waiting_reporter", "Menunggu tanggapan pelapor")
    assert await story.countdown("resolution") == "dijeda, sisa 5 hari kerja"
    asked = f"{PUPR_NAME} meminta informasi tambahan dari pelapor: Mohon sebutkan nomor tiang terdekat."
    assert asked in " ".join((await page.text_content(".riwayat") or "").split())
    await story.look("diminta-informasi")

    # The citizen answers from the page.
    await page.fill("#f-message", "Tiang nomor 12, di seberang warung.")
    await page.click("#form-informasi button")
    await page.wait_for_url(f"{story.url}?terkirim=informasi")
    assert await page.text_content(".kabar") == "Informasi Anda terkirim ke OPD dan akan tampil di riwayat."
    await story.reach("in_progress", running=("resolution",), note="Pelapor menambahkan informasi")
    assert await story.status_shown() == ("in_progress", "Sedang diproses")
    assert (await story.countdown("resolution")).startswith("sisa 5 hari kerja")
    assert "Tiang nomor 12, di seberang warung." in (await page.text_content(".riwayat") or "")
    await story.look("dijawab")

    # The handler resolves; the citizen has ten working days to rate or reopen.
    status, body = await staff.post("resolve", HANDLER, {"answer": "Lubang sudah ditambal."})
    assert (status, body["status"]) == (200, "resolved"), body
    await story.reach("resolved", running=("reporter_reply",))
    assert await story.status_shown() == ("resolved", "Terdisposisi selesai")
    assert (await story.countdown("reporter_reply")).startswith("sisa 10 hari kerja")
    for form in ("#form-nilai", "#form-survei", "#form-buka"):
        assert await page.is_visible(form), form
    assert "IKM" not in (await page.text_content("main") or "")
    await story.look("selesai-opd")

    # The rating, chosen with the keyboard (arrows move within the radio group).
    await page.focus("#f-rating-1")
    await page.keyboard.press("Space")
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    assert await page.is_checked("#f-rating-4")
    await page.fill("#f-comment", "Cepat ditangani, terima kasih.")
    await page.click("#form-nilai button")
    await page.wait_for_url(f"{story.url}?terkirim=nilai")
    await story.reach("closed")
    assert await story.status_shown() == ("closed", "Selesai")
    assert "(4/5)" in (await page.text_content(".riwayat") or "")
    assert not await page.is_visible("#form-nilai")

    # The survey, still offered once the complaint is closed: nine elements, 1–4 each.
    answers = {f"u{n}": 3 + n % 2 for n in range(1, 10)}
    for element, score in answers.items():
        await page.check(f"#f-{element}-{score}")
    await story.look("survei")
    await page.click("#form-survei button")
    await page.wait_for_url(f"{story.url}?terkirim=survei")
    await story.reach("closed", note="Pelapor mengisi Survei Kepuasan Masyarakat")
    assert not await page.is_visible("#form-survei")
    await story.look("tuntas")

    assert not errors, (errors, failed)
    assert all(url.startswith(story.base) for url in requested), [
        u for u in requested if not u.startswith(story.base)
    ]
    await phone.close()
    await audit.close()
