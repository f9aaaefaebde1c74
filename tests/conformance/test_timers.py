"""spiff/EXPECTED.md timer rows, run through kaohe with real time.

SpiffWorkflow reads its own clock, so the tests wait with short sleeps; a timer fires only the
way the scheduler fires it: `instances.due_instance_ids` names the instance, `instances.wake`
runs it (`Driver.wake_when_due`).
"""
from __future__ import annotations

import time

import pytest

from engine.services import instances
from tests.conformance.driver import SPIFF_BPMN, source, without_camunda_forms, without_print


def test_intermediate_duration_timer_fires_after_its_duration(drv):
    drv.deploy(source(SPIFF_BPMN / "timer.bpmn"))
    began = time.monotonic()
    instance = drv.start("timer")
    waiting = drv.reload(instance)
    assert waiting.status == "waiting_timer" and len(waiting.workflow.waiting_events()) == 1
    drv.wake_when_due(instance)
    assert 0.2 < time.monotonic() - began < 0.5
    done = drv.reload(instance)
    assert done.status == "completed" and done.workflow.waiting_events() == []
    assert done.state("Event_0bxivgz") == "COMPLETED"


BOUNDARY = SPIFF_BPMN / "boundary.bpmn"
NI_BOUNDARY = SPIFF_BPMN / "timer-non-interrupt-boundary.bpmn"


@pytest.mark.parametrize("path, tasks", [
    pytest.param(BOUNDARY, ("Activity_Pester_Dad", "Activity_09c27ms"), id="boundary"),
    pytest.param(NI_BOUNDARY, ("Activity_Work", "GetReason"), id="timer-non-interrupt-boundary"),
])
def test_diagrams_with_camunda_forms_are_refused(drv, path, tasks):
    problems = drv.refused(source(path))
    assert {(p.element, p.en.split(" (")[0]) for p in problems} == {
        (task, f"unsupported extension camunda:{name}") for task in tasks for name in ("formKey", "formData")}


def test_interrupting_boundary_timer_cancels_the_subprocess(drv):
    """Adapted copy of boundary.bpmn without its camunda forms."""
    drv.deploy(source(BOUNDARY, edit=without_camunda_forms))
    instance = drv.start("boundary_event")
    drv.complete(instance, "Activity_09c27ms", {"initialstuff": "snacks"})
    waiting = drv.reload(instance)
    assert len(waiting.workflow.waiting_events()) == 1
    assert drv.open_elements(instance) == ["Activity_Pester_Dad"]
    assert drv.wake_when_due(instance) < 1.0
    fired = drv.reload(instance)
    assert fired.state("Subworkflow") == "CANCELLED"
    assert drv.open_elements(instance) == ["Activity_1ya1db2"]
    drv.complete(instance, "Activity_1ya1db2")
    assert drv.complete(instance, "StopCar") == "completed"
    assert drv.reload(instance).status == "completed"


def test_non_interrupting_boundary_timer_adds_a_task(drv):
    """Adapted copy of timer-non-interrupt-boundary.bpmn without its camunda forms."""
    drv.deploy(source(NI_BOUNDARY, edit=without_camunda_forms))
    began = time.monotonic()
    instance = drv.start("NonInterruptTimer")
    waiting = drv.reload(instance)
    assert waiting.state("Event_0jyy8ao") == "WAITING" and drv.open_elements(instance) == ["Activity_Work"]
    drv.wake_when_due(instance)
    assert 0.2 < time.monotonic() - began < 0.5
    assert sorted(drv.open_elements(instance)) == ["Activity_Work", "GetReason"]
    drv.complete(instance, "GetReason", {"delay_reason": "Just Because"})
    assert drv.complete(instance, "Activity_Work", {"work_done": "Yes"}) == "completed"
    assert drv.reload(instance).last_data == {"work_done": "Yes", "delay_reason": "Just Because"}


def test_non_interrupting_timer_on_a_user_task_runs_its_script(drv):
    drv.deploy(source(SPIFF_BPMN / "boundary_timer_on_task.bpmn"))
    instance = drv.start("test_timer")
    drv.wake_when_due(instance)
    fired = drv.reload(instance)
    assert fired.last_data["timer_called"] is True
    assert drv.open_elements(instance) == ["user_task"]
    assert drv.complete(instance, "user_task") == "completed"
    assert drv.reload(instance).status == "completed"


TIMER_CYCLE = SPIFF_BPMN / "timer-cycle.bpmn"
TIMER_CYCLE_START = SPIFF_BPMN / "timer-cycle-start.bpmn"


@pytest.mark.parametrize("path", [TIMER_CYCLE, TIMER_CYCLE_START], ids=["timer-cycle", "timer-cycle-start"])
def test_cycle_diagrams_are_refused_for_print(drv, path):
    problems = drv.refused(source(path))
    [problem] = problems
    assert problem.element == "Refill_Coffee"
    assert problem.en.endswith("line 1: print is not allowed; store results in variables")
    assert "不允许使用 print" in problem.zh


def test_cycle_boundary_timer_fires_twice_and_no_more(drv, calls):
    """Adapted copy of timer-cycle.bpmn: `print(...)` -> `str(...)`."""
    drv.deploy(source(TIMER_CYCLE, edit=without_print))
    instance = drv.start("timer")
    first = drv.reload(instance)
    assert len(first.workflow.waiting_events()) == 1 and first.tasks("Refill_Coffee") == []
    drv.wake_when_due(instance)
    assert len(drv.reload(instance).workflow.waiting_events()) == 1 and len(calls) == 1
    drv.wake_when_due(instance)
    time.sleep(0.15)
    assert instances.due_instance_ids(drv.rt) == []
    last = drv.reload(instance)
    assert last.workflow.waiting_events() == [] and len(calls) == 2
    assert last.state("Get_Coffee") == "READY" and last.state("CatchMessage") == "COMPLETED"
    assert drv.open_elements(instance) == ["Get_Coffee"]


def test_cycle_start_event_runs_twice_and_the_other_pool_terminates(drv, calls):
    """Adapted copy of timer-cycle-start.bpmn (`print` -> `str`). kaohe deploys the collaboration's
    two pools as two processes; upstream runs them as one collaboration."""
    results = drv.deploy(source(TIMER_CYCLE_START, edit=without_print))
    assert sorted(r.process_id for r in results) == ["Process_0vaq70r", "timer"]
    cycle = drv.start("timer")
    stopper = drv.start("Process_0vaq70r")
    began = time.monotonic()
    while time.monotonic() - began < 1.0 and {drv.status(cycle), drv.status(stopper)} != {"completed"}:
        for instance in instances.due_instance_ids(drv.rt):
            instances.wake(drv.rt, instance)
        time.sleep(0.02)
    assert len(calls) == 2
    assert drv.reload(cycle).status == drv.reload(stopper).status == "completed"
    assert drv.reload(stopper).state("EndItAll") == "COMPLETED"


def test_date_timer_fires_at_the_date_a_script_computed(drv):
    drv.deploy(source(SPIFF_BPMN / "timer-date-start.bpmn"))
    began = time.monotonic()
    instance = drv.start("date_timer")
    assert len(drv.reload(instance).workflow.waiting_events()) == 1
    drv.wake_when_due(instance, timeout=1.0)
    assert time.monotonic() - began > 0.02
    assert drv.reload(instance).status == "completed"
