"""An auditor opens the rectification tracker, finds a problem, and reads its timeline and diagram;
the cross-inspection round page with its matrix and questionnaire bars. Desktop and phone shots."""
from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from engine.services.demo import DEMO_PASSWORD
from tests.browser.support import shoot
from tests.support.rectifications import DONE, IMPLEMENT, VERIFY, approve_plan, do, open_problem, run_round
from web import create_app


@pytest.fixture
def live_server(tracked):
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": tracked, "START_SCHEDULER": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kaohe-tracker-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{base}/tasks")


def test_an_auditor_opens_a_problem_and_reads_its_timeline(live_server, page, problems, tracked):
    round_id = run_round(tracked)
    case = open_problem(tracked)
    approve_plan(tracked, case)
    do(tracked, case, "p01_head", IMPLEMENT, DONE)
    do(tracked, case, "insp_wang", VERIFY, {"verified": False, "verify_comment": "归档台账未见签字，请补签"})
    base = live_server

    sign_in(page, base, "auditor")
    page.get_by_role("link", name="整改台账").click()
    expect(page.locator("h1")).to_have_text("整改台账")
    expect(page.locator("table.tracker tbody tr")).to_have_count(2)
    shoot(page, "tracker-1-list")

    page.get_by_role("link", name="月度绩效例会记录不全").click()
    expect(page).to_have_url(f"{base}/rectifications/{case}")
    timeline = page.locator("ol.timeline > li")
    expect(timeline).to_have_count(5)
    expect(timeline.nth(4)).to_contain_text("验收整改")
    expect(timeline.nth(4)).to_contain_text("王检查")
    expect(timeline.nth(4)).to_contain_text("归档台账未见签字，请补签")
    expect(timeline.nth(3)).to_contain_text("例会记录（2026-03）")
    diagram = page.locator("#diagram.diagram-ready")
    expect(diagram.locator('.djs-element.kaohe-active[data-element-id="fix"]')).to_have_count(1)
    expect(diagram.locator('.djs-element.kaohe-done[data-element-id="verify"]')).to_have_count(1)
    shoot(page, "tracker-2-problem")

    page.goto(f"{base}/rounds/{round_id}")
    expect(page.locator("table.matrix td.cell-done")).to_have_count(2)
    expect(page.locator("svg.pbar .bar-fill").first).to_be_visible()
    shoot(page, "tracker-3-round")

    page.get_by_role("link", name="检查轮次").click()
    expect(page.locator(f'a[href="/rounds/{round_id}"]')).to_be_visible()
    shoot(page, "tracker-4-rounds")
    assert problems == []  # no script errors, no Content-Security-Policy violations
