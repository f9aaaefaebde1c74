"""Human tasks: the inbox, claiming, delegating and completing with a validated form."""
from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from engine import limits
from engine.bpmn import forms, spiff_clock
from engine.errors import Conflict, InvalidState, Message, NotFound, PermissionDenied, ValidationFailed
from engine.evidence import references
from engine.models import HumanTask, Person, TaskCandidate
from engine.runtime import Actor, Runtime
from engine.services import audit, rows
from engine.services.rows import InstanceRecord, TaskRecord
from engine.services.execution import fetch_instance, load_workflow, run_engine, save


def candidate_match(actor: Actor):
    """SQL condition: a candidate row that names this person, one of their roles, or their unit."""
    conditions = [TaskCandidate.person_id == actor.person_id]
    if actor.roles:
        conditions.append(and_(TaskCandidate.role.in_(sorted(actor.roles)),
                               or_(TaskCandidate.unit_id.is_(None), TaskCandidate.unit_id == actor.unit_id)))
    if actor.unit_id is not None:
        conditions.append(and_(TaskCandidate.role.is_(None), TaskCandidate.person_id.is_(None),
                               TaskCandidate.unit_id == actor.unit_id))
    return or_(*conditions)


def inbox(rt: Runtime, actor: Actor, *, limit: int = 50, offset: int = 0) -> list[HumanTask]:
    """Open tasks assigned to me, then unclaimed ones my person, roles or unit may take."""
    mine = HumanTask.assignee_id == actor.person_id
    offered = and_(HumanTask.assignee_id.is_(None),
                   exists().where(TaskCandidate.task_id == HumanTask.id, candidate_match(actor)))
    with rt.db.reading() as session:
        query = (select(HumanTask).where(HumanTask.status == "open", or_(mine, offered))
                 .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.id).limit(limit).offset(offset))
        return list(session.scalars(query))


def _may_take(session: Session, task: TaskRecord | HumanTask, actor: Actor) -> bool:
    if task.assignee_id is not None:
        return task.assignee_id == actor.person_id
    return rows.is_candidate(session, task.id, actor.person_id, actor.roles, actor.unit_id)


def _require_open(task: TaskRecord | HumanTask, actor: Actor | None = None) -> None:
    if task.status != "open":
        state = {"completed": ("已经完成", "already completed"), "cancelled": ("已取消", "cancelled"),
                 "suspended": ("所在流程已挂起", "suspended with its process")}
        zh, en = state.get(task.status, (task.status, task.status))
        if task.status == "completed" and actor is not None and task.completed_by_id != actor.person_id:
            zh, en = "已被他人完成", "already completed by someone else"  # the loser of a race learns why
        raise Conflict(f"任务「{task.name}」{zh}，不能再处理", f"task '{task.name}' is {en}")


def _claimed_by_other(session: Session, task: TaskRecord | HumanTask, actor: Actor) -> bool:
    """Someone else holds the open task that the actor, a candidate, might have taken."""
    return (task.status == "open" and task.assignee_id not in (None, actor.person_id)
            and rows.is_candidate(session, task.id, actor.person_id, actor.roles, actor.unit_id))


CLAIMED_BY_OTHER = ("任务已被他人认领", "the task was claimed by someone else")


def _task_row(session: Session, task_id: int) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None:
        raise NotFound(f"任务 {task_id} 不存在", f"task {task_id} does not exist")
    return task


@dataclass
class TaskView:
    task: HumanTask
    schema: dict | None
    data: dict
    may_act: bool


def get(rt: Runtime, task_id: int, actor: Actor, *, acting: bool = False) -> TaskView:
    """The task with its form schema and current data, if the actor may see it.

    `acting`: read just before the actor acts on it (a submit). A candidate who lost a race then
    hears that someone else was quicker (a conflict), not that the task is none of theirs."""
    with rt.db.reading() as session:
        task = _task_row(session, task_id)
        may_act = task.status == "open" and _may_take(session, task, actor)
        if acting and not may_act:
            if _claimed_by_other(session, task, actor):
                raise Conflict(*CLAIMED_BY_OTHER)
            if task.status != "open" and _concerned(session, task, actor):
                _require_open(task, actor)
        if not (may_act or task.completed_by_id == actor.person_id
                or actor.has_role("process_owner", "auditor", "admin")):
            raise PermissionDenied("无权查看此任务", "you may not view this task")
        workflow, loaded = load_workflow(rt, session, fetch_instance(session, task.instance_id))
        spiff_task = workflow.get_task_from_id(UUID(task.task_guid))
        schema_text = loaded.forms.get(task.form_file) if task.form_file else None
        return TaskView(task, json.loads(schema_text) if schema_text else None, dict(spiff_task.data), may_act)


def _locked_open_task(session: Session, task_id: int, actor: Actor) -> tuple[TaskRecord, InstanceRecord]:
    """Lock the task's instance first (every writer of an instance queues there), then read the task.

    A task no longer open is a conflict only for those it concerned; anyone else is refused, so
    nobody learns the state of tasks that are not theirs."""
    instance = fetch_instance(session, task_id=task_id, for_update=True)
    task = rows.fetch_task(session, task_id)
    if task.status != "open" and not _concerned(session, task, actor):
        raise PermissionDenied("此任务不属于你", "this task is not yours")
    _require_open(task, actor)
    return task, instance


def _concerned(session: Session, task: TaskRecord, actor: Actor) -> bool:
    if actor.has_role("process_owner", "admin"):
        return True
    if actor.person_id is not None and actor.person_id in (task.assignee_id, task.completed_by_id):
        return True
    return rows.is_candidate(session, task.id, actor.person_id, actor.roles, actor.unit_id)


def require_completable(session: Session, task_id: int, actor: Actor) -> tuple[TaskRecord, InstanceRecord]:
    """The open task, locked with its instance, if the actor may complete it now (also the rule for
    uploading evidence files to it); PermissionDenied or InvalidState otherwise."""
    task, instance = _locked_open_task(session, task_id, actor)
    if not _may_take(session, task, actor):
        if _claimed_by_other(session, task, actor):
            raise Conflict(*CLAIMED_BY_OTHER)
        raise PermissionDenied("此任务不属于你", "this task is not yours")
    if instance.status in ("suspended", "terminated"):
        raise InvalidState("流程实例已挂起或终止", "the process instance is suspended or terminated")
    return task, instance


def may_act_in_instance(session: Session, instance_id: int, actor: Actor) -> bool:
    """Is one of the instance's open tasks the actor's to do (assigned, or offered to them)?"""
    open_tasks = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.status == "open"))
    return any(_may_take(session, task, actor) for task in open_tasks)


def claim(rt: Runtime, task_id: int, actor: Actor) -> None:
    with rt.db.unit_of_work() as session:
        task, _instance = _locked_open_task(session, task_id, actor)
        if task.assignee_id == actor.person_id:
            return
        # Rights first: only a candidate learns that someone else was quicker.
        if not rows.is_candidate(session, task.id, actor.person_id, actor.roles, actor.unit_id):
            raise PermissionDenied("你不是此任务的候选人", "you are not a candidate for this task")
        if task.assignee_id is not None:
            raise Conflict(*CLAIMED_BY_OTHER)
        now = rt.clock.now()
        task.assignee_id, task.claimed_at = actor.person_id, now
        rows.write_task(session, task)
        audit.record(session, at=now, actor=actor, action="claim", instance_id=task.instance_id,
                     task_guid=task.task_guid)


def unclaim(rt: Runtime, task_id: int, actor: Actor) -> None:
    with rt.db.unit_of_work() as session:
        task, _instance = _locked_open_task(session, task_id, actor)
        if task.assignee_id != actor.person_id and not actor.has_role("process_owner", "admin"):
            raise PermissionDenied("只能退回自己认领的任务", "you can only release a task you hold")
        task.assignee_id, task.claimed_at = None, None
        rows.write_task(session, task)
        audit.record(session, at=rt.clock.now(), actor=actor, action="unclaim",
                     instance_id=task.instance_id, task_guid=task.task_guid)


def delegate(rt: Runtime, task_id: int, actor: Actor, to_username: str, note: str | None = None) -> None:
    """Hand a task I may take to a named person; recorded with who, to whom and why."""
    with rt.db.unit_of_work() as session:
        task, _instance = _locked_open_task(session, task_id, actor)
        if not (_may_take(session, task, actor) or actor.has_role("process_owner", "admin")):
            if _claimed_by_other(session, task, actor):
                raise Conflict(*CLAIMED_BY_OTHER)
            raise PermissionDenied("你无权转交此任务", "you may not delegate this task")
        target = session.scalar(select(Person).where(Person.username == to_username, Person.active.is_(True)))
        if target is None:
            raise ValidationFailed(f"用户 {to_username} 不存在", f"user {to_username} does not exist",
                                   field_errors={"to": Message("用户不存在", "no such user")})
        now = rt.clock.now()
        previous = task.assignee_id
        task.assignee_id, task.claimed_at = target.id, now
        rows.write_task(session, task)
        audit.record(session, at=now, actor=actor, action="delegate", instance_id=task.instance_id,
                     task_guid=task.task_guid, detail={"to": to_username, "from_person_id": previous, "note": note})


def complete(rt: Runtime, task_id: int, actor: Actor, submitted: dict) -> str:
    """Validate the form, complete the task, run the engine on; returns the instance's new status."""
    if not isinstance(submitted, dict):
        raise ValidationFailed("提交的数据必须是对象", "submitted data must be an object")
    limits.check_data_size(rt.settings, submitted)  # its size first: before any work is spent on it
    with rt.db.unit_of_work() as session:
        task, instance = require_completable(session, task_id, actor)
        workflow, loaded = load_workflow(rt, session, instance)
        spiff_task = workflow.get_task_from_id(UUID(task.task_guid))
        if spiff_task.state != TaskState.READY or not spiff_task.task_spec.manual:
            raise Conflict("任务已不在可处理状态", "the task is no longer ready")
        schema_text = loaded.forms.get(task.form_file) if task.form_file else None
        limits.check_submission(rt.settings, submitted, json.loads(schema_text) if schema_text else None)
        if task.form_file:
            submitted = forms.keep_read_only(loaded.forms[task.form_file], submitted, spiff_task.data)
            forms.validate_submission(loaded.forms[task.form_file], submitted)
            # Evidence files: only uploads to this instance, described as recorded, not as submitted.
            submitted = references.resolve(session, instance.id, loaded.forms[task.form_file], submitted)
        # A submitted field replaces what was there. (SpiffWorkflow's add_data_from_form deep-merges,
        # so a list the person shortened would keep its removed items.)
        variable = getattr(spiff_task.task_spec, "variable", None)
        spiff_task.data.update({variable: submitted} if variable else submitted)
        with spiff_clock.running_on(rt.clock):  # a boundary timer may start as the task completes
            spiff_task.run()
        now = rt.clock.now()
        task.status, task.completed_at, task.completed_by_id = "completed", now, actor.person_id
        task.assignee_id = task.assignee_id or actor.person_id
        rows.write_task(session, task)
        audit.record(session, at=now, actor=actor, action="complete", instance_id=instance.id,
                     task_guid=task.task_guid, subject=task.element_id, data=submitted)
        error = run_engine(rt, session, instance, workflow)
        save(rt, session, instance, workflow, loaded, error=error, actor=actor)
        return instance.status
