"""Keep the human_task table in step with the READY user/manual tasks of an instance."""
from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.forms import FORM_PROPERTY
from engine.models import HumanTask, OrgUnit, Person, ProcessInstance, TaskCandidate
from engine.models.org import ROLES
from engine.specs import LoadedVersion

ROLE_BY_NAME = {code: code for code in ROLES} | {zh: code for code, (zh, _en) in ROLES.items()}
# Roles held inside a unit: a lane naming them means "that role in the case's unit", and the
# case data names the unit under this key (a branch secretary sits in the unit's party branch).
UNIT_SCOPE_KEYS = {"unit_head": "unit_code", "unit_deputy": "unit_code", "staff": "unit_code",
                   "branch_secretary": "branch_code"}


def _candidates(session: Session, lane: str | None, data: dict, instance: ProcessInstance,
                started_by: int | None) -> list[TaskCandidate]:
    """Who may take a task in `lane`. Explicit names in `lane_owners` win over the lane's role."""
    owners = (data.get("lane_owners") or {}).get(lane or "") if isinstance(data.get("lane_owners"), dict) else None
    if owners:
        ids = session.scalars(select(Person.id).where(Person.username.in_(list(owners)))).all()
        return [TaskCandidate(person_id=pid) for pid in ids]
    if lane is None:
        if started_by is not None:
            return [TaskCandidate(person_id=started_by)]
        return [TaskCandidate(role="process_owner")]
    if lane.startswith("unit:"):
        unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == lane[5:]))
        return [TaskCandidate(unit_id=unit_id)] if unit_id else []
    role = ROLE_BY_NAME.get(lane, lane)
    unit_id = None
    scope_code = data.get(UNIT_SCOPE_KEYS.get(role, ""))
    if scope_code:
        unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == str(scope_code)))
        if unit_id is None:  # never widen an unknown unit to "every unit": let the office sort it out
            return [TaskCandidate(role="process_owner")]
    return [TaskCandidate(role=role, unit_id=unit_id)]


def sync_human_tasks(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow,
                     loaded: LoadedVersion, now: datetime) -> list[HumanTask]:
    """Insert rows for newly READY tasks, cancel rows whose task is no longer READY.

    A suspended instance keeps its rows but marks them `suspended`, so they leave every inbox
    and come back unchanged (same row, same assignee) on resume."""
    rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                   HumanTask.status.in_(("open", "suspended")))).all()
    if instance.status == "suspended":
        for row in rows:
            row.status = "suspended"
        session.flush()
        return []
    ready = {}
    if instance.status != "terminated":
        ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
    for row in rows:
        if row.task_guid in ready:
            row.status = "open"
        else:
            row.status, row.completed_at = "cancelled", now
    known = {row.task_guid for row in rows}
    created = []
    started_by = None
    for guid, task in ready.items():
        if guid in known:
            continue
        if started_by is None and instance.started_by:
            started_by = session.scalar(select(Person.id).where(Person.username == instance.started_by))
        spec = task.task_spec
        properties = spec.extensions.get("properties", {}) if hasattr(spec, "extensions") else {}
        row = HumanTask(instance_id=instance.id, task_guid=guid, element_id=spec.bpmn_id or spec.name,
                        name=spec.bpmn_name or spec.bpmn_id or spec.name, lane=spec.lane,
                        form_file=properties.get(FORM_PROPERTY),
                        instructions=spec.extensions.get("instructionsForEndUser") if hasattr(spec, "extensions")
                        else None,
                        status="open", created_at=now)
        row.candidates = _candidates(session, spec.lane, task.data, instance, started_by)
        session.add(row)
        created.append(row)
    session.flush()
    return created
