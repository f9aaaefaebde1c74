"""Cross-inspection rounds (交叉检查, DOMAIN.md §4, seed 001): the office proposes which group inspects
which unit (never its own), the organiser edits it and a bad edit comes back with the reasons; one
`inspection_visit` per (group, unit) goes to that group's members only and the round waits for all of
them; the feedback session records the findings, every problem opens a `rectification` for the head
of its unit (the round does not wait for them); training questionnaire percentages; a round report."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import ProcessInstance
from engine.runtime import Runtime
from engine.clock import FixedClock
from engine.services import instances, tasks
from engine.services.people import ensure_person

CHECKLIST = ["单位及个人绩效计划及执行情况", "月度绩效会议纪要", "定性考核佐证材料"]
UNITS = ["P01", "P02", "P03", "P04", "P05", "P06"]
GROUPS = {"A": {"name": "第一检查组", "home_units": ["P01"], "members": ["insp_a1", "insp_a2"]},
          "B": {"name": "第二检查组", "home_units": ["P02"], "members": ["insp_b1", "insp_b2"]}}
ROUND = {"title": "2026 年绩效管理交叉检查", "review_period": "2026-04 至 2026-08", "checklist": CHECKLIST,
         "units": UNITS, "groups": GROUPS, "organiser": "owner"}
GOOD = {"A": ["P02", "P03", "P04"], "B": ["P01", "P05", "P06"]}  # seed 001: A inspects B, C, D; B inspects A, E, F
RECORD, CONFIRM = "记录检查发现", "确认检查结果"
PROBLEM = {"kind": "problem", "checklist_item": "月度绩效会议纪要", "severity": "一般",
           "description": "3 月、4 月绩效例会未记录考核结果反馈", "evidence": ["例会记录本 第 12–15 页"]}
HIGHLIGHT = {"kind": "highlight", "checklist_item": "定性考核佐证材料", "description": "佐证材料按月归档、索引清晰"}


@pytest.fixture
def round_(demo):
    with demo.db.unit_of_work() as session:
        for username, name, unit in (("insp_a1", "赵检查", "P01"), ("insp_a2", "钱检查", "P01"),
                                     ("insp_b1", "孙检查", "P02"), ("insp_b2", "李检查", "P02")):
            ensure_person(session, username, name, unit_code=unit, roles=("inspector", "staff"))
    demo.case = instances.start(demo, "cross_inspection", demo.actor("owner"), data=ROUND, title=ROUND["title"])
    return demo


def mine(rt, username: str, name: str | None = None, instance_id: int | None = None) -> list:
    return [t for t in tasks.inbox(rt, rt.actor(username))
            if (name is None or t.name == name) and (instance_id is None or t.instance_id == instance_id)]


def data(rt, task, username: str) -> dict:
    return tasks.get(rt, task.id, rt.actor(username)).data


def do(rt, username: str, name: str, form: dict, instance_id: int | None = None) -> str:
    [task] = mine(rt, username, name, instance_id)
    return tasks.complete(rt, task.id, rt.actor(username), form)


def status(rt, instance_id: int) -> str:
    with rt.db.reading() as session:
        return session.get(ProcessInstance, instance_id).status


def visits(rt, username: str) -> dict[str, object]:
    """The member's open visit tasks by inspected unit."""
    return {data(rt, t, username)["unit_code"]: t for t in mine(rt, username, RECORD)}


def assign(rt, assignment=GOOD) -> None:
    do(rt, "owner", "审定检查分工", {"assignment": assignment}, rt.case)


def finish_visit(rt, username: str, unit: str, findings: list[dict]) -> None:
    task = visits(rt, username)[unit]
    tasks.complete(rt, task.id, rt.actor(username), {"findings": findings})
    do(rt, username, CONFIRM, {"findings_confirmed": True}, task.instance_id)


def finish_all_visits(rt) -> None:
    for unit in GOOD["A"]:
        finish_visit(rt, "insp_a1", unit, [PROBLEM] if unit == "P03" else [])
    for unit in GOOD["B"]:
        finish_visit(rt, "insp_b2", unit, [PROBLEM, HIGHLIGHT] if unit == "P05" else [])


FEEDBACK = {
    "feedback_summary": "共发现问题 2 个、亮点 1 个；即查即改、长效巩固",
    "findings": [
        {**PROBLEM, "unit_code": "P03", "suggestion": "补记例会记录并建立归档台账"},
        {**PROBLEM, "unit_code": "P05", "severity": "较重", "checklist_item": "单位及个人绩效计划及执行情况",
         "description": "个人绩效计划未分解到岗位", "suggestion": "按岗位分解计划并公示", "inspector": "insp_b2"},
        {**HIGHLIGHT, "unit_code": "P05"},
    ]}


def test_the_proposal_never_has_a_group_inspect_its_own_unit_and_a_bad_edit_comes_back(round_):
    for other in ("insp_a1", "p01_head", "auditor"):
        assert mine(round_, other, instance_id=round_.case) == []
    [edit] = mine(round_, "owner", instance_id=round_.case)
    assert edit.name == "审定检查分工"
    proposal = data(round_, edit, "owner")["assignment"]
    assert "P01" not in proposal["A"] and "P02" not in proposal["B"]  # seed 001 shape
    assert sorted(proposal["A"] + proposal["B"]) == UNITS and len(proposal["A"]) == len(proposal["B"]) == 3
    with pytest.raises(ValidationFailed):  # the form wants lists of unit codes
        tasks.complete(round_, edit.id, round_.actor("owner"), {"assignment": {"A": "P03"}})

    assign(round_, {"A": ["P01", "P03", "P04"], "B": ["P05", "P06"]})  # own unit, P02 left out
    [again] = mine(round_, "owner", instance_id=round_.case)
    assert again.name == "审定检查分工"
    issues = data(round_, again, "owner")["assignment_issues"]
    assert any("不能检查本单位 P01" in i for i in issues)
    assert any("P02 没有安排检查组" in i for i in issues)
    assert mine(round_, "insp_a1", RECORD) == []  # nothing was started

    assign(round_)
    assert sorted(visits(round_, "insp_a1")) == GOOD["A"]
    assert sorted(visits(round_, "insp_b1")) == GOOD["B"]
    assert status(round_, round_.case) == "running"  # waiting for its visits


def test_visits_go_to_their_groups_members_only_and_the_round_waits_for_all(round_):
    assign(round_)
    a_tasks, b_tasks = visits(round_, "insp_a1"), visits(round_, "insp_b2")
    assert set(visits(round_, "insp_a2")) == set(a_tasks) and set(visits(round_, "insp_b1")) == set(b_tasks)
    for outsider in ("owner", "p03_head", "p03_staff1", "leader_party"):
        assert mine(round_, outsider, RECORD) == []
    first = a_tasks["P03"]
    shown = data(round_, first, "insp_a1")
    assert shown["checklist"] == CHECKLIST and shown["group_name"] == "第一检查组"
    assert shown["lane_owners"] == {"检查组成员": ["insp_a1", "insp_a2"]}
    for intruder in ("insp_b1", "p03_head"):
        with pytest.raises(PermissionDenied):
            tasks.complete(round_, first.id, round_.actor(intruder), {"findings": []})

    # a finding off the checklist comes back with the reason; the leader may return the record too
    tasks.complete(round_, first.id, round_.actor("insp_a2"),
                   {"findings": [{**PROBLEM, "checklist_item": "年度总结"}]})
    [back] = mine(round_, "insp_a1", RECORD, first.instance_id)
    assert any("年度总结" in i for i in data(round_, back, "insp_a1")["findings_issues"])
    with pytest.raises(ValidationFailed) as caught:  # a problem needs its severity and evidence
        tasks.complete(round_, back.id, round_.actor("insp_a1"),
                       {"findings": [{"kind": "problem", "checklist_item": "月度绩效会议纪要", "description": "记录不全"}]})
    assert caught.value.field_errors
    tasks.complete(round_, back.id, round_.actor("insp_a1"), {"findings": [PROBLEM]})
    with pytest.raises(ValidationFailed):
        do(round_, "insp_a1", CONFIRM, {"findings_confirmed": False}, first.instance_id)
    do(round_, "insp_a1", CONFIRM, {"findings_confirmed": False, "confirm_comment": "补充佐证页码"}, first.instance_id)
    [again] = mine(round_, "insp_a2", RECORD, first.instance_id)
    assert data(round_, again, "insp_a2")["confirm_comment"] == "补充佐证页码"
    tasks.complete(round_, again.id, round_.actor("insp_a2"), {"findings": [PROBLEM]})
    do(round_, "insp_a2", CONFIRM, {"findings_confirmed": True}, first.instance_id)
    assert status(round_, first.instance_id) == "completed"
    assert status(round_, round_.case) == "running"

    for unit in ("P02", "P04"):
        finish_visit(round_, "insp_a1", unit, [])
    for unit in ("P01", "P05"):
        finish_visit(round_, "insp_b1", unit, [HIGHLIGHT])
    assert status(round_, round_.case) == "running"  # one visit (P06) still open
    assert mine(round_, "owner", instance_id=round_.case) == []
    finish_visit(round_, "insp_b2", "P06", [])
    [feedback] = mine(round_, "owner", instance_id=round_.case)
    assert feedback.name == "召开反馈会"
    assert data(round_, feedback, "owner")["visits_started"] == {"started": 6}


def rectifications(rt) -> list[ProcessInstance]:
    with rt.db.reading() as session:
        return list(session.scalars(select(ProcessInstance).where(ProcessInstance.parent_instance_id == rt.case,
                                                                  ProcessInstance.spawned_by == "open_rectifications")
                                    .order_by(ProcessInstance.id)))


def test_each_problem_opens_a_rectification_for_the_head_of_its_unit(round_):
    assign(round_)
    finish_all_visits(round_)
    bad = {**FEEDBACK, "findings": FEEDBACK["findings"] + [
        {**PROBLEM, "unit_code": "P09", "suggestion": "整改"},
        {**PROBLEM, "unit_code": "P04", "checklist_item": "年度总结", "inspector": "insp_b1", "suggestion": "整改"}]}
    do(round_, "owner", "召开反馈会", bad, round_.case)
    [back] = mine(round_, "owner", instance_id=round_.case)
    issues = data(round_, back, "owner")["feedback_issues"]
    assert len(issues) == 3 and "P09" in issues[0] and "insp_b1" in issues[1] and "年度总结" in issues[2]
    assert rectifications(round_) == []
    with pytest.raises(ValidationFailed):  # a problem needs a rectification suggestion
        do(round_, "owner", "召开反馈会", {**FEEDBACK, "findings": [{**PROBLEM, "unit_code": "P03"}]}, round_.case)

    do(round_, "owner", "召开反馈会", FEEDBACK, round_.case)
    opened = rectifications(round_)
    assert [r.business_key for r in opened] == [f"{round_.case}:P03-1", f"{round_.case}:P05-2"]
    [p03] = mine(round_, "p03_head", "制定整改方案")
    [p05] = mine(round_, "p05_head", "制定整改方案")
    assert mine(round_, "p04_head", "制定整改方案") == [] and mine(round_, "p03_staff1", "制定整改方案") == []
    p03_data, p05_data = data(round_, p03, "p03_head"), data(round_, p05, "p05_head")
    assert p03_data["problem"] == PROBLEM["description"] and p03_data["unit_code"] == "P03"
    assert p03_data["inspector"] == "insp_a1"  # first member of group A, which inspected P03
    assert p05_data["inspector"] == "insp_b2" and p05_data["severity"] == "较重"
    assert p05_data["source"] == "交叉检查：2026 年绩效管理交叉检查（2026-04 至 2026-08）"
    assert p05_data["suggestion"] == "按岗位分解计划并公示"
    # the round goes on without waiting for the rectifications to close
    [questionnaire] = mine(round_, "owner", instance_id=round_.case)
    assert questionnaire.name == "录入培训问卷结果"
    # the inspector named on the problem reviews its plan
    tasks.complete(round_, p05.id, round_.actor("p05_head"),
                   {"measures": "按岗位分解个人绩效计划", "plan_deadline": "2026-09-30", "plan_owner": "周明 队长"})
    assert [t.name for t in mine(round_, "insp_b2", instance_id=opened[1].id)] == ["审核整改方案"]
    assert mine(round_, "insp_b1", instance_id=opened[1].id) == []


def test_questionnaire_percentages_and_the_round_report(round_):
    assign(round_)
    finish_all_visits(round_)
    do(round_, "owner", "召开反馈会", FEEDBACK, round_.case)
    questions = [
        {"question": "培训内容是否实用", "options": [{"answer": "非常实用", "count": 71}, {"answer": "比较实用", "count": 24},
                                                  {"answer": "一般", "count": 5}]},
        {"question": "是否愿意在工作中应用", "options": [{"answer": "愿意", "count": 31}, {"answer": "不愿意", "count": 0}]},
        {"question": "对工作是否有帮助", "options": [{"answer": "非常有帮助或有帮助", "count": 29}, {"answer": "帮助不大", "count": 2}]},
    ]
    with pytest.raises(ValidationFailed):
        do(round_, "owner", "录入培训问卷结果", {"questions": [{"question": "实用吗", "options": [{"answer": "是", "count": -1},
                                                                                           {"answer": "否", "count": 1}]}]},
           round_.case)
    assert do(round_, "owner", "录入培训问卷结果", {"questions": questions}, round_.case) == "completed"
    report = instances.view(round_, round_.case, round_.actor("auditor")).data["round_report"]
    percent = {q["question"]: {a["answer"]: a["percent"] for a in q["answers"]} for q in report["questionnaire"]}
    assert percent["培训内容是否实用"] == {"非常实用": 71.0, "比较实用": 24.0, "一般": 5.0}
    assert percent["是否愿意在工作中应用"] == {"愿意": 100.0, "不愿意": 0.0}
    assert percent["对工作是否有帮助"]["非常有帮助或有帮助"] == 93.55
    assert [q["respondents"] for q in report["questionnaire"]] == [100, 31, 31]
    assert (report["visits"], report["problems"], report["highlights"], report["rectifications_opened"]) == (6, 2, 1, 2)
    assert report["by_unit"]["P03"] == {"group": "A", "problems": 1, "highlights": 0}
    assert report["by_unit"]["P05"] == {"group": "B", "problems": 1, "highlights": 1}
    assert report["by_unit"]["P01"] == {"group": "B", "problems": 0, "highlights": 0}
    assert report["by_checklist"] == {"单位及个人绩效计划及执行情况": {"problems": 1, "highlights": 0},
                                      "月度绩效会议纪要": {"problems": 1, "highlights": 0},
                                      "定性考核佐证材料": {"problems": 0, "highlights": 1}}
    assert report["by_severity"] == {"一般": 1, "较重": 1, "严重": 0}
    assert report["review_period"] == "2026-04 至 2026-08"
    # the rectifications run on after the round ended
    assert [r.status for r in rectifications(round_)] == ["waiting_person", "waiting_person"]


def test_a_round_with_highlights_only_opens_no_rectification(round_):
    assign(round_)
    finish_all_visits(round_)
    do(round_, "owner", "召开反馈会", {"feedback_summary": "未发现问题，推广经验", "findings": [{**HIGHLIGHT, "unit_code": "P05"}]},
       round_.case)
    assert rectifications(round_) == []
    assert [t.name for t in mine(round_, "owner", instance_id=round_.case)] == ["录入培训问卷结果"]


def test_a_rectification_may_close_while_the_round_is_still_open(demo):
    """The last rectification's end tells the round (kaohe/start_instances joins); the round must take
    that message at any time, not only at a wait, or the rectification could not close."""
    start = datetime(2026, 9, 1, 1, 0, tzinfo=timezone.utc)
    rt = Runtime(demo.settings, database=demo.db, clock=FixedClock(start))
    rt.actor = demo.actor
    with rt.db.unit_of_work() as session:
        for username, unit in (("insp_a1", "P01"), ("insp_a2", "P01"), ("insp_b1", "P02"), ("insp_b2", "P02")):
            ensure_person(session, username, username, unit_code=unit, roles=("inspector",))
    rt.case = instances.start(rt, "cross_inspection", rt.actor("owner"), data=ROUND)
    assign(rt)
    finish_all_visits(rt)
    do(rt, "owner", "召开反馈会", {**FEEDBACK, "findings": FEEDBACK["findings"][:1]}, rt.case)
    [rectification] = rectifications(rt)
    do(rt, "p03_head", "制定整改方案", {"measures": "补记例会记录", "plan_deadline": "2026-09-20", "plan_owner": "张明 队长"})
    do(rt, "insp_a1", "审核整改方案", {"plan_approved": True})
    do(rt, "p03_head", "提交整改落实情况", {"implementation": "已补记并建立台账", "completed_on": "2026-09-10",
                                         "evidence": ["例会记录补记页"]})
    do(rt, "insp_a1", "验收整改", {"verified": True})
    later = Runtime(rt.settings, database=rt.db, clock=FixedClock(start + timedelta(days=31)))
    later.actor, later.case = rt.actor, rt.case
    assert instances.wake(later, rectification.id) is True
    assert do(later, "insp_a1", "长效巩固复查", {"held": True}) == "completed"
    assert status(later, rt.case) == "waiting_person"  # the round took the notice and still waits for its questionnaire
    assert [t.name for t in mine(later, "owner", instance_id=rt.case)] == ["录入培训问卷结果"]


def test_a_round_started_with_bad_data_stops_with_the_reasons(demo):
    bad = {**ROUND, "checklist": [], "groups": {"A": {"name": "第一检查组", "home_units": ["P01"], "members": []}}}
    case = instances.start(demo, "cross_inspection", demo.actor("owner"), data=bad)
    with demo.db.reading() as session:
        record = session.get(ProcessInstance, case)
    assert record.status == "error"
    assert "检查材料清单" in record.error_message and "检查组 A" in record.error_message
    assert mine(demo, "owner", instance_id=case) == []
