"""Instance life: start, error and retry, suspend/resume/terminate, timers, and a second writer."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from engine.errors import Conflict, InvalidState, PermissionDenied
from engine.models import HumanTask, ProcessInstance
from engine.services import audit, deploy, instances, tasks
from engine.services.execution import fetch_instance, load_workflow
from tests.support.files import review_bundle


def status_of(rt, instance_id):
    with rt.db.reading() as session:
        return session.get(ProcessInstance, instance_id)


def test_script_error_puts_instance_in_error_and_retry_recovers(rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"unit_code": "U1"})  # no weight
    [task] = tasks.inbox(rt, people.alice)
    status = tasks.complete(rt, task.id, people.alice, {"self_score": 90, "summary": "完成"})
    assert status == "error"
    broken = status_of(rt, instance_id)
    assert broken.error_element == "score" and "weight" in broken.error_message
    assert tasks.inbox(rt, people.head) == []
    with pytest.raises(InvalidState):
        instances.resume(rt, instance_id, people.owner)
    assert instances.retry(rt, instance_id, people.owner, {"weight": 1}) == "waiting_person"
    [approve] = tasks.inbox(rt, people.head)
    assert tasks.get(rt, approve.id, people.head).data["total"] == 90
    with rt.db.reading() as session:
        assert [e.action for e in audit.instance_trail(session, instance_id)][-2:] == ["error", "retry"]


def test_suspend_hides_tasks_resume_brings_them_back_terminate_ends(rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1"})
    with pytest.raises(PermissionDenied):
        instances.suspend(rt, instance_id, people.alice)
    assert instances.suspend(rt, instance_id, people.owner, reason="核对数据") == "suspended"
    assert tasks.inbox(rt, people.alice) == []
    assert instances.resume(rt, instance_id, people.owner) == "waiting_person"
    [task] = tasks.inbox(rt, people.alice)
    assert instances.terminate(rt, instance_id, people.owner, reason="重复发起") == "terminated"
    assert tasks.inbox(rt, people.alice) == []
    with pytest.raises(Conflict):
        tasks.complete(rt, task.id, people.alice, {"self_score": 1, "summary": "太晚"})
    with pytest.raises(InvalidState):
        instances.terminate(rt, instance_id, people.owner)


TIMER_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="waiter" name="等待" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait" name="等一会">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT0.3S"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="confirm"/>
    <bpmn:userTask id="confirm" name="确认"/>
    <bpmn:sequenceFlow id="f3" sourceRef="confirm" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_timer_wait_is_stored_and_fired_once(rt, people):
    from engine.bpmn.bundle import SourceFile
    deploy.deploy(rt, [SourceFile("waiter.bpmn", TIMER_PROCESS)], people.owner)
    instance_id = instances.start(rt, "waiter", people.owner)
    waiting = status_of(rt, instance_id)
    assert waiting.status == "waiting_timer" and waiting.next_timer_at is not None
    assert instances.wake(rt, instance_id) is False  # not due yet
    time.sleep(max(0.0, (waiting.next_timer_at - rt.clock.now()).total_seconds()) + 0.05)
    assert instances.due_instance_ids(rt) == [instance_id]
    assert instances.wake(rt, instance_id) is True
    assert instances.wake(rt, instance_id) is False  # a second wake-up finds nothing to do
    assert status_of(rt, instance_id).status == "waiting_person"
    assert [t.name for t in tasks.inbox(rt, people.owner)] == ["确认"]
    with rt.db.reading() as session:
        assert [e.action for e in audit.instance_trail(session, instance_id)].count("timer_fired") == 1


def test_a_second_writer_with_stale_state_fails_cleanly(rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1"})
    with rt.db.reading() as session:
        stale = session.get(ProcessInstance, instance_id)  # read at version 1
    stale_version = stale.version
    [task] = tasks.inbox(rt, people.alice)
    tasks.complete(rt, task.id, people.alice, {"self_score": 60, "summary": "先提交"})  # now version 2
    with pytest.raises(Conflict):
        with rt.db.unit_of_work() as session:
            session.add(stale)
            stale.title = "被覆盖？"
    current = status_of(rt, instance_id)
    assert current.title != "被覆盖？" and current.version == stale_version + 1


def test_state_is_stored_without_the_spec_and_reloads(rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 1})
    with rt.db.reading() as session:
        instance = fetch_instance(session, instance_id)
        assert '"spec"' not in instance.state and instance.serializer_version == "1.5"
        workflow, _ = load_workflow(rt, session, instance)
        assert type(workflow.script_engine.environment).__name__ == "RestrictedEnvironment"
        rows = session.scalars(select(HumanTask.task_guid)).all()
        assert [str(t.id) for t in workflow.get_tasks(manual=True, state=16)] == rows  # 16 = READY
