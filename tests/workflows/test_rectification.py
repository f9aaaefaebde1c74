"""Rectification (整改), one instance per problem: the unit head plans, the named inspector approves
the plan, the unit implements with evidence, the inspector verifies, and after a consolidation
period checks that the fix held (长效巩固). Missed deadlines remind the unit head first and then
bring in the performance office, without taking the task away from the unit."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engine.clock import FixedClock
from engine.errors import PermissionDenied, ValidationFailed
from engine.models import HumanTask, ProcessInstance
from engine.runtime import SCHEDULER, Runtime
from engine.services import audit, instances, tasks
from engine.services.people import ensure_person

START = datetime(2026, 5, 6, 1, 0, tzinfo=timezone.utc)
CASE = {"problem": "月度绩效例会记录不全，3 月、4 月未记录考核结果反馈", "unit_code": "P01", "branch_code": "B01",
        "source": "交叉检查 2026-04", "severity": "一般", "inspector": "insp_wang",
        "plan_days": 5, "fix_days": 20, "follow_up_days": 30}
PLAN = {"measures": "1. 补记 3、4 月例会记录\n2. 每月例会后 2 个工作日内归档", "plan_deadline": "2026-06-05",
        "plan_owner": "张明 副队长"}
DONE = {"implementation": "已补记两次例会记录，建立例会归档台账", "completed_on": "2026-05-28",
        "evidence": ["例会记录（2026-03）", "例会记录（2026-04）", "归档台账 第 12 页"]}

PLAN_TASK, REVIEW, IMPLEMENT, VERIFY, FOLLOW_UP = "制定整改方案", "审核整改方案", "提交整改落实情况", "验收整改", "长效巩固复查"


def at(rt, moment: datetime) -> Runtime:
    """The same database seen by a runtime whose clock reads `moment`."""
    return Runtime(rt.settings, database=rt.db, clock=FixedClock(moment))


def names(rt, username: str) -> list[str]:
    return sorted(t.name for t in tasks.inbox(rt, rt.actor(username)) if t.instance_id == rt.case)


def only(rt, username: str, name: str | None = None):
    [task] = [t for t in tasks.inbox(rt, rt.actor(username))
              if t.instance_id == rt.case and (name is None or t.name == name)]
    return task


def do(rt, username: str, name: str, form: dict) -> str:
    return tasks.complete(rt, only(rt, username, name).id, rt.actor(username), form)


def status(rt) -> str:
    with rt.db.reading() as session:
        return session.get(ProcessInstance, rt.case).status


def trail(rt) -> list[tuple[str, str, str | None]]:
    with rt.db.reading() as session:
        return [(e.action, e.actor, e.subject) for e in audit.instance_trail(session, rt.case)]


def wake(rt, moment: datetime) -> Runtime:
    later = at(rt, moment)
    later.actor, later.case = rt.actor, rt.case
    assert rt.case in instances.due_instance_ids(later)
    assert instances.wake(later, rt.case) is True
    return later


@pytest.fixture
def case(demo):
    with demo.db.unit_of_work() as session:
        ensure_person(session, "insp_wang", "王检查", unit_code="ORG", roles=("inspector", "staff"))
        ensure_person(session, "insp_li", "李检查", unit_code="ORG", roles=("inspector", "staff"))
    day0 = at(demo, START)
    day0.actor = demo.actor
    day0.case = instances.start(day0, "rectification", demo.actor("owner"), data=dict(CASE),
                                title="整改：采油一队 例会记录不全")
    return day0


def approve_plan(rt) -> None:
    do(rt, "p01_head", PLAN_TASK, PLAN)
    do(rt, "insp_wang", REVIEW, {"plan_approved": True, "plan_review_comment": "措施可行"})


def implement_and_verify(rt) -> None:
    do(rt, "p01_head", IMPLEMENT, DONE)
    do(rt, "insp_wang", VERIFY, {"verified": True})


def test_the_plan_goes_to_the_head_of_the_responsible_unit_only(case):
    assert names(case, "p01_head") == [PLAN_TASK]
    for other in ("p02_head", "p01_staff1", "insp_wang", "owner", "auditor"):
        assert names(case, other) == []
    task = tasks.get(case, only(case, "p01_head").id, case.actor("p01_head"))
    assert task.schema["title"] == "整改方案"
    assert task.data["problem"] == CASE["problem"] and task.data["source"] == "交叉检查 2026-04"
    assert task.data["lane_owners"] == {"检查组成员": ["insp_wang"]}
    assert status(case) == "waiting_person"
    # the head's inbox shows the deadline: the reminder timer on the plan stage, plan_days after opening
    assert only(case, "p01_head").due_at == START + timedelta(days=CASE["plan_days"])


def test_happy_path_ends_in_a_closed_loop_after_the_follow_up(case):
    approve_plan(case)
    assert names(case, "p01_head") == [IMPLEMENT]
    implement_and_verify(case)
    assert status(case) == "waiting_timer"  # 长效巩固期: nobody has anything to do
    assert names(case, "insp_wang") == [] and names(case, "p01_head") == []
    with case.db.reading() as session:
        assert session.get(ProcessInstance, case.case).next_timer_at == START + timedelta(days=30)

    too_early = at(case, START + timedelta(days=29))
    assert case.case not in instances.due_instance_ids(too_early)
    later = wake(case, START + timedelta(days=30, seconds=1))
    assert names(later, "insp_wang") == [FOLLOW_UP]
    check = tasks.get(later, only(later, "insp_wang").id, later.actor("insp_wang"))
    assert check.data["evidence"] == DONE["evidence"] and check.data["measures"] == PLAN["measures"]
    assert do(later, "insp_wang", FOLLOW_UP, {"held": True}) == "completed"

    with case.db.reading() as session:
        done = session.get(ProcessInstance, case.case)
        assert done.completed_at == START + timedelta(days=30, seconds=1)
        opened = session.scalars(select(HumanTask.name).where(HumanTask.instance_id == case.case,
                                                              HumanTask.status == "open")).all()
    assert opened == []
    assert trail(case) == [
        ("start", "owner", "rectification"),
        ("complete", "p01_head", "plan"), ("complete", "insp_wang", "review_plan"),
        ("complete", "p01_head", "fix"), ("complete", "insp_wang", "verify"),
        ("timer_fired", SCHEDULER.username, None),
        ("complete", "insp_wang", "follow_up"), ("complete_instance", "insp_wang", None)]


def test_an_auditor_follows_the_timeline_with_actors_times_and_evidence(case):
    approve_plan(case)
    implement_and_verify(case)
    later = wake(case, START + timedelta(days=31))
    do(later, "insp_wang", FOLLOW_UP, {"held": True})
    auditor = case.actor("auditor")
    view = instances.view(case, case.case, auditor)  # read-only access to the whole instance
    assert view.instance.status == "completed"
    assert "closed" in view.completed_elements and view.active_elements == []
    assert [t.name for t in view.tasks] == [PLAN_TASK, REVIEW, IMPLEMENT, VERIFY, FOLLOW_UP]
    assert all(t.status == "completed" for t in view.tasks)
    with case.db.reading() as session:
        events = audit.instance_trail(session, case.case)
        assert audit.verify(session).ok
    completed = [e for e in events if e.action == "complete"]
    assert [e.subject for e in completed] == ["plan", "review_plan", "fix", "verify", "follow_up"]
    assert completed[2].data_digest == audit.digest(DONE)  # the evidence as submitted is sealed in the chain
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert events[-1].occurred_at == START + timedelta(days=31)
    # the evidence itself is in the task the auditor may open
    fix_task = next(t for t in view.tasks if t.name == IMPLEMENT)
    assert tasks.get(case, fix_task.id, auditor).data["evidence"] == DONE["evidence"]


def test_a_returned_plan_comes_back_with_the_reason_then_is_approved(case):
    head, inspector = case.actor("p01_head"), case.actor("insp_wang")
    do(case, "p01_head", PLAN_TASK, PLAN)
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, only(case, "insp_wang").id, inspector, {"plan_approved": False})
    assert set(caught.value.field_errors) == {"plan_review_comment"}
    do(case, "insp_wang", REVIEW, {"plan_approved": False, "plan_review_comment": "未明确归档责任人"})
    assert names(case, "p01_head") == [PLAN_TASK]
    again = tasks.get(case, only(case, "p01_head").id, head)
    assert again.data["plan_review_comment"] == "未明确归档责任人"
    assert again.data["measures"] == PLAN["measures"]  # the earlier plan is there to revise
    do(case, "p01_head", PLAN_TASK, {**PLAN, "plan_owner": "张明 副队长（归档：李华）"})
    second_review = tasks.get(case, only(case, "insp_wang").id, inspector)
    assert "plan_review_comment" not in second_review.data  # the reviewer starts from an empty comment
    do(case, "insp_wang", REVIEW, {"plan_approved": True})
    assert names(case, "p01_head") == [IMPLEMENT]
    implement = tasks.get(case, only(case, "p01_head").id, head).data
    assert implement["plan_owner"] == "张明 副队长（归档：李华）" and "plan_review_comment" not in implement
    completed = [s for a, _u, s in trail(case) if a == "complete"]
    assert completed == ["plan", "review_plan", "plan", "review_plan"]


def test_a_failed_verification_reopens_the_implementation(case):
    approve_plan(case)
    do(case, "p01_head", IMPLEMENT, DONE)
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, only(case, "insp_wang").id, case.actor("insp_wang"), {"verified": False,
                                                                                     "verify_comment": ""})
    assert set(caught.value.field_errors) == {"verify_comment"}
    do(case, "insp_wang", VERIFY, {"verified": False, "verify_comment": "归档台账未经队长签字"})
    assert names(case, "p01_head") == [IMPLEMENT]  # back to implementation, not to the plan
    reopened = tasks.get(case, only(case, "p01_head").id, case.actor("p01_head"))
    assert reopened.data["verify_comment"] == "归档台账未经队长签字"
    do(case, "p01_head", IMPLEMENT, {**DONE, "evidence": DONE["evidence"] + ["台账签字页"]})
    assert "verify_comment" not in tasks.get(case, only(case, "insp_wang").id, case.actor("insp_wang")).data
    do(case, "insp_wang", VERIFY, {"verified": True})
    assert status(case) == "waiting_timer"
    assert [s for a, _u, s in trail(case) if a == "complete"][2:] == ["fix", "verify", "fix", "verify"]


def test_a_fix_that_did_not_hold_reopens_the_plan(case):
    approve_plan(case)
    implement_and_verify(case)
    later = wake(case, START + timedelta(days=30, hours=1))
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(later, only(later, "insp_wang").id, later.actor("insp_wang"), {"held": False})
    assert set(caught.value.field_errors) == {"follow_up_comment"}
    do(later, "insp_wang", FOLLOW_UP, {"held": False, "follow_up_comment": "5 月例会又未记录"})
    assert status(later) == "waiting_person"
    assert names(later, "p01_head") == [PLAN_TASK]
    replan = tasks.get(later, only(later, "p01_head").id, later.actor("p01_head"))
    assert replan.data["follow_up_comment"] == "5 月例会又未记录"
    # a second round runs to the end with fresh deadlines from the moment the plan reopened
    approve_plan(later)
    implement_and_verify(later)
    final = wake(later, START + timedelta(days=61))
    assert do(final, "insp_wang", FOLLOW_UP, {"held": True}) == "completed"


def test_a_late_plan_reminds_the_head_then_escalates_to_the_office(case):
    assert names(case, "owner") == []
    with case.db.reading() as session:
        assert session.get(ProcessInstance, case.case).next_timer_at == START + timedelta(days=5)
    day5 = wake(case, START + timedelta(days=5, minutes=1))
    assert names(day5, "p01_head") == ["催办：提交整改方案", PLAN_TASK]  # non-interrupting: the plan stays open
    assert names(day5, "owner") == []
    remind = tasks.get(day5, only(day5, "p01_head", "催办：提交整改方案").id, day5.actor("p01_head"))
    assert remind.data["problem"] == CASE["problem"]
    with pytest.raises(ValidationFailed) as caught:
        do(day5, "p01_head", "催办：提交整改方案", {"delay_reason": "", "promised_date": "下周"})
    assert set(caught.value.field_errors) == {"delay_reason", "promised_date"}
    do(day5, "p01_head", "催办：提交整改方案", {"delay_reason": "队长外出培训", "promised_date": "2026-05-15"})
    assert names(day5, "p01_head") == [PLAN_TASK]

    day8 = wake(day5, START + timedelta(days=8, minutes=1))  # plan_days + 3 days
    assert names(day8, "owner") == ["督办：整改方案逾期"]
    assert names(day8, "p01_head") == [PLAN_TASK]
    assert names(day8, "auditor") == []
    do(day8, "owner", "督办：整改方案逾期", {"escalation_action": "约谈负责人", "escalation_note": "已约谈采油一队队长"})
    do(day8, "p01_head", PLAN_TASK, PLAN)
    assert names(day8, "insp_wang") == [REVIEW]
    fired = [(a, s) for a, _u, s in trail(day8)]
    assert fired == [("start", "rectification"), ("timer_fired", None), ("complete", "plan_remind"),
                     ("timer_fired", None), ("complete", "plan_escalate"), ("complete", "plan")]


def test_submitting_the_plan_withdraws_the_open_reminder_so_loops_do_not_pile_them_up(case):
    day9 = wake(case, START + timedelta(days=9))  # both deadlines passed, nobody reacted
    assert names(day9, "p01_head") == ["催办：提交整改方案", PLAN_TASK]
    assert names(day9, "owner") == ["督办：整改方案逾期"]
    do(day9, "p01_head", PLAN_TASK, PLAN)
    assert names(day9, "p01_head") == []  # the unanswered reminder ended with the planning stage
    assert names(day9, "owner") == ["督办：整改方案逾期"]  # the office's intervention stays on record
    with case.db.reading() as session:
        rows = dict(session.execute(select(HumanTask.element_id, HumanTask.status)
                                    .where(HumanTask.instance_id == case.case)).all())
    assert rows["plan_remind"] == "cancelled" and rows["plan_escalate"] == "open"
    do(day9, "insp_wang", REVIEW, {"plan_approved": False, "plan_review_comment": "措施不具体"})
    # the returned plan starts a fresh stage: fresh deadlines, no reminder carried over
    assert names(day9, "p01_head") == [PLAN_TASK]
    with case.db.reading() as session:
        assert session.get(ProcessInstance, case.case).next_timer_at == START + timedelta(days=14)
    day14 = wake(day9, START + timedelta(days=14, seconds=1))
    assert names(day14, "p01_head") == ["催办：提交整改方案", PLAN_TASK]  # one reminder, not two
    assert names(day14, "owner") == ["督办：整改方案逾期"]


def test_late_implementation_reminds_the_head_then_escalates_to_the_office(case):
    approve_plan(case)
    assert names(case, "p01_head") == [IMPLEMENT]
    day20 = wake(case, START + timedelta(days=20, seconds=1))
    assert names(day20, "p01_head") == ["催办：落实整改", IMPLEMENT]
    assert names(day20, "owner") == []
    day23 = wake(day20, START + timedelta(days=23, seconds=1))
    assert names(day23, "owner") == ["督办：整改落实逾期"]
    assert names(day23, "p01_head") == ["催办：落实整改", IMPLEMENT]
    do(day23, "owner", "督办：整改落实逾期", {"escalation_action": "书面督办", "escalation_note": "已下发督办通知"})
    do(day23, "p01_head", IMPLEMENT, DONE)
    assert names(day23, "p01_head") == []  # the unanswered reminder went with the stage
    assert names(day23, "insp_wang") == [VERIFY]
    done = [(a, u, s) for a, u, s in trail(day23) if a == "complete"]
    assert done[-2:] == [("complete", "owner", "fix_escalate"), ("complete", "p01_head", "fix")]


def test_closing_the_problem_withdraws_an_escalation_nobody_handled(case):
    approve_plan(case)
    day24 = wake(case, START + timedelta(days=24))
    assert names(day24, "owner") == ["督办：整改落实逾期"]
    implement_and_verify(day24)
    assert status(day24) == "waiting_person"  # the office still has its escalation open
    day54 = wake(day24, START + timedelta(days=54, seconds=1))
    assert do(day54, "insp_wang", FOLLOW_UP, {"held": True}) == "completed"
    assert names(day54, "owner") == []
    with case.db.reading() as session:
        rows = dict(session.execute(select(HumanTask.element_id, HumanTask.status)
                                    .where(HumanTask.instance_id == case.case)).all())
    assert rows["fix_escalate"] == "cancelled" and rows["follow_up"] == "completed"


def test_only_the_named_inspector_reviews_and_verifies(case):
    do(case, "p01_head", PLAN_TASK, PLAN)
    assert names(case, "insp_wang") == [REVIEW]
    assert names(case, "insp_li") == []  # also an inspector, but not on this problem
    review = only(case, "insp_wang")
    for intruder in ("insp_li", "p01_head"):
        with pytest.raises(PermissionDenied):
            tasks.complete(case, review.id, case.actor(intruder), {"plan_approved": True})
        with pytest.raises(PermissionDenied):
            tasks.claim(case, review.id, case.actor(intruder))
    tasks.claim(case, review.id, case.actor("insp_wang"))
    do(case, "insp_wang", REVIEW, {"plan_approved": True})
    assert [(a, u) for a, u, _s in trail(case)][-2:] == [("claim", "insp_wang"), ("complete", "insp_wang")]


def test_form_errors_are_reported_per_field(case):
    head = case.actor("p01_head")
    plan = only(case, "p01_head").id
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, plan, head, {"measures": "改", "plan_deadline": "6月5日"})
    errors = caught.value.field_errors
    assert set(errors) == {"measures", "plan_deadline", "plan_owner"}
    assert errors["plan_owner"].zh == "此项为必填项"
    assert errors["measures"].zh == "至少需要 4 个字符"
    assert errors["plan_deadline"].zh == "格式不符合要求"
    do(case, "p01_head", PLAN_TASK, PLAN)
    do(case, "insp_wang", REVIEW, {"plan_approved": True})
    fix = only(case, "p01_head").id
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, fix, head, {**DONE, "evidence": [f"材料 {n}" for n in range(11)]})
    assert set(caught.value.field_errors) == {"evidence"}
    assert caught.value.field_errors["evidence"].zh == "最多 10 项"
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, fix, head, {**DONE, "evidence": []})
    assert caught.value.field_errors["evidence"].zh == "至少需要 1 项"
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, fix, head, {**DONE, "evidence": ["台账", "x"]})
    assert set(caught.value.field_errors) == {"evidence.1"}
    assert names(case, "p01_head") == [IMPLEMENT]  # nothing moved
    assert [a for a, _u, _s in trail(case)].count("complete") == 2


def test_defaults_apply_when_the_case_names_no_deadlines(demo):
    with demo.db.unit_of_work() as session:
        ensure_person(session, "insp_wang", "王检查", unit_code="ORG", roles=("inspector",))
    day0 = at(demo, START)
    day0.actor = demo.actor
    day0.case = instances.start(day0, "rectification", demo.actor("owner"), data={
        "problem": "末位单位绩效改进", "unit_code": "P01", "source": "月度考核末位", "severity": "较重",
        "inspector": "insp_wang"})
    with demo.db.reading() as session:
        assert session.get(ProcessInstance, day0.case).next_timer_at == START + timedelta(days=7)
    data = tasks.get(day0, only(day0, "p01_head").id, day0.actor("p01_head")).data
    deadlines = (data["plan_days"], data["fix_days"], data["follow_up_days"], data["escalation_days"])
    assert deadlines == (7, 30, 30, 3)
