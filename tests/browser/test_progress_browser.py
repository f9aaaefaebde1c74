"""Long work runs as a background job: the form leads to the job's page, whose progress bar shows the
real percentage as the work reports it, then the download or the import's outcome."""
from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from playwright.sync_api import expect

from engine.services import jobs, org_io
from engine.services.progress import counted
from tests.browser.support import sign_in
from tests.integration.test_jobs import org_workbook


@pytest.fixture
def background(rt, monkeypatch):
    """Jobs in a thread of the server, as with KAOHE_WORK_QUEUE=thread; progress saved often."""
    rt.settings = replace(rt.settings, work_queue="thread")
    monkeypatch.setattr(jobs, "REPORT_SECONDS", 0.05)


@pytest.mark.timeout(90)
def test_the_organisation_export_shows_its_percentage_and_then_the_download(live_server, page, problems,
                                                                           background, monkeypatch):
    # Hold the export at 40 % and 80 % of its rows so the page can be seen at both.
    gates = {40: threading.Event(), 80: threading.Event()}
    real_write_xlsx = org_io.write_xlsx

    def watched_write_xlsx(path, sheets, *, explanation, progress=None):
        for n in counted(range(100), progress, 100, "正在写入工作表「人员」", "writing sheet people", every=10):
            if n in gates:
                gates[n].wait(15)
        return real_write_xlsx(path, sheets, explanation=explanation)
    monkeypatch.setattr(org_io, "write_xlsx", watched_write_xlsx)
    sign_in(page, live_server, "owner")
    page.goto(f"{live_server}/admin/org")
    page.get_by_role("button", name="下载当前组织（.xlsx）").click()
    expect(page).to_have_url(f"{live_server}/jobs/1")
    bar = page.locator("#job-bar")
    expect(page.locator("#job-percent")).to_have_text("40%", timeout=10000)
    expect(bar).to_have_attribute("value", "40")
    expect(page.locator("#job-stage")).to_have_text("正在写入工作表「人员」")
    gates[40].set()
    expect(page.locator("#job-percent")).to_have_text("80%", timeout=10000)  # it moved, without reloading
    gates[80].set()
    download_button = page.locator("#job-download")
    expect(download_button).to_be_visible(timeout=15000)
    with page.expect_download() as download:
        download_button.click()
    assert download.value.suggested_filename == "org.xlsx"
    assert download.value.path().stat().st_size > 1000
    assert problems == []




@pytest.mark.timeout(90)
def test_an_import_shows_its_outcome_or_every_row_problem(live_server, page, problems, background, tmp_path):
    sign_in(page, live_server, "owner")
    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    good.write_bytes(org_workbook([["n1", "新员工", "P01"]]))
    bad.write_bytes(org_workbook([["n2", "", "NOPE"]]))
    page.goto(f"{live_server}/admin/org")
    page.set_input_files("#workbook", str(bad))
    page.get_by_role("button", name="上传并导入").click()
    error = page.locator("#job-error")
    expect(error).to_contain_text("导入被拒绝：发现 2 个问题", timeout=15000)
    expect(error.locator(".problem-row")).to_have_count(2)
    expect(error.locator(".problem-row").first).to_contain_text("人员")
    page.goto(f"{live_server}/admin/org")
    page.set_input_files("#workbook", str(good))
    page.get_by_role("button", name="上传并导入").click()
    expect(page.locator("#job-report")).to_contain_text("人员：新建 1，更新 0，未变 0", timeout=15000)
    assert problems == []
