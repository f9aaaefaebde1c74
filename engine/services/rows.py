"""Reading and writing instance and task rows on the hot path, with prebuilt SQL statements.

Completing a task must cost a few milliseconds; building SQLAlchemy statements and ORM objects
anew for every request cost more than SpiffWorkflow itself. These statements are built once;
SQLAlchemy caches their compiled form, so each execution is cheap.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound
from engine.models import HumanTask, ProcessInstance, TaskCandidate


def execute(session: Session, statement, params=None):
    """Run a prebuilt Core statement on the session's connection, skipping the ORM execution layer
    (half the per-statement cost; these statements touch no ORM objects)."""
    return session.connection().execute(statement, params)


@dataclass
class InstanceRecord:
    """One process_instance row as plain values; `version` is the optimistic lock."""

    id: int
    process_version_id: int
    process_id: str
    title: str
    business_key: str | None
    status: str
    state: str
    serializer_version: str
    version: int
    next_timer_at: datetime | None
    error_element: str | None
    error_message: str | None
    started_by: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    parent_instance_id: int | None
    spawned_by: str | None


_COLUMNS = [getattr(ProcessInstance, f.name) for f in fields(InstanceRecord)]
_TABLE = ProcessInstance.__table__
_BY_ID = select(*_COLUMNS).where(ProcessInstance.id == bindparam("instance_id"))
_BY_TASK = (select(*_COLUMNS).join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
            .where(HumanTask.id == bindparam("task_id")))
_LOCKED = {False: (_BY_ID, _BY_TASK),
           True: (_BY_ID.with_for_update(of=_TABLE), _BY_TASK.with_for_update(of=_TABLE))}
_WRITABLE = ("status", "state", "serializer_version", "next_timer_at", "error_element", "error_message",
             "updated_at", "completed_at", "title")
_UPDATE = (update(_TABLE).where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.version == bindparam("b_version"))
           .values(version=bindparam("b_new_version"), **{name: bindparam(name) for name in _WRITABLE}))


def fetch(session: Session, instance_id: int | None = None, *, task_id: int | None = None,
          for_update: bool = False) -> InstanceRecord:
    """An instance by id or by one of its tasks; on PostgreSQL `for_update` locks the row.

    SQLite needs no row lock: a writing unit of work there already holds the database write lock."""
    lock = for_update and session.get_bind().dialect.name == "postgresql"
    by_id, by_task = _LOCKED[lock]
    if task_id is not None:
        row = execute(session, by_task, {"task_id": task_id}).first()
    else:
        row = execute(session, by_id, {"instance_id": instance_id}).first()
    if row is None:
        if task_id is not None:
            raise NotFound(f"任务 {task_id} 不存在", f"task {task_id} does not exist")
        raise NotFound(f"流程实例 {instance_id} 不存在", f"process instance {instance_id} does not exist")
    record = InstanceRecord(*row)
    if lock and record.parent_instance_id is not None:
        _lock_ancestors(session, record.parent_instance_id)
    return record


_LOCK_ANCESTOR = select(ProcessInstance.parent_instance_id).where(
    ProcessInstance.id == bindparam("instance_id")).with_for_update()


def _lock_ancestors(session: Session, parent_id: int | None) -> None:
    """Lock the parent (and its parent ...) now, before anything takes the audit trail's head.

    A child that finishes joins its parent, locking the parent's row; a change to the parent
    locks that row first and then the audit head. Had the child taken the head first (its own
    audit event), the two would wait for each other: PostgreSQL's deadlock. So the order is always
    instance, then its ancestors, then the audit head."""
    while parent_id is not None:
        parent_id = execute(session, _LOCK_ANCESTOR, {"instance_id": parent_id}).scalar()


def insert_new(session: Session, **values) -> InstanceRecord:
    values.setdefault("version", 1)
    instance_id = execute(session, insert(_TABLE).values(**values).returning(_TABLE.c.id)).scalar_one()
    return fetch(session, instance_id)


def write(session: Session, record: InstanceRecord) -> None:
    """Save the record if nobody else saved this instance since it was read; else Conflict."""
    params = {name: getattr(record, name) for name in _WRITABLE}
    params.update(b_id=record.id, b_version=record.version, b_new_version=record.version + 1)
    if execute(session, _UPDATE, params).rowcount != 1:
        raise Conflict("数据已被他人修改，请刷新后重试", "someone else changed this first; reload and try again")
    record.version += 1


@dataclass
class TaskRecord:
    """One human_task row as plain values."""

    id: int
    instance_id: int
    task_guid: str
    element_id: str
    name: str
    form_file: str | None
    status: str
    assignee_id: int | None
    claimed_at: datetime | None
    completed_at: datetime | None
    completed_by_id: int | None


_TASK_TABLE = HumanTask.__table__
_TASK_BY_ID = select(*[_TASK_TABLE.c[f.name] for f in fields(TaskRecord)]).where(
    _TASK_TABLE.c.id == bindparam("task_id"))
_TASK_MUTABLE = ("status", "assignee_id", "claimed_at", "completed_at", "completed_by_id")
_UPDATE_TASK = update(_TASK_TABLE).where(_TASK_TABLE.c.id == bindparam("b_id")).values(
    **{name: bindparam(name) for name in _TASK_MUTABLE})
_IS_CANDIDATE = select(exists().where(
    TaskCandidate.task_id == bindparam("task_id"),
    or_(TaskCandidate.person_id == bindparam("person_id"),
        and_(TaskCandidate.role.in_(bindparam("roles", expanding=True)),
             or_(TaskCandidate.unit_id.is_(None), TaskCandidate.unit_id == bindparam("unit_id"))),
        and_(TaskCandidate.role.is_(None), TaskCandidate.person_id.is_(None),
             TaskCandidate.unit_id == bindparam("unit_id")))))


def fetch_task(session: Session, task_id: int) -> TaskRecord:
    row = execute(session, _TASK_BY_ID, {"task_id": task_id}).first()
    if row is None:
        raise NotFound(f"任务 {task_id} 不存在", f"task {task_id} does not exist")
    return TaskRecord(*row)


def write_task(session: Session, task: TaskRecord) -> None:
    execute(session, _UPDATE_TASK, {"b_id": task.id, **{name: getattr(task, name) for name in _TASK_MUTABLE}})


def is_candidate(session: Session, task_id: int, person_id: int | None, roles, unit_id: int | None) -> bool:
    """Does a candidate row of the task name this person, one of their roles, or their unit?"""
    return bool(execute(session, _IS_CANDIDATE, {"task_id": task_id, "person_id": person_id,
                                                "roles": sorted(roles), "unit_id": unit_id}).scalar())
