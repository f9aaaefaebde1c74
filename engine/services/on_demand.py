"""Processes people start themselves when work comes up: a check record after a daily check, an
instruction card, an inspection round.

Who may start a process is written in its diagram, so a process owner changes it without a
programmer: the start event's property `startableBy` names roles (codes or their Chinese names,
separated by commas), e.g.

    <bpmn:startEvent id="start" name="发起检查记录">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="startableBy" value="检查组成员, 考核组组长, 考核组成员"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:startEvent>

The performance office may start every such process. A process without the property is started
only by kaohe itself (the calendar, a parent cycle) or through the API with its start data. A
process started here gets no data: its first task asks the starter for the content.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from sqlalchemy import func, select

from engine.errors import PermissionDenied
from engine.models import Person, ProcessVersion
from engine.runtime import Actor, Runtime
from engine.services import instances
from engine.services.deploy import latest_version
from engine.services.projection import ROLE_BY_NAME

STARTABLE_PROPERTY = "startableBy"
ALWAYS = ("process_owner",)


@dataclass(frozen=True)
class StartableProcess:
    process_id: str
    name: str
    roles: frozenset[str]


def startable_roles(spec) -> frozenset[str]:
    """The role codes a process's start event names in `startableBy` (empty: not startable on demand)."""
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, StartEvent):
            value = (getattr(task_spec, "extensions", None) or {}).get("properties", {}).get(STARTABLE_PROPERTY)
            if value:
                return frozenset(ROLE_BY_NAME.get(name.strip(), name.strip())
                                 for name in re.split(r"[,，、\s]+", value) if name.strip())
    return frozenset()


def _may_start(actor: Actor, roles: frozenset[str]) -> bool:
    return bool(roles) and actor.has_role(*ALWAYS, *roles)


def _latest_versions(session) -> list[ProcessVersion]:
    newest = (select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("version"))
              .group_by(ProcessVersion.process_id).subquery())
    return list(session.scalars(select(ProcessVersion).join(
        newest, (newest.c.process_id == ProcessVersion.process_id) & (newest.c.version == ProcessVersion.version))
        .order_by(ProcessVersion.process_id)))


def startable(rt: Runtime, actor: Actor) -> list[StartableProcess]:
    """The processes `actor` may start now, latest versions, by process id."""
    with rt.db.reading() as session:
        found = []
        for version in _latest_versions(session):
            roles = startable_roles(rt.specs.get(session, version.id).spec)
            if _may_start(actor, roles):
                found.append(StartableProcess(version.process_id, version.name, roles))
        return found


def start(rt: Runtime, process_id: str, actor: Actor, display_name: str | None = None) -> int:
    """Start the latest version of `process_id` for `actor` with no data; refused unless allowed."""
    with rt.db.unit_of_work() as session:
        version = latest_version(session, process_id)  # NotFound when it was never deployed
        # Checked on the very version that starts, so a deployment in between cannot widen it.
        if not _may_start(actor, startable_roles(rt.specs.get(session, version.id).spec)):
            raise PermissionDenied("你无权发起此流程", "you may not start this process")
        if display_name is None and actor.person_id is not None:  # an API call names no one: look it up
            display_name = session.scalar(select(Person.display_name).where(Person.id == actor.person_id))
        title = f"{version.name} · {display_name or actor.username}"
        return instances.start_in_session(rt, session, version, actor.username, data={}, title=title,
                                            audited_as=actor.audit_name).id
