"""Long work done in the request shows a progress bar until its answer arrives: a download ends it
through the kaohe_download cookie; an import keeps its button from being pressed twice."""
from __future__ import annotations

import time

from playwright.sync_api import expect

from engine.services import org_admin
from tests.browser.support import sign_in


def slowed(monkeypatch, module, name: str, seconds: float) -> None:
    real = getattr(module, name)

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, slow)


def test_the_organisation_export_shows_a_progress_bar_until_the_file_arrives(live_server, page, problems,
                                                                            monkeypatch):
    slowed(monkeypatch, org_admin, "export_xlsx", 1.5)
    sign_in(page, live_server, "owner")
    page.goto(f"{live_server}/admin/org")
    busy = page.locator(".busy")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载当前组织（.xlsx）").click()
        expect(busy).to_be_visible()
        expect(busy).to_contain_text("正在生成组织表")
        expect(busy.locator("progress")).to_be_visible()
    assert download.value.suggested_filename == "org.xlsx"
    expect(busy).to_have_count(0, timeout=5000)  # the answer came: the bar is gone
    assert problems == []


def test_an_import_shows_progress_and_cannot_be_sent_twice(live_server, page, problems, tmp_path):
    from engine.services import org_io
    sign_in(page, live_server, "owner")
    page.goto(f"{live_server}/admin/org")
    template = tmp_path / "template.xlsx"
    org_io.write_template(template)
    page.set_input_files("#workbook", str(template))
    # Hold the form here once busy.js has reacted (the browser would otherwise leave the page at once).
    page.evaluate("""document.querySelector("form[data-busy]").addEventListener("submit",
                     function (event) { event.preventDefault(); })""")
    button = page.get_by_role("button", name="上传并导入")
    button.click()
    expect(page.locator(".busy")).to_contain_text("正在核对并导入")
    expect(page.locator(".busy progress")).to_be_visible()
    expect(button).to_be_disabled()  # a second press cannot send the workbook twice
    assert problems == []
