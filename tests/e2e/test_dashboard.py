"""The supervisor dashboard in a real headless browser (Debian's chromium driven by Playwright):
figures published as events on the real topics show on the page, the OPD filter works, nothing is
fetched from outside the service, and a screenshot is saved under `.run/<profile>/screenshots/`.
The person's token comes as routing's sign-in hands it over, an HttpOnly cookie (the sign-in itself
is tests/e2e/test_staff_sign_in.py).

The reports part of the sla service runs in-process (its consumer, with a consumer group of this
test's own, and its routes) against the real broker and database, so the test neither shares
partitions with an `sla` process of another test nor depends on the clock engine's code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page
from ulid import ULID

from devtools import infra
from devtools.seed_reports import events_of, fixed_stories, outgoing
from services.sla.bootstrap import add_supervisor_routes, report_consumer_specs
from services.sla.settings import SlaSettings
from shared import clock
from shared.auth import STAFF_AUTH, StaffAuth, mint
from shared.envelope import new_event
from shared.events import CatalogChanged, OpdEntry
from shared.http import problem_middleware
from shared.kafka import Outgoing, durable_producer, ensure_topics, publish
from shared.mongo import mongo_client
from shared.runtime import ConsumerSpec, with_consumers
from shared.topics import CATALOG_CHANGES, TopicSpec, dlq
from tests.e2e.conftest import STACK_STARTED
from tests.topics import committed_through, ends_now
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

JAYAPURA = "91.71"
PUPR, DLH, DUKCAPIL = (f"{JAYAPURA}/{slug}" for slug in ("dinas-pupr", "dlh", "disdukcapil"))
# The OPDs' names as routing's catalog announces them (issue 21 item 5): the page shows these. The
# test's announcement has the highest revision there can be, so no other one on this broker
# (routing's own, of another test) outranks it in this test's consumer group.
NAMES = {
    PUPR: "Dinas PUPR Kota Jayapura",
    DLH: "Dinas Lingkungan Hidup Jayapura",
    DUKCAPIL: "Disdukcapil Jayapura",
}


def catalog_announcement() -> Outgoing:
    payload = CatalogChanged(
        pemda=JAYAPURA,
        pemda_name="Kota Jayapura",
        revision=2**62,
        opds=[OpdEntry(opd_id=opd, name=name) for opd, name in NAMES.items()],
    )
    event = new_event(payload, producer="routing", complaint_id=None)
    return Outgoing(CATALOG_CHANGES, JAYAPURA, event.to_bytes())


@pytest.fixture(scope="module")
async def dashboard_url(endpoints: infra.Endpoints) -> AsyncIterator[tuple[str, str]]:
    """The reports app on a free port, fed by the seeded events; yields (base URL, complaint prefix).

    One per module: a consumer group of its own reads the topics from their beginning, so a second
    seeding of the same pemda in this session would add up with the first. Before the session's
    service stack starts (files using it are named after this one): its sla would escalate the
    seeded complaints too and publish escalations this consumer counts."""
    assert not STACK_STARTED, "run test_dashboard.py before the e2e tests that start the service stack"
    suffix = str(ULID()).lower()[-10:]
    group, db_name, prefix = f"sla-reports-e2e-{suffix}", f"e2e_{suffix}_sla", f"D{suffix[-4:].upper()}-"
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(dlq(group), 1)])
    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = StaffAuth()
    [spec] = report_consumer_specs(app)
    settings = SlaSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap, mongo_uri=endpoints.mongo_uri, mongo_db=db_name
    )
    with_consumers(app, settings, [ConsumerSpec(group, spec.topics, spec.build)])
    add_supervisor_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    producer = durable_producer(endpoints.kafka_bootstrap)
    await producer.start()
    try:
        stories = outgoing(events_of(fixed_stories(JAYAPURA, clock.now(), prefix=prefix)))
        await publish(producer, [catalog_announcement(), *stories])
    finally:
        await producer.stop()
    # The group reads each topic's whole history (every earlier test's events) at its own pace per
    # partition: the seeded figures are complete only once it has handled everything up to now on
    # every topic it reads, not when one of them (sla.events) shows the seeded escalation.
    ends = await ends_now(endpoints.kafka_bootstrap, *spec.topics)
    await eventually(
        lambda: committed_through(endpoints.kafka_bootstrap, group, ends),
        within=120,
        what="the reports consumer to have handled every topic up to the seeded events",
    )
    try:
        yield f"http://127.0.0.1:{port}", prefix
    finally:
        await runner.cleanup()
        client = mongo_client(endpoints.mongo_uri)
        await client.drop_database(db_name)
        await client.close()


async def _seeded(base: str, token: str) -> bool:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{base}/api/v1/supervisor/compliance?pemda={JAYAPURA}",
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        body: dict[str, Any] = await resp.json()
        rows = {row["scope"]: row for row in body.get("items", [])}
        return (
            DUKCAPIL in rows
            and rows[DUKCAPIL]["opd_name"] == NAMES[DUKCAPIL]
            and rows[DUKCAPIL]["resolution"]["met"] == 2
            and rows.get(PUPR, {}).get("escalated") == 1
        )


async def _signed_in(context: BrowserContext, base: str, token: str) -> None:
    """The browser holds `token` as routing's sign-in leaves it: an HttpOnly cookie for the host."""
    await context.clear_cookies()
    await context.add_cookies(
        [{"name": "pengaduan_staff_token", "value": token, "url": base, "httpOnly": True, "sameSite": "Lax"}]
    )


async def _loaded(page: Page, times: int) -> None:
    # A function, not an expression: Playwright would `eval` an expression, which the page's
    # Content-Security-Policy forbids.
    await page.wait_for_function(
        "(times) => Number(document.body.dataset.loaded || 0) >= times", arg=times, timeout=20000
    )


async def _cells(page: Page, selector: str) -> list[list[str]]:
    rows: list[list[str]] = await page.eval_on_selector_all(
        f"{selector} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    return rows


async def test_the_dashboard_shows_the_seeded_figures_and_filters_by_opd(
    dashboard_url: tuple[str, str], browser: Browser
) -> None:
    base, prefix = dashboard_url
    token = mint("supervisor", pemda=JAYAPURA, sub="kepala-inspektorat")
    await eventually(lambda: _seeded(base, token), within=60, what="the seeded events to be counted")

    context = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="id-ID")
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    # A token in the address is never taken (it would stay in the history and in logs).
    response = await page.goto(f"{base}/dashboard/#token={token}")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    await page.wait_for_selector("#sign-in-panel", state="visible")
    assert "Belum masuk" in (await page.text_content("#who") or "")
    assert (await page.get_attribute("#sign-in", "href") or "").startswith(
        "http://127.0.0.1:8082/staff/masuk?next="
    )
    await _signed_in(context, base, token)
    await page.reload()
    await _loaded(page, 1)
    assert await page.is_hidden("#error"), await page.text_content("#error")
    assert "kepala-inspektorat" in (await page.text_content("#who") or "")
    assert not [m for m in console if "Content Security Policy" in m], console  # the policy lets it all run

    named = {row[0]: row for row in await _cells(page, "#compliance-table")}
    compliance = {opd: named[name] for opd, name in NAMES.items()}  # names, not slugs
    assert (
        compliance[PUPR][4] == "75 %" and compliance[DLH][4] == "0 %" and compliance[DUKCAPIL][4] == "100 %"
    )
    assert compliance[PUPR][9] == "1"  # escalated
    assert named["Jumlah"][4] == "77,8 %"
    assert await page.get_attribute("#compliance-chart svg", "data-rows") == "3"
    tiles = await page.eval_on_selector_all(".tile", "ts => ts.map(t => t.textContent)")
    assert "77,8 %Tepat waktu" in tiles

    breaches = await _cells(page, "#breach-table")
    assert [row[0] for row in breaches] == [f"{prefix}003", f"{prefix}004"]  # the latest first
    assert breaches[0][4] == "terlambat, masih terbuka" and breaches[1][2] == NAMES[DLH]
    escalations = await _cells(page, "#escalation-table")
    assert escalations == [
        [
            f"{prefix}003",
            "1 — Kepala OPD",
            NAMES[PUPR],
            NAMES[PUPR],
            escalations[0][4],
            "jam SLA melewati tenggat",
        ]
    ]
    assert await page.get_attribute("#trend-chart svg", "data-weeks") == "12"
    satisfaction = {row[0]: row for row in await _cells(page, "#satisfaction-table")}
    assert satisfaction[NAMES[DUKCAPIL]][1:3] == ["2", "4,5"]
    # Misrouting: DLH held one complaint one working day, then transferred it to PUPR.
    misrouting = {row[0]: row for row in await _cells(page, "#misrouting-table")}
    assert misrouting[DLH][2:4] == ["1", "0"] and misrouting[DLH][5:7] == ["1 HK", "1 HK"]
    assert misrouting[PUPR][2:4] == ["0", "1"]
    # The classifier's accuracy is a pemda figure: shown for the pemda, a row per month.
    assert await page.is_visible("#classifier")
    assert len(await _cells(page, "#classifier-table")) == 12
    # The SKM surveys (every element 4, and 3): element averages 3.5, IKM 87.50, grade B.
    ikm = {row[0]: row for row in await _cells(page, "#ikm-table")}
    assert ikm[DUKCAPIL][1:3] == ["2", "3,5"] and ikm[DUKCAPIL][11:] == ["87,5", "B (Baik)"]

    screenshots = infra.run_dir(infra.test_profile()) / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    await page.select_option("#f-opd", DLH)
    await page.click("#apply")
    await _loaded(page, 2)
    assert [row[0] for row in await _cells(page, "#compliance-table")] == [NAMES[DLH]]
    assert [row[2] for row in await _cells(page, "#breach-table")] == [NAMES[DLH]]
    assert (await _cells(page, "#escalation-table"))[0][0] == "Tidak ada pengaduan tereskalasi."
    assert [row[0] for row in await _cells(page, "#misrouting-table")] == [DLH]
    assert await page.is_hidden("#classifier")  # not a figure of one OPD
    await page.screenshot(path=str(screenshots / "dashboard-opd.png"), full_page=True)

    assert requested and all(url.startswith(base) for url in requested), "the page must work offline"
    await context.close()


async def test_the_public_transparency_page_needs_no_sign_in_and_runs_no_script(
    dashboard_url: tuple[str, str], browser: Browser
) -> None:
    base, _ = dashboard_url
    await eventually(lambda: _seeded(base, mint("admin")), within=60, what="the seeded events to be counted")
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")  # a phone
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    response = await page.goto(f"{base}/transparansi?pemda={JAYAPURA}")
    assert response is not None and response.status == 200
    assert "script-src" not in response.headers["content-security-policy"]
    # The seeded stories: 8 complaints received; 6 first answers (the one still late and the one
    # transferred away have none), 5 of them within the standard; 2 SKM answers → IKM 87.50 (B).
    assert await page.text_content("#sum-received") == "8"
    assert await page.text_content("#sum-on-time") == "83.3 %"
    assert await page.text_content("#sum-ikm") == "87.50 (B)"
    assert await page.locator("svg.chart rect.bar").count() == 12  # the last 12 months
    opd_rows = await _cells(page, "table")
    assert {row[0].split()[-1] for row in opd_rows} >= {JAYAPURA, PUPR, DLH, DUKCAPIL}
    assert not console, console  # nothing refused by the policy, nothing failing
    assert requested and all(url.startswith(base) for url in requested), "the page must work offline"
    screenshots = infra.run_dir(infra.test_profile()) / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(screenshots / "transparansi.png"), full_page=True)
    await context.close()


async def test_the_signed_in_person_is_shown_and_out_of_scope_is_explained(
    dashboard_url: tuple[str, str], browser: Browser
) -> None:
    base, _ = dashboard_url
    await eventually(lambda: _seeded(base, mint("admin")), within=60, what="the seeded events to be counted")
    context = await browser.new_context()
    page = await context.new_page()
    await _signed_in(context, base, mint("supervisor", pemda="33.74", name="Sri Wahyuni"))
    await page.goto(f"{base}/dashboard/")
    await page.wait_for_function("() => document.querySelector('#who').textContent.includes('Sri Wahyuni')")
    await _loaded(page, 1)  # its own pemda's figures
    await page.fill("#f-pemda", JAYAPURA)
    await page.click("#apply")
    await _loaded(page, 2)
    assert "Di luar kewenangan" in (await page.text_content("#error") or "")

    await _signed_in(context, base, mint("supervisor", opd=DLH))
    await page.reload()  # the page follows whoever the browser is signed in as now
    await _loaded(page, 1)
    assert NAMES[DLH] in (await page.text_content("#who") or "")  # the OPD's name, not its id
    assert await page.is_hidden("#error")
    assert await page.input_value("#f-pemda") == JAYAPURA
    rows = await _cells(page, "#compliance-table")
    assert [row[0] for row in rows] == [NAMES[DLH]]
    assert await page.is_hidden("#classifier")
    await context.close()
