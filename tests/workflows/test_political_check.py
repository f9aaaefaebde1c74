"""Political-quality check first (政治素质评价前置, seed 002), one instance per party branch and month:
the branch secretary checks everyone in the branch and its units against the negative list and
records what was observed. Findings kaohe cannot accept (someone outside the branch) send the task
back with the problems listed, and nothing is written until all are right. A late check is escalated
to the performance office once, however often the task comes back; finishing withdraws it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import HumanTask, Person, PoliticalFinding, ProcessInstance
from engine.runtime import SCHEDULER, Runtime
from engine.services import audit, instances, tasks
from tests.workflows.steps import at, do, names, only, trail, wake

PERIOD = "2026-12"
START = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)
DUE = datetime(2027, 1, 3, 16, 0, tzinfo=UTC)  # end of 3 January in Beijing
CHECK, ESCALATION = "政治素质负面清单评价", "督办：政治素质评价逾期"
FINDINGS = [{"username": "p01_staff1", "item_code": "absent_from_study", "note": "12 月 2 次无故缺席支部学习"},
            {"username": "n01_deputy", "item_code": "formalism", "note": "安全整改只表态未落实"}]


def task_rows(rt) -> list[tuple[str, str]]:
    with rt.db.reading() as session:
        return [tuple(r) for r in session.execute(select(HumanTask.element_id, HumanTask.status)
                                                   .where(HumanTask.instance_id == rt.case)
                                                   .order_by(HumanTask.id)).all()]


def findings(rt) -> list[tuple[str, str, str | None, str]]:
    with rt.db.reading() as session:
        return [tuple(r) for r in session.execute(
            select(Person.username, PoliticalFinding.item_code, PoliticalFinding.note, PoliticalFinding.recorded_by)
            .join(Person, Person.id == PoliticalFinding.person_id)
            .where(PoliticalFinding.period == PERIOD).order_by(Person.username)).all()]


def check(rt, branch: str = "B01", moment: datetime = START) -> Runtime:
    day = at(rt, moment)
    number = int(branch[1:])
    day.case = instances.start(day, "political_check", rt.actor("owner"), data={
        "period": PERIOD, "unit_code": branch, "unit_name": f"第{'一二三四五六七八九十'[number - 1]}党支部",
        "category": "party_branch"}, title=f"政治素质评价 {PERIOD} · {branch}")
    return day


@pytest.fixture
def branch(demo):
    return check(demo)


def test_the_secretary_records_findings_for_people_of_the_branch_and_its_units(branch):
    assert names(branch, "b01_secretary") == [CHECK]
    assert names(branch, "b02_secretary") == [] and names(branch, "p01_head") == [] and names(branch, "owner") == []
    task = only(branch, "b01_secretary")
    assert task.due_at == DUE
    assert "political_discipline" in task.instructions and "无故缺席政治理论学习或组织生活" in task.instructions
    view = tasks.get(branch, task.id, branch.actor("b01_secretary"))
    assert view.data["branch_code"] == "B01" and view.data["findings"] == [] and view.data["political_problems"] == []
    assert do(branch, "b01_secretary", CHECK, {"findings": FINDINGS, "checked_all": True}) == "completed"
    assert findings(branch) == [("n01_deputy", "formalism", "安全整改只表态未落实", "b01_secretary"),
                                ("p01_staff1", "absent_from_study", "12 月 2 次无故缺席支部学习", "b01_secretary")]
    assert trail(branch) == [("start", "owner", "political_check"), ("complete", "b01_secretary", "check"),
                             ("complete_instance", "b01_secretary", None)]


def test_a_branch_with_nothing_to_report_confirms_the_check(branch):
    assert do(branch, "b01_secretary", CHECK, {"checked_all": True}) == "completed"
    assert findings(branch) == []


def test_a_finding_about_someone_outside_the_branch_comes_back_with_the_problem(branch):
    wrong = [FINDINGS[0], {"username": "p02_staff1", "item_code": "formalism", "note": "误填了第二支部人员"}]
    assert do(branch, "b01_secretary", CHECK, {"findings": wrong, "checked_all": True}) == "waiting_person"
    assert names(branch, "b01_secretary") == [CHECK]
    assert findings(branch) == []  # nothing is written while anything is wrong
    again = tasks.get(branch, only(branch, "b01_secretary").id, branch.actor("b01_secretary"))
    [problem] = again.data["political_problems"]
    assert "第 2 条" in problem and "p02_staff1" in problem
    assert again.data["findings"] == wrong  # the earlier entries are there to correct
    assert do(branch, "b01_secretary", CHECK, {"findings": [FINDINGS[0]], "checked_all": True}) == "completed"
    assert findings(branch) == [("p01_staff1", "absent_from_study", "12 月 2 次无故缺席支部学习", "b01_secretary")]
    completed = [(a, u, s) for a, u, s in trail(branch) if a == "complete"]
    assert completed == [("complete", "b01_secretary", "check")] * 2
    with branch.db.reading() as session:
        data = audit.instance_trail(session, branch.case)
        assert audit.verify(session).ok
    assert data[1].data_digest == audit.digest({"findings": wrong, "checked_all": True})


def test_the_form_refuses_unknown_items_missing_fields_and_an_unconfirmed_check(branch):
    secretary = branch.actor("b01_secretary")
    task = only(branch, "b01_secretary").id
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(branch, task, secretary, {"findings": [{"username": "p01_staff1", "item_code": "bribery"},
                                                              {"item_code": "formalism", "note": "x" * 501}]})
    assert {k: v.zh for k, v in caught.value.field_errors.items()} == {
        "checked_all": "此项为必填项", "findings.0.item_code": "请从给定选项中选择",
        "findings.1.username": "此项为必填项", "findings.1.note": "最多 500 个字符"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(branch, task, secretary, {"findings": [], "checked_all": False})
    assert set(caught.value.field_errors) == {"checked_all"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(branch, task, secretary, {"findings": [FINDINGS[0]] * 201, "checked_all": True})
    assert caught.value.field_errors["findings"].zh == "最多 200 项"
    with pytest.raises(ValidationFailed) as caught:  # the branch is not the secretary's to change
        tasks.complete(branch, task, secretary, {"findings": [], "checked_all": True, "branch_code": "B02"})
    assert caught.value.field_errors["_form"].zh == "包含不允许的字段"
    assert names(branch, "b01_secretary") == [CHECK]


def test_only_the_branchs_secretary_may_check(branch):
    task = only(branch, "b01_secretary")
    for intruder in ("b02_secretary", "p01_head", "owner", "auditor"):
        with pytest.raises(PermissionDenied):
            tasks.complete(branch, task.id, branch.actor(intruder), {"checked_all": True})
    other = check(branch, "B02")
    assert names(other, "b02_secretary") == [CHECK] and names(other, "b01_secretary") == []


def test_a_late_check_is_escalated_once_and_the_escalation_ends_with_the_check(branch):
    with branch.db.reading() as session:
        assert session.get(ProcessInstance, branch.case).next_timer_at == DUE
    day4 = wake(branch, DUE + timedelta(seconds=1))
    assert names(day4, "owner") == [ESCALATION]
    assert names(day4, "b01_secretary") == [CHECK]  # the check stays with the secretary
    # coming back after the deadline does not raise a second escalation
    wrong = [{"username": "p02_staff1", "item_code": "formalism"}]
    do(day4, "b01_secretary", CHECK, {"findings": wrong, "checked_all": True})
    day5 = at(day4, DUE + timedelta(days=1))
    assert day4.case not in instances.due_instance_ids(day5)
    assert names(day5, "owner") == [ESCALATION]
    assert do(day5, "b01_secretary", CHECK, {"findings": [], "checked_all": True}) == "completed"
    assert names(day5, "owner") == []
    assert task_rows(day5) == [("check", "completed"), ("escalate", "cancelled"), ("check", "completed")]
    assert [a for a, _u, _s in trail(day5)].count("timer_fired") == 1


def test_the_office_handles_the_escalation_while_the_check_goes_on(branch):
    day4 = wake(branch, DUE + timedelta(hours=2))
    with pytest.raises(PermissionDenied):
        tasks.complete(day4, only(day4, "owner").id, day4.actor("b01_secretary"),
                       {"escalation_action": "电话督办", "escalation_note": "自己督办自己"})
    do(day4, "owner", ESCALATION, {"escalation_action": "约谈支部书记", "escalation_note": "已约谈，承诺当天完成"})
    assert names(day4, "owner") == [] and names(day4, "b01_secretary") == [CHECK]
    do(day4, "b01_secretary", CHECK, {"findings": FINDINGS, "checked_all": True})
    assert trail(day4) == [("start", "owner", "political_check"), ("timer_fired", SCHEDULER.username, None),
                           ("complete", "owner", "escalate"), ("complete", "b01_secretary", "check"),
                           ("complete_instance", "b01_secretary", None)]


def test_checking_again_replaces_the_branchs_findings_for_the_month(branch):
    do(branch, "b01_secretary", CHECK, {"findings": FINDINGS, "checked_all": True})
    other = check(branch, "B02")
    do(other, "b02_secretary", CHECK, {"findings": [{"username": "p02_staff1", "item_code": "formalism"}],
                                       "checked_all": True})
    again = check(branch, "B01", START + timedelta(days=1))
    do(again, "b01_secretary", CHECK, {"findings": [FINDINGS[1]], "checked_all": True})
    assert [(u, c) for u, c, _n, _r in findings(again)] == [("n01_deputy", "formalism"), ("p02_staff1", "formalism")]
