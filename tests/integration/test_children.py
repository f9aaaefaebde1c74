"""Per-unit work in child instances: started by the parent's service task, joined when all are done,
and the parent's state does not grow with the number of units."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.bpmn.bundle import SourceFile
from engine.models import OrgUnit
from engine.services import audit, deploy, instances, tasks
from engine.services.execution import fetch_instance

PARENT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:message id="m_done" name="plan_units_done"/>
  <bpmn:process id="cycle" name="月度循环" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="plan_units"/>
    <bpmn:serviceTask id="plan_units" name="下发各单位任务">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="kaohe/start_instances" resultVariable="plan">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="process" type="str" value="'{child}'"/>
            <spiffworkflow:parameter id="items" type="list" value="units"/>
            <spiffworkflow:parameter id="item_variable" type="str" value="'unit_code'"/>
            <spiffworkflow:parameter id="data" type="dict" value="{{'period': period}}"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="plan_units" targetRef="any"/>
    <bpmn:exclusiveGateway id="any" default="f_wait"/>
    <bpmn:sequenceFlow id="f_none" sourceRef="any" targetRef="summary"><bpmn:conditionExpression>plan['started'] == 0</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_wait" sourceRef="any" targetRef="all_done"/>
    <bpmn:intermediateCatchEvent id="all_done" name="各单位完成">
      <bpmn:messageEventDefinition messageRef="m_done"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="all_done" targetRef="summary"/>
    <bpmn:userTask id="summary" name="汇总"/>
    <bpmn:sequenceFlow id="f4" sourceRef="summary" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""

UNIT_WORK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d2" targetNamespace="t">
  <bpmn:process id="unit_work" name="单位任务" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="部门正职"><bpmn:flowNodeRef>draft</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="g1" sourceRef="s" targetRef="draft"/>
    <bpmn:userTask id="draft" name="编制任务书"/>
    <bpmn:sequenceFlow id="g2" sourceRef="draft" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""

INSTANT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d3" targetNamespace="t">
  <bpmn:process id="instant" name="即时" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="g1" sourceRef="s" targetRef="work"/>
    <bpmn:scriptTask id="work"><bpmn:script>done = True</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="g2" sourceRef="work" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def deploy_cycle(rt, actor, child="unit_work"):
    deploy.deploy(rt, [SourceFile("unit_work.bpmn", UNIT_WORK), SourceFile("instant.bpmn", INSTANT)], actor)
    deploy.deploy(rt, [SourceFile("cycle.bpmn", PARENT.format(child=child))], actor)


def record(rt, instance_id):
    with rt.db.reading() as session:
        return fetch_instance(session, instance_id)


def test_children_get_their_unit_and_the_parent_waits_for_all(rt, people):
    deploy_cycle(rt, people.owner)
    parent = instances.start(rt, "cycle", people.owner, data={"units": ["U1", "U2"], "period": "2026-03"})
    assert record(rt, parent).status == "running"  # waiting for its children's message
    [u1_task] = tasks.inbox(rt, people.head)  # head of U1 sees U1's task only
    assert tasks.get(rt, u1_task.id, people.head).data == {"unit_code": "U1", "period": "2026-03"}
    child = record(rt, u1_task.instance_id)
    assert (child.parent_instance_id, child.spawned_by, child.business_key) == (parent, "plan_units", f"{parent}:U1")
    tasks.complete(rt, u1_task.id, people.head, {})
    assert record(rt, parent).status == "running"  # U2 still open
    with rt.db.unit_of_work() as session:  # a head for U2 finishes the other child
        from engine.services.people import actor_for, ensure_person
        u2_head = actor_for(ensure_person(session, "u2head", "钱主任", unit_code="U2", roles=("unit_head",)))
    [u2_task] = tasks.inbox(rt, u2_head)
    tasks.complete(rt, u2_task.id, u2_head, {})
    assert record(rt, parent).status == "waiting_person"
    [summary] = [t for t in tasks.inbox(rt, people.owner) if t.instance_id == parent]
    assert summary.name == "汇总"
    assert tasks.get(rt, summary.id, people.owner).data["plan"] == {"started": 2}


def test_terminating_the_last_open_child_releases_the_parent_with_the_counts(rt, people):
    deploy_cycle(rt, people.owner)
    parent = instances.start(rt, "cycle", people.owner, data={"units": ["U1", "U2"], "period": "2026-03"})
    [u1_task] = tasks.inbox(rt, people.head)
    tasks.complete(rt, u1_task.id, people.head, {})
    with rt.db.reading() as session:
        from engine.models import ProcessInstance
        [u2_child] = session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.parent_instance_id == parent, ProcessInstance.status != "completed")).all()
    instances.terminate(rt, u2_child, people.owner, reason="U2 已撤销")
    assert record(rt, parent).status == "waiting_person"
    [summary] = [t for t in tasks.inbox(rt, people.owner) if t.instance_id == parent]
    assert summary.name == "汇总"


def test_children_that_finish_at_once_release_the_parent_at_once(rt, people):
    deploy_cycle(rt, people.owner, child="instant")
    parent = instances.start(rt, "cycle", people.owner, data={"units": ["U1", "U2", "U3"], "period": "2026-03"})
    assert record(rt, parent).status == "waiting_person"
    assert [t.name for t in tasks.inbox(rt, people.owner)] == ["汇总"]


def test_no_units_means_no_children_and_no_wait(rt, people):
    deploy_cycle(rt, people.owner)
    parent = instances.start(rt, "cycle", people.owner, data={"units": [], "period": "2026-03"})
    assert record(rt, parent).status == "waiting_person"


def test_the_parent_state_does_not_grow_with_the_organisation(rt, people):
    deploy_cycle(rt, people.owner)
    with rt.db.unit_of_work() as session:
        session.add_all([OrgUnit(code=f"X{n:03d}", name=f"单位{n}", category="production") for n in range(60)])
    sizes = {}
    for count in (3, 60):
        codes = [f"X{n:03d}" for n in range(count)]
        parent = instances.start(rt, "cycle", people.owner, data={"units": codes, "period": "2026-03"})
        sizes[count] = (len(record(rt, parent).state), len(json.dumps(codes)))
    # Twenty times the units: the parent grows by the list it was given (held once), not by their work.
    (small, small_input), (large, large_input) = sizes[3], sizes[60]
    assert large - small <= (large_input - small_input) * 1.2


def test_a_parameter_named_like_an_element_is_refused_at_deploy(rt, people):
    from engine.errors import DeploymentRejected
    clash = PARENT.format(child="unit_work").replace('id="summary"', 'id="data"').replace(
        'targetRef="summary"', 'targetRef="data"').replace('sourceRef="summary"', 'sourceRef="data"')
    with pytest.raises(DeploymentRejected) as caught:
        deploy.deploy(rt, [SourceFile("unit_work.bpmn", UNIT_WORK), SourceFile("cycle.bpmn", clash)], people.owner)
    [problem] = caught.value.problems
    assert problem.element == "plan_units" and "service parameter data" in problem.en


def test_an_unknown_service_operator_is_refused_at_deploy(rt, people):
    from engine.errors import DeploymentRejected
    broken = PARENT.format(child="unit_work").replace("kaohe/start_instances", "http/post")
    with pytest.raises(DeploymentRejected) as caught:
        deploy.deploy(rt, [SourceFile("cycle.bpmn", broken)], people.owner)
    [problem] = caught.value.problems
    assert problem.element == "plan_units" and "http/post" in problem.en and "kaohe/start_instances" in problem.en


ROUND = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d4" targetNamespace="t">
  <bpmn:process id="round" name="检查分工" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="g1" sourceRef="s" targetRef="propose"/>
    <bpmn:scriptTask id="propose" name="建议分工"><bpmn:script>assignment = propose_assignment(homes, units)</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="g2" sourceRef="propose" targetRef="edit"/>
    <bpmn:userTask id="edit" name="调整分工"/>
    <bpmn:sequenceFlow id="g3" sourceRef="edit" targetRef="check"/>
    <bpmn:scriptTask id="check" name="检查分工"><bpmn:script>problems = assignment_problems(assignment, homes, units)</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="g4" sourceRef="check" targetRef="ok"/>
    <bpmn:exclusiveGateway id="ok" default="g_back"/>
    <bpmn:sequenceFlow id="g_fine" sourceRef="ok" targetRef="e"><bpmn:conditionExpression>not problems</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="g_back" sourceRef="ok" targetRef="edit"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_diagram_proposes_an_assignment_and_sends_a_bad_edit_back(rt, people):
    deploy.deploy(rt, [SourceFile("round.bpmn", ROUND)], people.owner)
    instance = instances.start(rt, "round", people.owner,
                               data={"homes": {"A": ["A"], "B": ["B"]}, "units": ["A", "B", "C", "D"]})
    [edit] = tasks.inbox(rt, people.owner)
    proposal = tasks.get(rt, edit.id, people.owner).data["assignment"]
    assert "A" not in proposal["A"] and "B" not in proposal["B"]
    tasks.complete(rt, edit.id, people.owner, {"assignment": {"A": ["A", "C"], "B": ["B", "D"]}})
    [again] = tasks.inbox(rt, people.owner)  # refused: back to the organiser with the reasons
    problems = tasks.get(rt, again.id, people.owner).data["problems"]
    assert any("不能检查本单位" in p for p in problems)
    assert tasks.complete(rt, again.id, people.owner, {"assignment": {"A": ["B", "C"], "B": ["A", "D"]}}) == \
        "completed"
    assert record(rt, instance).status == "completed"


FIRE_AND_FORGET = PARENT.replace('''    <bpmn:intermediateCatchEvent id="all_done" name="各单位完成">
      <bpmn:messageEventDefinition messageRef="m_done"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="all_done" targetRef="summary"/>''', '''    <bpmn:task id="all_done" name="不等待"/>
    <bpmn:sequenceFlow id="f3" sourceRef="all_done" targetRef="summary"/>''')


def test_children_of_a_parent_that_does_not_wait_still_complete(rt, people):
    deploy.deploy(rt, [SourceFile("unit_work.bpmn", UNIT_WORK), SourceFile("instant.bpmn", INSTANT)], people.owner)
    deploy.deploy(rt, [SourceFile("cycle.bpmn", FIRE_AND_FORGET.format(child="unit_work"))], people.owner)
    parent = instances.start(rt, "cycle", people.owner, data={"units": ["U1"], "period": "2026-03"})
    [work] = tasks.inbox(rt, people.head)
    assert tasks.complete(rt, work.id, people.head, {}) == "completed"
    assert record(rt, parent).status == "waiting_person"  # the parent went on without waiting


FOR_EACH_UNIT = PARENT.replace('''            <spiffworkflow:parameter id="items" type="list" value="units"/>
            <spiffworkflow:parameter id="item_variable" type="str" value="'unit_code'"/>''', '''            <spiffworkflow:parameter id="for_each_unit" type="list" value="['production']"/>
            <spiffworkflow:parameter id="title" type="str" value="'3月 单位任务'"/>''')


def test_for_each_unit_reads_the_units_itself_and_merges_them_into_each_child(rt, people):
    deploy_cycle(rt, people.owner)
    deploy.deploy(rt, [SourceFile("cycle.bpmn", FOR_EACH_UNIT.format(child="unit_work"))], people.owner)
    parent = instances.start(rt, "cycle", people.owner, data={"units": [], "period": "2026-03"})
    [task] = tasks.inbox(rt, people.head)  # U1 is the only production unit
    child = record(rt, task.instance_id)
    assert (child.title, child.business_key) == ("3月 单位任务 · 一车间", f"{parent}:U1")
    assert tasks.get(rt, task.id, people.head).data == {
        "period": "2026-03", "unit_code": "U1", "unit_name": "一车间", "category": "production", "branch_code": None}
    assert "U1" not in record(rt, parent).state  # the unit list never entered the parent


def test_a_parent_suspended_while_its_last_child_finished_goes_on_when_resumed(rt, people):
    deploy_cycle(rt, people.owner)
    parent = instances.start(rt, "cycle", people.owner, data={"units": ["U1"], "period": "2026-03"})
    [u1_task] = tasks.inbox(rt, people.head)
    instances.suspend(rt, parent, people.owner, reason="核对名单")
    tasks.complete(rt, u1_task.id, people.head, {})  # the parent hears nothing while suspended
    assert record(rt, parent).status == "suspended"
    assert instances.resume(rt, parent, people.owner) == "waiting_person"
    [summary] = [t for t in tasks.inbox(rt, people.owner) if t.instance_id == parent]
    assert summary.name == "汇总"
    assert tasks.get(rt, summary.id, people.owner).data["plan"] == {"started": 1}
    with rt.db.reading() as session:  # told once, by the resume
        messages = [e.subject for e in audit.instance_trail(session, parent) if e.action == "message"]
    assert messages == ["plan_units_done"]
