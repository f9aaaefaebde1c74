"""A child instance finishing while its parent is changed at the same moment: both writers lock the
parent's row and the audit trail's head; taken in opposite orders that deadlocks on PostgreSQL (one
of the two would fail with a server error). Each pair here races; every change must go through."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from engine.bpmn.bundle import SourceFile
from engine.models import HumanTask, ProcessInstance
from engine.services import consistency, deploy, instances, tasks

PAIRS = 10
PARENT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:message id="m_done" name="spawn_done"/>
  <bpmn:process id="parent" name="父流程" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="spawn"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="note"/>
    <bpmn:serviceTask id="spawn" name="启动子流程">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="kaohe/start_instances" resultVariable="spawned">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="process" type="str" value="'child'"/>
            <spiffworkflow:parameter id="items" type="list" value="[1]"/>
            <spiffworkflow:parameter id="item_variable" type="str" value="'n'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f4" sourceRef="spawn" targetRef="all_done"/>
    <bpmn:intermediateCatchEvent id="all_done"><bpmn:messageEventDefinition messageRef="m_done"/></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f5" sourceRef="all_done" targetRef="join"/>
    <bpmn:userTask id="note" name="父流程登记"/>
    <bpmn:sequenceFlow id="f6" sourceRef="note" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f7" sourceRef="join" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""
CHILD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d2" targetNamespace="t">
  <bpmn:process id="child" name="子流程" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="g1" sourceRef="s" targetRef="work"/>
    <bpmn:userTask id="work" name="子流程办理"/>
    <bpmn:sequenceFlow id="g2" sourceRef="work" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def _open_task(rt, instance_id: int) -> int:
    with rt.db.reading() as session:
        return session.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance_id,
                                                          HumanTask.status == "open")).one()


@pytest.mark.timeout(120)
def test_a_child_finishing_while_its_parent_is_changed_never_fails(rt, people):
    deploy.deploy(rt, [SourceFile("parent.bpmn", PARENT), SourceFile("child.bpmn", CHILD)], people.owner)
    parents = [instances.start(rt, "parent", people.owner) for _ in range(PAIRS)]
    with rt.db.reading() as session:
        children = {parent: session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.parent_instance_id == parent)).one() for parent in parents}
    failures: list[BaseException] = []

    def complete(task_id: int, barrier: threading.Barrier) -> None:
        barrier.wait(timeout=30)
        try:
            tasks.complete(rt, task_id, people.owner, {})
        except BaseException as error:  # noqa: BLE001 (any failure is the finding)
            failures.append(error)

    for parent in parents:  # the parent's own task and its child's last task, submitted together
        barrier = threading.Barrier(2)
        pair = [threading.Thread(target=complete, args=(_open_task(rt, instance), barrier))
                for instance in (parent, children[parent])]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join(timeout=60)
    assert failures == []
    with rt.db.reading() as session:
        states = session.scalars(select(ProcessInstance.status).where(ProcessInstance.id.in_(parents))).all()
    assert states == ["completed"] * PAIRS  # each parent heard its child and finished
    assert consistency.check(rt) == []
