"""Coordinator pages (issue 21 items 3 and 6), in Debian's chromium driven by Playwright, against the
three real apps (tests/service_apps.py: the real Kafka and database the fixtures start).

A coordinator signs in, sees a triaged complaint with the classifier's guess and its confidence,
disposes it in one step (the guess preselected), and the complaint reaches the OPD (its queue,
and intake's view over Kafka). A handler is refused the coordinator pages. An anonymous
complaint's reporter is never on routing's pages, and intake's identity page shows it to the
handler of no one: the handler is refused (audited), the coordinator sees it only after asking,
with the audit trail. Screenshots are saved; axe-core finds no serious or critical fault.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from devtools import infra
from services.routing.adapters.catalog import load_catalog
from services.routing.domain.staff import Account
from services.routing.entrypoints.staff_pages import DIRECTORY, PAGE_SETTINGS
from shared.auth import mint
from tests.e2e.browser import SCREENSHOTS, serious_faults
from tests.integration.test_coordinator_pages import PEMDA, World, triaged
from tests.service_apps import running_apps
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PASSWORD = "kata-sandi-yang-cukup-panjang"
PUPR = f"{PEMDA}/dinas-pupr"


def _base(client: Any) -> str:
    return str(client.make_url("")).rstrip("/")


@pytest.fixture(scope="module")
async def world(endpoints: infra.Endpoints) -> AsyncIterator[World]:
    async with running_apps(endpoints) as apps:
        await load_catalog(apps.routing_db)
        directory = apps.routing.server.app[DIRECTORY]
        await directory.create(
            Account("koor", "Koordinator Semarang", "coordinator", PEMDA, None), PASSWORD, "t"
        )
        await directory.create(Account("budi", "Budi Santoso", "handler", PEMDA, PUPR), PASSWORD, "t")
        apps.routing.server.app[PAGE_SETTINGS].staff_intake_url = _base(apps.intake)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        yield World(apps, _base(apps.routing), _base(apps.intake))


async def _signed_in(browser: Browser, world: World, username: str) -> tuple[BrowserContext, Page]:
    # axe's script is injected, which the pages' policy (no script at all) forbids.
    context = await browser.new_context(locale="id-ID", bypass_csp=True)
    page = await context.new_page()
    await page.goto(f"{world.routing}/staff/masuk")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{world.routing}/staff/")
    return context, page


async def _checked(page: Page, name: str) -> None:
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    assert await serious_faults(page) == [], name


async def _in_intake(world: World, complaint_id: str) -> bool:
    """Intake's view has the complaint assigned to dinas-pupr (the events reached it over Kafka)."""
    found = await world.apps.intake_db["complaints"].find_one({"_id": complaint_id})
    return bool(found and found.get("opd_id") == PUPR and found.get("status") == "assigned")


async def test_a_coordinator_disposes_a_triaged_complaint_in_one_step(
    world: World, endpoints: infra.Endpoints, browser: Browser
) -> None:
    complaint_id = await triaged(world, endpoints.kafka_bootstrap)
    context, page = await _signed_in(browser, world, "koor")
    await page.click("nav >> text=Triase")
    await page.wait_for_url(f"{world.routing}/staff/triase")
    row = page.locator(f"tr[data-id='{complaint_id}']")
    assert "Jalan dan Jembatan" in (await row.locator(".guess").text_content() or "")
    assert "keyakinan 39%" in (await row.locator(".guess").text_content() or "")
    # Why it waits here, in words: the classifier was not sure enough.
    assert "kurang yakin" in (await row.locator(".triage-reason").text_content() or "")
    assert await row.locator("select[name=opd_id]").input_value() == PUPR  # the guess preselected
    assert "Dinas Pekerjaan Umum" in (
        await row.locator("select[name=opd_id] option:checked").text_content() or ""
    )
    await _checked(page, "coordinator-triage.png")
    await row.locator("button[type=submit]").click()  # one step
    await page.wait_for_selector("text=didisposisikan ke Dinas Pekerjaan Umum")
    assert await page.locator(f"tr[data-id='{complaint_id}']").count() == 0
    await _checked(page, "coordinator-disposed.png")

    # The complaint reached the OPD: its queue (the handler's token) and intake's view.
    handler = mint("handler", opd=PUPR, sub="budi")
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{world.routing}/api/v1/opd/{PUPR}/queue", headers={"Authorization": f"Bearer {handler}"}
        ) as r,
    ):
        assert complaint_id in [item["id"] for item in (await r.json())["items"]]

    await eventually(lambda: _in_intake(world, complaint_id), within=120, what="the disposition in intake")

    # The catalog page too has no serious accessibility fault.
    await page.click("text=Katalog OPD dan aturan pemda")
    await page.wait_for_selector("#opds")
    await _checked(page, "coordinator-catalog.png")
    await context.close()


async def test_a_handler_is_refused_and_an_anonymous_reporter_is_not_shown(
    world: World, endpoints: infra.Endpoints, browser: Browser
) -> None:
    complaint_id = await triaged(world, endpoints.kafka_bootstrap, anonymous=True, confidential=True)
    handler, hpage = await _signed_in(browser, world, "budi")
    assert await hpage.locator("nav >> text=Triase").count() == 0
    for path in ("/staff/triase", f"/staff/triase/{complaint_id}", "/staff/katalog"):
        response = await hpage.goto(f"{world.routing}{path}")
        assert response is not None and response.status == 403
        assert "Bukan wewenang Anda" in (await hpage.text_content("h1") or "")
    await hpage.screenshot(path=str(SCREENSHOTS / "coordinator-refused-handler.png"), full_page=True)

    coordinator, page = await _signed_in(browser, world, "koor")
    await page.goto(f"{world.routing}/staff/triase/{complaint_id}")
    assert "anonim" in (await page.text_content("#flags") or "")
    assert "Sari" not in (await page.content())  # routing never holds the reporter's identity
    await _checked(page, "coordinator-complaint.png")
    await page.click("#identity-link")
    await page.wait_for_url(f"{world.intake}/staff/pelapor/{complaint_id}")
    assert "Sari" not in (await page.content())  # opening the page reveals nothing
    await _checked(page, "coordinator-identity-before.png")

    # Not yet their OPD's: the handler is told nothing of it on intake's page.
    hresponse = await hpage.goto(f"{world.intake}/staff/pelapor/{complaint_id}")
    assert hresponse is not None and hresponse.status == 404
    assert "anonim" not in (await hpage.text_content("main") or "")
    # The coordinator disposes it to the handler's OPD (the complaint's page, guess preselected).
    await page.goto(f"{world.routing}/staff/triase/{complaint_id}")
    await page.click("#dispose button")
    await page.wait_for_selector("text=didisposisikan ke Dinas Pekerjaan Umum")
    await eventually(lambda: _in_intake(world, complaint_id), within=120, what="the disposition in intake")
    # The handler, on intake's page: refused (and audited), the reporter never shown.
    hresponse = await hpage.goto(f"{world.intake}/staff/pelapor/{complaint_id}")
    assert hresponse is not None and hresponse.status == 200
    assert await hpage.locator("#audit").count() == 0  # the trail is not theirs to see
    await hpage.click("#buka button")
    await hpage.wait_for_selector("#galat")
    assert "hanya dapat dibaca Admin Koordinator" in (await hpage.text_content("#galat") or "")
    assert "Sari" not in (await hpage.content())
    await hpage.screenshot(path=str(SCREENSHOTS / "identity-refused-handler.png"), full_page=True)

    # The coordinator asks: the identity, and the trail naming both attempts.
    await page.goto(f"{world.intake}/staff/pelapor/{complaint_id}")
    await page.click("#buka button")
    await page.wait_for_selector("#identitas")
    assert "Sari" in (await page.text_content("#identitas") or "")
    trail = await page.text_content("#audit") or ""
    assert "Koordinator Semarang (koor)" in trail and "Budi Santoso (budi)" in trail
    assert re.search(r"ditolak", trail) and re.search(r"dibuka", trail)
    await _checked(page, "coordinator-identity-shown.png")
    for context in (handler, coordinator):
        await context.close()
