"""A member of staff declares their month's achievements in a real browser: one refused submit with
the error in place and everything typed kept, then done; their unit head rates the items. Inbox and
task page are photographed at desktop and phone width."""
from __future__ import annotations

import threading

import pytest
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from engine.services.demo import DEMO_PASSWORD
from tests.browser.support import shoot
from web import create_app


@pytest.fixture
def live_server(declared):
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": declared, "START_SCHEDULER": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kaohe-staff-server", daemon=True)
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


def named(page: Page, name: str):
    return page.locator(f'[name="{name}"]')


def test_staff_declares_with_one_refused_submit_and_the_head_rates(live_server, page, problems, declared):
    base = live_server
    sign_in(page, base, "p01_staff1")
    row = page.locator(".taskrow")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("工作实绩申报")
    expect(row).to_contain_text("采油一队")
    expect(row).to_contain_text("2026-12")
    shoot(page, "staff-1-inbox")

    page.get_by_role("link", name="填报工作实绩").click()
    expect(page.locator("h1")).to_have_text("填报工作实绩")
    rows = page.locator(".item-row")
    expect(rows.nth(0)).to_be_visible()
    expect(rows.nth(1)).to_be_hidden()  # one row at first; "添加一项" shows the next
    expect(page.locator("#diagram.diagram-ready .djs-element.kaohe-current[data-element-id=\"declare\"]")) \
        .to_have_count(1)
    named(page, "items-0-title").fill("完成班组安全培训")
    named(page, "items-0-self_rating").select_option("良好")
    named(page, "items-0-detail").fill("培训 32 人次，考试全部合格")
    page.get_by_role("button", name="添加一项").click()
    expect(rows.nth(1)).to_be_visible()
    named(page, "items-1-title").fill("完成3号集输管线保温改造")
    named(page, "items-1-task_source").fill("月度任务书第2项")
    named(page, "items-1-self_rating").select_option("优秀")
    page.get_by_role("button", name="提交").click()

    source = page.locator('[data-field="items-0-task_source"]')
    expect(source.locator(".error")).to_have_text("此项为必填项")
    expect(named(page, "items-0-title")).to_have_value("完成班组安全培训")
    expect(named(page, "items-0-self_rating")).to_have_value("良好")
    expect(named(page, "items-0-detail")).to_have_value("培训 32 人次，考试全部合格")
    expect(named(page, "items-1-title")).to_have_value("完成3号集输管线保温改造")
    expect(rows.nth(1)).to_be_visible()
    shoot(page, "staff-2-task-refused")

    named(page, "items-0-task_source").fill("岗位职责：班组安全")
    page.get_by_role("button", name="提交").click()
    expect(page).to_have_url(f"{base}/tasks")
    expect(page.locator(".flash")).to_contain_text("已完成任务「填报工作实绩」")
    page.get_by_role("button", name="退出").click()

    sign_in(page, base, "p01_head")
    page.get_by_role("link", name="评价工作实绩").click()
    expect(page.locator("h1")).to_have_text("评价工作实绩")
    expect(named(page, "items-0-title")).to_be_disabled()
    expect(named(page, "items-0-title")).to_have_value("完成班组安全培训")
    expect(page.locator("#steps")).to_contain_text("完成3号集输管线保温改造")
    expect(page.locator("#diagram.diagram-ready .djs-element.kaohe-current[data-element-id=\"rate_by_head\"]")) \
        .to_have_count(1)
    for index, rating in ((0, "良好"), (1, "优秀")):
        named(page, f"items-{index}-rating").select_option(rating)
        named(page, f"items-{index}-rating_reason").fill("按期完成，效果明显")
    named(page, "score").fill("91")
    shoot(page, "staff-3-rating")
    page.get_by_role("button", name="提交").click()
    expect(page).to_have_url(f"{base}/tasks")
    expect(page.locator(".flash")).to_contain_text("已完成任务「评价工作实绩」")
    assert problems == []  # no script errors, no Content-Security-Policy violations
