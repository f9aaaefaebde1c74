"""The quarterly one-on-one feedback interview (季度一对一反馈面谈, DOMAIN.md §2, seed 002): the head
interviews each of their staff (the office interviews the heads) on result, strengths,
weaknesses, root causes and plan, covering four topics in a positive–negative–positive order.
The interview lands in the interview register, attributed to whoever completed the task. A head
late with an interview (the 20th of the month after the quarter) brings in the office."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import FeedbackInterview, HumanTask, Person
from engine.runtime import SCHEDULER, Runtime
from engine.services import instances, tasks
from tests.workflows.steps import at, do, instance, names, only, trail, wake

START = datetime(2027, 1, 16, 1, 0, tzinfo=UTC)
DUE = datetime(2027, 1, 20, 16, 0, tzinfo=UTC)  # 2027-01-21 00:00 in Beijing: end of the 20th
INTERVIEW = {
    "result": "2026Q4 考核得分 91.5，班组排名第 3",
    "strengths": "抢修响应快，12 月冻堵抢修获点赞两次",
    "weaknesses": "巡检记录不够规范，两次漏记",
    "root_causes": "对记录要求重视不够，交接班时间紧",
    "improvement_plan": "每日交班前自查记录，1 月底前由班长抽查",
    "topics": {"thinking": "思想稳定，有参加技术比武的意愿", "achievements": "完成冬季保供任务",
               "abilities": "抢修技能突出，资料整理偏弱", "conduct": "吃苦耐劳，纪律性强"},
    "order_followed": True,
    "held_on": "2027-01-18",
}
TASK, ESCALATE = "一对一反馈面谈", "督办：一对一反馈面谈逾期"


def register(rt) -> list[tuple[str, str, str, str, dict, int]]:
    """The interview register: (label, interviewee, interviewer, held_on, content, instance id)."""
    with rt.db.reading() as session:
        rows = session.scalars(select(FeedbackInterview).order_by(FeedbackInterview.id)).all()
        user = {p.id: p.username for p in session.scalars(select(Person))}
        return [(r.label, user[r.person_id], user[r.interviewer_id], r.held_on, json.loads(r.content), r.instance_id)
                for r in rows]


def start(demo, username: str, position: str) -> Runtime:
    with demo.db.reading() as session:
        person = session.scalar(select(Person).where(Person.username == username))
    day0 = at(demo, START)
    day0.actor = demo.actor
    day0.case = instances.start(day0, "one_on_one_interview", demo.actor("owner"), data={
        "quarter": "2026Q4", "period": "2026-12", "username": username, "person_name": person.display_name,
        "unit_code": "P01", "unit_name": "采油一队", "branch_code": "B01", "position": position})
    return day0


@pytest.fixture
def case(demo):
    return start(demo, "p01_staff1", "staff")


def test_the_head_interviews_a_staff_member_and_the_interview_is_registered(case):
    assert names(case, "p01_head") == [TASK]
    for other in ("p01_staff1", "p01_deputy", "p02_head", "owner", "auditor"):
        assert names(case, other) == []
    task = tasks.get(case, only(case, "p01_head").id, case.actor("p01_head"))
    assert task.schema["title"] == "季度一对一反馈面谈记录"
    assert task.data["deadlines"]["interview_due"] == "2027-01-21T00:00:00+08:00"
    assert only(case, "p01_head").due_at == DUE
    assert do(case, "p01_head", TASK, INTERVIEW) == "completed"
    [(label, who, by, held_on, content, instance_id)] = register(case)
    assert (label, who, by, held_on, instance_id) == ("2026Q4", "p01_staff1", "p01_head", "2027-01-18", case.case)
    assert content["topics"] == INTERVIEW["topics"] and content["improvement_plan"] == INTERVIEW["improvement_plan"]
    assert set(content) == {"result", "strengths", "weaknesses", "root_causes", "improvement_plan", "topics", "held_on"}
    assert trail(case) == [("start", "owner", "one_on_one_interview"),
                           ("complete", "p01_head", "interview_by_head"), ("complete_instance", "p01_head", None)]


def test_the_form_refuses_an_interview_missing_a_topic(case):
    head, task = case.actor("p01_head"), only(case, "p01_head").id
    no_conduct = {k: v for k, v in INTERVIEW["topics"].items() if k != "conduct"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, task, head, {**INTERVIEW, "topics": no_conduct})
    assert set(caught.value.field_errors) == {"topics.conduct"}
    assert caught.value.field_errors["topics.conduct"].zh == "此项为必填项"
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, task, head, {**INTERVIEW, "topics": {**no_conduct, "conduct": " ", "hobbies": "钓鱼"}})
    assert set(caught.value.field_errors) == {"topics", "topics.conduct"}
    without = {k: v for k, v in INTERVIEW.items() if k != "topics"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, task, head, {**without, "order_followed": False, "held_on": "上周五"})
    assert set(caught.value.field_errors) == {"topics", "order_followed", "held_on"}
    assert names(case, "p01_head") == [TASK] and register(case) == []


def test_a_unit_heads_interview_goes_to_the_office(demo):
    rt = start(demo, "p01_head", "head")
    assert names(rt, "owner") == [TASK]
    assert names(rt, "p01_head") == []  # nobody interviews themselves
    assert instance(rt).next_timer_at is None  # the office is not escalated to itself
    for intruder in ("p01_head", "p02_head", "auditor"):
        with pytest.raises(PermissionDenied):
            tasks.complete(rt, only(rt, "owner").id, rt.actor(intruder), INTERVIEW)
    assert do(rt, "owner", TASK, INTERVIEW) == "completed"
    assert [r[:3] for r in register(rt)] == [("2026Q4", "p01_head", "owner")]
    assert [s for a, _u, s in trail(rt) if a == "complete"] == ["interview_by_office"]


def test_only_the_interviewees_own_head_may_record_the_interview(case):
    task = only(case, "p01_head")
    for intruder in ("p01_staff1", "p01_deputy", "p02_head", "owner", "b01_secretary"):
        with pytest.raises(PermissionDenied):
            tasks.complete(case, task.id, case.actor(intruder), INTERVIEW)
    assert register(case) == []


def test_a_late_interview_is_escalated_to_the_office_and_the_interview_withdraws_it(case):
    assert case.case not in instances.due_instance_ids(at(case, DUE - timedelta(minutes=1)))
    late = wake(case, DUE + timedelta(seconds=1))
    assert names(late, "owner") == [ESCALATE]
    assert names(late, "p01_head") == [TASK]
    assert names(late, "p01_staff1") == []
    assert do(late, "p01_head", TASK, {**INTERVIEW, "held_on": "2027-01-22"}) == "completed"
    assert names(late, "owner") == []
    with late.db.reading() as session:
        rows = dict(session.execute(select(HumanTask.element_id, HumanTask.status)
                                    .where(HumanTask.instance_id == late.case)).all())
    assert rows == {"interview_by_head": "completed", "escalate": "cancelled"}
    assert [r[:4] for r in register(late)] == [("2026Q4", "p01_staff1", "p01_head", "2027-01-22")]
    assert [(a, u) for a, u, _s in trail(late)] == [("start", "owner"), ("timer_fired", SCHEDULER.username),
                                                   ("complete", "p01_head"), ("complete_instance", "p01_head")]


def test_a_second_interview_of_the_quarter_replaces_the_first(demo):
    first = start(demo, "p01_staff1", "staff")
    do(first, "p01_head", TASK, INTERVIEW)
    second = start(demo, "p01_staff1", "staff")
    do(second, "p01_head", TASK, {**INTERVIEW, "held_on": "2027-01-19", "result": "复核后得分 92"})
    [(label, who, _by, held_on, content, instance_id)] = register(second)
    assert (label, who, held_on, instance_id) == ("2026Q4", "p01_staff1", "2027-01-19", second.case)
    assert content["result"] == "复核后得分 92"
