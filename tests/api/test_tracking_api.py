"""/api/v1/rounds and /api/v1/rectifications: the rounds, their findings and the rectification
tracker, refusing exactly what the pages refuse (engine/services/tracker.py, rounds.py)."""
from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.models import OrgUnit
from engine.services import evidence, tasks
from tests.support import evidence as files
from tests.support.rectifications import (DONE, IMPLEMENT, PLAN, PLAN_TASK, QUESTIONS, ROUND, ROUND_PROBLEM, START,
                                          VERIFY, approve_plan, at, do, open_problem, run_round)
from tests.api.conftest import ApiClient, token_for
from web import create_app

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def app(tracked):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": tracked, "START_SCHEDULER": False})


@pytest.fixture
def as_user(tracked, api_as):
    return lambda username: api_as(tracked.actor(username))


def ok(response) -> dict:
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(body: dict) -> list[int]:
    return [row["id"] for row in body["items"]]


@pytest.fixture
def two(tracked) -> tuple[int, int]:
    """P01's problem (insp_wang) waiting for its plan, and P02's (insp_li) whose plan awaits review."""
    first = open_problem(tracked)
    second = open_problem(tracked, problem="请假记录缺失未及时补登", unit_code="P02", branch_code="B02",
                          inspector="insp_li", plan_days=10)
    do(tracked, second, "p02_head", PLAN_TASK, PLAN)
    return first, second


def test_the_auditor_lists_every_problem_one_page_at_a_time(as_user, two):
    first, second = two
    auditor = as_user("auditor")
    body = ok(auditor.get("/api/v1/rectifications"))
    assert sorted(ids(body)) == sorted(two) and body["total"] == 2 and body["has_next"] is False
    row = next(r for r in body["items"] if r["id"] == first)
    assert row["unit_code"] == "P01" and row["unit_name"] == "采油一队" and row["stage"] == "plan"
    assert row["source"] == "交叉检查 2026-04" and row["inspector_name"] == "王检查"
    assert row["due_at"] == "2026-05-11T09:00:00+08:00" and row["overdue_days"] == 0  # plan: 5 days, Beijing time
    assert body["stage_counts"] == {"plan": 1, "review": 1} and body["overdue_total"] == 0
    assert {u["name"] for u in body["units"]} == {"采油一队", "采油二队"}
    page1 = ok(auditor.get("/api/v1/rectifications?per_page=1"))
    page2 = ok(auditor.get("/api/v1/rectifications?per_page=1&page=2"))
    assert page1["has_next"] is True and page2["has_next"] is False and page2["page"] == 2
    assert ids(page1) + ids(page2) == ids(body)
    past = ok(auditor.get("/api/v1/rectifications?per_page=1&page=3"))
    assert past["items"] == [] and past["has_next"] is False and past["total"] == 2


def test_the_list_pages_by_cursor_and_refuses_a_damaged_one(as_user, two):
    auditor = as_user("auditor")
    everything = ids(ok(auditor.get("/api/v1/rectifications")))
    first = ok(auditor.get("/api/v1/rectifications?per_page=1"))
    second = ok(auditor.get(f"/api/v1/rectifications?per_page=1&after={first['next_after']}"))
    assert ids(first) + ids(second) == everything and second["has_next"] is False and second["next_after"] is None
    assert second["total"] == 2 and second["stage_counts"] == first["stage_counts"]
    damaged = auditor.get("/api/v1/rectifications?after=bm9wZQ")
    assert damaged.status_code == 422 and "翻页游标无效" in damaged.get_json()["field_errors"]["after"]


def test_filters_narrow_the_list_as_on_the_page(tracked, as_user, two):
    first, second = two
    with tracked.db.reading() as session:
        p02 = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "P02"))
    auditor = as_user("auditor")
    assert ids(ok(auditor.get(f"/api/v1/rectifications?unit={p02}"))) == [second]
    assert ids(ok(auditor.get("/api/v1/rectifications?unit_code=P01"))) == [first]
    assert ids(ok(auditor.get("/api/v1/rectifications?stage=review"))) == [second]
    assert ids(ok(auditor.get("/api/v1/rectifications?stage=closed"))) == []
    assert ids(ok(auditor.get("/api/v1/rectifications?overdue=true"))) == []


def test_overdue_problems_show_their_days(tracked, people_token, two):
    first, second = two
    week_later = create_app({"TESTING": True, "KAOHE_RUNTIME": at(tracked, START + timedelta(days=7)),
                             "START_SCHEDULER": False})
    auditor = people_token(week_later, "auditor")
    body = ok(auditor.get("/api/v1/rectifications?overdue=1"))
    assert ids(body) == [first] and body["items"][0]["overdue_days"] == 2 and body["overdue_total"] == 1


@pytest.fixture
def people_token(tracked):
    def make(app, username: str) -> ApiClient:
        return ApiClient(app.test_client(), token_for(tracked, tracked.actor(username)))
    return make


def test_a_unit_head_sees_only_their_units_problems(as_user, two):
    mine, theirs = two
    head = as_user("p01_head")
    assert ids(ok(head.get("/api/v1/rectifications"))) == [mine]
    assert ok(head.get(f"/api/v1/rectifications/{mine}"))["problem"]["id"] == mine
    refused = head.get(f"/api/v1/rectifications/{theirs}")
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    inspector = as_user("insp_li")
    assert ids(ok(inspector.get("/api/v1/rectifications"))) == [theirs]
    assert inspector.get(f"/api/v1/rectifications/{mine}").status_code == 403
    book = load_workbook(io.BytesIO(head.get("/api/v1/rectifications/export").data))
    assert [row[3] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)] == ["P01"]


def test_staff_are_refused_the_tracker_as_on_the_page(as_user, two):
    staff = as_user("p01_staff1")
    mine = two[0]
    for path in ("/api/v1/rectifications", "/api/v1/rectifications/export", f"/api/v1/rectifications/{mine}"):
        response = staff.get(path)
        assert response.status_code == 403, path
    assert as_user("auditor").get("/api/v1/rectifications/999999").status_code == 404


def test_one_problem_with_its_whole_timeline_and_evidence(tracked, as_user):
    case = open_problem(tracked)
    approve_plan(tracked, case)
    [implement] = [t for t in tasks.inbox(tracked, tracked.actor("p01_head")) if t.instance_id == case]
    record = evidence.store(tracked, tracked.actor("p01_head"), implement.id, "attachments", "例会记录.pdf",
                            io.BytesIO(files.PDF))
    tasks.complete(tracked, implement.id, tracked.actor("p01_head"), {**DONE, "attachments": [record]})
    do(tracked, case, "insp_wang", VERIFY, {"verified": False, "verify_comment": "归档台账未见签字"})
    auditor = as_user("auditor")
    body = ok(auditor.get(f"/api/v1/rectifications/{case}"))
    assert body["problem"]["verified"] is False and body["problem"]["reopened"] == 1
    assert body["instance"]["process_id"] == "rectification" and body["instance"]["id"] == case
    steps = [e for e in body["timeline"] if e["kind"] == "step"]
    assert [s["name"] for s in steps] == ["问题立项", PLAN_TASK, "审核整改方案", IMPLEMENT, "验收整改"]
    assert steps[1]["actor"] == "p01_head" and steps[1]["at"].endswith("+08:00")
    review = {f["key"]: f["value"] for f in steps[2]["fields"]}
    assert review["plan_approved"] is True and review["plan_review_comment"] == "措施可行"
    verification = {f["key"]: f["value"] for f in steps[4]["fields"]}
    assert verification == {"verified": False, "verify_comment": "归档台账未见签字"}
    [attached] = steps[3]["files"]
    assert attached["name"] == "例会记录.pdf" and attached["sha256"] == record["sha256"]
    assert attached["url"] == f"/api/v1/instances/{case}/files/{record['sha256']}"
    download = auditor.get(attached["url"])
    download.close()
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment")
    assert body["open_tasks"] and body["open_tasks"][0]["name"] == IMPLEMENT  # sent back to the unit
    assert {"plan", "review_plan", "verify"} <= set(body["completed_elements"]) and "fix" in body["active_elements"]


def test_the_export_is_a_workbook_with_the_same_filters(as_user, two):
    first, second = two
    response = as_user("auditor").get("/api/v1/rectifications/export?unit_code=P02")
    assert response.status_code == 200 and response.mimetype == XLSX
    assert response.headers["Content-Disposition"] == "attachment; filename=rectifications.xlsx"
    problems, steps = load_workbook(io.BytesIO(response.data)).worksheets
    assert [row[0] for row in problems.iter_rows(min_row=2, values_only=True)] == [second]
    assert [row[2] for row in steps.iter_rows(min_row=2, values_only=True)] == ["问题立项", PLAN_TASK]
    everything = load_workbook(io.BytesIO(as_user("auditor").get("/api/v1/rectifications/export").data))
    assert everything.worksheets[0].max_row == 3


@pytest.mark.parametrize("query", ["stage=bogus", "page=0", "per_page=1000", "round=abc", "unit=-1",
                                   "round=99999999999999999999", "overdue=perhaps"])
def test_malformed_filters_are_422_naming_the_field(as_user, query):
    response = as_user("auditor").get(f"/api/v1/rectifications?{query}")
    assert response.status_code == 422, query
    assert set(response.get_json()["field_errors"]) == {query.split("=")[0]}


def test_the_round_with_matrix_progress_findings_questionnaire_and_closure(tracked, as_user):
    round_id = run_round(tracked)
    owner = as_user("owner")
    body = ok(owner.get(f"/api/v1/rounds/{round_id}"))
    assert body["title"] == ROUND["title"] and body["review_period"] == ROUND["review_period"]
    assert body["approved"] is True and body["checklist"] == ROUND["checklist"]
    assert {g["code"]: g["units"] for g in body["groups"]} == {"A": ["P02"], "B": ["P03"]}
    assert {g["code"]: g["members"] for g in body["groups"]} == {"A": ["insp_wang"], "B": ["insp_li"]}
    assert [(u["code"], u["name"], u["inspected_by"], u["visit_status"]) for u in body["units"]] == [
        ("P02", "采油二队", "A", "completed"), ("P03", "采油三队", "B", "completed")]
    assert (body["visits_done"], body["visits_total"], body["visits_percent"]) == (2, 2, "100.0")
    problem = next(f for f in body["findings"] if f["kind"] == "problem")
    assert problem["unit_code"] == "P02" and problem["description"] == ROUND_PROBLEM["description"]
    [question] = body["questionnaire"]
    assert question["question"] == QUESTIONS[0]["question"] and question["respondents"] == 40
    assert [Decimal(a["percent"]) for a in question["answers"]] == [75, 25]
    assert (body["problems_total"], body["problems_closed"], body["closed_percent"]) == (1, 0, "0.0")
    assert body["stage_counts"] == {"plan": 1} and body["created_at"].endswith("+08:00")


def test_the_rounds_list_with_progress_for_those_who_may_open_them(tracked, as_user):
    done = run_round(tracked)
    running = run_round(tracked, visits_done=False)
    listed = ok(as_user("auditor").get("/api/v1/rounds"))
    assert ids(listed) == [running, done] and listed["total"] == 2 and listed["has_next"] is False
    rows = {r["id"]: r for r in listed["items"]}
    assert (rows[done]["visits_done"], rows[done]["visits_total"], rows[done]["problems_total"]) == (2, 2, 1)
    assert (rows[running]["visits_done"], rows[running]["visits_total"], rows[running]["problems_total"]) == (1, 2, 0)
    first = ok(as_user("auditor").get("/api/v1/rounds?per_page=1"))
    second = ok(as_user("auditor").get("/api/v1/rounds?per_page=1&page=2"))
    assert (ids(first), first["has_next"], ids(second), second["has_next"]) == ([running], True, [done], False)
    assert ids(ok(as_user("insp_li").get("/api/v1/rounds"))) == [running, done]  # a member of a group
    assert ok(as_user("p01_staff1").get("/api/v1/rounds"))["items"] == []
    assert ok(as_user("p02_head").get("/api/v1/rounds"))["items"] == []


def test_who_may_open_a_round_and_its_findings(tracked, as_user):
    round_id = run_round(tracked)
    assert as_user("insp_li").get(f"/api/v1/rounds/{round_id}").status_code == 200
    for username in ("p01_staff1", "p02_head"):
        assert as_user(username).get(f"/api/v1/rounds/{round_id}").status_code == 403, username
    findings = ok(as_user("auditor").get(f"/api/v1/rounds/{round_id}/findings"))
    [row] = findings["items"]
    assert row["round_id"] == round_id and row["unit_code"] == "P02" and row["severity"] == "较重"
    assert row["round_title"] == ROUND["title"] and findings["has_next"] is False
    # The tracker's rule: P02's head sees the problem of their unit, insp_li (not its inspector) nothing.
    assert ids(ok(as_user("p02_head").get(f"/api/v1/rounds/{round_id}/findings"))) == [row["id"]]
    assert ok(as_user("insp_li").get(f"/api/v1/rounds/{round_id}/findings"))["items"] == []
    assert as_user("p01_staff1").get(f"/api/v1/rounds/{round_id}/findings").status_code == 403
    for path in ("/api/v1/rounds/999999", "/api/v1/rounds/999999/findings", f"/api/v1/rounds/{row['id']}",
                 f"/api/v1/rounds/{row['id']}/findings"):  # a problem is not a round
        assert as_user("auditor").get(path).status_code == 404, path
