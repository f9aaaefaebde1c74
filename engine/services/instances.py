"""Start process instances and move them through their life: suspend, resume, terminate, retry, wake."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import exists, or_, select

from engine import limits
from engine.bpmn.serializer import STATE_SERIALIZER
from engine.bpmn.timers import waiting_timers
from engine.errors import InvalidState, Message, PermissionDenied, ValidationFailed
from engine.models import HumanTask, ProcessInstance
from engine.services.rows import InstanceRecord
from engine.models.instance import ACTIVE_STATUSES
from engine.runtime import MANAGERS, SCHEDULER, Actor, Runtime
from engine.services import audit, children, rows
from engine.services.deploy import latest_version
from engine.services.execution import fetch_instance, load_workflow, lock_instance, run_engine, save

def start(rt: Runtime, process_id: str, actor: Actor, *, data: dict | None = None, title: str | None = None,
          business_key: str | None = None) -> int:
    """Start the latest version of a process with initial data; returns the instance id."""
    if not actor.has_role(*MANAGERS):
        raise PermissionDenied("只有流程负责人可以发起流程", "only process owners may start processes")
    limits.check_submission(rt.settings, data or {}, field="data")
    with rt.db.unit_of_work() as session:
        version = latest_version(session, process_id)
        return start_in_session(rt, session, version, actor.username, data=data, title=title,
                                business_key=business_key, audited_as=actor.audit_name).id


def start_in_session(rt: Runtime, session, version, started_by: str, *, data: dict | None = None,
                     title: str | None = None, business_key: str | None = None,
                     parent: tuple[int, str] | None = None, audited_as: str | None = None) -> InstanceRecord:
    """Create and run an instance of `version` in the caller's unit of work.

    `parent` is (parent instance id, spawning element) for per-unit / per-person children;
    `audited_as` names the starter in the audit trail when that differs from the username
    (a call made with an API token)."""
    loaded = rt.specs.get(session, version.id)
    workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=rt.script_engine)
    # Seed data on the root task: workflow.data is only filled when the workflow ends (primer §3).
    workflow.get_next_task(state=TaskState.READY).data.update(data or {})
    now = rt.clock.now()
    instance = rows.insert_new(
        session, process_version_id=version.id, process_id=version.process_id, title=title or version.name,
        business_key=business_key, status="running", state="{}", serializer_version=STATE_SERIALIZER.version,
        started_by=started_by, created_at=now, updated_at=now,
        parent_instance_id=parent[0] if parent else None, spawned_by=parent[1] if parent else None,
        period=short_text((data or {}).get("period"), 16), unit_code=short_text((data or {}).get("unit_code"), 64))
    audit.record(session, at=now, actor=audited_as or started_by, action="start", instance_id=instance.id,
                 subject=version.process_id, detail={"version": version.version, **({"parent": parent} if parent else {})},
                 data=data or {})
    error = run_engine(rt, session, instance, workflow)
    save(rt, session, instance, workflow, loaded, error=error, actor=audited_as or started_by)
    return instance


def short_text(value, limit: int) -> str | None:
    """A start-data value copied to a list column, if it is text that fits (else the list omits it)."""
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def require_manager(actor: Actor) -> None:
    if not actor.has_role(*MANAGERS):
        raise PermissionDenied("只有流程负责人可以管理流程实例", "only process owners may manage instances")


def _change_status(rt: Runtime, instance_id: int, actor: Actor, action: str, allowed_from: tuple[str, ...],
                   reason: str | None = None) -> str:
    require_manager(actor)
    with rt.db.unit_of_work() as session:
        instance = lock_instance(session, instance_id)
        if instance.status not in allowed_from:
            raise InvalidState(f"实例当前状态为「{instance.status}」，不能执行此操作",
                               f"the instance is {instance.status}; this action is not possible")
        if action == "terminate" and not (reason or "").strip():
            # Ending someone's work for good must say why in the trail, whichever way it is asked for.
            missing = Message("终止实例须填写原因", "give a reason to terminate the instance")
            raise ValidationFailed(missing.zh, missing.en, field_errors={"reason": missing})
        workflow, loaded = load_workflow(rt, session, instance)
        now, was = rt.clock.now(), instance.status
        if action == "suspend":
            instance.status = "suspended"
        elif action == "terminate":
            workflow.cancel()
            instance.status = "terminated"
            instance.completed_at = now
        else:  # resume: let anything that fell due meanwhile happen now
            instance.status = "running"
            error = run_engine(rt, session, instance, workflow)
            save(rt, session, instance, workflow, loaded, error=error, actor=actor)
            audit.record(session, at=now, actor=actor, action=action, instance_id=instance.id)
            return children.rejoin(rt, session, instance, workflow).status
        # A terminated child counts as finished: its parent may be waiting for the last one.
        save(rt, session, instance, workflow, loaded, actor=actor, previous_status=was)
        audit.record(session, at=now, actor=actor, action=action, instance_id=instance.id,
                     detail={"reason": reason} if reason else None)
        return instance.status


def suspend(rt: Runtime, instance_id: int, actor: Actor, reason: str | None = None) -> str:
    return _change_status(rt, instance_id, actor, "suspend", ACTIVE_STATUSES + ("error",), reason)


def resume(rt: Runtime, instance_id: int, actor: Actor) -> str:
    return _change_status(rt, instance_id, actor, "resume", ("suspended",))


def terminate(rt: Runtime, instance_id: int, actor: Actor, reason: str | None = None) -> str:
    return _change_status(rt, instance_id, actor, "terminate", ACTIVE_STATUSES + ("error", "suspended"), reason)


def status_of(rt: Runtime, instance_id: int, actor: Actor) -> str:
    """An instance's status, for whoever may view it (what an API call answers after a start)."""
    with rt.db.reading() as session:
        instance = fetch_instance(session, instance_id)
        require_viewer(session, instance, actor)
        return instance.status


def retry(rt: Runtime, instance_id: int, actor: Actor, data_patch: dict | None = None) -> str:
    """Run the failed element again, optionally with corrected data, after the cause is fixed."""
    if not actor.has_role(*MANAGERS):
        raise PermissionDenied("只有流程负责人可以重试出错的实例", "only process owners may retry instances")
    with rt.db.unit_of_work() as session:
        instance = lock_instance(session, instance_id)
        if instance.status != "error":
            raise InvalidState("只有出错的实例可以重试", "only instances in error can be retried")
        workflow, loaded = load_workflow(rt, session, instance)
        for task in workflow.get_tasks(state=TaskState.ERROR):
            data = dict(task.parent.data if task.parent else task.data)
            data.update(data_patch or {})
            workflow.reset_from_task_id(task.id, data=data)
        now = rt.clock.now()
        audit.record(session, at=now, actor=actor, action="retry", instance_id=instance.id,
                     subject=instance.error_element, data=data_patch or {})
        error = run_engine(rt, session, instance, workflow)
        instance.status = "running"
        save(rt, session, instance, workflow, loaded, error=error, actor=actor)
        return children.rejoin(rt, session, instance, workflow).status


def wake(rt: Runtime, instance_id: int) -> bool:
    """Fire the instance's timers due by rt.clock. Returns False if nothing was due (fired elsewhere)."""
    try:
        return _wake(rt, instance_id)
    except limits.StateTooLarge as refused:
        # Nobody waits for the answer and the timer would fire (and be refused) again and again: the
        # instance goes to `error` with the reason, as for a failing script, keeping its last good state.
        mark_error(rt, instance_id, "timer", refused.text("zh") + " / " + refused.text("en"))
        return True


def mark_error(rt: Runtime, instance_id: int, element: str, message: str) -> None:
    """Put an active instance in `error` without changing its saved state (nothing new could be saved)."""
    with rt.db.unit_of_work() as session:
        instance = lock_instance(session, instance_id)
        if instance.status not in ACTIVE_STATUSES:
            return
        instance.status, instance.error_element, instance.error_message = "error", element, message[:4000]
        instance.next_timer_at, instance.updated_at = None, rt.clock.now()
        rows.write(session, instance)
        session.info.setdefault("timer_changes", {})[instance.id] = None
        audit.record(session, at=rt.clock.now(), actor=SCHEDULER.username, action="error", instance_id=instance.id,
                     subject=element, detail={"message": message[:4000]})


def _wake(rt: Runtime, instance_id: int) -> bool:
    with rt.db.unit_of_work() as session:
        instance = lock_instance(session, instance_id)
        moment = rt.clock.now()
        # SpiffWorkflow fires a timer once its time has passed (due < now), not at the very moment.
        if instance.status not in ACTIVE_STATUSES or instance.next_timer_at is None or \
                instance.next_timer_at >= moment:
            return False
        workflow, loaded = load_workflow(rt, session, instance)
        due_at = instance.next_timer_at
        error = run_engine(rt, session, instance, workflow)
        save(rt, session, instance, workflow, loaded, error=error, actor=SCHEDULER.username)
        audit.record(session, at=moment, actor=SCHEDULER.username, action="timer_fired", instance_id=instance.id,
                     detail={"due_at": due_at.isoformat(), "late_seconds": (moment - due_at).total_seconds()})
        return True


def due_instance_ids(rt: Runtime, now: datetime | None = None) -> list[int]:
    with rt.db.reading() as session:
        return list(session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.next_timer_at < (now or rt.clock.now()),
            ProcessInstance.status.in_(ACTIVE_STATUSES)).order_by(ProcessInstance.next_timer_at)))


@dataclass
class InstanceView:
    instance: InstanceRecord
    data: dict
    tasks: list[HumanTask]
    trail: list
    timers: list[tuple[str, datetime]]
    completed_elements: list[str]
    active_elements: list[str]
    # (element id, element name, data) per live token with data of its own: parallel branches each
    # carry their own copy, and one arbitrary task's would hide the others'.
    branches: list[tuple[str, str, dict]] = field(default_factory=list)
    # (source element, target element) of every sequence flow a token has passed along.
    taken_flows: list[tuple[str, str]] = field(default_factory=list)


def taken_flows(workflow: BpmnWorkflow) -> list[tuple[str, str]]:
    """Read from the task tree: a reached task's nearest ancestor that is a diagram element is where
    its token came from. A gateway's branch not taken has no task, so it stays unmarked even when
    its target was reached another way (loops back, rework)."""
    pairs = set()
    reached = TaskState.COMPLETED | TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    for task in workflow.get_tasks(state=reached):
        target = task.task_spec.bpmn_id
        source = task.parent
        while source is not None and not source.task_spec.bpmn_id:
            source = source.parent
        if target and source is not None and source.task_spec.bpmn_id != target:
            pairs.add((source.task_spec.bpmn_id, target))
    return sorted(pairs)


def live_branches(workflow: BpmnWorkflow) -> list[tuple[str, str, dict]]:
    """The distinct data of the tokens still in the workflow (boundary timers share their task's)."""
    seen, result = set(), []
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR):
        spec = task.task_spec
        if not spec.bpmn_id:
            continue
        # A token waiting at a join has no data of its own yet: its branch's is on the task that
        # brought it there (named after that task too, joins rarely have names).
        source = task.parent if not task.data and task.parent is not None else task
        key = json.dumps(source.data, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            name = spec.bpmn_name or source.task_spec.bpmn_name or spec.bpmn_id
            result.append((spec.bpmn_id, name, dict(source.data)))
    return result


def may_view(session, instance: InstanceRecord, actor: Actor) -> bool:
    """Who may see an instance: owners, admins and auditors, whoever started it, everyone who
    held or completed one of its tasks, and whoever an open task is offered to (they need the case
    to decide whether to take it)."""
    if instance.started_by == actor.username or actor.has_role("process_owner", "admin", "auditor"):
        return True
    if actor.person_id is None:
        return False
    if session.scalar(select(exists().where(
            HumanTask.instance_id == instance.id,
            or_(HumanTask.assignee_id == actor.person_id, HumanTask.completed_by_id == actor.person_id)))):
        return True
    offered = session.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance.id,
                                                         HumanTask.status == "open", HumanTask.assignee_id.is_(None)))
    return any(rows.is_candidate(session, task_id, actor.person_id, actor.roles, actor.unit_id) for task_id in offered)


def require_viewer(session, instance: InstanceRecord, actor: Actor) -> None:
    if not may_view(session, instance, actor):
        raise PermissionDenied("无权查看此流程实例", "you may not view this process instance")


def view(rt: Runtime, instance_id: int, actor: Actor) -> InstanceView:
    """Everything the instance page shows: data, task history, audit trail, tokens and timers."""
    with rt.db.reading() as session:
        instance = fetch_instance(session, instance_id)
        require_viewer(session, instance, actor)
        tasks = list(session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)
                                     .order_by(HumanTask.id)))
        workflow, _loaded = load_workflow(rt, session, instance)
        finished = workflow.get_tasks(state=TaskState.COMPLETED)
        active = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR)
        last = workflow.last_task
        data = dict(workflow.data) if workflow.is_completed() else dict(last.data if last else {})
        return InstanceView(instance, data, tasks, audit.instance_trail(session, instance_id),
                            waiting_timers(workflow), sorted({t.task_spec.bpmn_id for t in finished if t.task_spec.bpmn_id}),
                            sorted({t.task_spec.bpmn_id for t in active if t.task_spec.bpmn_id}),
                            [] if workflow.is_completed() else live_branches(workflow), taken_flows(workflow))
