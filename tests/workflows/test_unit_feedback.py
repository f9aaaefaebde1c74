"""Monthly results fed back in each unit (月度考核结果反馈, DOMAIN.md §2): after the report meeting the
unit head passes the results on at a unit meeting and talks to the staff who need feedback, by the
25th of the next month; after that the office steps in. The monthly talks stay in the instance
(only the quarterly one-on-one interviews go to the interview register)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import FeedbackInterview, HumanTask
from engine.runtime import SCHEDULER
from engine.services import instances, tasks
from tests.workflows.steps import at, do, instance, names, only, trail, wake

START = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)   # the report meeting day, 10:00 in Beijing
DUE = datetime(2027, 1, 25, 16, 0, tzinfo=UTC)    # 2027-01-26 00:00 in Beijing: end of the 25th
CASE = {"period": "2026-12", "unit_code": "P01", "unit_name": "采油一队", "category": "production",
        "branch_code": "B01"}
FEEDBACK = {"meeting_held": True, "meeting_date": "2027-01-18",
            "interviews": [{"username": "p01_staff1", "summary": "巡检记录两次漏记，已指出并约定每日自查"},
                           {"username": "p01_staff2", "summary": "抢修及时获点赞，鼓励在班组内分享经验"}],
            "notes": "全队 32 人参会"}
FEEDBACK_TASK, ESCALATE = "反馈考核结果", "督办：考核结果反馈逾期"


@pytest.fixture
def case(demo):
    day0 = at(demo, START)
    day0.actor = demo.actor
    day0.case = instances.start(day0, "unit_feedback", demo.actor("owner"), data=dict(CASE),
                                title="结果反馈：采油一队 2026-12")
    return day0


def test_the_unit_head_feeds_the_results_back_and_the_talks_stay_in_the_instance(case):
    assert names(case, "p01_head") == [FEEDBACK_TASK]
    for other in ("p01_deputy", "p01_staff1", "p02_head", "b01_secretary", "owner"):
        assert names(case, other) == []
    task = tasks.get(case, only(case, "p01_head").id, case.actor("p01_head"))
    assert task.schema["title"] == "反馈月度考核结果"
    assert task.data["deadlines"] == {"feedback_due": "2027-01-26T00:00:00+08:00",
                                      "feedback_escalate": "2027-01-29T00:00:00+08:00"}
    assert only(case, "p01_head").due_at == DUE
    assert do(case, "p01_head", FEEDBACK_TASK, FEEDBACK) == "completed"
    assert names(case, "p01_head") == []
    view = instances.view(case, case.case, case.actor("auditor"))
    assert view.data["interviews"] == FEEDBACK["interviews"] and view.data["meeting_date"] == "2027-01-18"
    assert "done" in view.completed_elements
    with case.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackInterview)) == 0
    assert trail(case) == [("start", "owner", "unit_feedback"), ("complete", "p01_head", "feedback"),
                           ("complete_instance", "p01_head", None)]


def test_a_unit_without_individual_talks_may_report_just_the_meeting(case):
    assert do(case, "p01_head", FEEDBACK_TASK, {"meeting_held": True, "meeting_date": "2027-01-16"}) == "completed"


def test_the_form_insists_on_the_meeting_and_on_real_talk_notes(case):
    head, task = case.actor("p01_head"), only(case, "p01_head").id
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, task, head, {**FEEDBACK, "meeting_held": False, "meeting_date": "1月18日"})
    assert set(caught.value.field_errors) == {"meeting_held", "meeting_date"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, task, head, {**FEEDBACK, "interviews": [{"username": "p01_staff1", "summary": "好"},
                                                                     {"summary": "没有写谈话对象的记录"}]})
    assert set(caught.value.field_errors) == {"interviews.0.summary", "interviews.1.username"}
    assert caught.value.field_errors["interviews.0.summary"].zh == "至少需要 10 个字符"
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, task, head, {**FEEDBACK, "interviews": [FEEDBACK["interviews"][0]] * 101})
    assert caught.value.field_errors["interviews"].zh == "最多 100 项"
    assert names(case, "p01_head") == [FEEDBACK_TASK]


def test_a_late_feedback_is_escalated_to_the_office_and_finishing_withdraws_it(case):
    assert case.case not in instances.due_instance_ids(at(case, DUE - timedelta(minutes=1)))
    late = wake(case, DUE + timedelta(seconds=1))
    assert names(late, "owner") == [ESCALATE]
    assert names(late, "p01_head") == [FEEDBACK_TASK]  # non-interrupting: still the head's to do
    assert names(late, "p02_head") == [] and names(late, "b01_secretary") == []
    assert instance(late).next_timer_at is None  # one escalation, not a repeating one
    assert do(late, "p01_head", FEEDBACK_TASK, FEEDBACK) == "completed"
    assert names(late, "owner") == []
    with late.db.reading() as session:
        rows = dict(session.execute(select(HumanTask.element_id, HumanTask.status)
                                    .where(HumanTask.instance_id == late.case)).all())
    assert rows == {"feedback": "completed", "escalate": "cancelled"}
    assert [(a, u) for a, u, _s in trail(late)] == [("start", "owner"), ("timer_fired", SCHEDULER.username),
                                                   ("complete", "p01_head"), ("complete_instance", "p01_head")]


def test_the_office_records_how_it_escalated(case):
    late = wake(case, DUE + timedelta(days=2))
    do(late, "owner", ESCALATE, {"escalation_action": "电话督办", "escalation_note": "已电话提醒采油一队队长"})
    assert names(late, "owner") == [] and names(late, "p01_head") == [FEEDBACK_TASK]
    assert instance(late).status == "waiting_person"
    do(late, "p01_head", FEEDBACK_TASK, FEEDBACK)
    assert [(a, u, s) for a, u, s in trail(late) if a == "complete"] == [
        ("complete", "owner", "escalate"), ("complete", "p01_head", "feedback")]


def test_only_the_head_of_that_unit_feeds_back(case):
    task = only(case, "p01_head")
    for intruder in ("p02_head", "p01_deputy", "p01_staff1", "owner", "auditor"):
        with pytest.raises(PermissionDenied):
            tasks.complete(case, task.id, case.actor(intruder), FEEDBACK)
    late = wake(case, DUE + timedelta(hours=1))
    escalation = only(late, "owner", ESCALATE)
    with pytest.raises(PermissionDenied):
        tasks.complete(late, escalation.id, late.actor("p01_head"), {"escalation_action": "电话督办",
                                                                     "escalation_note": "自己督办自己"})
