"""Keep the rectification tracker's tables (engine/models/tracking.py) in step with each instance.

`follow` runs inside execution.save() for `rectification` instances only, after the human-task
projection, in the same transaction as the step: the tracker is never behind the instance and a
rolled-back step leaves no trace in it. It reads what the save already has in memory (the
workflow, the task rows) and costs a handful of indexed statements."""
from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.orm import Session

from engine.models import HumanTask, OrgUnit, Person, ProcessInstance
from engine.models.tracking import RectificationCase, RectificationStep
from engine.services.rows import InstanceRecord, execute
from engine.specs import LoadedVersion

# The task elements of workflows/rectification.bpmn that say where a problem stands; reminders
# and escalations (plan_remind, fix_escalate, ...) run beside them and are not a stage of their own.
STAGE_OF_ELEMENT = {"plan": "plan", "plan_remind": "plan", "review_plan": "review", "fix": "fix",
                    "fix_remind": "fix", "verify": "verify", "follow_up": "follow_up"}
# What the opening step shows of the start data (the rest is deadlines and routing).
OPENING_FIELDS = (("problem", "问题描述"), ("unit_code", "责任单位"), ("severity", "严重程度"),
                  ("source", "问题来源"), ("checklist_item", "检查项"), ("evidence_found", "检查佐证"),
                  ("suggestion", "整改建议"), ("inspector", "审核验收人"))
OPENING_NAME = "问题立项"

_CASES = RectificationCase.__table__
_STEPS = RectificationStep.__table__
_TASKS = HumanTask.__table__
_CASE = select(_CASES.c.id, _CASES.c.reopened, _CASES.c.evidence_count, _CASES.c.verified).where(
    _CASES.c.instance_id == bindparam("instance_id"))
_UNIT = select(OrgUnit.id, OrgUnit.branch_id).where(OrgUnit.code == bindparam("code"))
_NEW_DONE = (select(_TASKS.c.id, _TASKS.c.task_guid, _TASKS.c.element_id, _TASKS.c.name, _TASKS.c.form_file,
                    _TASKS.c.completed_at, _TASKS.c.completed_by_id)
             .where(_TASKS.c.instance_id == bindparam("instance_id"), _TASKS.c.status == "completed",
                    ~exists().where(_STEPS.c.task_id == _TASKS.c.id))
             .order_by(_TASKS.c.completed_at, _TASKS.c.id))
_LIVE = select(_TASKS.c.element_id, _TASKS.c.due_at).where(
    _TASKS.c.instance_id == bindparam("instance_id"), _TASKS.c.status.in_(("open", "suspended")))
_PERSON = select(Person.username, Person.display_name).where(Person.id == bindparam("person_id"))
_INSERT_STEP = insert(_STEPS)
_UPDATE_CASE = update(_CASES).where(_CASES.c.id == bindparam("case_id"))


def _round_of(session: Session, parent_id: int | None) -> int | None:
    """The cross-inspection round that opened the problem (a last-place presentation is no round)."""
    if parent_id is None:
        return None
    process_id = execute(session, select(ProcessInstance.process_id).where(ProcessInstance.id == parent_id)).scalar()
    return parent_id if process_id == "cross_inspection" else None


def follow(session: Session, instance: InstanceRecord, workflow: BpmnWorkflow, loaded: LoadedVersion,
           now: datetime) -> None:
    """Bring the problem's row and steps up to date after a save of its instance."""
    row = execute(session, _CASE, {"instance_id": instance.id}).first()
    if row is None:
        case_id, reopened, evidence, verified = _open_case(session, instance, workflow, now), 0, 0, None
    else:
        case_id, reopened, evidence, verified = row
    for task in execute(session, _NEW_DONE, {"instance_id": instance.id}).all():
        fields = _submitted_fields(workflow, loaded, task.task_guid, task.form_file)
        values = {key: value for key, _title, value in fields}
        if (task.element_id == "verify" and values.get("verified") is False) or \
                (task.element_id == "follow_up" and values.get("held") is False):
            reopened += 1
        if task.element_id == "verify":
            verified = bool(values.get("verified"))
        if task.element_id == "fix":
            # Counted only when they are lists: a redeployed form must never make every step fail here.
            evidence = sum(len(v) for v in (values.get("evidence"), values.get("attachments")) if isinstance(v, list))
            verified = None  # a new report waits for a new verification
        person = execute(session, _PERSON, {"person_id": task.completed_by_id}).first() \
            if task.completed_by_id else None
        execute(session, _INSERT_STEP, {
            "instance_id": instance.id, "task_id": task.id, "element_id": task.element_id, "name": task.name,
            "actor": person.username if person else None, "actor_name": person.display_name if person else None,
            "at": task.completed_at or now, "fields": json.dumps(fields, ensure_ascii=False, default=str)})
    stage, due_at = _stage(session, instance)
    closed = instance.completed_at if instance.status in ("completed", "terminated") else None
    execute(session, _UPDATE_CASE.values(stage=stage, status=instance.status, due_at=due_at, closed_at=closed,
                                         reopened=reopened, evidence_count=evidence, verified=verified,
                                         updated_at=now), {"case_id": case_id})


def _stage(session: Session, instance: InstanceRecord) -> tuple[str, datetime | None]:
    if instance.status == "completed":
        return "closed", None
    if instance.status == "terminated":
        return "terminated", None
    live = execute(session, _LIVE, {"instance_id": instance.id}).all()
    stages = [STAGE_OF_ELEMENT[e] for e, _due in live if e in STAGE_OF_ELEMENT]
    due = [d for _e, d in live if d is not None]
    # Nothing of the main line open: before the first task, or in the consolidation wait after a
    # passed verification (follow_up_wait), which is the only timer the main line waits on.
    stage = stages[0] if stages else ("follow_up" if instance.status == "waiting_timer" else "plan")
    return stage, min(due) if due else None


def case_data(workflow: BpmnWorkflow) -> dict:
    """The case's data as the engine has it now (what the start data became)."""
    if workflow.is_completed():
        return dict(workflow.data)
    ready = workflow.get_tasks(state=TaskState.READY)
    if ready:
        return dict(ready[0].data)
    return dict(workflow.last_task.data) if workflow.last_task else {}


def _open_case(session: Session, instance: InstanceRecord, workflow: BpmnWorkflow, now: datetime) -> int:
    data = case_data(workflow)
    unit_code = str(data.get("unit_code") or "") or None
    unit = execute(session, _UNIT, {"code": unit_code}).first() if unit_code else None
    branch_code = data.get("branch_code")
    branch = execute(session, _UNIT, {"code": str(branch_code)}).first() if branch_code else None
    case_id = execute(session, insert(_CASES).returning(_CASES.c.id), {
        "instance_id": instance.id, "problem": str(data.get("problem") or instance.title),
        "unit_code": unit_code, "unit_id": unit.id if unit else None,
        "branch_id": branch.id if branch else (unit.branch_id if unit else None),
        "source": _text(data.get("source"), 300), "severity": _text(data.get("severity"), 32),
        "inspector": _text(data.get("inspector"), 64),
        "round_instance_id": _round_of(session, instance.parent_instance_id),
        "stage": "plan", "status": instance.status, "due_at": None, "opened_at": instance.created_at,
        "closed_at": None, "reopened": 0, "evidence_count": 0, "verified": None, "updated_at": now}).scalar_one()
    starter = execute(session, select(Person.display_name).where(Person.username == instance.started_by)).scalar()
    opening = [[key, title, data[key]] for key, title in OPENING_FIELDS if data.get(key) not in (None, "", [])]
    execute(session, _INSERT_STEP, {
        "instance_id": instance.id, "task_id": None, "element_id": "start", "name": OPENING_NAME,
        "actor": instance.started_by, "actor_name": starter, "at": instance.created_at,
        "fields": json.dumps(opening, ensure_ascii=False, default=str)})
    return case_id


def _text(value, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None


@lru_cache(maxsize=64)
def _form_fields(schema_text: str) -> tuple[tuple[str, str], ...]:
    """(key, title) of the fields a person fills in: the form's properties that are not read-only."""
    properties = json.loads(schema_text).get("properties") or {}
    return tuple((key, spec.get("title") or key) for key, spec in properties.items()
                 if isinstance(spec, dict) and not spec.get("readOnly"))


def _submitted_fields(workflow: BpmnWorkflow, loaded: LoadedVersion, guid: str, form_file: str | None) -> list:
    """[key, title, value] of the form's fields as the completed task holds them."""
    schema = loaded.forms.get(form_file) if form_file else None
    if not schema:
        return []
    try:
        task = workflow.get_task_from_id(UUID(guid))
    except TaskNotFoundException:  # the task left the tree (a loop reset it): keep the step, without fields
        return []
    if task is None:
        return []
    data = task.data
    return [[key, title, data[key]] for key, title in _form_fields(schema) if key in data]


def backfill(rt) -> int:
    """Give rectifications started before the tracker existed (migration 0008) their rows, from their
    instances; `kaohe init` runs it, and it does nothing once every problem has its row."""
    from engine.models import ProcessInstance
    from engine.services.execution import fetch_instance, load_workflow
    with rt.db.reading() as session:
        missing = session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.process_id == "rectification",
            ~exists().where(_CASES.c.instance_id == ProcessInstance.id)).order_by(ProcessInstance.id)).all()
    for instance_id in missing:
        with rt.db.unit_of_work() as session:
            instance = fetch_instance(session, instance_id, for_update=True)
            workflow, loaded = load_workflow(rt, session, instance)
            follow(session, instance, workflow, loaded, rt.clock.now())
    return len(missing)
