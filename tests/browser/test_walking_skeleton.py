"""The walking skeleton in a real browser: sign in, fix a refused form, finish, and follow the case.

Drives Debian's Chromium (/usr/bin/chromium; `make browser` installs it) with Playwright against a
real server on a free port. Screenshots at desktop and phone width go to tests/browser/screenshots/.
"""
from __future__ import annotations

from playwright.sync_api import expect

from engine.services import deploy, instances
from tests.browser.support import shoot, sign_in
from tests.support.files import review_bundle


def test_staff_fixes_a_refused_form_and_the_owner_follows_the_case(live_server, page, problems, rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"},
                                  title="2025年5月 自评")
    base = live_server

    sign_in(page, base, "alice", screenshot=True)
    expect(page.locator(".taskrow")).to_have_count(1)
    shoot(page, "1-inbox")
    page.get_by_role("link", name="填写自评").click()
    expect(page.locator("h1")).to_have_text("填写自评")

    score, summary = page.get_by_label("自评分"), page.get_by_label("工作说明")
    score.fill("130")
    summary.fill("按时完成了本月全部任务")
    page.get_by_role("button", name="提交").click()
    score_field = page.locator('[data-field="self_score"]')
    expect(score_field.locator(".error")).to_have_text("不能大于 100")
    expect(score).to_have_value("130")
    expect(summary).to_have_value("按时完成了本月全部任务")
    shoot(page, "2-task-refused")

    score.fill("90")
    page.get_by_role("button", name="提交").click()
    expect(page).to_have_url(f"{base}/tasks")
    expect(page.locator(".flash")).to_contain_text("已完成任务「填写自评」")
    expect(page.locator(".empty")).to_contain_text("目前没有待办任务")
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{base}/login")

    sign_in(page, base, "owner")
    page.goto(f"{base}/instances/{instance_id}")
    diagram = page.locator("#diagram.diagram-ready")
    expect(diagram.locator("svg").first).to_be_visible()
    expect(diagram.locator('.djs-element.kaohe-done[data-element-id="self_assess"]')).to_have_count(1)
    expect(diagram.locator('.djs-element.kaohe-active[data-element-id="approve"]')).to_have_count(1)
    history = page.locator("#history")
    expect(history).to_contain_text("填写自评")
    expect(history).to_contain_text("赵员工")
    expect(page.locator("#audit")).to_contain_text("完成任务")
    shoot(page, "3-instance")

    page.goto(f"{base}/instances/{instance_id}?lang=en")
    expect(page.locator("#history h2")).to_have_text("Task history")
    expect(page.locator("#diagram.diagram-ready svg").first).to_be_visible()
    shoot(page, "4-instance-en")
    assert problems == []  # no script errors, no Content-Security-Policy violations
