"""The dashboard in headless Chromium (Debian's package, driven by Playwright
through `executable_path`; Playwright's own browser download is never used).

While a pool runs on the embedded chain in this process, the page lists it,
a click opens it, and each round appears live — its global hash, the
operator's accuracy, the verdicts with their reasons — without a reload. The
screenshots go to docs/ (desktop and narrow screen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.frontend_api.conftest import Served
from tests.frontend_api.story import LearningPool

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"
ROUNDS = 3

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed and apt was not available to "
        "scripts/install_chromium.sh (run by `make test`)",
    ),
]


async def test_the_dashboard_follows_a_running_pool_live(served: Served) -> None:
    from playwright.async_api import async_playwright, expect

    pool = await LearningPool.open(served.scenario, served.runtime.bus, rounds=ROUNDS)
    await pool.start()
    key = str(served.scenario.key)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=FLAGS, headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            # Given the page, opened while round 1 is open
            await page.goto(served.url + "/")
            row = page.locator(f'#pools tr[data-pool="{key}"]')
            await expect(row).to_contain_text("Training")
            await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
            await page.evaluate("window.__sameDocument = true")
            # When the pool is clicked
            await row.locator("a.pool-link").click()
            await expect(page.locator("#pool-address")).to_have_text(key)
            await expect(page.locator('#rounds tr[data-round="1"]')).to_contain_text("Committing")
            # Then every round appears live as the operator judges it
            for number in range(1, ROUNDS + 1):
                await pool.submit_round()
                evaluated = await pool.judge_round()
                done = page.locator(f'#rounds tr[data-round="{number}"]')
                await expect(done).to_contain_text("Finished")
                await expect(done).to_contain_text(evaluated.global_model_hash.hex()[:10])
                await expect(done).to_contain_text(f"{100 * evaluated.accuracy:.1f} %")
                if number < ROUNDS:
                    await expect(
                        page.locator(f'#rounds tr[data-round="{number + 1}"]')
                    ).to_be_visible()
            assert await page.evaluate("window.__sameDocument") is True  # never reloaded
            # verdicts with their reasons: the attacker excluded, the silent one slashed
            for trainer, verdict in ((pool.attacker, "Excluded"), (pool.silent, "Slashed")):
                wallet = str(trainer.wallet.pubkey())
                row = page.locator(f'#verdicts tr[data-round="1"][data-wallet="{wallet}"]')
                state = await served.scenario.submission_state(trainer, 1)
                assert state.verdict.value == verdict
                await expect(row).to_contain_text(verdict)
                await expect(row).to_contain_text(state.reason.code)
            silent = page.locator(f'#participants tr[data-wallet="{pool.silent.wallet.pubkey()}"]')
            await expect(silent).to_contain_text("Slashed")
            await expect(page.locator("#accuracy-chart canvas")).to_have_count(1)
            await expect(page.locator("#live li").first).to_be_visible()
            DOCS.mkdir(exist_ok=True)
            await page.screenshot(path=str(DOCS / "dashboard.png"), full_page=True)
            # On a narrow screen nothing spills sideways: wide tables scroll in their box
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.wait_for_timeout(300)
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0
            await page.screenshot(path=str(DOCS / "dashboard-narrow.png"), full_page=False)
            assert errors == []
        finally:
            await browser.close()
