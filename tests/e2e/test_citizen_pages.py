"""The citizen's pages in a real browser (Debian's chromium driven by Playwright), on a phone's
screen: the region picker loads each level from the service as the one above is chosen, the
complaint is submitted and confirmed, nothing is fetched from elsewhere, and axe-core (from npm,
injected into the page) finds no serious or critical accessibility fault on the form, its error
state or the confirmation. Screenshots are saved under `.run/<profile>/screenshots/`.

Intake runs in-process on the real broker and database (tests/intake_app.py). The whole story, on
the three services as processes, is tests/e2e/test_reporter_story.py."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from devtools import infra
from tests.e2e.browser import screenshot, serious_faults
from tests.intake_app import running_intake

pytestmark = [pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}


async def test_a_citizen_submits_from_a_phone(endpoints: infra.Endpoints, browser: Browser) -> None:
    async with running_intake(endpoints) as (client, db):
        base = str(client.make_url("")).rstrip("/")
        context = await browser.new_context(viewport=PHONE, locale="id-ID", is_mobile=True)
        page = await context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{base}/lapor")
        assert await page.is_hidden("[data-tanpa-skrip]")  # the script runs: the picker loads levels
        await page.fill("#f-title", "Lampu jalan mati di depan pasar")
        await page.fill("#f-description", "Tiga lampu jalan di depan Pasar Arjosari mati sejak seminggu.")
        await page.select_option("#f-category", "penerangan-jalan")
        for level, code in (("provinsi", "35"), ("kabkota", "35.73"), ("kecamatan", "35.73.01")):
            await page.select_option(f"#f-{level}", code)
        await page.wait_for_selector("#f-desa")  # loaded from /api/v1/regions, level by level
        await page.fill("#cari-desa", "arjo")  # the search narrows the list
        shown = await page.eval_on_selector_all(
            "#f-desa option", "options => options.filter(o => o.value && !o.hidden).map(o => o.textContent)"
        )
        assert sorted(shown) == ["Arjosari", "Balearjosari"]
        await page.select_option("#f-desa", "35.73.01.1002")
        await page.fill("#f-name", "Dewi Lestari")
        await page.fill("#f-phone", "081355550101")
        await screenshot(page, "citizen-form.png")
        await page.click("button.utama")
        await page.wait_for_selector("[data-nomor]")
        await screenshot(page, "citizen-confirmation.png")
        number = (await page.text_content("[data-nomor]") or "").strip()
        code = (await page.text_content("[data-kode]") or "").strip()
        pin = (await page.text_content("[data-pin]") or "").strip()
        # Following it from the phone: the code and PIN open the complaint's own page.
        await page.goto(f"{base}/lacak")
        await page.fill("#f-code", code)
        await page.fill("#f-pin", pin)
        await page.click("button.utama")
        await page.wait_for_selector("[data-status]")
        assert await page.text_content("h1") == "Lampu jalan mati di depan pasar"
        await screenshot(page, "citizen-tracking.png")
        doc = await db["complaints"].find_one({"_id": number})
        assert doc is not None and doc["region_code"] == "35.73.01.1002"
        assert doc["category"] == "penerangan-jalan" and doc["reporter"]["name"] == "Dewi Lestari"
        assert not errors, errors
        assert all(url.startswith(base) for url in requested), [
            u for u in requested if not u.startswith(base)
        ]
        assert any("/api/v1/regions?parent=35.73.01" in url for url in requested)
        await context.close()


async def test_the_pages_have_no_serious_accessibility_fault(
    endpoints: infra.Endpoints, browser: Browser
) -> None:
    async with running_intake(endpoints) as (client, _):
        base = str(client.make_url("")).rstrip("/")
        # axe's script is injected, which the pages' policy (scripts from the service only) forbids.
        context = await browser.new_context(viewport=PHONE, locale="id-ID", bypass_csp=True)
        page = await context.new_page()
        await page.goto(f"{base}/lapor")
        assert await serious_faults(page) == []
        await page.click("button.utama")  # nothing filled in: the error state
        await page.wait_for_selector("#galat")
        await screenshot(page, "citizen-form-errors.png")
        assert await serious_faults(page) == []
        for selector, value in (
            ("#f-title", "Sampah menumpuk"),
            ("#f-description", "Sampah tidak diangkut sejak Senin, bau."),
        ):
            await page.fill(selector, value)
        await page.select_option("#f-provinsi", "35")
        await page.wait_for_selector("#f-kabkota")
        await page.select_option("#f-kabkota", "35.73")
        await page.click("button.utama")
        await page.wait_for_selector("[data-nomor]")
        assert await serious_faults(page) == []
        await context.close()


# --- the whole story, on the three services as processes -----------------------------------------
