"""A process owner finds a running rectification case in the instance list and opens it: the
diagram marks the completed path, the current token and the waiting timer with its due time.
Desktop and phone screenshots."""
from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.browser.test_tracker_browser import sign_in
from tests.browser.support import shoot
from tests.support.rectifications import DONE, IMPLEMENT, VERIFY, approve_plan, do, open_problem
from web import create_app


@pytest.fixture
def live_server(tracked):
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": tracked, "START_SCHEDULER": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kaohe-instances-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_owner_opens_a_rectification_waiting_for_its_follow_up(live_server, page, problems, tracked):
    case = open_problem(tracked)
    approve_plan(tracked, case)
    do(tracked, case, "p01_head", IMPLEMENT, DONE)
    do(tracked, case, "insp_wang", VERIFY, {"verified": True})  # now 30 days of follow-up (from 2026-05-06 09:00)
    base = live_server

    sign_in(page, base, "owner")
    page.get_by_role("link", name="流程实例").click()
    expect(page.locator("h1")).to_have_text("流程实例")
    page.get_by_label("流程").select_option("rectification")
    page.get_by_role("button", name="筛选").click()
    rows = page.locator("table.instance-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("等待定时器")
    expect(rows.first).to_contain_text("2026-06-05 09:00")
    shoot(page, "instances-1-list")

    rows.first.get_by_role("link").click()
    expect(page).to_have_url(f"{base}/instances/{case}")
    diagram = page.locator("#diagram.diagram-ready")
    expect(diagram.locator('.djs-element.kaohe-done[data-element-id="verify"]')).to_have_count(1)
    expect(diagram.locator('.djs-element.kaohe-done[data-element-id="plan"]')).to_have_count(1)
    expect(diagram.locator('.djs-connection.kaohe-done[data-element-id="verified_flow"]')).to_have_count(1)
    expect(diagram.locator('.djs-connection.kaohe-done[data-element-id="reopened_flow"]')).to_have_count(0)
    expect(diagram.locator('.djs-element.kaohe-active.kaohe-timer[data-element-id="follow_up_wait"]')) \
        .to_have_count(1)
    expect(diagram.locator(".kaohe-timer-due")).to_have_text("到期 2026-06-05 09:00")
    expect(diagram.locator(".kaohe-timer-due")).to_be_visible()
    expect(page.locator("#history")).to_contain_text("验收整改")
    expect(page.locator("#actions")).to_contain_text("终止原因")
    shoot(page, "instances-2-case")
    assert problems == []  # no script errors, no Content-Security-Policy violations
