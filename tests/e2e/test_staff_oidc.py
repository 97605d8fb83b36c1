"""Staff sign-in through an OpenID Connect provider (issue 21 item 1), in Debian's chromium driven by
Playwright: routing's real app signs people in through a real provider started for the test
(tests/oidc/: panva's oidc-provider, PKCE required), as a person would: its login and consent
pages, back to the staff home with the provider's name and role; a made-up state and an unknown
role are refused with a plain Indonesian page; logout goes through the provider's own logout page
and back. The browser reaches only 127.0.0.1 (the provider's development pages ask for web
fonts elsewhere; those requests are aborted).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route

from devtools import infra
from tests.e2e.browser import SCREENSHOTS
from tests.oidc import OidcRouting, routing_with_provider

pytestmark = pytest.mark.e2e

ELSEWHERE = re.compile(r"^(?!https?://127\.0\.0\.1[:/])")


@pytest.fixture(scope="module")
async def oidc(
    endpoints: infra.Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OidcRouting]:
    async with routing_with_provider(endpoints, tmp_path_factory.mktemp("oidc-browser")) as running:
        running.provider.add(
            "budi.pupr", name="Budi Santoso", role="handler", pemda="33.74", opd="dinas-pupr"
        )
        running.provider.add("tamu", name="Tamu", role="bendahara", pemda="33.74")
        yield running


async def _context(browser: Browser) -> BrowserContext:
    context = await browser.new_context(locale="id-ID")

    async def abort(route: Route) -> None:
        await route.abort()

    await context.route(ELSEWHERE, abort)
    return context


async def _through_provider(page: Page, oidc: OidcRouting, login: str) -> None:
    """At the provider's login page: sign in, then allow routing its claims."""
    await page.wait_for_url(f"{oidc.provider.issuer}/interaction/**")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", "apa-saja")
    await page.click("button[type=submit]")
    await page.wait_for_selector("input[name=prompt][value=consent]", state="attached")
    await page.click("button[type=submit]")


async def test_a_person_signs_in_and_out_through_the_provider(oidc: OidcRouting, browser: Browser) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = await _context(browser)
    page = await context.new_page()
    await page.goto(f"{oidc.base}/staff/")  # no session: straight on to the provider
    await page.screenshot(path=str(SCREENSHOTS / "staff-oidc-provider-login.png"))
    await _through_provider(page, oidc, "budi.pupr")
    await page.wait_for_url(f"{oidc.base}/staff/")
    assert await page.text_content("#who") == "Budi Santoso"
    assert await page.text_content("#role") == "Petugas OPD"
    assert await page.locator("a[href='/staff/sandi']").count() == 0
    await page.screenshot(path=str(SCREENSHOTS / "staff-oidc-home.png"), full_page=True)
    cookies = {c["name"]: c for c in await context.cookies(oidc.base)}
    assert cookies["pengaduan_sesi"]["httpOnly"] and cookies["pengaduan_staff_token"]["httpOnly"]
    assert "pengaduan_oidc" not in cookies  # the attempt's binding is spent

    # Logout: the form's answer goes on to the provider (the pages' policy lets it), whose
    # confirmation sends the browser back to routing's sign-in page, which offers to sign in again.
    await page.click("button:has-text('Keluar')")
    await page.wait_for_url(f"{oidc.provider.issuer}/session/end**")
    await page.click("button[name=logout]")
    await page.wait_for_url(f"{oidc.base}/staff/masuk?pesan=keluar")
    assert "Anda sudah keluar" in (await page.text_content("main") or "")
    await page.screenshot(path=str(SCREENSHOTS / "staff-oidc-signed-out.png"))
    await page.click("#masuk-sso")  # the provider asks again: its session ended too
    await page.wait_for_url(f"{oidc.provider.issuer}/interaction/**")
    await context.close()


async def test_a_made_up_state_and_an_unknown_role_are_refused(oidc: OidcRouting, browser: Browser) -> None:
    context = await _context(browser)
    page = await context.new_page()
    await page.goto(f"{oidc.base}/staff/masuk/oidc?code=abc&state=dibuat-buat")
    assert await page.text_content("h1") == "Proses masuk tidak dikenal"

    await page.goto(f"{oidc.base}/staff/masuk")
    await _through_provider(page, oidc, "tamu")
    await page.wait_for_url(f"{oidc.base}/staff/masuk/oidc?**")
    assert await page.text_content("h1") == "Tidak dapat masuk"
    text = await page.text_content("main") or ""
    assert "Peran Anda di penyedia identitas (bendahara) tidak dikenal oleh sistem ini." in text
    await page.screenshot(path=str(SCREENSHOTS / "staff-oidc-unknown-role.png"))
    assert "pengaduan_sesi" not in {c["name"] for c in await context.cookies(oidc.base)}
    await context.close()
