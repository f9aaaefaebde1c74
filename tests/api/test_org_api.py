"""/api/v1/org: units, people, the organisation spreadsheet and logins, each refused to whoever the pages
refuse; imports are all or nothing, and every change names the token in the audit trail."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.models import AuditEvent, Person
from engine.services.people import actor_for, ensure_person
from tests.integration.test_org_io import PEOPLE, UNITS, snapshot, xlsx
from tests.support.people import password_hash

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def admin(rt, people):
    """An administrator (the test people have none): the only one who manages logins."""
    with rt.db.unit_of_work() as session:
        return actor_for(ensure_person(session, "root", "管理员", password_hash=password_hash(), roles=("admin",)))


def events(rt, action: str) -> list[AuditEvent]:
    with rt.db.reading() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def upload(api, content: bytes, name: str = "org.xlsx"):
    return api.post("/api/v1/org/import", data={"file": (io.BytesIO(content), name)},
                    content_type="multipart/form-data")


def workbook_bytes(tmp_path, units=None, people=None) -> bytes:
    return xlsx(tmp_path / "org.xlsx", units, people).read_bytes()


def test_the_unit_tree_is_one_page_in_tree_order_with_head_counts(people, api_as):
    body = api_as(people.auditor).get("/api/v1/org/units").get_json()
    assert body["has_next"] is False and body["total"] == 2
    by_code = {unit["code"]: unit for unit in body["items"]}
    assert by_code["U1"] == {"code": "U1", "name": "一车间", "category": "production", "parent_code": None,
                             "branch_code": None, "branch_name": None, "depth": 0, "people": 2, "active": True}
    assert by_code["U2"]["people"] == 1


def test_staff_are_refused_the_organisation(people, api_as):
    alice = api_as(people.alice)
    for path in ("/api/v1/org/units", "/api/v1/org/people", "/api/v1/org/export", "/api/v1/org/template"):
        refused = alice.get(path)
        assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden", path


def test_people_are_searched_and_paged(people, api_as):
    owner = api_as(people.owner)
    first = owner.get("/api/v1/org/people?per_page=2").get_json()
    assert (first["page"], first["per_page"], first["has_next"], first["total"]) == (1, 2, True, 5)
    assert [p["username"] for p in first["items"]] == ["alice", "auditor"]
    last = owner.get("/api/v1/org/people?per_page=2&page=3").get_json()
    assert last["has_next"] is False and [p["username"] for p in last["items"]] == ["owner"]

    in_u1 = owner.get("/api/v1/org/people?unit=U1&role=unit_head").get_json()["items"]
    assert [(p["username"], p["unit_code"], p["roles"]) for p in in_u1] == [("head", "U1", ["unit_head", "staff"])]
    assert [p["username"] for p in owner.get("/api/v1/org/people?q=钱").get_json()["items"]] == ["bob"]

    bad = owner.get("/api/v1/org/people?role=king&per_page=0")
    assert bad.status_code == 422 and {"role", "per_page"} <= set(bad.get_json()["field_errors"])


def test_the_export_and_the_template_are_workbooks(people, api_as):
    auditor = api_as(people.auditor)  # reading includes the downloads
    exported = auditor.get("/api/v1/org/export")
    assert exported.status_code == 200 and exported.mimetype == XLSX
    assert exported.headers["Content-Disposition"].startswith("attachment")
    book = load_workbook(io.BytesIO(exported.data))
    usernames = [row[0] for row in book["人员"].iter_rows(min_row=2, values_only=True)]
    assert usernames == ["alice", "auditor", "bob", "head", "owner"]
    template = auditor.get("/api/v1/org/template", headers={"Accept-Language": "en"})
    assert template.status_code == 200
    assert load_workbook(io.BytesIO(template.data)).sheetnames[:2] == ["units", "people"]  # in the request's language


def test_a_good_workbook_imports_and_the_trail_names_the_token(rt, people, api_as, tmp_path):
    imported = upload(api_as(people.owner), workbook_bytes(tmp_path, UNITS, PEOPLE))
    assert imported.status_code == 200, imported.get_json()
    report = imported.get_json()
    assert (report["units_created"], report["people_created"], report["people_updated"]) == (5, 3, 0)
    assert report["files"] == ["org.xlsx"] and report["messages"][0] == "单位：新建 5，更新 0，未变 0"
    [event] = events(rt, "org_import")
    assert event.actor.startswith("owner#token")


def test_a_bad_row_is_refused_naming_it_and_nothing_changes(rt, people, api_as, tmp_path):
    before = snapshot(rt)
    broken = PEOPLE[:1] + [["p09_staff", "周九", "NOPE", "员工", "", "员工"]]
    refused = upload(api_as(people.owner), workbook_bytes(tmp_path, UNITS, broken))
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["code"] == "validation_failed" and "没有写入任何数据" in body["message"]
    assert body["details"] == ["org.xlsx，工作表「人员」，第 3 行，列「所属单位编码」：单位 NOPE 不存在（文件和系统中都没有这个编码）"]
    assert snapshot(rt) == before and events(rt, "org_import") == []


def test_a_file_that_is_not_a_workbook_is_refused(people, api_as):
    refused = upload(api_as(people.owner), b"not a spreadsheet", "org.xlsx")
    assert refused.status_code == 422 and "无法作为 .xlsx 工作簿读取" in refused.get_json()["details"][0]
    missing = api_as(people.owner).post("/api/v1/org/import", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "file" in missing.get_json()["field_errors"]


def test_the_office_cannot_grant_admin_by_import_but_an_administrator_can(rt, people, admin, api_as, tmp_path):
    sheet = workbook_bytes(tmp_path, None, [["alice", "赵员工", "U1", "员工", "", "员工 admin"]])
    refused = upload(api_as(people.owner), sheet, "org.xlsx")
    assert refused.status_code == 422
    assert "只有系统管理员可以授予或撤销这些角色：系统管理员" in refused.get_json()["details"][0]
    with rt.db.reading() as session:
        assert session.scalar(select(Person).where(Person.username == "alice")).role_codes == {"staff"}
    assert upload(api_as(people.auditor), sheet).status_code == 403  # auditors read, never import
    assert upload(api_as(admin), sheet).status_code == 200
    with rt.db.reading() as session:
        assert session.scalar(select(Person).where(Person.username == "alice")).role_codes == {"staff", "admin"}


def test_an_administrator_creates_a_login_and_the_trail_names_the_token(rt, people, admin, api_as):
    root = api_as(admin)
    created = root.post("/api/v1/org/users", json={"username": "zhou", "display_name": "周新", "password":
                                                   "long-enough-1", "unit_code": "U2", "roles": ["staff"]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["username"], body["unit_code"], body["roles"], body["has_password"]) == ("zhou", "U2", ["staff"], True)
    assert body["created_at"].endswith("+08:00")
    [event] = events(rt, "user_created")
    assert event.subject == "zhou" and event.actor.startswith("root#token")
    assert root.get("/api/v1/org/users/zhou").get_json()["display_name"] == "周新"
    assert "zhou" in [p["username"] for p in root.get("/api/v1/org/people?q=zhou").get_json()["items"]]


def test_a_bad_new_login_is_refused_with_field_errors(people, admin, api_as):
    root = api_as(admin)
    taken = root.post("/api/v1/org/users", json={"username": "alice", "display_name": "又一个", "password": "short"})
    assert taken.status_code == 422 and {"username", "password"} <= set(taken.get_json()["field_errors"])
    malformed = root.post("/api/v1/org/users", json={"username": "x" * 65, "roles": ["king"]})
    fields = malformed.get_json()["field_errors"]
    assert malformed.status_code == 422 and {"username", "display_name", "password", "roles.0"} <= set(fields)


def test_only_administrators_manage_logins(people, api_as):
    owner = api_as(people.owner)
    for call in (owner.post("/api/v1/org/users", json={"username": "x1", "display_name": "某", "password": "x" * 12}),
                 owner.get("/api/v1/org/users/alice"),
                 owner.post("/api/v1/org/users/alice/password", json={"password": "x" * 12}),
                 owner.post("/api/v1/org/users/alice/active", json={"active": False}),
                 owner.post("/api/v1/org/users/owner/roles", json={"add": ["admin"]})):
        assert call.status_code == 403 and call.get_json()["code"] == "forbidden"


def test_password_activity_and_roles_change_and_are_audited(rt, people, admin, api_as):
    root = api_as(admin)
    assert root.post("/api/v1/org/users/alice/password", json={"password": "new-password-9"}).get_json() == \
        {"status": "password_set"}
    short = root.post("/api/v1/org/users/alice/password", json={"password": "short"})
    assert short.status_code == 422 and "password" in short.get_json()["field_errors"]
    assert root.post("/api/v1/org/users/alice/active", json={"active": False}).get_json() == {"status": "inactive"}
    assert root.get("/api/v1/org/users/alice").get_json()["active"] is False
    changed = root.post("/api/v1/org/users/alice/roles", json={"add": ["auditor", "inspector"], "remove": ["staff"]})
    assert changed.status_code == 200 and changed.get_json()["roles"] == ["auditor", "inspector"]
    assert [e.detail for e in events(rt, "role_granted")] == ['{"role":"auditor"}', '{"role":"inspector"}']
    assert all(e.actor.startswith("root#token") for e in events(rt, "role_withdrawn") + events(rt, "user_deactivated"))

    mine = root.post("/api/v1/org/users/root/roles", json={"add": ["auditor"], "remove": ["admin"]})
    assert mine.status_code == 409  # nobody removes their own administrator role ...
    assert root.get("/api/v1/org/users/root").get_json()["roles"] == ["admin"]  # ... and nothing else changed
    both = root.post("/api/v1/org/users/alice/roles", json={"add": ["staff"], "remove": ["staff"]})
    assert both.status_code == 422
    assert root.get("/api/v1/org/users/nobody").status_code == 404
    assert root.post("/api/v1/org/users/root/active", json={"active": "maybe"}).status_code == 422
