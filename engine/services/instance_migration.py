"""Move a running instance to a newer version of its process, where the change allows it.

An instance runs on the version it started with (DESIGN §3). When a process is redeployed with a
fix, an owner may move a running case onto the new version instead of terminating it. The state
JSON holds no spec, only task-spec names, so a move means: every element the instance stands at
(READY / WAITING / STARTED tasks) must exist in the new version by the same id and as the same kind
of element; every finished element must still exist by id (its history names it); predictions
below the live tasks are dropped and made again from the new diagram; the result must load from
JSON against the new spec, exactly as every later request will load it. Anything else is refused
with every reason, and nothing is changed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from jsonschema import Draft202012Validator
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.bpmn.forms import FORM_PROPERTY
from engine.bpmn.serializer import STATE_SERIALIZER
from engine.errors import InvalidState, Message, NotFound
from engine.models import HumanTask, ProcessInstance, ProcessVersion, TaskCandidate
from engine.models.instance import ACTIVE_STATUSES
from engine.runtime import Actor, Runtime
from engine.services import audit
from engine.services.deploy import latest_version
from engine.services.execution import fetch_instance, load_workflow, lock_instance, save
from engine.services.instances import require_manager
from engine.services.projection import STARTER_LANES, Lookups, _candidates, ready_tasks
from engine.services.rows import InstanceRecord, execute
from engine.specs import LoadedVersion

# Suspended cases may move too: an owner can hold a case, deploy the fix, move it, resume it.
MOVABLE_STATUSES = ACTIVE_STATUSES + ("suspended",)
LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
PREDICTED = TaskState.FUTURE | TaskState.PREDICTED_MASK


class MigrationRefused(InvalidState):
    """The move is not possible; `reasons` says every why (an element missing, a form that changed...)."""

    code = "migration_refused"

    def __init__(self, reasons: list[Message]):
        self.reasons = reasons
        super().__init__("实例不能迁移到该版本：" + "；".join(r.zh for r in reasons),
                         "the instance cannot move to that version: " + "; ".join(r.en for r in reasons))


@dataclass
class MigrationCheck:
    instance_id: int
    process_id: str
    from_version: int
    to_version: int
    reasons: list[Message] = field(default_factory=list)  # why not; empty when allowed
    notes: list[Message] = field(default_factory=list)  # what changes for the open tasks (forms, lanes)

    @property
    def allowed(self) -> bool:
        return not self.reasons


def newer_version(rt: Runtime, instance) -> int | None:
    """The latest version number of the instance's process when it is newer than the instance's
    and the instance may move at all (what the instance page offers to move to), else None."""
    if instance.status not in MOVABLE_STATUSES:
        return None
    with rt.db.reading() as session:
        current = session.get(ProcessVersion, instance.process_version_id)
        latest = latest_version(session, instance.process_id)
        return latest.version if latest.version > current.version else None


def _target(session: Session, process_id: str, to_version: int | None) -> ProcessVersion:
    if to_version is None:
        return latest_version(session, process_id)
    row = session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == process_id,
                                                       ProcessVersion.version == to_version)).first()
    if row is None:
        raise NotFound(f"流程 {process_id} 没有版本 v{to_version}", f"process {process_id} has no version v{to_version}")
    return row


def _label(spec, en: bool = False) -> str:
    """An element as a person finds it in the diagram: its id, and its name when it has one."""
    name = getattr(spec, "bpmn_name", None)
    element = getattr(spec, "bpmn_id", None) or spec.name
    if not name or name == element:
        return element
    return f"{element} ({name})" if en else f"{element}（{name}）"


def _form_of(spec) -> str | None:
    return ((getattr(spec, "extensions", None) or {}).get("properties") or {}).get(FORM_PROPERTY)


def _move_tree(workflow, new_spec, reasons: list[Message], where: Message = Message("", "")) -> None:
    """Point every task of one (sub)workflow at the new spec's task specs; note what cannot move."""
    where, where_en = where.zh, where.en
    # Predictions below the live tasks are made again at the end, from the new diagram.
    for task in workflow.get_tasks(state=LIVE, skip_subprocesses=True):
        for child in [c for c in task.children if c.has_state(PREDICTED)]:
            workflow._remove_task(child.id)
    for task in list(workflow.tasks.values()):
        old = task.task_spec
        new = new_spec.task_specs.get(old.name)
        if task.has_state(LIVE | PREDICTED):
            if new is None:
                reasons.append(Message(f"{where}当前所处环节「{_label(old)}」在新版本中不存在",
                                       f"{where_en}the element the instance is at, {_label(old, True)}, is not in the new version"))
                continue
            if type(new) is not type(old):
                reasons.append(Message(
                    f"{where}当前所处环节「{_label(old)}」在新版本中类型不同（{type(old).__name__} → {type(new).__name__}）",
                    f"{where_en}the element the instance is at, {_label(old, True)}, is a different kind of element in the "
                    f"new version ({type(old).__name__} → {type(new).__name__})"))
                continue
        elif new is None:
            reasons.append(Message(f"{where}已完成的环节「{_label(old)}」在新版本中已删除，历史记录将无法保留",
                                   f"{where_en}the finished element {_label(old, True)} was removed in the new version; "
                                   f"the instance's history could not be kept"))
            continue
        task.task_spec = new
    workflow.spec = new_spec
    if reasons:
        return
    for task in workflow.get_tasks(state=LIVE, skip_subprocesses=True):
        task.task_spec._predict(task, mask=task.state | PREDICTED)


def _move_workflow(workflow, target: LoadedVersion, reasons: list[Message]) -> None:
    _move_tree(workflow, target.spec, reasons)
    workflow.subprocess_specs = dict(target.subprocess_specs)
    for subprocess in workflow.subprocesses.values():
        name = subprocess.spec.name
        new_spec = target.subprocess_specs.get(name)
        if new_spec is None:
            reasons.append(Message(f"子流程「{name}」在新版本中不存在", f"the sub-process {name} is not in the new version"))
            continue
        _move_tree(subprocess, new_spec, reasons, Message(f"子流程「{name}」中：", f"in the sub-process {name}: "))


def _form_problems(task, old: LoadedVersion, new: LoadedVersion, notes: list[Message]) -> list[Message]:
    """An open task's form in the new version must accept what the case already holds for its fields."""
    old_form, new_form = _form_of(task.task_spec), _form_of(new.spec.task_specs.get(task.task_spec.name)
                                                               or task.task_spec)
    old_text, new_text = old.forms.get(old_form or ""), new.forms.get(new_form or "")
    if old_form == new_form and old_text == new_text:
        return []
    label, label_en = _label(task.task_spec), _label(task.task_spec, True)
    notes.append(Message(f"任务「{label}」的表单已变更：{old_form or '无'} → {new_form or '无'}",
                         f"the form of task {label_en} changed: {old_form or 'none'} → {new_form or 'none'}"))
    if not new_text:
        return []
    schema = json.loads(new_text)
    problems = []
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if key in task.data and any(Draft202012Validator(prop).iter_errors(task.data[key])):
            problems.append(Message(f"任务「{label}」的新表单 {new_form} 不接受字段「{key}」的现有值",
                                    f"the new form {new_form} of task {label_en} does not accept the current value of "
                                    f"field {key}"))
        elif prop.get("readOnly") and key in (schema.get("required") or []) and key not in task.data:
            problems.append(Message(f"任务「{label}」的新表单 {new_form} 要求只读字段「{key}」，但实例中没有该数据",
                                    f"the new form {new_form} of task {label_en} requires the read-only field {key}, "
                                    f"which the instance does not hold"))
    return problems


def _plan(rt: Runtime, session: Session, instance: InstanceRecord, to_version: int | None):
    """Check the move and, when allowed, return the moved workflow (not saved) with the target."""
    current = session.get(ProcessVersion, instance.process_version_id)
    target = _target(session, instance.process_id, to_version)
    found = MigrationCheck(instance.id, instance.process_id, current.version, target.version)
    if target.version <= current.version:
        found.reasons.append(Message(f"目标版本 v{target.version} 不比实例当前版本 v{current.version} 新",
                                     f"version v{target.version} is not newer than the instance's v{current.version}"))
    if instance.status not in MOVABLE_STATUSES:
        found.reasons.append(Message(f"实例状态为「{instance.status}」，只有运行中、等待中或挂起的实例可以迁移",
                                     f"the instance is {instance.status}; only running, waiting or suspended "
                                     f"instances can move"))
    if found.reasons:
        return found, None, None, None
    workflow, loaded = load_workflow(rt, session, instance)
    new = rt.specs.get(session, target.id)
    open_tasks = ready_tasks(workflow)
    for task in open_tasks.values():
        found.reasons += _form_problems(task, loaded, new, found.notes)
        new_spec = new.spec.task_specs.get(task.task_spec.name)
        if new_spec is not None and new_spec.lane != task.task_spec.lane:
            found.notes.append(Message(
                f"任务「{_label(task.task_spec)}」的泳道已变更：{task.task_spec.lane} → {new_spec.lane}，将重新确定处理人",
                f"the lane of task {_label(task.task_spec, True)} changed: {task.task_spec.lane} → {new_spec.lane}; "
                f"who may take it is worked out again"))
    _move_workflow(workflow, new, found.reasons)
    if found.reasons:
        return found, None, None, None
    try:  # every later request loads the state this way: it must work now, or not at all
        STATE_SERIALIZER.loads(STATE_SERIALIZER.dumps(workflow), new.spec, new.subprocess_specs, rt.script_engine)
    except Exception as exc:  # noqa: BLE001  (any failure to load is a reason to refuse)
        found.reasons.append(Message(f"实例状态无法按新版本载入：{exc}", f"the state does not load against the new version: {exc}"))
        return found, None, None, None
    return found, workflow, new, target


def check(rt: Runtime, instance_id: int, actor: Actor, to_version: int | None = None) -> MigrationCheck:
    """Whether the instance may move to `to_version` (default: the latest) and, if not, every reason."""
    require_manager(actor)
    with rt.db.reading() as session:
        found, *_ = _plan(rt, session, fetch_instance(session, instance_id), to_version)
        return found


def migrate(rt: Runtime, instance_id: int, actor: Actor, to_version: int | None = None) -> MigrationCheck:
    """Move the instance in one unit of work, its row locked; raises MigrationRefused with the reasons."""
    require_manager(actor)
    with rt.db.unit_of_work() as session:
        instance = lock_instance(session, instance_id)
        found, workflow, new, target = _plan(rt, session, instance, to_version)
        if not found.allowed:
            raise MigrationRefused(found.reasons)
        save(rt, session, instance, workflow, new, actor=actor)
        _point_at(session, instance, target.id)
        _refresh_open_tasks(session, instance, workflow)
        audit.record(session, at=rt.clock.now(), actor=actor, action="instance_migrated", instance_id=instance.id,
                     subject=instance.process_id, detail={"from_version": found.from_version,
                                                          "to_version": found.to_version})
        return found


def _point_at(session: Session, instance: InstanceRecord, version_id: int) -> None:
    table = ProcessInstance.__table__
    changed = execute(session, update(table).where(table.c.id == instance.id, table.c.version == instance.version)
                      .values(process_version_id=version_id, version=instance.version + 1)).rowcount
    if changed != 1:
        raise InvalidState("数据已被他人修改，请刷新后重试", "someone else changed this first; reload and try again")
    instance.version += 1
    instance.process_version_id = version_id


def _refresh_open_tasks(session: Session, instance: InstanceRecord, workflow) -> None:
    """Open task rows show the new version's name, form and lane; candidates follow the new lane
    (and a claim made under another lane is released, since its holder may no longer qualify)."""
    ready = ready_tasks(workflow)
    rows = session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id,
                                                   HumanTask.status.in_(("open", "suspended")))).all()
    lookups = Lookups(session)
    for row in rows:
        task = ready.get(row.task_guid)
        if task is None:
            continue
        spec = task.task_spec
        lane_changed = spec.lane != row.lane
        row.name = spec.bpmn_name or spec.bpmn_id or spec.name
        row.form_file = _form_of(spec)
        row.instructions = (getattr(spec, "extensions", None) or {}).get("instructionsForEndUser")
        row.lane = spec.lane
        if lane_changed:
            row.assignee_id, row.claimed_at = None, None
        session.execute(delete(TaskCandidate).where(TaskCandidate.task_id == row.id))
        starter = None
        if (spec.lane is None or spec.lane in STARTER_LANES) and instance.started_by:
            starter = next(iter(lookups.person_ids([instance.started_by])), None)
        session.add_all(TaskCandidate(task_id=row.id, **c) for c in _candidates(lookups, spec.lane, task.data, starter))
    session.flush()
