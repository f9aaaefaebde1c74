"""Starting a process when work comes up: the start event's `startableBy` names who may; the
office always may; the process starts empty and its first task goes to the starter."""
from __future__ import annotations

import pytest

from engine.bpmn.bundle import SourceFile
from engine.errors import NotFound, PermissionDenied
from engine.services import deploy, on_demand, tasks
from tests.web.conftest import login, post_form
from web import create_app

CHECK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="spot" name="随手检查" isExecutable="true">
    <bpmn:startEvent id="start" name="发起">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="startableBy" value="部门正职，auditor"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
    <bpmn:userTask id="fill" name="填写检查记录"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""
QUIET = CHECK.replace('id="spot" name="随手检查"', 'id="quiet" name="仅由系统发起"').replace(
    '<spiffworkflow:property name="startableBy" value="部门正职，auditor"/>', "")


@pytest.fixture
def deployed(rt, people):
    deploy.deploy(rt, [SourceFile("spot.bpmn", CHECK), SourceFile("quiet.bpmn", QUIET)], people.owner)
    return rt


def test_the_roles_named_by_the_start_event_and_the_office_may_start_it(deployed, people):
    assert [p.process_id for p in on_demand.startable(deployed, people.head)] == ["spot"]
    assert [p.process_id for p in on_demand.startable(deployed, people.owner)] == ["spot"]
    assert on_demand.startable(deployed, people.alice) == []
    instance_id = on_demand.start(deployed, "spot", people.head, "张主任")
    [task] = [t for t in tasks.inbox(deployed, people.head) if t.instance_id == instance_id]
    assert task.name == "填写检查记录"
    assert [t for t in tasks.inbox(deployed, people.owner) if t.instance_id == instance_id] == []


def test_others_are_refused_and_an_unknown_process_is_not_found(deployed, people):
    with pytest.raises(PermissionDenied):
        on_demand.start(deployed, "spot", people.alice)
    with pytest.raises(PermissionDenied):  # no startableBy: only kaohe itself starts it
        on_demand.start(deployed, "quiet", people.owner)
    with pytest.raises(NotFound):
        on_demand.start(deployed, "nothing", people.owner)


def test_the_start_page_starts_and_opens_the_first_task(deployed, people):
    client = create_app({"TESTING": True, "KAOHE_RUNTIME": deployed, "START_SCHEDULER": False}).test_client()
    login(client, "head")
    assert "随手检查" in client.get("/start").get_data(as_text=True)
    response = post_form(client, "/start", "/start/spot", {})
    assert response.status_code == 302 and "/tasks/" in response.headers["Location"]
    assert "填写检查记录" in client.get(response.headers["Location"]).get_data(as_text=True)
    other = create_app({"TESTING": True, "KAOHE_RUNTIME": deployed, "START_SCHEDULER": False}).test_client()
    login(other, "alice")
    assert "没有你可以发起的流程" in other.get("/start").get_data(as_text=True)
    assert post_form(other, "/start", "/start/spot", {}).status_code == 403
