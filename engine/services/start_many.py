"""Start many instances of one version in one transaction, with batched writes (a launch's chunk).

Starting one child with `instances.start_in_session` costs about ten round trips to the database
(insert, audit, update, task rows, candidates ...); at 100,000 people that is most of a launch.
Here the engine still runs once per child, exactly as for a single start, but the rows are
written in a handful of statements per chunk: instances, their start events, their state, their
tasks and candidates.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from engine.bpmn.serializer import STATE_SERIALIZER
from engine.models import ProcessInstance
from engine.models.instance import ACTIVE_STATUSES
from engine.runtime import Runtime
from engine.services import audit, children, tracking
from engine.services.execution import run_engine, scan, status_from
from engine.services.instances import short_text
from engine.services.projection import Lookups, insert_tasks
from engine.services.rows import InstanceRecord, execute

_TABLE = ProcessInstance.__table__
_INSERT = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)
_STATE = ("state", "status", "next_timer_at", "error_element", "error_message", "completed_at")
_SAVE_NEW = (update(_TABLE).where(_TABLE.c.id == bindparam("b_id"))
             .values(version=2, **{name: bindparam(name) for name in _STATE}))


def start_many(rt: Runtime, session: Session, version, started_by: str, entries: list[dict],
               parent: tuple[int, str] | None = None) -> list[InstanceRecord]:
    """Start one instance per entry ({"data", "title", "business_key"}) in the caller's transaction."""
    if not entries:
        return []
    loaded = rt.specs.get(session, version.id)
    now = rt.clock.now()
    values = [{"process_version_id": version.id, "process_id": version.process_id,
               "title": e["title"] or version.name, "business_key": e.get("business_key"), "status": "running",
               "state": "{}", "serializer_version": STATE_SERIALIZER.version, "version": 1, "started_by": started_by,
               "created_at": now, "updated_at": now, "parent_instance_id": parent[0] if parent else None,
               "spawned_by": parent[1] if parent else None, "period": short_text(e["data"].get("period"), 16),
               "unit_code": short_text(e["data"].get("unit_code"), 64)} for e in entries]
    ids = execute(session, _INSERT, values).scalars().all()
    records = [InstanceRecord(id=i, next_timer_at=None, error_element=None, error_message=None, completed_at=None,
                              **{k: v[k] for k in ("process_version_id", "process_id", "title", "business_key",
                                                   "status", "state", "serializer_version", "version", "started_by",
                                                   "created_at", "updated_at", "parent_instance_id", "spawned_by")})
               for i, v in zip(ids, values)]
    workflows, fresh = [], []
    for record, entry in zip(records, entries):
        workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=rt.script_engine)
        workflow.get_next_task(state=TaskState.READY).data.update(entry["data"])
        error = run_engine(rt, session, record, workflow)
        fresh += [(record, guid, task) for guid, task in _settle(record, workflow, error, now).items()]
        workflows.append(workflow)
    # The start events go in only now: appending takes the audit trail's head lock until commit, and
    # holding it through the engine's work would make workers sharing a launch take turns.
    detail = {"version": version.version, **({"parent": list(parent)} if parent else {})}
    audit.record_many(session, [{"at": now, "actor": started_by, "action": "start", "instance_id": r.id,
                                 "subject": version.process_id, "detail": detail, "data": e["data"]}
                                for r, e in zip(records, entries)])
    execute(session, _SAVE_NEW, [{"b_id": r.id, **{name: getattr(r, name) for name in _STATE}} for r in records])
    timer_changes = session.info.setdefault("timer_changes", {})
    for record in records:
        record.version = 2
        timer_changes[record.id] = record.next_timer_at
    insert_tasks(session, fresh, now, Lookups(session))
    for record, workflow in zip(records, workflows):
        _after_start(rt, session, record, workflow, loaded, now)
    return records


def _settle(record: InstanceRecord, workflow: BpmnWorkflow, error: tuple, now) -> dict:
    """What `execution.save` decides for a fresh instance: state, status, next wake-up; returns the
    READY people's tasks."""
    error_element, error_message = error
    found = scan(workflow)
    record.state = STATE_SERIALIZER.dumps(workflow)
    record.status = status_from(workflow, error_element, found)
    record.error_element = error_element if record.status == "error" else None
    record.error_message = error_message if record.status == "error" else None
    record.next_timer_at = found.next_timer if record.status in ACTIVE_STATUSES else None
    record.completed_at = now if record.status == "completed" else None
    return found.ready if record.status in ACTIVE_STATUSES else {}


def _after_start(rt: Runtime, session: Session, record: InstanceRecord, workflow, loaded, now) -> None:
    """The rare outcomes of a start: a broken or already finished child, a rectification to track."""
    if record.process_id == "rectification":
        tracking.follow(session, record, workflow, loaded, now)
    if record.status == "error":
        audit.record(session, at=now, actor=record.started_by, action="error", instance_id=record.id,
                     subject=record.error_element, detail={"message": record.error_message})
    if record.status == "completed":
        audit.record(session, at=now, actor=record.started_by, action="complete_instance", instance_id=record.id)
    children.after_save(rt, session, record, "running")
