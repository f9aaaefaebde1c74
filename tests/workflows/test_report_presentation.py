"""The last-placed unit's presentation at the report meeting (末位单位表态发言, DOMAIN.md §3): the unit
head analyses the problems and commits to measures, the office confirms it at the meeting (or
sends it back with the reason), and the confirmation opens a rectification for the unit. A head
who has not presented by the end of the meeting day (the 15th of the next month) brings in the
office; the confirmation withdraws an escalation nobody handled."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import HumanTask, ProcessInstance
from engine.runtime import SCHEDULER
from engine.services import audit, instances, tasks
from tests.workflows.steps import at, do, instance, names, only, trail, wake

START = datetime(2027, 1, 12, 1, 0, tzinfo=UTC)              # 09:00 in Beijing, results just out
DUE = datetime(2027, 1, 15, 16, 0, tzinfo=UTC)               # 2027-01-16 00:00 in Beijing: end of the 15th
CASE = {"period": "2026-12", "unit_code": "P01", "unit_name": "采油一队", "category": "production",
        "branch_code": "B01"}
SPEECH = {"problem_analysis": "安全检查两项扣分：巡检记录不全，交接班制度落实不到位；原因是班组长责任心不强",
          "measures": "1. 巡检记录每日由班长签字归档\n2. 交接班实行双签制度，每周抽查",
          "commitment": "2027-02-28"}

PRESENT, REVISE, REVIEW, ESCALATE = "末位表态发言", "修改表态发言", "会议确认", "督办：末位表态发言逾期"


def children(rt) -> list[ProcessInstance]:
    with rt.db.reading() as session:
        return list(session.scalars(select(ProcessInstance).where(ProcessInstance.parent_instance_id == rt.case)))


def task_rows(rt) -> dict[str, str]:
    with rt.db.reading() as session:
        return dict(session.execute(select(HumanTask.element_id, HumanTask.status)
                                    .where(HumanTask.instance_id == rt.case).order_by(HumanTask.id)).all())


@pytest.fixture
def case(demo):
    day0 = at(demo, START)
    day0.actor = demo.actor
    day0.case = instances.start(day0, "report_presentation", demo.actor("owner"), data=dict(CASE),
                                title="末位表态：采油一队 2026-12")
    return day0


def test_the_head_of_the_last_unit_presents_by_the_end_of_the_meeting_day(case):
    assert names(case, "p01_head") == [PRESENT]
    for other in ("p01_deputy", "p01_staff1", "p02_head", "b01_secretary", "owner", "auditor"):
        assert names(case, other) == []
    task = tasks.get(case, only(case, "p01_head").id, case.actor("p01_head"))
    assert task.schema["title"] == "末位单位表态发言"
    assert task.data["deadlines"] == {"presentation_due": "2027-01-16T00:00:00+08:00"}
    assert task.data["unit_name"] == "采油一队" and task.data["period"] == "2026-12"
    assert only(case, "p01_head").due_at == DUE  # the inbox shows the meeting day's end as the deadline
    assert instance(case).status == "waiting_person" and instance(case).next_timer_at == DUE


def test_happy_path_confirmation_opens_a_rectification_for_the_unit(case):
    do(case, "p01_head", PRESENT, SPEECH)
    assert names(case, "p01_head") == []
    assert names(case, "owner") == [REVIEW]
    review = tasks.get(case, only(case, "owner").id, case.actor("owner"))
    assert review.data["problem_analysis"] == SPEECH["problem_analysis"]
    assert review.data["commitment"] == "2027-02-28"
    assert instance(case).next_timer_at is None  # presented in time: nothing left to escalate
    assert do(case, "owner", REVIEW, {"accepted": True, "review_comment": "同意，按期整改"}) == "completed"

    [child] = children(case)
    assert child.process_id == "rectification" and child.spawned_by == "start_rectification"
    assert child.status == "waiting_person" and child.started_by == "owner"
    assert child.title == "问题整改跟踪 · 采油一队"
    head_tasks = [t for t in tasks.inbox(case, case.actor("p01_head")) if t.instance_id == child.id]
    assert [t.name for t in head_tasks] == ["制定整改方案"]
    plan = tasks.get(case, head_tasks[0].id, case.actor("p01_head")).data
    assert plan["problem"] == "2026-12 月度考核生产型单位排名末位：" + SPEECH["problem_analysis"]
    assert (plan["unit_code"], plan["branch_code"], plan["source"], plan["severity"]) == (
        "P01", "B01", "月度考核通报会 2026-12", "一般")
    # whoever confirmed the presentation reviews the plan and verifies the fix, not every inspector
    assert plan["inspector"] == "owner" and plan["lane_owners"] == {"检查组成员": ["owner"]}
    with case.db.reading() as session:  # in the tracker it is a problem of its own, not of a round
        from engine.models.tracking import RectificationCase
        assert session.scalar(select(RectificationCase.round_instance_id)
                              .where(RectificationCase.instance_id == child.id)) is None
    assert names(case, "p02_head", child.id) == []

    # the rectification is launched after the review commits: planned, then reported started
    assert trail(case) == [("start", "owner", "report_presentation"),
                           ("complete", "p01_head", "present"), ("complete", "owner", "review"),
                           ("launch_planned", "system", "start_rectification"), ("complete_instance", "owner", None),
                           ("launch_done", "system", "start_rectification")]
    # the parent does not wait for the rectification: when it closes, nobody is told and nothing breaks
    assert instance(case).completed_at == START


def test_a_presentation_not_accepted_goes_back_with_the_reason(case):
    do(case, "p01_head", PRESENT, SPEECH)
    owner = case.actor("owner")
    for refused in ({"accepted": False}, {"accepted": False, "review_comment": "  "}):
        with pytest.raises(ValidationFailed) as caught:
            tasks.complete(case, only(case, "owner").id, owner, refused)
        assert set(caught.value.field_errors) == {"review_comment"}
    do(case, "owner", REVIEW, {"accepted": False, "review_comment": "原因分析不深入，未触及管理责任"})
    assert names(case, "owner") == [] and children(case) == []
    assert names(case, "p01_head") == [REVISE]
    again = tasks.get(case, only(case, "p01_head").id, case.actor("p01_head"))
    assert again.schema["title"] == "末位单位表态发言"  # the same form, with the meeting's reason shown
    assert again.data["review_comment"] == "原因分析不深入，未触及管理责任"
    assert again.data["measures"] == SPEECH["measures"]  # the earlier presentation is there to revise
    revised = {**SPEECH, "problem_analysis": SPEECH["problem_analysis"] + "；队长对安全管理抓得不实，负主要责任"}
    do(case, "p01_head", REVISE, revised)
    second = tasks.get(case, only(case, "owner").id, owner)
    assert "review_comment" not in second.data  # the meeting starts from an empty comment
    do(case, "owner", REVIEW, {"accepted": True})
    [child] = children(case)
    plan = [t for t in tasks.inbox(case, case.actor("p01_head")) if t.instance_id == child.id]
    assert tasks.get(case, plan[0].id, case.actor("p01_head")).data["problem"].endswith("负主要责任")
    assert [s for a, _u, s in trail(case) if a == "complete"] == ["present", "review", "revise", "review"]


def test_a_presentation_returned_after_the_meeting_day_is_not_escalated_again(case):
    late = wake(case, DUE + timedelta(hours=1))
    assert names(late, "owner") == [ESCALATE]
    do(late, "p01_head", PRESENT, SPEECH)
    for _round in range(2):  # returned twice, after the deadline: still the one escalation
        do(late, "owner", REVIEW, {"accepted": False, "review_comment": "原因分析不深入"})
        assert names(late, "owner") == [ESCALATE] and names(late, "p01_head") == [REVISE]
        assert instance(late).next_timer_at is None
        do(late, "p01_head", REVISE, SPEECH)
    do(late, "owner", REVIEW, {"accepted": True})
    with late.db.reading() as session:
        rows = session.execute(select(HumanTask.element_id, HumanTask.status)
                               .where(HumanTask.instance_id == late.case).order_by(HumanTask.id)).all()
    assert [tuple(r) for r in rows] == [("present", "completed"), ("escalate", "cancelled"), ("review", "completed"),
                                        ("revise", "completed"), ("review", "completed"), ("revise", "completed"),
                                        ("review", "completed")]


def test_a_late_presentation_is_escalated_to_the_office_and_confirming_withdraws_it(case):
    assert case.case not in instances.due_instance_ids(at(case, DUE - timedelta(minutes=1)))  # 23:59 on the 15th
    late = wake(case, DUE + timedelta(seconds=1))
    assert names(late, "owner") == [ESCALATE]
    assert names(late, "p01_head") == [PRESENT]  # non-interrupting: the head still presents
    assert names(late, "p02_head") == [] and names(late, "auditor") == []
    escalation = tasks.get(late, only(late, "owner", ESCALATE).id, late.actor("owner"))
    assert escalation.data["unit_name"] == "采油一队"
    with pytest.raises(ValidationFailed) as caught:
        do(late, "owner", ESCALATE, {"escalation_action": "打电话", "escalation_note": ""})
    assert set(caught.value.field_errors) == {"escalation_action", "escalation_note"}
    do(late, "p01_head", PRESENT, SPEECH)
    assert names(late, "owner") == sorted([ESCALATE, REVIEW])  # the escalation stays until handled or finished
    assert do(late, "owner", REVIEW, {"accepted": True}) == "completed"
    assert names(late, "owner") == []
    rows = task_rows(late)
    assert rows == {"present": "completed", "escalate": "cancelled", "review": "completed"}
    assert [(a, u) for a, u, _s in trail(late)] == [
        ("start", "owner"), ("timer_fired", SCHEDULER.username), ("complete", "p01_head"),
        ("complete", "owner"), ("launch_planned", "system"), ("complete_instance", "owner"),
        ("launch_done", "system")]
    assert len(children(late)) == 1


def test_a_handled_escalation_is_on_record(case):
    late = wake(case, DUE + timedelta(hours=2))
    do(late, "owner", ESCALATE, {"escalation_action": "约谈负责人", "escalation_note": "已约谈采油一队队长，当日补交"})
    assert names(late, "owner") == [] and names(late, "p01_head") == [PRESENT]
    do(late, "p01_head", PRESENT, SPEECH)
    do(late, "owner", REVIEW, {"accepted": True})
    with late.db.reading() as session:
        events = audit.instance_trail(session, late.case)
        assert audit.verify(session).ok
    completed = [e for e in events if e.action == "complete"]
    assert [(e.actor, e.subject) for e in completed] == [("owner", "escalate"), ("p01_head", "present"),
                                                         ("owner", "review")]
    assert completed[1].data_digest == audit.digest(SPEECH)  # what was said is sealed in the chain
    assert task_rows(late)["escalate"] == "completed"


def test_only_the_head_of_that_unit_presents_and_only_the_office_confirms(case):
    present = only(case, "p01_head")
    for intruder in ("p02_head", "p01_deputy", "p01_staff1", "b01_secretary", "owner"):
        with pytest.raises(PermissionDenied):
            tasks.complete(case, present.id, case.actor(intruder), SPEECH)
    do(case, "p01_head", PRESENT, SPEECH)
    review = only(case, "owner")
    for intruder in ("p01_head", "auditor", "p02_head"):
        with pytest.raises(PermissionDenied):
            tasks.complete(case, review.id, case.actor(intruder), {"accepted": True})
    assert [a for a, _u, _s in trail(case)].count("complete") == 1


def test_the_presentation_form_asks_for_substance(case):
    head = case.actor("p01_head")
    present = only(case, "p01_head").id
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, present, head, {"problem_analysis": "没做好", "measures": "          ",
                                             "commitment": "二月底"})
    errors = caught.value.field_errors
    assert set(errors) == {"problem_analysis", "measures", "commitment"}
    assert errors["problem_analysis"].zh == "至少需要 10 个字符"
    assert errors["commitment"].zh == "格式不符合要求"
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(case, present, head, {**SPEECH, "unit_name": "采油二队"})  # shown, not rewritten
    assert caught.value.field_errors
    assert names(case, "p01_head") == [PRESENT]


def test_a_last_placed_party_branch_presents_through_its_secretary(demo):
    rt = at(demo, START)
    rt.actor = demo.actor
    rt.case = instances.start(rt, "report_presentation", demo.actor("owner"), title="末位表态：第三党支部 2026-12",
                              data={"period": "2026-12", "unit_code": "B03", "unit_name": "第三党支部",
                                    "category": "party_branch", "branch_code": None})
    assert names(rt, "b03_secretary") == [PRESENT]
    assert names(rt, "b02_secretary") == [] and names(rt, "owner") == []
    do(rt, "b03_secretary", PRESENT, SPEECH)
    do(rt, "owner", REVIEW, {"accepted": True})
    [child] = children(rt)  # the branch's rectification plan goes to the secretary as well
    assert [t.name for t in tasks.inbox(rt, rt.actor("b03_secretary")) if t.instance_id == child.id] == ["制定整改方案"]
