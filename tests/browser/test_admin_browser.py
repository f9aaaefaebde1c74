"""The performance office uploads an organisation workbook with a mistake, reads the row error on the
import's job page, fixes the file and imports it from that page; then the schemes and calendar pages, and an administrator's user page.
Screenshots at desktop and phone width."""
from __future__ import annotations

import io
import json

from openpyxl import load_workbook
from playwright.sync_api import expect

from engine.runtime import SYSTEM
from engine.services import schemes
from engine.services.org_io import write_template
from engine.services.people import ensure_person
from tests.browser.support import shoot, sign_in
from tests.support.people import password_hash

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNITS = [["B09", "第九党支部", "党支部", "", ""], ["P09", "采油九队", "生产型", "", "B09"]]


def workbook(tmp_path, people: list[list[str]]) -> dict:
    """The template as downloaded, filled in, as Playwright hands it to the file input."""
    book = load_workbook(write_template(tmp_path / "template.xlsx"))
    for row in UNITS:
        book["单位"].append(row)
    for row in people:
        book["人员"].append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return {"name": "org.xlsx", "mimeType": XLSX, "buffer": buffer.getvalue()}


def test_the_office_sees_the_row_error_fixes_it_and_imports(live_server, page, problems, rt, tmp_path):  # noqa: F811
    scheme = json.loads((rt.settings.workflows_dir / "schemes" / "default.scheme.json").read_text(encoding="utf-8"))
    schemes.import_scheme(rt, json.dumps(scheme, ensure_ascii=False), SYSTEM)
    with rt.db.unit_of_work() as session:
        ensure_person(session, "root", "管理员", password_hash=password_hash(), roles=("admin",))
    base = live_server
    sign_in(page, base, "owner")
    page.get_by_role("link", name="系统管理").click()
    expect(page.locator("h1")).to_have_text("系统管理")
    expect(page.locator("#units")).to_contain_text("一车间")

    page.set_input_files("#workbook", workbook(tmp_path, [["p09_head", "孙九", "P09", "正职", "党员", "部门正职"],
                                                          ["p09_staff", "周九", "NOPE", "员工", "", "员工"]]))
    page.get_by_role("button", name="上传并导入").click()
    problem = page.locator("#job-error .problem-row")  # the import's job page lists what to fix
    expect(problem).to_have_count(1)
    expect(problem.locator('td[data-label="工作表"]')).to_have_text("人员")
    expect(problem.locator('td[data-label="行"]')).to_have_text("3")
    expect(problem.locator('td[data-label="列"]')).to_have_text("所属单位编码")
    expect(problem.locator('td[data-label="问题"]')).to_contain_text("单位 NOPE 不存在")
    shoot(page, "admin-1-org-upload-error")
    page.get_by_role("link", name="返回").click()
    expect(page.locator("#units")).not_to_contain_text("采油九队")  # nothing was written

    page.go_back()  # the failed job's page offers the upload again: fix the file and send it from there
    expect(page.locator("#job-retry")).to_contain_text("改正后重新上传")
    page.set_input_files("#job-retry #workbook",
                         workbook(tmp_path, [["p09_head", "孙九", "P09", "正职", "党员", "部门正职"]]))
    page.locator("#job-retry").get_by_role("button", name="上传并导入").click()
    expect(page.locator("#job-done")).to_contain_text("已完成")
    page.get_by_role("link", name="返回").click()
    expect(page.locator("#units")).to_contain_text("采油九队")
    page.locator("#units").get_by_role("row").filter(has_text="采油九队").get_by_role("link").click()
    expect(page.locator("#people")).to_contain_text("孙九")
    shoot(page, "admin-2-org")

    page.get_by_role("link", name="考核方案").click()
    page.get_by_role("link", name="第 1 版").click()
    expect(page.locator("h1")).to_contain_text("第 1 版")
    shoot(page, "admin-3-scheme")

    page.goto(f"{base}/admin/calendar")
    page.get_by_label("日期").fill(f"{rt.clock.now().year}-10-01")
    page.get_by_label("名称").fill("国庆节")
    page.get_by_role("button", name="添加非工作日").click()
    expect(page.locator("#holidays")).to_contain_text("国庆节")
    shoot(page, "admin-4-calendar")

    page.get_by_role("button", name="退出").click()
    sign_in(page, base, "root")
    page.goto(f"{base}/admin/users/alice")
    expect(page.locator("#roles")).to_contain_text("员工")
    shoot(page, "admin-5-user")

    page.goto(f"{base}/admin/tokens")
    page.get_by_label("名称").fill("oa-sync")
    page.get_by_label("绩效办公室").check()
    page.get_by_role("button", name="创建令牌").click()
    expect(page.locator("code.secret")).to_contain_text("kh_")
    shoot(page, "admin-6-token")
    assert problems == []  # no script errors, no Content-Security-Policy violations
