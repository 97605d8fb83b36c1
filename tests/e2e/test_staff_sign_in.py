"""One sign-in for people (issue 21 item 1), in Debian's chromium driven by Playwright, against the
three real apps (tests/service_apps.py: the real Kafka and database the fixtures start).

The first admin comes from `pengaduan staff create-admin` (its one-time link); the admin creates a
handler and a pemda supervisor in the staff page; each sets their password through their link
(which works once), signs in, and the token the session hands over works: a handler's call to
routing's queue API (as a bearer token), the supervisor's SLA dashboard (as the cookie, reached
through the sign-in's return). Wrong passwords make sign-in wait; a disabled account's session
ends at once; a form without its CSRF token is refused (403) and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from devtools import infra, ops
from services.routing.adapters.accounts import MongoStaffDirectory
from services.routing.domain.staff import Account, Backoff
from services.routing.entrypoints.staff_pages import DIRECTORY, PAGE_SETTINGS
from shared.auth import StaffAuth
from tests.e2e.browser import SCREENSHOTS
from tests.service_apps import Apps, running_apps

pytestmark = pytest.mark.e2e

PEMDA, OPD = "33.74", "33.74/dinas-pupr"
PASSWORD = "kata-sandi-admin-yang-panjang"
TOKEN_COOKIE = "pengaduan_staff_token"


@pytest.fixture(scope="module")
async def apps(endpoints: infra.Endpoints) -> AsyncIterator[Apps]:
    async with running_apps(endpoints) as running:
        yield running


def _base(client: object) -> str:
    return str(client.make_url("")).rstrip("/")  # type: ignore[attr-defined]


async def _first_admin(
    apps: Apps,
    endpoints: infra.Endpoints,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """`pengaduan staff create-admin` on the test's routing database; its one-time link."""
    monkeypatch.setenv("ROUTING_MONGO_URI", endpoints.mongo_uri)
    monkeypatch.setenv("ROUTING_MONGO_DB", apps.routing_db.name)
    monkeypatch.setenv("ROUTING_STAFF_PUBLIC_URL", _base(apps.routing))
    assert await ops.staff_create_admin("admin-semarang", "Admin Semarang", None, password_stdin=False) == 0
    printed = capsys.readouterr().out
    found = re.search(r"(http://\S+/staff/atur-sandi/\S+)", printed)
    assert found, printed
    return found.group(1)


async def _set_password(page: Page, link: str, password: str) -> None:
    await page.goto(link)
    await page.fill("input[name=new]", password)
    await page.fill("input[name=repeat]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r"/staff/masuk\?pesan=sandi"))


async def _sign_in(page: Page, username: str, password: str) -> None:
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def _create(page: Page, base: str, username: str, name: str, role: str, opd: str = "") -> str:
    """In the staff page: a new account; the one-time link it shows."""
    await page.goto(f"{base}/staff/akun")
    form = page.locator("#new-account")
    await form.locator("input[name=username]").fill(username)
    await form.locator("input[name=name]").fill(name)
    await form.locator("select[name=role]").select_option(role)
    await form.locator("input[name=pemda]").fill(PEMDA)
    await form.locator("input[name=opd]").fill(opd)
    await form.locator("button[type=submit]").click()
    await page.wait_for_selector("#link")
    return (await page.text_content("#link") or "").strip()


async def _token(context: BrowserContext) -> dict[str, object]:
    [cookie] = [c for c in await context.cookies() if c["name"] == TOKEN_COOKIE]
    return dict(cookie)


async def test_sign_in_hands_a_working_token_and_links_work_once(
    apps: Apps,
    endpoints: infra.Endpoints,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    routing, sla = _base(apps.routing), _base(apps.sla)
    # The test's sla listens on a port of its own: routing may send people back there.
    monkeypatch.setattr(apps.routing.server.app[PAGE_SETTINGS], "staff_return_origins", sla)
    admin_link = await _first_admin(apps, endpoints, monkeypatch, capsys)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    admin = await browser.new_context(locale="id-ID")
    page = await admin.new_page()
    await _set_password(page, admin_link, PASSWORD)
    await page.goto(admin_link)  # the link worked once
    assert "Tautan tidak berlaku" in (await page.text_content("h1") or "")
    await page.goto(f"{routing}/staff/")
    await page.wait_for_url(re.compile(r"/staff/masuk\?next="))  # not signed in: to the sign-in
    await _sign_in(page, "admin-semarang", PASSWORD)
    await page.wait_for_url(f"{routing}/staff/")
    assert await page.text_content("#who") == "Admin Semarang"
    cookies = {c["name"]: c for c in await admin.cookies()}
    assert cookies["pengaduan_sesi"]["httpOnly"] and cookies["pengaduan_sesi"]["sameSite"] == "Lax"
    assert cookies[TOKEN_COOKIE]["httpOnly"]

    handler_link = await _create(page, routing, "budi.pupr", "Budi Santoso", "handler", "dinas-pupr")
    await page.screenshot(path=str(SCREENSHOTS / "staff-accounts.png"), full_page=True)
    supervisor_link = await _create(page, routing, "sri.pengawas", "Sri Wahyuni", "supervisor")

    handler = await browser.new_context(locale="id-ID")
    hpage = await handler.new_page()
    await _set_password(hpage, handler_link, "sandi-budi-yang-kuat")
    await _sign_in(hpage, "budi.pupr", "sandi-budi-yang-kuat")
    await hpage.wait_for_url(f"{routing}/staff/")
    token = str((await _token(handler))["value"])
    staff = await StaffAuth().verify(token)
    assert (staff.sub, staff.role, staff.opd, staff.name) == ("budi.pupr", "handler", OPD, "Budi Santoso")
    async with aiohttp.ClientSession() as http:
        queue = f"{routing}/api/v1/opd/{OPD}/queue"
        async with http.get(queue, headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(
            f"{routing}/api/v1/opd/33.74/disdukcapil/queue", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 403  # the token carries the account's scope

    # The supervisor opens the dashboard, is sent to the sign-in and comes back signed in.
    supervisor = await browser.new_context(locale="id-ID")
    spage = await supervisor.new_page()
    await _set_password(spage, supervisor_link, "sandi-sri-yang-kuat")
    await spage.goto(f"{sla}/dashboard/")
    await spage.wait_for_selector("#sign-in-panel", state="visible")
    # The link goes to the configured sign-in (routing's usual address), asking to come back here;
    # the test's routing listens elsewhere, so the browser follows the same link there.
    link = urlsplit(await spage.get_attribute("#sign-in", "href") or "")
    assert (link.netloc, link.path, parse_qs(link.query)["next"]) == (
        "127.0.0.1:8082",
        "/staff/masuk",
        [f"{sla}/dashboard/"],
    )
    await spage.goto(f"{routing}/staff/masuk?{link.query}")
    await _sign_in(spage, "sri.pengawas", "sandi-sri-yang-kuat")
    await spage.wait_for_url(f"{sla}/dashboard/")
    await spage.wait_for_function("() => document.querySelector('#who').textContent.includes('Sri Wahyuni')")
    assert "Kota Semarang" in (await spage.text_content("#who") or "")
    await spage.screenshot(path=str(SCREENSHOTS / "staff-dashboard-signed-in.png"), full_page=True)

    # A leaver: the admin disables the handler; the handler's session ends at once.
    await page.goto(f"{routing}/staff/akun")
    await page.locator("tr[data-username='budi.pupr'] button.danger").click()
    await page.wait_for_selector("text=dinonaktifkan")
    await hpage.goto(f"{routing}/staff/")
    await hpage.wait_for_url(re.compile(r"/staff/masuk\?next="))
    await _sign_in(hpage, "budi.pupr", "sandi-budi-yang-kuat")
    assert "salah" in (await hpage.text_content(".error") or "")

    # Logout ends the supervisor's session (the page's own form, with its CSRF token).
    await spage.goto(f"{routing}/staff/")
    await spage.click("nav button")
    await spage.wait_for_url(re.compile(r"/staff/masuk\?pesan=keluar"))
    assert TOKEN_COOKIE not in {c["name"] for c in await supervisor.cookies()}
    await spage.goto(f"{routing}/staff/")
    await spage.wait_for_url(re.compile(r"/staff/masuk\?next="))
    for context in (admin, handler, supervisor):
        await context.close()


async def test_wrong_passwords_make_sign_in_wait_and_forms_need_their_csrf_token(
    apps: Apps, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    routing = _base(apps.routing)
    directory = apps.routing.server.app[DIRECTORY]
    assert isinstance(directory, MongoStaffDirectory)
    # Waits long enough that no test machine outruns them (the defaults start at 2 s).
    slow = Backoff(free=3, base=timedelta(minutes=10), cap=timedelta(minutes=20))
    monkeypatch.setattr(directory, "account_backoff", slow)
    monkeypatch.setattr(directory, "client_backoff", slow)
    # Every browser here signs in from 127.0.0.1: start this client's count from nothing.
    await apps.routing_db["staff_failures"].delete_many({})
    wati = Account(id="wati.admin", name="Wati", role="admin", pemda=None, opd=None)
    await directory.create(wati, "sandi-wati-yang-kuat", "test")

    context = await browser.new_context(locale="id-ID")
    page = await context.new_page()
    statuses = []
    for _ in range(5):
        await page.goto(f"{routing}/staff/masuk")
        async with page.expect_navigation() as sent:
            await _sign_in(page, "wati.admin", "bukan-sandinya")
        answer = await sent.value
        statuses.append((answer.status if answer else None, await page.text_content(".error")))
    assert statuses[:4] == [(401, "Nama pengguna atau kata sandi salah.")] * 4
    assert statuses[4][0] == 429 and "Terlalu banyak percobaan gagal" in (statuses[4][1] or "")
    # Now even the right password waits (and is not checked, nor counted).
    await page.goto(f"{routing}/staff/masuk")
    await _sign_in(page, "wati.admin", "sandi-wati-yang-kuat")
    assert "Terlalu banyak percobaan gagal" in (await page.text_content(".error") or "")
    await page.screenshot(path=str(SCREENSHOTS / "staff-backoff.png"), full_page=True)

    # CSRF: a sign-in post without the form's token is refused and opens no session.
    await directory.succeeded(["account:wati.admin"])
    await apps.routing_db["staff_failures"].delete_many({})
    # A jar that keeps cookies of an IP address host (aiohttp's default one drops them).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        form = {"username": "wati.admin", "password": "sandi-wati-yang-kuat"}
        async with http.post(f"{routing}/staff/masuk", data=form, allow_redirects=False) as resp:
            assert resp.status == 403
            assert "pengaduan_sesi" not in resp.cookies
        # With the form's token (cookie and field) it works; then a staff form without it is 403.
        async with http.get(f"{routing}/staff/masuk") as resp:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
            assert csrf
        async with http.post(
            f"{routing}/staff/masuk", data={**form, "csrf": csrf.group(1)}, allow_redirects=False
        ) as resp:
            assert resp.status == 302 and "pengaduan_sesi" in resp.cookies
        new = {"username": "tanpa.csrf", "name": "Tanpa", "role": "admin"}
        async with http.post(f"{routing}/staff/akun", data=new, allow_redirects=False) as resp:
            assert resp.status == 403
        assert await apps.routing_db["staff_accounts"].find_one({"_id": "tanpa.csrf"}) is None

        # A password change ends the account's other sessions (here the browser's), not this one.
        await page.goto(f"{routing}/staff/masuk")
        await _sign_in(page, "wati.admin", "sandi-wati-yang-kuat")
        await page.wait_for_url(f"{routing}/staff/")
        async with http.get(f"{routing}/staff/sandi") as resp:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
            assert resp.status == 200 and csrf
        change = {"csrf": csrf.group(1), "current": "sandi-wati-yang-kuat", "new": "sandi-baru-wati-2026"}
        async with http.post(f"{routing}/staff/sandi", data={**change, "repeat": change["new"]}) as resp:
            assert resp.status == 200 and "Kata sandi diganti" in await resp.text()
        async with http.get(f"{routing}/staff/", allow_redirects=False) as resp:
            assert resp.status == 200  # this session goes on
    await page.goto(f"{routing}/staff/")
    await page.wait_for_url(re.compile(r"/staff/masuk\?next="))  # the browser's session ended
    await _sign_in(page, "wati.admin", "sandi-baru-wati-2026")
    await page.wait_for_url(f"{routing}/staff/")

    # Her own e-mail address, on the same page, with her password typed again.
    await page.goto(f"{routing}/staff/sandi")
    assert "belum memiliki alamat e-mail" in (await page.text_content("main") or "")
    await page.fill("input[name=email]", "Wati.Admin@Pemda.example")
    await page.fill("input[name=current_email]", "bukan-sandinya")
    await page.click("form[action='/staff/alamat-surel'] button")
    assert "Kata sandi saat ini salah" in (await page.text_content(".error") or "")
    await page.fill("input[name=current_email]", "sandi-baru-wati-2026")
    await page.click("form[action='/staff/alamat-surel'] button")
    await page.wait_for_selector("#alamat-kini")
    assert await page.text_content("#alamat-kini") == "Wati.Admin@pemda.example"  # the domain's case
    assert "alamat lama" not in (await page.text_content(".notice") or "")  # there was none to tell
    await context.close()
