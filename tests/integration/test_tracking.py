"""The rectification tracker's read model follows each problem step by step, in the same
transaction as the step, and the tracker shows each person only the problems that are theirs."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select

from engine.errors import NotFound, PermissionDenied
from engine.models import OrgUnit, Person
from engine.models.tracking import RectificationCase, RectificationStep
from engine.services import instances, tracker, tracker_export, tracking
from engine.services.tracker import Filters
from tests.support.rectifications import (DONE, FOLLOW_UP, IMPLEMENT, PLAN, PLAN_TASK, REVIEW, START, VERIFY, at,
                                          close, do, open_problem)


def case_row(rt, case: int) -> RectificationCase:
    with rt.db.reading() as session:
        return session.scalar(select(RectificationCase).where(RectificationCase.instance_id == case))


def display_name(rt, username: str) -> str:
    with rt.db.reading() as session:
        return session.scalar(select(Person.display_name).where(Person.username == username))


def steps(rt, case: int) -> list[tuple[str, str | None]]:
    with rt.db.reading() as session:
        return [(s.name, s.actor) for s in session.scalars(select(RectificationStep)
                                                             .where(RectificationStep.instance_id == case)
                                                             .order_by(RectificationStep.id))]


def test_the_projection_follows_plan_approval_fix_a_failed_verification_and_the_close(tracked):
    rt = tracked
    case = open_problem(rt)
    row = case_row(rt, case)
    with rt.db.reading() as session:
        p01 = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "P01"))
    assert (row.stage, row.unit_id, row.severity, row.inspector, row.source) == \
        ("plan", p01, "一般", "insp_wang", "交叉检查 2026-04")
    assert row.due_at == START + timedelta(days=5) and row.opened_at == START and row.closed_at is None
    assert row.round_instance_id is None and row.reopened == 0

    do(rt, case, "p01_head", PLAN_TASK, PLAN)
    assert case_row(rt, case).stage == "review"
    do(rt, case, "insp_wang", REVIEW, {"plan_approved": True, "plan_review_comment": "措施可行"})
    assert case_row(rt, case).stage == "fix"
    assert case_row(rt, case).due_at == START + timedelta(days=20)

    do(rt, case, "p01_head", IMPLEMENT, DONE)
    row = case_row(rt, case)
    assert (row.stage, row.evidence_count, row.verified) == ("verify", 3, None)
    do(rt, case, "insp_wang", VERIFY, {"verified": False, "verify_comment": "归档台账未见签字"})
    row = case_row(rt, case)
    assert (row.stage, row.reopened, row.verified) == ("fix", 1, False)

    do(rt, case, "p01_head", IMPLEMENT, {**DONE, "evidence": ["归档台账（已签字）"]})
    do(rt, case, "insp_wang", VERIFY, {"verified": True})
    row = case_row(rt, case)
    assert (row.stage, row.verified, row.evidence_count, row.due_at) == ("follow_up", True, 1, None)

    later = at(rt, START + timedelta(days=31))
    assert instances.wake(later, case)
    assert case_row(rt, case).stage == "follow_up"
    do(later, case, "insp_wang", FOLLOW_UP, {"held": True})
    row = case_row(rt, case)
    assert (row.stage, row.status, row.closed_at) == ("closed", "completed", START + timedelta(days=31))
    assert steps(rt, case) == [("问题立项", "owner"), (PLAN_TASK, "p01_head"), (REVIEW, "insp_wang"),
                               (IMPLEMENT, "p01_head"), (VERIFY, "insp_wang"), (IMPLEMENT, "p01_head"),
                               (VERIFY, "insp_wang"), (FOLLOW_UP, "insp_wang")]


def test_the_timeline_shows_who_did_what_when_with_what_they_submitted(tracked):
    rt = tracked
    case = open_problem(rt)
    do(rt, case, "p01_head", PLAN_TASK, PLAN)
    do(rt, case, "insp_wang", REVIEW, {"plan_approved": False, "plan_review_comment": "缺少责任人职务"})
    detail = tracker.case_detail(rt, rt.actor("auditor"), case)
    [opening, plan, review] = detail.timeline
    assert opening.name == "问题立项" and ["problem", "问题描述", CASE_PROBLEM] in opening.fields
    assert (plan.actor, plan.actor_name, plan.at) == ("p01_head", display_name(rt, "p01_head"), START)
    assert ["measures", "整改措施", PLAN["measures"]] in plan.fields
    assert ["plan_review_comment", "审核意见（退回时必填）", "缺少责任人职务"] in review.fields
    assert detail.case.stage == "plan" and detail.open_tasks[0][0] == PLAN_TASK
    assert "plan" in detail.active_elements and "review_plan" in detail.completed_elements


CASE_PROBLEM = "月度绩效例会记录不全，3 月、4 月未记录考核结果反馈"


def test_each_person_sees_only_their_problems_and_others_are_refused(tracked):
    rt = tracked
    mine = open_problem(rt)
    theirs = open_problem(rt, problem="请假记录缺失", unit_code="P02", branch_code="B02", inspector="insp_li")
    def seen(username, **filters):
        return sorted(r.instance_id for r in tracker.list_cases(rt, rt.actor(username), Filters(**filters)).rows)
    for everyone in ("auditor", "owner", "admin"):
        assert seen(everyone) == sorted([mine, theirs])
    assert seen("p01_head") == [mine] and seen("p02_head") == [theirs]
    assert seen("insp_wang") == [mine] and seen("insp_li") == [theirs]
    assert seen("b01_secretary") == [mine]
    for outsider in ("p01_staff1", "leader_party"):
        with pytest.raises(PermissionDenied):
            tracker.list_cases(rt, rt.actor(outsider))
    with pytest.raises(PermissionDenied):
        tracker.case_detail(rt, rt.actor("p01_head"), theirs)
    with pytest.raises(PermissionDenied):
        tracker.case_detail(rt, rt.actor("p01_staff1"), mine)
    with pytest.raises(NotFound):
        tracker.case_detail(rt, rt.actor("auditor"), 999999)
    with pytest.raises(PermissionDenied):
        tracker_export.export_xlsx(rt, rt.actor("p01_staff1"))


def test_filters_by_unit_state_and_overdue(tracked):
    rt = tracked
    first = open_problem(rt)
    second = open_problem(rt, problem="请假记录缺失", unit_code="P02", branch_code="B02", plan_days=10)
    do(rt, second, "p02_head", PLAN_TASK, PLAN)
    auditor = rt.actor("auditor")
    with rt.db.reading() as session:
        p02 = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "P02"))

    def ids(when=rt, **filters):
        return sorted(r.instance_id for r in tracker.list_cases(when, auditor, Filters(**filters)).rows)
    assert ids(unit_id=p02) == [second]
    assert ids(stage="plan") == [first] and ids(stage="review") == [second]
    assert ids(stage="open") == sorted([first, second]) and ids(stage="closed") == []
    assert ids(overdue=True) == []
    week_later = at(rt, START + timedelta(days=7))
    listed = tracker.list_cases(week_later, auditor, Filters(overdue=True))
    assert [(r.instance_id, r.overdue_days) for r in listed.rows] == [(first, 2)]
    assert listed.overdue_total == 1 and listed.stage_counts == {"plan": 1, "review": 1}


def test_the_export_has_every_problem_and_every_step(tracked):
    rt = tracked
    case = open_problem(rt)
    later = close(rt, case)
    open_problem(rt, problem="请假记录缺失", unit_code="P02", branch_code="B02")
    content = tracker_export.export_xlsx(later, later.actor("auditor"))
    book = load_workbook(io.BytesIO(content), read_only=True)
    problems, trail = (list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets)
    assert problems[0][:3] == ("编号", "问题", "责任单位") and len(problems) == 3
    closed = next(r for r in problems if r[0] == case)
    assert closed[2] == "采油一队" and closed[8] == "闭环"
    steps_of_case = [r for r in trail[1:] if r[0] == case]
    assert [r[2] for r in steps_of_case] == ["问题立项", PLAN_TASK, REVIEW, IMPLEMENT, VERIFY, FOLLOW_UP]
    implement = steps_of_case[3]
    assert implement[3] == display_name(rt, "p01_head") and "佐证材料：例会记录（2026-03）" in implement[6]
    english = load_workbook(io.BytesIO(tracker_export.export_xlsx(later, later.actor("auditor"), language="en")))
    assert english.worksheets[0]["A1"].value == "no." and english.worksheets[1].title == "steps"


def test_a_problem_written_like_a_formula_is_exported_as_text(tracked):
    """A finding typed as "=HYPERLINK(...)" must not become a live formula in the office's workbook."""
    rt = tracked
    case = open_problem(rt, problem='=HYPERLINK("http://example.invalid","点此查看")')
    book = load_workbook(io.BytesIO(tracker_export.export_xlsx(rt, rt.actor("auditor"))))
    [row] = [r for r in book.worksheets[0].iter_rows(min_row=2) if r[0].value == case]
    assert row[1].data_type == "s" and row[1].value == "'" + '=HYPERLINK("http://example.invalid","点此查看")'


def test_problems_started_before_the_tracker_are_filled_in_by_backfill(tracked):
    rt = tracked
    case = open_problem(rt)
    do(rt, case, "p01_head", PLAN_TASK, PLAN)
    with rt.db.unit_of_work() as session:  # as a database migrated to 0008 with older problems has it
        session.execute(delete(RectificationStep))
        session.execute(delete(RectificationCase))
    assert tracking.backfill(rt) == 1 and tracking.backfill(rt) == 0
    row = case_row(rt, case)
    assert row.stage == "review" and row.unit_code == "P01"
    assert [name for name, _actor in steps(rt, case)] == ["问题立项", PLAN_TASK]
