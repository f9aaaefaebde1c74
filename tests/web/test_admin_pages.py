"""The administration pages: organisation (tree, people, spreadsheet import), schemes, calendar and users,
each seen by an administrator, the office, an auditor and a member of staff."""
from __future__ import annotations

import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, insert, select

from engine.models import AuditEvent, OrgUnit, Person
from engine.services.people import ensure_person
from tests.support.people import PASSWORD, password_hash
from tests.web.conftest import csrf_token, job_download, login, run_job

PAGES = ("/admin/org", "/admin/schemes", "/admin/calendar", "/admin/users")
SCHEME = {"code": "web", "name": "网页方案", "valid_from": "2026-01", "areas": [
    {"code": "party", "name": "党务", "weight": 100, "categories": ["production"],
     "indicators": [{"code": "org", "name": "组织建设", "weight": 100, "max": 10, "method": "points"}]}]}


@pytest.fixture
def admin(rt, people):
    with rt.db.unit_of_work() as session:
        ensure_person(session, "root", "管理员", password_hash=password_hash(), roles=("admin",))


def signed_in(app, username: str, password: str = PASSWORD):
    client = app.test_client()
    response = login(client, username, password)
    assert response.status_code == 302 and response.location.endswith("/tasks"), f"{username} could not log in"
    return client


def can_log_in(app, username: str, password: str) -> bool:
    return login(app.test_client(), username, password).status_code == 302


def post(client, page: str, action: str, data: dict | None = None, **kwargs):
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(action, data={**(data or {}), "csrf_token": token}, **kwargs)


def audit_actions(rt) -> list[str]:
    """What the trail recorded, sign-ins left aside (every test signs in)."""
    with rt.db.reading() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.not_in(("login", "login_failed")))
                                    .order_by(AuditEvent.id)))


def unit_count(rt) -> int:
    with rt.db.reading() as session:
        return session.scalar(select(func.count()).select_from(OrgUnit))


@pytest.mark.parametrize("username, allowed", [
    ("root", {"/admin/org", "/admin/schemes", "/admin/calendar", "/admin/users"}),
    ("owner", {"/admin/org", "/admin/schemes", "/admin/calendar"}),
    ("auditor", {"/admin/org", "/admin/schemes", "/admin/calendar"}),
    ("alice", set()),
])
def test_each_page_is_open_to_the_roles_it_serves(app, admin, username, allowed):
    client = signed_in(app, username)
    for page in PAGES:
        assert client.get(page).status_code == (200 if page in allowed else 403), (username, page)
    menu = client.get("/tasks").get_data(as_text=True)
    assert ("系统管理" in menu) == bool(allowed)
    if allowed:
        org = client.get("/admin/org").get_data(as_text=True)
        assert "一车间" in org and "赵员工" in org and "部门正职" in org  # tree, people, roles
        assert ("上传并导入" in org) == (username != "auditor")  # auditors read, never change
        assert ("用户与密码" in org) == (username == "root")


def test_an_auditor_reads_but_every_change_is_refused(rt, app, people):
    auditor = signed_in(app, "auditor")
    workbook = {"workbook": (io.BytesIO(b"x"), "org.xlsx")}
    assert run_job(auditor, "/admin/org", "org_import", workbook).status_code == 403  # refused before any job
    assert post(auditor, "/admin/schemes", "/admin/schemes/import",
                {"scheme": (io.BytesIO(json.dumps(SCHEME).encode()), "s.json")},
                content_type="multipart/form-data").status_code == 403
    assert post(auditor, "/admin/calendar", "/admin/calendar/add",
                {"day": "2026-10-01", "name": "国庆节"}).status_code == 403
    assert post(auditor, "/admin/calendar", "/admin/calendar/add", {"day": "", "name": ""}).status_code == 403
    owner = signed_in(app, "owner")
    assert post(owner, "/admin/org", "/admin/users", {"username": "x1", "display_name": "某",
                                                      "password": "long-enough-1"}).status_code == 403
    assert owner.get("/admin/users/alice").status_code == 403
    assert audit_actions(rt) == []
    exported = run_job(auditor, "/admin/org", "org_export")  # reading includes the download
    assert exported.status_code == 200 and 'id="job-done"' in exported.get_data(as_text=True)
    download = job_download(auditor, exported)
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    assert "赵员工" in [row[1] for row in load_workbook(io.BytesIO(download.data))["人员"].iter_rows(values_only=True)]


def filled_template(client, units: list[list[str]], people: list[list[str]]) -> bytes:
    """The downloaded template with rows typed into its units and people sheets, as a person would."""
    download = client.get("/admin/org/template.xlsx")
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(download.data))
    for title, rows in (("单位", units), ("人员", people)):
        for row in rows:
            book[title].append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, content: bytes, name: str = "org.xlsx"):
    """The upload form on the organisation page: an import job; the answer is the job's page."""
    return run_job(client, "/admin/org", "org_import", {"workbook": (io.BytesIO(content), name)})


def test_an_upload_with_a_broken_row_shows_where_and_changes_nothing_a_good_one_imports(rt, app, people):
    owner = signed_in(app, "owner")
    units = [["B09", "第九党支部", "党支部", "", ""], ["P09", "采油九队", "生产型", "", "B09"]]
    broken = filled_template(owner, units, [["p09_head", "孙九", "P09", "正职", "党员", "部门正职"],
                                            ["p09_staff", "周九", "NOPE", "员工", "", "员工"]])
    before = unit_count(rt)
    refused = upload(owner, broken)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and 'id="job-error"' in text and "没有写入任何数据" in text
    [row] = re.findall(r'<tr class="problem-row">(.*?)</tr>', text, re.S)  # sheet, row, column, problem
    assert re.findall(r'<td data-label="[^"]+">([^<]*)</td>', row) == [
        "人员", "3", "所属单位编码", "单位 NOPE 不存在（文件和系统中都没有这个编码）"]
    assert unit_count(rt) == before and "org_import" not in audit_actions(rt)

    good = filled_template(owner, units, [["p09_head", "孙九", "P09", "正职", "党员", "部门正职"]])
    imported = upload(owner, good)
    text = imported.get_data(as_text=True)
    assert imported.status_code == 200 and 'id="job-done"' in text and 'id="job-error"' not in text
    assert "单位：新建 2" in text[text.index('id="job-report"'):]
    assert unit_count(rt) == before + 2 and "org_import" in audit_actions(rt)
    page = owner.get("/admin/org?unit=P09").get_data(as_text=True)
    assert "采油九队" in page and "第九党支部" in page and "孙九" in page and "未设密码" in page
    assert "赵员工" not in page  # the people list is filtered to the unit


def retry_form(job_page_text: str) -> str:
    """The upload form a failed import's job page shows again (empty when there is none)."""
    found = re.search(r'<section id="job-retry">(.*?)</section>', job_page_text, re.S)
    return found.group(1) if found else ""


def test_a_failed_import_offers_the_form_again_and_the_fixed_file_imports_from_the_job_page(rt, app, people):
    owner = signed_in(app, "owner")
    units = [["B08", "第八党支部", "党支部", "", ""], ["P08", "采油八队", "生产型", "", "B08"]]
    broken = filled_template(owner, units, [["p08_head", "孙八", "P08", "正职", "党员", "部门正职"],
                                            ["p08_staff", "周八", "NOPE", "员工", "", "员工"]])
    fixed = filled_template(owner, units, [["p08_head", "孙八", "P08", "正职", "党员", "部门正职"]])
    before = unit_count(rt)
    failed = upload(owner, broken)
    form = retry_form(failed.get_data(as_text=True))
    assert 'action="/jobs"' in form and 'name="kind" value="org_import"' in form
    assert 'type="file"' in form and 'name="workbook"' in form and "上传并导入" in form
    assert "改正后重新上传" in failed.get_data(as_text=True)
    english = owner.get(f"{failed.request.path}?lang=en").get_data(as_text=True)
    assert "Fix the file and upload it again" in english and "Upload and import" in retry_form(english)
    owner.get("/admin/org?lang=zh")

    # Sent from the failed job's page, as a person who fixed the row would: a new job that imports.
    again = run_job(owner, failed.request.path, "org_import", {"workbook": (io.BytesIO(fixed), "org.xlsx")})
    text = again.get_data(as_text=True)
    assert again.request.path != failed.request.path and 'id="job-done"' in text
    assert "单位：新建 2" in text and unit_count(rt) == before + 2
    assert retry_form(text) == "" and '<a href="/admin/org">返回</a>' in text  # done: only the way back


def test_the_office_cannot_grant_administration_roles_through_a_spreadsheet(rt, app, people):
    owner = signed_in(app, "owner")
    sneaky = filled_template(owner, [], [["owner", "王绩效", "", "", "", "绩效办公室、系统管理员"]])
    refused = upload(owner, sneaky)
    text = refused.get_data(as_text=True)
    assert 'id="job-error"' in text and "只有系统管理员可以授予或撤销这些角色：系统管理员" in text
    with rt.db.reading() as session:
        assert session.scalar(select(Person).where(Person.username == "owner")).role_codes == {"process_owner"}


def test_an_empty_upload_is_explained(rt, app, people):
    owner = signed_in(app, "owner")
    refused = run_job(owner, "/admin/org", "org_import")  # no file chosen: back on the page, no job
    assert refused.request.path == "/admin/org" and "请选择要上传的文件" in refused.get_data(as_text=True)
    assert "job_submitted" not in audit_actions(rt)
    wrong = upload(owner, b"not a spreadsheet", "org.txt")
    assert 'id="job-error"' in wrong.get_data(as_text=True)
    assert "只能导入 .xlsx 或 .csv 文件" in wrong.get_data(as_text=True)


def test_people_are_searched_and_paged_never_listed_whole(rt, app, people):
    with rt.db.unit_of_work() as session:
        session.execute(insert(Person), [{"username": f"bulk{n:04d}", "display_name": f"批量{n}",
                                          "position": "staff", "party_status": "none", "active": True}
                                         for n in range(130)])
    owner = signed_in(app, "owner")
    first = owner.get("/admin/org?q=bulk").get_data(as_text=True)
    assert "共 130 人，第 1 / 3 页" in first and "bulk0049" in first and "bulk0050" not in first
    assert first.count('data-label="用户名"') == 50 and "下一页" in first
    third = owner.get("/admin/org?q=bulk&page=3").get_data(as_text=True)
    assert "bulk0129" in third and third.count('data-label="用户名"') == 30
    by_name = owner.get("/admin/org?q=批量77").get_data(as_text=True)
    assert "共 1 人" in by_name and "bulk0077" in by_name
    heads = owner.get("/admin/org?role=unit_head").get_data(as_text=True)
    assert "共 1 人" in heads and "张主任" in heads
    assert "共 0 人" in owner.get("/admin/org?q=%25").get_data(as_text=True)  # % is a letter, not a wildcard


def test_scheme_upload_shows_errors_then_imports_and_the_version_can_be_read_and_downloaded(rt, app, people):
    owner = signed_in(app, "owner")
    bad = dict(SCHEME, areas=[dict(SCHEME["areas"][0], weight=90)])

    def send(document):
        return post(owner, "/admin/schemes", "/admin/schemes/import",
                    {"scheme": (io.BytesIO(json.dumps(document, ensure_ascii=False).encode()), "web.scheme.json")},
                    content_type="multipart/form-data")
    refused = send(bad)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "考核方案有误，未导入" in text and "当前为 90%" in text
    assert "scheme_import" not in audit_actions(rt)
    broken_json = post(owner, "/admin/schemes", "/admin/schemes/import",
                       {"scheme": (io.BytesIO(b"{not json"), "x.json")}, content_type="multipart/form-data")
    assert broken_json.status_code == 422 and "不是有效的 JSON" in broken_json.get_data(as_text=True)

    imported = send(SCHEME)
    assert imported.status_code == 302
    listing = owner.get("/admin/schemes").get_data(as_text=True)
    assert "已导入考核方案 web 第 1 版" in listing and "网页方案" in listing and "2026-01" in listing
    again = send(SCHEME)
    assert "未创建新版本" in owner.get(again.location).get_data(as_text=True)
    detail = owner.get("/admin/schemes/web/1").get_data(as_text=True)
    assert "组织建设" in detail and "100%" in detail and "得分制" in detail and "生产型" in detail
    download = owner.get("/admin/schemes/web/1.json")
    assert download.status_code == 200 and json.loads(download.data) == SCHEME
    assert owner.get("/admin/schemes/web/9").status_code == 404
    assert audit_actions(rt) == ["scheme_import"]
    assert signed_in(app, "auditor").get("/admin/schemes/web/1").status_code == 200


def test_a_holiday_added_and_removed_shows_on_the_schedule(rt, app, people):
    year = rt.clock.now().year
    owner = signed_in(app, "owner")
    added = post(owner, "/admin/calendar", "/admin/calendar/add", {"day": f"{year}-10-01", "name": "国庆节"})
    assert added.status_code == 302
    page = owner.get(added.location).get_data(as_text=True)
    assert f"已将 {year}-10-01 设为非工作日" in page and "国庆节" in page and "/schedule" in page
    assert "国庆节" in owner.get("/schedule").get_data(as_text=True)
    nameless = post(owner, "/admin/calendar", "/admin/calendar/add", {"day": f"{year}-10-02", "name": " "})
    assert nameless.status_code == 422 and "请填写节假日名称" in nameless.get_data(as_text=True)
    removed = post(owner, "/admin/calendar", f"/admin/calendar/{year}-10-01/remove")
    assert "已恢复为工作日" in owner.get(removed.location).get_data(as_text=True)
    assert "国庆节" not in owner.get("/schedule").get_data(as_text=True)
    assert audit_actions(rt) == ["holiday_set", "holiday_removed"]
    other_year = owner.get(f"/admin/calendar?year={year + 1}").get_data(as_text=True)
    assert f"{year + 1} 年非工作日" in other_year


def test_an_administrator_manages_logins(rt, app, admin):
    root = signed_in(app, "root")
    short = post(root, "/admin/users", "/admin/users", {"username": "newbie", "display_name": "新人",
                                                        "password": "short", "unit_code": "U9"})
    text = short.get_data(as_text=True)
    assert short.status_code == 422 and "密码至少需要 10 个字符" in text and "单位 U9 不存在" in text
    assert 'value="newbie"' in text  # what was typed is kept
    created = post(root, "/admin/users", "/admin/users", {"username": "newbie", "display_name": "新人",
                                                          "password": "first-pass-1", "unit_code": "U1",
                                                          "roles": ["staff", "inspector"]})
    assert created.status_code == 302 and created.location.endswith("/admin/users/newbie")
    page = root.get(created.location).get_data(as_text=True)
    assert "新人" in page and "一车间" in page and "检查组成员" in page
    assert can_log_in(app, "newbie", "first-pass-1")
    taken = post(root, "/admin/users", "/admin/users", {"username": "newbie", "display_name": "又一个",
                                                        "password": "first-pass-1"})
    assert taken.status_code == 422 and "用户名 newbie 已存在" in taken.get_data(as_text=True)

    too_short = post(root, "/admin/users/newbie", "/admin/users/newbie/password", {"password": "123456789"})
    assert too_short.status_code == 422 and "至少需要 10 个字符" in too_short.get_data(as_text=True)
    post(root, "/admin/users/newbie", "/admin/users/newbie/password", {"password": "second-pass-2"})
    assert not can_log_in(app, "newbie", "first-pass-1") and can_log_in(app, "newbie", "second-pass-2")

    post(root, "/admin/users/newbie", "/admin/users/newbie/roles", {"role": "auditor", "action": "add"})
    post(root, "/admin/users/newbie", "/admin/users/newbie/roles", {"role": "inspector", "action": "remove"})
    with rt.db.reading() as session:
        assert session.scalar(select(Person).where(Person.username == "newbie")).role_codes == {"staff", "auditor"}

    newbie = signed_in(app, "newbie", "second-pass-2")
    deactivated = post(root, "/admin/users/newbie", "/admin/users/newbie/active", {"active": "0"})
    assert "账号已停用" in root.get(deactivated.location).get_data(as_text=True)
    assert not can_log_in(app, "newbie", "second-pass-2")
    assert newbie.get("/tasks").status_code == 302  # the open session ended too
    post(root, "/admin/users/newbie", "/admin/users/newbie/active", {"active": "1"})
    assert can_log_in(app, "newbie", "second-pass-2")

    own = post(root, "/admin/users/root", "/admin/users/root/roles", {"role": "admin", "action": "remove"})
    assert own.status_code == 409 and "不能移除自己的系统管理员角色" in own.get_data(as_text=True)
    assert post(root, "/admin/users/root", "/admin/users/root/active", {"active": "0"}).status_code == 409
    assert root.get("/admin/users").status_code == 200  # still an administrator

    actions = audit_actions(rt)
    assert actions == ["user_created", "password_reset", "role_granted", "role_withdrawn", "user_deactivated",
                       "user_reactivated"]
    with rt.db.reading() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action.not_in(("login", "login_failed")))).all()
        assert {e.actor for e in events} == {"root"} and {e.subject for e in events} == {"newbie"}
        assert all("second-pass" not in e.detail for e in events)


def test_a_person_imported_without_password_gets_one_from_an_administrator(rt, app, admin):
    with rt.db.unit_of_work() as session:
        session.add(Person(username="imported", display_name="导入者", active=True))
    root = signed_in(app, "root")
    page = root.get("/admin/users/imported").get_data(as_text=True)
    assert "未设密码" in page and "设置密码" in page
    assert not can_log_in(app, "imported", "brand-new-pass")
    post(root, "/admin/users/imported", "/admin/users/imported/password", {"password": "brand-new-pass"})
    assert can_log_in(app, "imported", "brand-new-pass") and audit_actions(rt) == ["password_set"]
    assert root.get("/admin/users/nobody").status_code == 404


def test_the_pages_read_in_english(app, admin):
    root = signed_in(app, "root")
    for page, words in (("/admin/org?lang=en", "Organisation spreadsheet import and export"),
                        ("/admin/schemes?lang=en", "Schemes and versions"),
                        ("/admin/calendar?lang=en", "Non-working days in"),
                        ("/admin/users?lang=en", "New user")):
        text = root.get(page).get_data(as_text=True)
        assert words in text and "Administration" in text, page
