"""Per-unit and per-person work in instances of their own, started and joined by a parent.

A monthly cycle must not hold 4,000 units' tasks in one instance (its state, and the cost of
every step, would grow with the organisation; SpiffArena's users hit exactly that wall). So the
parent starts one child instance per item with a service task, and waits for them:

    <bpmn:serviceTask id="plan_units" name="下发各单位任务书">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="kaohe/start_instances" resultVariable="plan_units_started">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="process" type="str" value="'task_book'"/>
            <spiffworkflow:parameter id="items" type="list" value="units"/>
            <spiffworkflow:parameter id="item_variable" type="str" value="'unit_code'"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
    ... then an intermediate message catch event whose message is named "plan_units_done".

Each child gets the parent's `data` parameter (optional dict) plus `item_variable = item` (a dict item
without `item_variable` is merged into the child's data). `for_each_unit` (a list of unit categories,
or [] for every unit) starts one child per active unit with unit_code, unit_name, category and
branch_code, read from the database so the list never enters the parent's state;
`for_each_person` (a list of positions: head / deputy / staff, [] for all) one per active person of
the units of `categories` (default production and non-production) with username, person_name,
position, unit_code, unit_name and branch_code; `for_each_group: true` one per evaluation group
with group_code, group_name, area and leader (a username or None). The
children are started after the parent's transaction commits, in chunks (engine/services/fan_out.py:
a launch of 100,000 people resumes after a crash and can be shared by several workers). When the
last child started by that service task completes (or is terminated), the parent receives the
message `<service task id>_done` with {"completed": n, "terminated": m}; only counts travel, so
the parent's state stays the same size whatever the organisation. With no items, no child is
started and the result says {"started": 0}: route around the wait with a gateway.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from engine.bpmn import service_operators
from engine.errors import InvalidState
from engine.models import ProcessInstance
from engine.models.instance import ACTIVE_STATUSES
from engine.services import audit, fan_out
from engine.services.rows import InstanceRecord, execute

FINISHED = ("completed", "terminated")
_SPAWN: ContextVar[tuple | None] = ContextVar("kaohe_spawn", default=None)


@contextmanager
def spawning_from(spawn: tuple | None) -> Iterator[None]:
    """While the engine runs for an instance, service tasks know (runtime, session, instance)."""
    token = _SPAWN.set(spawn)
    try:
        yield
    finally:
        _SPAWN.reset(token)


def current_session() -> Session | None:
    """The session of the instance the engine is running now (for helpers that read reference data)."""
    spawn = _SPAWN.get()
    return spawn[1] if spawn else None


class ChildStartError(ValueError):
    pass


DEFAULT_PERSON_CATEGORIES = ("production", "non_production")


def _items(session: Session, params: dict):
    """The items to start children for. Units, people and groups are read here, so the list never
    passes through the parent's state (4,000 units would make every step of the parent slower)."""
    from engine.services.org_units import active_people, active_units, evaluation_groups
    if "for_each_unit" in params:
        return [{"unit_code": u.code, "unit_name": u.name, "category": u.category, "branch_code": u.branch_code}
                for u in active_units(session, params["for_each_unit"])]
    if "for_each_person" in params:
        return [p._asdict() for p in active_people(session, params["for_each_person"],
                                                   params.get("categories") or DEFAULT_PERSON_CATEGORIES)]
    if params.get("for_each_group"):
        return evaluation_groups(session)
    return params.get("items")


def _child_data(base: dict, item, variable: str | None) -> dict:
    """A dict item without item_variable is merged into the child's data; anything else is stored
    under item_variable (default "item")."""
    if isinstance(item, dict) and variable is None:
        return {**base, **item}
    return {**base, (variable or "item"): item}


def _item_key(item) -> str | None:
    if isinstance(item, dict):
        item = item.get("key") or item.get("username") or item.get("group_code") or item.get("unit_code")
    return str(item) if isinstance(item, (str, int)) else None


@service_operators.register("kaohe/start_instances")
def start_instances(task, params: dict) -> dict:
    """Parameters: `process`; `items` (a list), `for_each_unit` (a list of unit categories, [] for
    all), `for_each_person` (a list of positions, [] for all; with `categories`, default production
    and non-production units) or `for_each_group` (true); optional `data` (shared by every child),
    `item_variable`, `title`."""
    from engine.services.deploy import latest_version
    spawn = _SPAWN.get()
    if spawn is None:
        raise ChildStartError("只能在 kaohe 服务中启动子流程 / child instances start only inside kaohe's services")
    rt, session, parent = spawn
    process_id = params.get("process")
    items = _items(session, params)
    if not isinstance(process_id, str) or not isinstance(items, (list, tuple)):
        raise ChildStartError("参数 process 须为流程编码，items 须为列表 / "
                              "parameter process must be a process id and items a list")
    if len(items) > rt.settings.max_children:  # KAOHE_MAX_CHILDREN: a runaway list must not plan millions
        raise ChildStartError(f"要启动 {len(items)} 个子流程，超过上限 {rt.settings.max_children}，一个也未启动 / "
                              f"{len(items)} child instances asked for, over the limit of {rt.settings.max_children}; "
                              "none was started")
    base = params.get("data") or {}
    element = task.task_spec.bpmn_id or task.task_spec.name
    version = latest_version(session, process_id)
    title = params.get("title") or version.name
    entries = []
    for item in items:
        key = _item_key(item)
        label = (item.get("person_name") or item.get("group_name") or item.get("unit_name") or key) \
            if isinstance(item, dict) else key
        entries.append({"data": _child_data(base, item, params.get("item_variable")),
                        "title": f"{title} · {label}" if label else title,
                        "business_key": f"{parent.business_key or parent.id}:{key}"[:128] if key else None})
    if entries:
        # Started in chunks after this transaction commits (engine/services/fan_out.py).
        try:
            fan_out.plan(rt, session, parent, element, version, entries)
        except fan_out.ItemDataError as error:
            raise ChildStartError(str(error)) from None
    return {"started": len(entries)}


def _finished_counts(session: Session, parent_id: int, element: str) -> tuple[int, int, int]:
    """(still open, completed, terminated) children of one spawning element."""
    open_, completed, terminated = execute(session, select(
        func.sum(case((ProcessInstance.status.in_(FINISHED), 0), else_=1)),
        func.sum(case((ProcessInstance.status == "completed", 1), else_=0)),
        func.sum(case((ProcessInstance.status == "terminated", 1), else_=0)))
        .where(ProcessInstance.parent_instance_id == parent_id, ProcessInstance.spawned_by == element)).one()
    return int(open_ or 0), int(completed or 0), int(terminated or 0)


def join(rt, session: Session, parent_id: int, element: str) -> InstanceRecord | None:
    """If every child of (parent, element) has started and finished, tell the parent; returns it if told."""
    from engine.services.events import deliver_in_session
    from engine.services.execution import lock_instance
    parent = lock_instance(session, parent_id)  # serialises siblings finishing at the same moment
    if parent.status not in ACTIVE_STATUSES or fan_out.running_for(session, parent_id, element):
        return None  # the launch's last chunk joins once every child exists
    still_open, completed, terminated = _finished_counts(session, parent_id, element)
    if still_open:
        return None
    message = f"{element}_done"
    try:
        deliver_in_session(rt, session, parent, message, {"completed": completed, "terminated": terminated},
                           "system")
    except InvalidState:
        # The parent does not wait for its children (e.g. a round that only tracks its rectifications):
        # the last child still completes; the trail says nobody was listening.
        audit.record(session, at=rt.clock.now(), actor="system", action="children_done", instance_id=parent_id,
                     subject=message, detail={"completed": completed, "terminated": terminated, "heard": False})
        return None
    return parent


def rejoin(rt, session: Session, parent: InstanceRecord, workflow) -> InstanceRecord:
    """A parent that was suspended or in error when its last child finished heard nothing then
    (join leaves inactive parents alone): once it is active again, tell it about every group of
    its children that is done and that it still waits for, or it would wait for ever.
    Returns the parent's latest record."""
    from engine.services.events import _waiting_definition
    if parent.status not in ACTIVE_STATUSES:
        return parent
    elements = session.scalars(select(ProcessInstance.spawned_by).distinct().where(
        ProcessInstance.parent_instance_id == parent.id, ProcessInstance.spawned_by.is_not(None))).all()
    for element in sorted(elements):
        if _waiting_definition(workflow, f"{element}_done") is not None:
            parent = join(rt, session, parent.id, element) or parent
    return parent


def after_save(rt, session: Session, instance: InstanceRecord, previous_status: str) -> None:
    """Called when an instance is saved: a child that has just finished may be the last one."""
    if instance.parent_instance_id and instance.status in FINISHED and previous_status not in FINISHED:
        join(rt, session, instance.parent_instance_id, instance.spawned_by)
