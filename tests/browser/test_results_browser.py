"""The results pages in a real browser: the owner opens last month's ranking, drills down to a unit
and a person; no script error or CSP violation; screenshots at desktop and phone width."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from engine.clock import FixedClock
from engine.runtime import Runtime
from engine.services.demo import DEMO_PASSWORD
from engine.services.demo_scores import load_demo_scores
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, DESKTOP, shoot
from web import create_app

APRIL = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def live_results(demo_org):
    """The demo organisation with February and March 2026 scored, served at 10 April 2026."""
    march = datetime(2026, 3, 10, 2, tzinfo=UTC)
    rt = Runtime(demo_org.settings, database=demo_org.db, clock=FixedClock(march))
    load_demo_scores(rt)
    rt.clock.move_to(APRIL)
    load_demo_scores(rt)
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kaohe-results-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_the_owner_reads_the_ranking_and_drills_down(live_results):
    base, problems = live_results, []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        try:
            page.goto(f"{base}/login")
            page.get_by_label("用户名").fill("owner")
            page.get_by_label("密码").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.get_by_role("link", name="考核结果").click()
            expect(page.locator("h1")).to_contain_text("2026-03")
            expect(page.locator("#cat-production table.ranking tbody tr")).to_have_count(13)
            expect(page.locator("#cat-party_branch svg.histogram rect")).not_to_have_count(0)
            expect(page.locator("#cat-production .flag-bad")).to_have_count(1)  # one last place
            shoot(page, "results-1-ranking")

            page.locator("#cat-production tbody tr").first.get_by_role("link").click()
            expect(page.locator("h1")).to_contain_text("2026-03")
            expect(page.locator("svg.linechart.score circle")).to_have_count(2)  # February and March
            shoot(page, "results-2-unit")

            page.locator("#pick-quarter").select_option("2026Q1")
            page.locator("#pick-quarter").locator("xpath=..").get_by_role("button").click()
            expect(page.locator("h1")).to_contain_text("2026Q1")

            page.locator("table.stacked a[href*='/results/people/']").first.click()
            expect(page.locator("h2").first).to_be_visible()
            shoot(page, "results-3-person")
        finally:
            context.close()
            browser.close()
    assert problems == []
