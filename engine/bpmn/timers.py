"""When is an instance next due to wake up? Read from the WAITING timer events."""
from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState

from engine.clock import as_utc


def _due_from_event_value(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, dict):  # timeCycle: {'cycles': left, 'next': iso, 'duration': s}
        if value.get("cycles") == 0 or not value.get("next"):
            return None
        return as_utc(TimerEventDefinition.get_datetime(value["next"]))
    try:
        return as_utc(TimerEventDefinition.parse_time_or_duration(value))
    except Exception:  # a value that is not a time (message payloads and the like)
        return None


def waiting_timer_due(task) -> datetime | None:
    """When a task that may be a waiting timer falls due (None if it is not one)."""
    if task.state != TaskState.WAITING or not isinstance(task.task_spec, CatchingEvent):
        return None
    return _due_from_event_value(task.internal_data.get("event_value"))


def next_timer_due(workflow: BpmnWorkflow) -> datetime | None:
    """Earliest due time over every WAITING timer, subprocesses included (aware UTC)."""
    due = []
    for task in workflow.get_tasks(state=TaskState.WAITING, spec_class=CatchingEvent):
        moment = _due_from_event_value(task.internal_data.get("event_value"))
        if moment is not None:
            due.append(moment)
    return min(due, default=None)


def waiting_timers(workflow: BpmnWorkflow) -> list[tuple[str, datetime]]:
    """(element id, due time) for every waiting timer, for the instance page."""
    result = []
    for task in workflow.get_tasks(state=TaskState.WAITING, spec_class=CatchingEvent):
        moment = _due_from_event_value(task.internal_data.get("event_value"))
        if moment is not None:
            result.append((task.task_spec.bpmn_id or task.task_spec.name, moment))
    return sorted(result, key=lambda item: item[1])


def deadline_of(task) -> datetime | None:
    """A person's task is due when the first timer watching it falls due: a boundary timer on the
    task itself, or on an enclosing subprocess (escalation timers are drawn both ways)."""
    from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
    due = []
    node = task
    while node is not None:
        parent = node.parent
        if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit):
            for sibling in parent.children:
                if sibling is not node and sibling.state == TaskState.WAITING:
                    moment = _due_from_event_value(sibling.internal_data.get("event_value"))
                    if moment is not None:
                        due.append(moment)
        workflow = node.workflow
        parent_task_id = getattr(workflow, "parent_task_id", None)
        node = workflow.top_workflow.get_task_from_id(parent_task_id) if parent_task_id else None
    return min(due, default=None)
