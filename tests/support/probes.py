"""Probe diagrams: one service task calling the operator under test with parameters read from the
start data, then a user task where its result can be read (and, optionally, a user task before
it, so an operator can look up who completed it)."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.bpmn.bundle import SourceFile
from engine.models import ProcessInstance
from engine.runtime import SYSTEM
from engine.models import Person
from engine.services import deploy, instances, schemes, tasks
from engine.services.demo import load_demo
from engine.services.people import actor_for

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SCHEME = WORKFLOWS / "schemes" / "default.scheme.json"

PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d_{pid}" targetNamespace="t">
  <bpmn:process id="{pid}" name="探针" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="{first}"/>
    {before}
    <bpmn:serviceTask id="call" name="调用">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="result">
          <spiffworkflow:parameters>{parameters}</spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="look"/>
    <bpmn:userTask id="look" name="查看结果"/>
    <bpmn:sequenceFlow id="f3" sourceRef="look" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""
BEFORE = """<bpmn:userTask id="fill" name="填写"/>
    <bpmn:sequenceFlow id="f1" sourceRef="fill" targetRef="call"/>"""


def probe(rt, operator: str, names: list[str], *, fill_first: bool = False) -> str:
    """Deploy a probe calling `operator` with each parameter read from the start data of that name."""
    pid = "probe_" + operator.split("/")[1]
    parameters = "".join(f'<spiffworkflow:parameter id="{n}" type="any" value="{n}"/>' for n in names)
    xml = PROBE.format(pid=pid, operator=operator, parameters=parameters, first="fill" if fill_first else "call",
                       before=BEFORE if fill_first else "")
    deploy.deploy(rt, [SourceFile(f"{pid}.bpmn", xml)], SYSTEM)
    return pid


def run(rt, pid: str, data: dict, *, filled_by: str | None = None, form: dict | None = None):
    """Start the probe; optionally complete its first task as `filled_by`; return (instance id, result)."""
    instance_id = instances.start(rt, pid, SYSTEM, data=data)
    if filled_by:
        [task] = [t for t in tasks.inbox(rt, rt.actor("owner")) if t.instance_id == instance_id]
        tasks.delegate(rt, task.id, rt.actor("owner"), filled_by)
        tasks.complete(rt, task.id, rt.actor(filled_by), form or {})
    with rt.db.reading() as session:
        status, error = session.execute(select(ProcessInstance.status, ProcessInstance.error_message)
                                        .where(ProcessInstance.id == instance_id)).one()
    if status == "error":
        return instance_id, error
    [task] = [t for t in tasks.inbox(rt, rt.actor("owner")) if t.instance_id == instance_id]
    return instance_id, tasks.get(rt, task.id, rt.actor("owner")).data["result"]


@pytest.fixture
def demo_org(rt):
    load_demo(rt)
    schemes.import_scheme(rt, SCHEME.read_text(encoding="utf-8"), SYSTEM)
    deploy.deploy(rt, [SourceFile(name, (WORKFLOWS / name).read_text(encoding="utf-8"))
                       for name in ("monthly_rewards.dmn", "quarterly_rewards.dmn")], SYSTEM)

    def actor(username: str):
        with rt.db.reading() as session:
            return actor_for(session.scalar(select(Person).where(Person.username == username)))
    rt.actor = actor
    return rt
