"""The earlier steps of a task's case, for its task page: who did what when, and what they submitted.

Built from the audit trail (who, what, when) and the human_task rows (which step); the submitted
values come from each completed step's own data in the workflow state, limited to that step's form
fields, and are shown only to people who may see the case or act on this task.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import select

from engine.errors import NotFound, PermissionDenied
from engine.models import AuditEvent, HumanTask, Person
from engine.runtime import Actor, Runtime
from engine.services import instances
from engine.services.execution import fetch_instance, load_workflow
from engine.services.tasks import _may_take

SHOWN_ACTIONS = ("start", "claim", "unclaim", "delegate", "complete")
MAX_EVENTS = 200  # a case's own trail; an older one is cut to its latest events


@dataclass(frozen=True)
class Value:
    label: str
    text: str = ""
    rows: list[list[tuple[str, str]]] = field(default_factory=list)  # an array of objects, one list per item


@dataclass(frozen=True)
class Step:
    at: datetime
    actor: str  # display name (or the username of a system actor)
    action: str
    task_name: str | None
    note: str | None = None  # a delegation: to whom, and why
    values: list[Value] = field(default_factory=list)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, dict) and "sha256" in value and "name" in value:
        return str(value["name"])  # an evidence file: its name (the task page links the files)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _values(schema: dict | None, data: dict) -> list[Value]:
    """The step's form fields with what was submitted, in the form's order and with its labels."""
    props = (schema or {}).get("properties") or {"comment": {"title": "意见"}}
    values = []
    for name, prop in props.items():
        if not isinstance(prop, dict) or name not in data or data[name] in (None, "", []):
            continue
        label = str(prop.get("title") or name)
        value = data[name]
        item_props = (prop.get("items") or {}).get("properties") if isinstance(prop.get("items"), dict) else None
        if isinstance(value, list) and item_props and all(isinstance(v, dict) for v in value):
            rows = [[(str((item_props.get(k) or {}).get("title") or k), _text(v)) for k, v in item.items()
                     if v not in (None, "")] for item in value]
            values.append(Value(label, rows=rows))
        elif isinstance(value, list):
            values.append(Value(label, "、".join(_text(v) for v in value)))
        else:
            values.append(Value(label, _text(value)))
    return values


def _require_may_see(session, task: HumanTask, instance, actor: Actor) -> None:
    """Those who may see the case, and those who may act on this task (who need its history)."""
    if not (instances.may_view(session, instance, actor) or (task.status == "open" and _may_take(session, task, actor))):
        raise PermissionDenied("无权查看此任务", "you may not view this task")


def task_process(rt: Runtime, task_id: int, actor: Actor) -> tuple[int, str]:
    """(process version id, process id) of the task's case, for its diagram."""
    with rt.db.reading() as session:
        task = session.get(HumanTask, task_id)
        if task is None:
            raise NotFound(f"任务 {task_id} 不存在", f"task {task_id} does not exist")
        instance = fetch_instance(session, task.instance_id)
        _require_may_see(session, task, instance, actor)
        return instance.process_version_id, instance.process_id


def earlier_steps(rt: Runtime, task_id: int, actor: Actor) -> list[Step]:
    """The case's steps before (and around) this task, oldest first; PermissionDenied for outsiders."""
    with rt.db.reading() as session:
        task = session.get(HumanTask, task_id)
        if task is None:
            return []
        instance = fetch_instance(session, task.instance_id)
        _require_may_see(session, task, instance, actor)
        events = list(session.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance.id, AuditEvent.action.in_(SHOWN_ACTIONS))
            .order_by(AuditEvent.id.desc()).limit(MAX_EVENTS)))[::-1]
        steps_by_guid = {t.task_guid: t for t in session.scalars(
            select(HumanTask).where(HumanTask.instance_id == instance.id))}
        usernames = {e.actor for e in events} | {_delegated_to(e) for e in events if e.action == "delegate"}
        names = dict(session.execute(select(Person.username, Person.display_name).where(
            Person.username.in_(sorted(u for u in usernames if u)))).all()) if events else {}
        workflow = loaded = None
        result = []
        for event in events:
            step = steps_by_guid.get(event.task_guid or "")
            if event.task_guid and step is None:
                continue  # an event of a service or script step: not a person's step
            values: list[Value] = []
            if event.action == "complete" and step is not None:
                if workflow is None:
                    workflow, loaded = load_workflow(rt, session, instance)
                values = _submitted(workflow, loaded, step)
            result.append(Step(event.occurred_at, names.get(event.actor, event.actor), event.action,
                               step.name if step else None, _note(event, names), values))
        return result


def _submitted(workflow, loaded, step: HumanTask) -> list[Value]:
    try:
        spiff_task = workflow.get_task_from_id(UUID(step.task_guid))
    except Exception:  # noqa: BLE001 - a step pruned from the state (an older loop) just shows no values
        return []
    schema_text = loaded.forms.get(step.form_file) if step.form_file else None
    return _values(json.loads(schema_text) if schema_text else None, dict(spiff_task.data))


def _detail(event: AuditEvent) -> dict:
    try:
        detail = json.loads(event.detail or "{}")
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _delegated_to(event: AuditEvent) -> str | None:
    to = _detail(event).get("to")
    return to if isinstance(to, str) else None


def _note(event: AuditEvent, names: dict) -> str | None:
    if event.action != "delegate":
        return None
    to, note = _delegated_to(event), _detail(event).get("note")
    return " ".join(part for part in (f"→ {names.get(to, to)}" if to else "", note or "") if part) or None
