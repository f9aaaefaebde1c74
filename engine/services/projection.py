"""Keep the human_task table in step with the READY user/manual tasks of an instance."""
from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from engine.bpmn.forms import FORM_PROPERTY
from engine.bpmn.timers import deadline_of
from engine.models import HumanTask, OrgUnit, Person, TaskCandidate
from engine.services.rows import InstanceRecord, execute
from engine.models.org import ROLES
from engine.specs import LoadedVersion

ROLE_BY_NAME = {code: code for code in ROLES} | {zh: code for code, (zh, _en) in ROLES.items()}
# Roles held inside a unit: a lane naming them means "that role in the case's unit", and the
# case data names the unit under this key (a branch secretary sits in the unit's party branch).
UNIT_SCOPE_KEYS = {"unit_head": "unit_code", "unit_deputy": "unit_code", "staff": "unit_code",
                   "branch_secretary": "branch_code"}


class Lookups:
    """Person ids by username and units by code for candidate rows, each read once: a launch
    resolves hundreds of tasks per transaction with two IN queries instead of one query per task."""

    def __init__(self, session: Session):
        self.session = session
        self._people: dict[str, int | None] = {}
        self._units: dict[str, tuple[int, str] | None] = {}

    def preload(self, usernames=(), unit_codes=()) -> None:
        usernames = sorted({str(u) for u in usernames} - self._people.keys())
        unit_codes = sorted({str(c) for c in unit_codes} - self._units.keys())
        for start in range(0, len(usernames), 1000):
            part = usernames[start:start + 1000]
            self._people.update(dict.fromkeys(part))
            self._people.update(execute(self.session, select(Person.username, Person.id)
                                        .where(Person.username.in_(part))).all())
        for start in range(0, len(unit_codes), 1000):
            part = unit_codes[start:start + 1000]
            self._units.update(dict.fromkeys(part))
            self._units.update({code: (uid, category) for code, uid, category in execute(self.session, select(
                OrgUnit.code, OrgUnit.id, OrgUnit.category).where(OrgUnit.code.in_(part)))})

    def person_ids(self, usernames) -> list[int]:
        self.preload(usernames=usernames)
        return [pid for name in usernames if (pid := self._people.get(str(name))) is not None]

    def unit(self, code: str) -> tuple[int, str] | None:
        self.preload(unit_codes=[code])
        return self._units.get(str(code))


def _lane_owners(lane: str | None, data: dict):
    owners = data.get("lane_owners")
    return owners.get(lane or "") if isinstance(owners, dict) else None


def _candidates(lookups: Lookups, lane: str | None, data: dict, started_by: int | None) -> list[dict]:
    """Who may take a task in `lane`. Explicit names in `lane_owners` win over the lane's role."""
    owners = _lane_owners(lane, data)
    if owners:
        ids = lookups.person_ids(list(owners))
        # Names nobody has: never leave a task no one can take; the office sorts it out.
        return [_candidate(person_id=pid) for pid in ids] or [_candidate(role="process_owner")]
    if lane is None or lane in STARTER_LANES:
        if started_by is not None:
            return [_candidate(person_id=started_by)]
        return [_candidate(role="process_owner")]
    if lane.startswith("unit:"):
        unit = lookups.unit(lane[5:])
        return [_candidate(unit_id=unit[0])] if unit else []
    role = ROLE_BY_NAME.get(lane, lane)
    unit_id = None
    scope_code = data.get(UNIT_SCOPE_KEYS.get(role, ""))
    if scope_code:
        unit = lookups.unit(str(scope_code))
        if unit is None:  # never widen an unknown unit to "every unit": let the office sort it out
            return [_candidate(role="process_owner")]
        unit_id, category = unit
        if role == "unit_head" and category == "party_branch":
            role = "branch_secretary"  # a party branch is led by its secretary (a last-placed branch presents)
    return [_candidate(role=role, unit_id=unit_id)]


# A lane for "whoever started this case" (a check record's author), so modelers can draw it.
STARTER_LANES = ("发起人", "starter")

_TASKS = HumanTask.__table__
_LIVE_ROWS = select(_TASKS.c.id, _TASKS.c.task_guid, _TASKS.c.status).where(
    _TASKS.c.instance_id == bindparam("instance_id"), _TASKS.c.status.in_(("open", "suspended")))
_SET_STATUS = update(_TASKS).where(_TASKS.c.id == bindparam("b_id")).values(
    status=bindparam("b_status"), completed_at=bindparam("b_completed_at"))
_INSERT_TASKS = insert(_TASKS).returning(_TASKS.c.id, sort_by_parameter_order=True)
_INSERT_CANDIDATES = insert(TaskCandidate.__table__)


def _candidate(person_id: int | None = None, role: str | None = None, unit_id: int | None = None) -> dict:
    return {"person_id": person_id, "role": role, "unit_id": unit_id}


def _task_values(instance: InstanceRecord, guid: str, task, now: datetime) -> dict:
    spec = task.task_spec
    extensions = getattr(spec, "extensions", {}) or {}
    return {"instance_id": instance.id, "task_guid": guid, "element_id": spec.bpmn_id or spec.name,
            "name": spec.bpmn_name or spec.bpmn_id or spec.name, "lane": spec.lane,
            "form_file": extensions.get("properties", {}).get(FORM_PROPERTY),
            "instructions": extensions.get("instructionsForEndUser"), "status": "open", "created_at": now,
            "assignee_id": None, "due_at": deadline_of(task), "reminded_at": None, "claimed_at": None, "completed_at": None,
            "completed_by_id": None, "process_id": instance.process_id,
            "unit_code": _short(task.data.get("unit_code"), 64), "period": _short(task.data.get("period"), 32)}


def _short(value, length: int) -> str | None:
    """A case-data value as the inbox column stores it (case data is free-form: never fail on it)."""
    if value is None or isinstance(value, (dict, list)) or value == "":
        return None
    return str(value)[:length]


def sync_human_tasks(session: Session, instance: InstanceRecord, workflow: BpmnWorkflow,
                     loaded: LoadedVersion, now: datetime) -> list[int]:
    """Insert rows for newly READY tasks, cancel rows whose task is no longer READY; returns new ids.

    A suspended instance keeps its rows but marks them `suspended`, so they leave every inbox
    and come back unchanged (same row, same assignee) on resume."""
    rows = execute(session, _LIVE_ROWS, {"instance_id": instance.id}).all()
    ready = {}
    if instance.status not in ("suspended", "terminated"):
        ready = ready_tasks(workflow)
    changes = []
    for row_id, guid, status in rows:
        if instance.status == "suspended":
            wanted, finished_at = "suspended", None
        elif guid in ready:
            wanted, finished_at = "open", None
        else:
            wanted, finished_at = "cancelled", now
        if wanted != status:
            changes.append({"b_id": row_id, "b_status": wanted, "b_completed_at": finished_at})
    if changes:
        execute(session, _SET_STATUS, changes)
    known = {guid for _id, guid, _status in rows}
    fresh = [(instance, guid, task) for guid, task in ready.items() if guid not in known]
    return insert_tasks(session, fresh, now, Lookups(session))


def ready_tasks(workflow: BpmnWorkflow) -> dict:
    """The READY user and manual tasks by guid: what the projection shows."""
    return {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY, manual=True)}


def insert_tasks(session: Session, fresh: list[tuple], now: datetime, lookups: Lookups) -> list[int]:
    """Insert task rows and their candidates for (instance, guid, task) triples, in two batched
    statements whatever their number; returns the new ids in the same order."""
    if not fresh:
        return []
    starters = {i.started_by for i, _guid, t in fresh
                if (t.task_spec.lane is None or t.task_spec.lane in STARTER_LANES) and i.started_by}
    lookups.preload(usernames=[*starters, *(n for _i, _g, t in fresh for n in _lane_owners(t.task_spec.lane, t.data) or ())],
                    unit_codes=[str(code) for _i, _g, t in fresh for key in set(UNIT_SCOPE_KEYS.values())
                                if (code := t.data.get(key)) and isinstance(code, (str, int))])
    ids = execute(session, _INSERT_TASKS, [_task_values(i, guid, t, now) for i, guid, t in fresh]).scalars().all()
    candidates = []
    for task_id, (instance, _guid, task) in zip(ids, fresh):
        starter = None
        if (task.task_spec.lane is None or task.task_spec.lane in STARTER_LANES) and instance.started_by:
            starter = next(iter(lookups.person_ids([instance.started_by])), None)
        candidates += [{"task_id": task_id, **c} for c in _candidates(lookups, task.task_spec.lane, task.data, starter)]
    if candidates:
        execute(session, _INSERT_CANDIDATES, candidates)
    return list(ids)
