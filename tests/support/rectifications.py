"""Rectification cases for the tracker's tests: the demo organisation with the bundled workflows
deployed, two inspectors, and helpers that move a problem through its steps as its people would
(the same flow as tests/workflows/test_rectification.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engine.clock import FixedClock
from engine.models import Person
from engine.runtime import SYSTEM, Runtime
from engine.services import deploy, instances, tasks
from engine.services.demo import DEMO_PASSWORD, load_demo
from engine.services.people import actor_for, ensure_person, hash_password

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
    """The same database seen by a runtime whose clock reads `moment` (keeps `actor`)."""
    later = Runtime(rt.settings, database=rt.db, clock=FixedClock(moment))
    later.actor = rt.actor
    return later


@pytest.fixture
def tracked(rt):
    """Workflows deployed, the demo organisation and inspectors insp_wang / insp_li, on day 0."""
    deploy.deploy(rt, deploy.read_files([rt.settings.workflows_dir]), SYSTEM)
    load_demo(rt)
    hashed = hash_password(DEMO_PASSWORD)
    with rt.db.unit_of_work() as session:
        ensure_person(session, "insp_wang", "王检查", unit_code="ORG", roles=("inspector", "staff"), password_hash=hashed)
        ensure_person(session, "insp_li", "李检查", unit_code="ORG", roles=("inspector", "staff"), password_hash=hashed)

    def actor(username: str):
        with rt.db.reading() as session:
            return actor_for(session.scalar(select(Person).where(Person.username == username)))
    rt.actor = actor
    return at(rt, START)


def open_problem(rt, **changes) -> int:
    data = {**CASE, **changes}
    return instances.start(rt, "rectification", rt.actor("owner"), data=data, title=f"整改：{data['problem'][:20]}")


def do(rt, case: int, username: str, name: str, form: dict) -> str:
    [task] = [t for t in tasks.inbox(rt, rt.actor(username)) if t.instance_id == case and t.name == name]
    return tasks.complete(rt, task.id, rt.actor(username), form)


def approve_plan(rt, case: int) -> None:
    do(rt, case, "p01_head", PLAN_TASK, PLAN)
    do(rt, case, "insp_wang", REVIEW, {"plan_approved": True, "plan_review_comment": "措施可行"})


def close(rt, case: int) -> Runtime:
    """Plan, approval, fix, verification and the follow-up 30 days later: the problem is closed."""
    approve_plan(rt, case)
    do(rt, case, "p01_head", IMPLEMENT, DONE)
    do(rt, case, "insp_wang", VERIFY, {"verified": True})
    later = at(rt, rt.clock.now() + timedelta(days=31))
    assert instances.wake(later, case)
    do(later, case, "insp_wang", FOLLOW_UP, {"held": True})
    return later


ROUND = {"title": "2026 年绩效管理交叉检查", "review_period": "2026-04 至 2026-08",
         "checklist": ["月度绩效会议纪要", "定性考核佐证材料"], "units": ["P02", "P03"],
         "groups": {"A": {"name": "第一检查组", "home_units": ["P01"], "members": ["insp_wang"]},
                    "B": {"name": "第二检查组", "home_units": ["P04"], "members": ["insp_li"]}},
         "organiser": "owner"}
ROUND_PROBLEM = {"kind": "problem", "checklist_item": "月度绩效会议纪要", "severity": "较重",
                 "description": "3 月、4 月绩效例会未记录考核结果反馈", "evidence": ["例会记录本 第 12–15 页"]}
HIGHLIGHT = {"kind": "highlight", "checklist_item": "定性考核佐证材料", "description": "佐证材料按月归档、索引清晰"}
QUESTIONS = [{"question": "本次培训对工作是否有帮助", "options": [{"answer": "很有帮助", "count": 30},
                                                            {"answer": "一般", "count": 10}]}]


def _round_task(rt, username: str, name: str, **where):
    for task in tasks.inbox(rt, rt.actor(username)):
        if task.name == name and all(tasks.get(rt, task.id, rt.actor(username)).data.get(k) == v
                                     for k, v in where.items()):
            return task
    raise AssertionError(f"{username} has no task {name} {where}")


def run_round(rt, *, visits_done: bool = True, finish: bool = True) -> int:
    """A round of two groups and two units: P02's visit finds a problem, P03's a highlight; the
    feedback session opens one rectification (P02, reviewed by insp_wang) and the questionnaire
    is entered. `visits_done=False` stops after P02's visit, `finish=False` before the feedback."""
    round_id = instances.start(rt, "cross_inspection", rt.actor("owner"), data=ROUND, title=ROUND["title"])
    edit = _round_task(rt, "owner", "审定检查分工")
    tasks.complete(rt, edit.id, rt.actor("owner"), {"assignment": {"A": ["P02"], "B": ["P03"]}})
    for username, unit, found in (("insp_wang", "P02", [ROUND_PROBLEM]), ("insp_li", "P03", [HIGHLIGHT])):
        if unit == "P03" and not visits_done:
            return round_id
        record = _round_task(rt, username, "记录检查发现", unit_code=unit)
        tasks.complete(rt, record.id, rt.actor(username), {"findings": found})
        confirm = _round_task(rt, username, "确认检查结果")
        tasks.complete(rt, confirm.id, rt.actor(username), {"findings_confirmed": True})
    if not finish:
        return round_id
    feedback = _round_task(rt, "owner", "召开反馈会")
    tasks.complete(rt, feedback.id, rt.actor("owner"), {
        "feedback_summary": "共发现问题 1 个、亮点 1 个；即查即改、长效巩固",
        "findings": [{**ROUND_PROBLEM, "unit_code": "P02", "suggestion": "补记例会记录并建立归档台账"},
                     {**HIGHLIGHT, "unit_code": "P03"}]})
    questionnaire = _round_task(rt, "owner", "录入培训问卷结果")
    tasks.complete(rt, questionnaire.id, rt.actor("owner"), {"questions": QUESTIONS})
    return round_id
