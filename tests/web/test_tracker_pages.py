"""The rectification tracker's pages: the list with its filters, one problem's timeline, the
workbook, and a cross-inspection round; each person sees only what is theirs."""
from __future__ import annotations

import html
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.models import OrgUnit
from engine.models.tracking import RectificationCase
from engine.services.demo import DEMO_PASSWORD
from tests.support.rectifications import (DONE, IMPLEMENT, PLAN, PLAN_TASK, START, VERIFY, approve_plan, at, do,
                                          open_problem, run_round)
from tests.web.conftest import job_download, login, run_job
from web import create_app


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def app(tracked):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": tracked, "START_SCHEDULER": False})


def client_for(app, username: str):
    client = app.test_client()
    assert login(client, username, DEMO_PASSWORD).status_code == 302
    return client


def test_the_auditor_lists_every_problem_with_state_unit_deadline_and_source(app, tracked):
    first = open_problem(tracked)
    second = open_problem(tracked, problem="请假记录缺失未及时补登", unit_code="P02", branch_code="B02")
    do(tracked, second, "p02_head", PLAN_TASK, PLAN)
    auditor = client_for(app, "auditor")
    page = text(auditor.get("/rectifications"))
    assert "整改台账" in page and 'href="/rectifications"' in page  # the page and its nav link
    assert page.count('data-instance="') == 2
    assert f'href="/rectifications/{first}"' in page and "请假记录缺失未及时补登" in page
    assert "采油一队" in page and "交叉检查 2026-04" in page and "计划" in page and "审核" in page
    assert "2026-05-11 09:00" in page  # the plan's deadline, 5 days after opening, in Beijing time
    english = text(auditor.get("/rectifications?lang=en"))
    assert "Rectification tracker" in english and "planning" in english


def test_filters_narrow_the_list_and_overdue_shows_the_days(app, tracked):
    first = open_problem(tracked)
    second = open_problem(tracked, problem="请假记录缺失", unit_code="P02", branch_code="B02", plan_days=10)
    do(tracked, second, "p02_head", PLAN_TASK, PLAN)
    with tracked.db.reading() as session:
        p02 = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "P02"))
    later = create_app({"TESTING": True, "KAOHE_RUNTIME": at(tracked, START + timedelta(days=7)),
                        "START_SCHEDULER": False})
    auditor = client_for(later, "auditor")
    by_unit = text(auditor.get(f"/rectifications?unit={p02}"))
    assert f'data-instance="{second}"' in by_unit and f'data-instance="{first}"' not in by_unit
    by_stage = text(auditor.get("/rectifications?stage=review"))
    assert f'data-instance="{second}"' in by_stage and f'data-instance="{first}"' not in by_stage
    overdue = text(auditor.get("/rectifications?overdue=1"))
    assert f'data-instance="{first}"' in overdue and f'data-instance="{second}"' not in overdue
    assert '<span class="flag flag-bad">2</span>' in overdue


def test_a_problem_page_shows_its_timeline_state_and_diagram(app, tracked):
    case = open_problem(tracked)
    approve_plan(tracked, case)
    do(tracked, case, "p01_head", IMPLEMENT, DONE)
    do(tracked, case, "insp_wang", VERIFY, {"verified": False, "verify_comment": "归档台账未见签字"})
    auditor = client_for(app, "auditor")
    page = text(auditor.get(f"/rectifications/{case}"))
    for seen in ("问题立项", "制定整改方案", "审核整改方案", "提交整改落实情况", "验收整改", "王检查",
                 "整改措施", "措施可行", "例会记录（2026-03）", "归档台账未见签字", "验收未通过", "退回 1 次"):
        assert seen in page, seen
    assert page.index("问题立项") < page.index("审核整改方案") < page.index("归档台账未见签字")
    assert f'data-src="/rectifications/{case}/diagram.bpmn"' in page and '&#34;fix&#34;' in page
    diagram = auditor.get(f"/rectifications/{case}/diagram.bpmn")
    assert diagram.status_code == 200 and b'id="rectification"' in diagram.data


def test_who_may_see_which_problem(app, tracked):
    mine = open_problem(tracked)
    theirs = open_problem(tracked, problem="请假记录缺失", unit_code="P02", branch_code="B02", inspector="insp_li")
    head = client_for(app, "p01_head")
    listed = text(head.get("/rectifications"))
    assert f'data-instance="{mine}"' in listed and f'data-instance="{theirs}"' not in listed
    assert head.get(f"/rectifications/{mine}").status_code == 200
    assert head.get(f"/rectifications/{theirs}").status_code == 403
    assert head.get(f"/rectifications/{theirs}/diagram.bpmn").status_code == 403
    exported = job_download(head, run_job(head, "/rectifications", "tracker_export"))  # their problems only
    problems = [row[1] for row in load_workbook(io.BytesIO(exported.data)).worksheets[0].iter_rows(
        min_row=2, values_only=True)]
    assert len(problems) == 1 and "请假记录缺失" not in problems[0]
    inspector = client_for(app, "insp_li")
    assert f'data-instance="{theirs}"' in text(inspector.get("/rectifications"))
    assert inspector.get(f"/rectifications/{mine}").status_code == 403
    staff = client_for(app, "p01_staff1")
    assert staff.get("/rectifications").status_code == 403
    assert run_job(staff, "/tasks", "tracker_export").status_code == 403  # refused before any job
    assert 'href="/rectifications"' not in text(staff.get("/"))
    assert client_for(app, "auditor").get("/rectifications/999999").status_code == 404


def test_the_export_is_a_workbook_with_the_whole_trail(app, tracked):
    case = open_problem(tracked)
    approve_plan(tracked, case)
    auditor = client_for(app, "auditor")
    job_page = run_job(auditor, "/rectifications", "tracker_export")  # the list's 导出 Excel button
    assert 'id="job-done"' in text(job_page)
    response = job_download(auditor, job_page)
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert "rectifications.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    problems, steps = book.worksheets
    assert problems["B2"].value == "月度绩效例会记录不全，3 月、4 月未记录考核结果反馈" and problems["I2"].value == "整改"
    assert [row[2] for row in steps.iter_rows(min_row=2, values_only=True)] == ["问题立项", PLAN_TASK, "审核整改方案"]
    assert "审核意见（退回时必填）：措施可行" in steps["G4"].value


def test_the_round_page_shows_matrix_progress_findings_questionnaire_and_closure(app, tracked):
    round_id = run_round(tracked)
    with tracked.db.reading() as session:
        [problem] = session.scalars(select(RectificationCase).where(RectificationCase.round_instance_id == round_id))
    assert (problem.unit_code, problem.inspector, problem.severity) == ("P02", "insp_wang", "较重")
    owner = client_for(app, "owner")
    page = text(owner.get(f"/rounds/{round_id}"))
    assert "第一检查组" in page and "第二检查组" in page and "采油二队" in page
    assert page.count("cell-assigned cell-done") == 2 and "已完成 2 / 2" in page
    assert "3 月、4 月绩效例会未记录考核结果反馈" in page and "佐证材料按月归档、索引清晰" in page
    assert "本次培训对工作是否有帮助" in page and 'class="bar-fill" width="75.0"' in page and "75.00%" in page
    assert "0.0%（0 / 1）" in page and f"/rectifications?round={round_id}" in page
    assert "style=" not in page
    listed = text(owner.get(f"/rectifications?round={round_id}"))
    assert listed.count('data-instance="') == 1 and ROUND_TITLE in listed
    assert client_for(app, "insp_li").get(f"/rounds/{round_id}").status_code == 200  # a member of a group
    assert client_for(app, "p01_staff1").get(f"/rounds/{round_id}").status_code == 403


def test_a_round_in_progress_shows_open_visits_and_no_findings_yet(app, tracked):
    round_id = run_round(tracked, visits_done=False)
    page = text(client_for(app, "auditor").get(f"/rounds/{round_id}"))
    assert "cell-assigned cell-done" in page and "cell-assigned cell-open" in page and "已完成 1 / 2" in page
    assert "反馈会尚未召开" in page and "尚未录入问卷结果" in page


ROUND_TITLE = "2026 年绩效管理交叉检查"


def test_evidence_files_of_a_step_are_links_that_download(app, tracked):
    from engine.services import evidence, tasks
    from tests.support import evidence as files
    case = open_problem(tracked)
    approve_plan(tracked, case)
    [implement] = [t for t in tasks.inbox(tracked, tracked.actor("p01_head")) if t.instance_id == case]
    record = evidence.store(tracked, tracked.actor("p01_head"), implement.id, "attachments", "例会记录.pdf",
                            io.BytesIO(files.PDF))
    tasks.complete(tracked, implement.id, tracked.actor("p01_head"), {**DONE, "attachments": [record]})
    auditor = client_for(app, "auditor")
    page = text(auditor.get(f"/rectifications/{case}"))
    link = f'/instances/{case}/files/{record["sha256"]}'
    assert link in page and "例会记录.pdf" in page and "佐证 4 项" in page
    download = auditor.get(link)
    download.close()  # the file is streamed; close it as a server would
    assert download.status_code == 200


def test_the_rounds_list_shows_each_person_the_rounds_they_may_open(app, tracked):
    round_id = run_round(tracked)
    page = text(client_for(app, "owner").get("/rounds"))
    assert "2026 年绩效管理交叉检查" in page and f"/rounds/{round_id}" in page
    assert "2 / 2" in page and "已闭环 0 / 1" in page  # both visits done; the one problem still open
    assert f"/rounds/{round_id}" in text(client_for(app, "insp_wang").get("/rounds"))  # the round's inspector
    staff = text(client_for(app, "p02_staff1").get("/rounds"))
    assert f"/rounds/{round_id}" not in staff and "没有你可以查看的检查轮次" in staff


def test_the_list_pages_by_cursor_keeping_filters_and_counts(app, tracked):
    """60 open problems of P01 besides the real one: pages of 50 by next / previous / first links."""
    from tests.integration.test_keyset_paging import add_case
    open_problem(tracked)
    with tracked.db.reading() as session:
        p01 = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "P01"))
    for n in range(60):
        add_case(tracked, p01, tracked.clock.now() + timedelta(days=n % 9), None)
    auditor = client_for(app, "auditor")
    first = text(auditor.get(f"/rectifications?unit={p01}&stage=open"))
    assert first.count('data-instance="') == 50 and "共 61 个问题" in first and 'rel="prev"' not in first
    second = text(auditor.get(link(first, "next")))
    assert second.count('data-instance="') == 11 and "共 61 个问题" in second and 'rel="next"' not in second
    shown = set(re.findall(r'data-instance="(\d+)"', first)) | set(re.findall(r'data-instance="(\d+)"', second))
    assert len(shown) == 61
    assert f"unit={p01}" in link(second, "first") and "stage=open" in link(second, "prev")
    assert text(auditor.get(link(second, "prev"))).count('data-instance="') == 50
    damaged = text(auditor.get(f"/rectifications?unit={p01}&stage=open&after=bm9wZQ"))
    assert re.findall(r'data-instance="(\d+)"', damaged) == re.findall(r'data-instance="(\d+)"', first)


def link(page: str, rel: str) -> str:
    return html.unescape(re.search(rf'href="([^"]+)" rel="{rel}"', page).group(1))
