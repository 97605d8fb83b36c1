"""What the page tests share: Debian's chromium (never `playwright install`; the `browser` fixture
is in conftest.py), axe-core's serious faults, and screenshots under `.run/<profile>/screenshots/`."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from devtools import infra

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = infra.run_dir(infra.test_profile()) / "screenshots"


async def serious_faults(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now (axe from npm,
    served from the cache: injected into the page, so the page's policy must let it run or the
    context bypass it)."""
    await page.add_script_tag(path=str(infra.ensure_axe()))
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}));
        }"""
    )
    return found


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
