"""SpiffWorkflow's timers run on kaohe's clock: a deadline three days away fires when the clock
says so, without anyone waiting, and `kaohe run-due --now` fires what was due by then."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.bpmn.bundle import SourceFile
from engine.clock import FixedClock
from engine.models import ProcessInstance
from engine.runtime import Runtime
from engine.services import audit, deploy, instances, tasks
from tests.support.cli import cli_runner

START = datetime(2026, 3, 12, 1, 0, tzinfo=timezone.utc)
DEADLINE_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="deadline" name="三天期限" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="report"/>
    <bpmn:userTask id="report" name="报送材料"/>
    <bpmn:boundaryEvent id="late" name="超期" attachedToRef="report" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P3D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="late" targetRef="remind"/>
    <bpmn:userTask id="remind" name="催办"/>
    <bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="end_remind"/>
    <bpmn:endEvent id="end_remind"/>
    <bpmn:sequenceFlow id="f4" sourceRef="report" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def travelling(rt, at: datetime) -> Runtime:
    return Runtime(rt.settings, database=rt.db, clock=FixedClock(at))


def names(rt, actor) -> list[str]:
    return sorted(t.name for t in tasks.inbox(rt, actor))


def test_a_three_day_deadline_fires_when_the_clock_reaches_it(rt, people):
    day0 = travelling(rt, START)
    deploy.deploy(day0, [SourceFile("deadline.bpmn", DEADLINE_PROCESS)], people.owner)
    instance_id = instances.start(day0, "deadline", people.owner)
    with rt.db.reading() as session:
        due = session.get(ProcessInstance, instance_id).next_timer_at
    assert due == START + timedelta(days=3)
    day2 = travelling(rt, START + timedelta(days=2, hours=23))
    assert instances.due_instance_ids(day2) == [] and instances.wake(day2, instance_id) is False
    day3 = travelling(rt, START + timedelta(days=3, seconds=1))
    assert instances.due_instance_ids(day3) == [instance_id]
    assert instances.wake(day3, instance_id) is True
    assert names(day3, people.owner) == ["催办", "报送材料"]  # non-interrupting: both are open
    with rt.db.reading() as session:
        [fired] = [e for e in audit.instance_trail(session, instance_id) if e.action == "timer_fired"]
    assert fired.occurred_at == START + timedelta(days=3, seconds=1)


def test_run_due_now_fires_what_was_due_by_then(rt, people):
    day0 = travelling(rt, START)
    deploy.deploy(day0, [SourceFile("deadline.bpmn", DEADLINE_PROCESS)], people.owner)
    instance_id = instances.start(day0, "deadline", people.owner)
    kaohe = cli_runner(rt.settings.database_url)
    early = kaohe("run-due", "--now", "2026-03-14T09:00+08:00")
    assert early.returncode == 0 and "fired: 0" in early.stdout
    late = kaohe("run-due", "--now", "2026-03-15T09:00:01+08:00")  # 01:00:01 UTC, three days on
    assert late.returncode == 0 and "fired: 1" in late.stdout
    again = kaohe("run-due", "--now", "2026-03-16T09:00+08:00")
    assert "fired: 0" in again.stdout  # fired once, not again
    assert names(rt, people.owner) == ["催办", "报送材料"]
    with rt.db.reading() as session:
        assert session.get(ProcessInstance, instance_id).next_timer_at is None


def test_a_task_shows_its_due_time_from_the_timer_watching_it(rt, people):
    day0 = travelling(rt, START)
    deploy.deploy(day0, [SourceFile("deadline.bpmn", DEADLINE_PROCESS)], people.owner)
    instances.start(day0, "deadline", people.owner)
    [task] = tasks.inbox(day0, people.owner)
    assert task.due_at == START + timedelta(days=3)
