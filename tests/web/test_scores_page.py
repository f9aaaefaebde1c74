"""The scoring page: an evaluation group downloads its workbook and uploads it filled in."""
from __future__ import annotations

import io
import json
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from engine.models import EvaluationGroup, EvaluationGroupMember, OrgUnit, ScoreEntry
from engine.runtime import SYSTEM
from engine.services import schemes
from engine.services.people import ensure_person
from tests.support.people import PASSWORD, password_hash
from tests.web.conftest import csrf_token, job_download, run_job

SCHEME = {"code": "web", "name": "网页测试方案", "valid_from": "2026-01", "areas": [
    {"code": "party", "name": "党务", "weight": 100, "categories": ["production"],
     "indicators": [{"code": "org", "name": "组织建设", "weight": 100, "max": 10, "method": "points"}]}]}


def setup_group(rt):
    schemes.import_scheme(rt, json.dumps(SCHEME, ensure_ascii=False), SYSTEM)
    with rt.db.unit_of_work() as session:
        session.add_all([OrgUnit(code="P1", name="一队", category="production"),
                         OrgUnit(code="P2", name="二队", category="production")])
        member = ensure_person(session, "scorer", "评分员", password_hash=password_hash(), roles=("eval_member",))
        group = EvaluationGroup(code="party", name="党务评价小组")
        session.add(group)
        session.flush()
        session.add(EvaluationGroupMember(group_id=group.id, person_id=member.id))


def login(client, username):
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)})


def filled(template: bytes, scores: list) -> bytes:
    book = load_workbook(io.BytesIO(template))
    sheet = book["党务"]
    for row, value in zip(sheet.iter_rows(min_row=2), scores):
        row[9].value = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, content: bytes, page_url: str = "/scores"):
    """The scoring page's upload form: an import job; the answer is the job's page."""
    return run_job(client, page_url, "scores_import", {"workbook": (io.BytesIO(content), "party.xlsx")})


def score_count(rt) -> int:
    with rt.db.reading() as session:
        return session.scalar(select(func.count()).select_from(ScoreEntry))


def test_a_group_member_downloads_fills_and_uploads_the_workbook(rt, client):
    setup_group(rt)
    login(client, "scorer")
    page = client.get("/scores")
    assert page.status_code == 200 and "下载 .xlsx" in page.get_data(as_text=True)
    made = run_job(client, "/scores", "scores_template", {"period": "2026-03", "group": "party"})
    assert made.status_code == 200 and 'id="job-done"' in made.get_data(as_text=True)
    download = job_download(client, made)
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    assert "scores-2026-03-party.xlsx" in download.headers["Content-Disposition"]
    bad = upload(client, filled(download.data, [12, 8]))
    text = bad.get_data(as_text=True)
    assert 'id="job-error"' in text
    [row] = re.findall(r'<tr class="problem-row">(.*?)</tr>', text, re.S)  # sheet, row, column, problem
    sheet, line, column, problem = re.findall(r'<td data-label="[^"]+">([^<]*)</td>', row)
    assert (sheet, line, column) == ("党务", "2", "J") and "12" in problem  # J: the 得分 column
    assert score_count(rt) == 0
    good = upload(client, filled(download.data, [9, 8]))
    text = good.get_data(as_text=True)
    assert 'id="job-done"' in text and 'id="job-report"' in text and 'id="job-error"' not in text
    assert score_count(rt) == 2


def test_a_failed_score_import_offers_the_form_again_and_the_fixed_file_imports_from_there(rt, client):
    setup_group(rt)
    login(client, "scorer")
    template = job_download(client, run_job(client, "/scores", "scores_template", {"period": "2026-03"})).data
    failed = upload(client, filled(template, [12, 8]))
    text = failed.get_data(as_text=True)
    found = re.search(r'<section id="job-retry">(.*?)</section>', text, re.S)
    assert found and "改正后重新上传" in text
    form = found.group(1)
    assert 'action="/jobs"' in form and 'name="kind" value="scores_import"' in form and 'name="workbook"' in form
    again = upload(client, filled(template, [9, 8]), page_url=failed.request.path)
    text = again.get_data(as_text=True)
    assert again.request.path != failed.request.path and 'id="job-done"' in text and score_count(rt) == 2
    assert 'id="job-retry"' not in text and '<a href="/scores">返回</a>' in text


def test_staff_cannot_download_or_upload_and_missing_file_is_explained(rt, app, client, people):
    setup_group(rt)
    staff = app.test_client()
    login(staff, "alice")
    assert run_job(staff, "/scores", "scores_template", {"period": "2026-03"}).status_code == 403
    workbook = {"workbook": (io.BytesIO(b"x"), "party.xlsx")}
    assert run_job(staff, "/scores", "scores_import", workbook).status_code == 403
    assert "考核评分" not in staff.get("/tasks").get_data(as_text=True)  # no menu entry for staff
    login(client, "scorer")
    empty = run_job(client, "/scores", "scores_import")
    assert empty.request.path == "/scores" and "请选择要上传的文件" in empty.get_data(as_text=True)
    assert score_count(rt) == 0
