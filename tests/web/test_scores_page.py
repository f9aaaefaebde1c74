"""The scoring page: an evaluation group downloads its workbook and uploads it filled in."""
from __future__ import annotations

import io
import json

from openpyxl import load_workbook
from sqlalchemy import func, select

from engine.models import EvaluationGroup, EvaluationGroupMember, OrgUnit, ScoreEntry
from engine.runtime import SYSTEM
from engine.services import schemes
from engine.services.people import ensure_person
from tests.support.people import PASSWORD, password_hash
from tests.web.conftest import csrf_token

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


def test_a_group_member_downloads_fills_and_uploads_the_workbook(rt, client):
    setup_group(rt)
    login(client, "scorer")
    page = client.get("/scores")
    assert page.status_code == 200 and "下载 .xlsx" in page.get_data(as_text=True)
    download = client.get("/scores/template?period=2026-03&group=party")
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    token = csrf_token(page.get_data(as_text=True))
    bad = client.post("/scores/import", data={"csrf_token": token, "workbook": (
        io.BytesIO(filled(download.data, [12, 8])), "party.xlsx")}, content_type="multipart/form-data")
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "第 2 行" in text and "12" in text
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ScoreEntry)) == 0
    good = client.post("/scores/import", data={"csrf_token": token, "workbook": (
        io.BytesIO(filled(download.data, [9, 8])), "party.xlsx")}, content_type="multipart/form-data")
    assert good.status_code == 200 and "导入成功" in good.get_data(as_text=True)
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ScoreEntry)) == 2


def test_staff_cannot_download_or_upload_and_missing_file_is_explained(rt, app, client, people):
    setup_group(rt)
    staff = app.test_client()
    login(staff, "alice")
    assert staff.get("/scores/template?period=2026-03").status_code == 403
    assert "考核评分" not in staff.get("/tasks").get_data(as_text=True)  # no menu entry for staff
    login(client, "scorer")
    token = csrf_token(client.get("/scores").get_data(as_text=True))
    empty = client.post("/scores/import", data={"csrf_token": token}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "请选择要上传的成绩表" in empty.get_data(as_text=True)
