"""What the instance list and the instance page read: filtered, paged rows and one case's context.

The list reads only process_instance columns (period and unit_code are copied from the start
data), so it stays fast with 100,000 instances; who may see a row is one SQL condition, the same
rule as instances.may_view, never a check per row in Python. Only the page of one instance loads
its state (through instances.view)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from engine.models import HumanTask, OrgUnit, TaskCandidate, Person, ProcessInstance as PI, ProcessVersion
from engine.models.instance import ACTIVE_STATUSES, INSTANCE_STATUSES
from engine.runtime import Actor, Runtime
from engine.services import fan_out, instances, tasks

PAGE_SIZE = 50
MAX_PAGE = 2000  # deeper than 100,000 rows: narrow the filters instead of paging on
SEE_ALL = ("process_owner", "admin", "auditor")
CHILDREN_LISTED = 20  # a parent with more children links to the filtered list instead


def visible(actor: Actor) -> ColumnElement | None:
    """instances.may_view as a condition on process_instance (None: everything)."""
    if actor.has_role(*SEE_ALL):
        return None
    conditions = [PI.started_by == actor.username]
    if actor.person_id is not None:
        # Two IN lists, each served by its own index on human_task, rather than one OR scan.
        conditions.append(PI.id.in_(select(HumanTask.instance_id).where(HumanTask.assignee_id == actor.person_id)))
        conditions.append(PI.id.in_(select(HumanTask.instance_id)
                                    .where(HumanTask.completed_by_id == actor.person_id)))
        # Open tasks offered to the person, their roles or their unit (the inbox's own condition).
        conditions.append(PI.id.in_(select(HumanTask.instance_id).where(
            HumanTask.status == "open", HumanTask.assignee_id.is_(None),
            HumanTask.id.in_(select(TaskCandidate.task_id).where(tasks.candidate_match(actor))))))
    return or_(*conditions)


@dataclass(frozen=True)
class Filters:
    process_id: str | None = None
    status: str | None = None
    period: str | None = None
    unit_code: str | None = None
    text: str | None = None
    parent_id: int | None = None
    spawned_by: str | None = None
    page: int = 1
    per_page: int = PAGE_SIZE  # the page uses PAGE_SIZE; API clients may ask for other sizes

    def conditions(self) -> list:
        wanted = []
        if self.process_id:
            wanted.append(PI.process_id == self.process_id)
        if self.status == "active":
            wanted.append(PI.status.in_(ACTIVE_STATUSES))
        elif self.status in INSTANCE_STATUSES:
            wanted.append(PI.status == self.status)
        if self.period:
            wanted.append(PI.period == self.period)
        if self.unit_code:
            wanted.append(PI.unit_code == self.unit_code)
        if self.text:
            escaped = self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            wanted.append(or_(PI.title.like(f"%{escaped}%", escape="\\"), PI.business_key == self.text))
        if self.parent_id is not None:
            wanted.append(PI.parent_instance_id == self.parent_id)
        if self.spawned_by:
            wanted.append(PI.spawned_by == self.spawned_by)
        return wanted


@dataclass(frozen=True)
class InstanceRow:
    id: int
    title: str
    process_id: str
    process_name: str
    status: str
    business_key: str | None
    period: str | None
    unit_code: str | None
    unit_name: str | None
    created_at: datetime
    completed_at: datetime | None
    next_timer_at: datetime | None
    error_element: str | None
    parent_instance_id: int | None


@dataclass
class InstanceList:
    rows: list[InstanceRow]
    total: int
    page: int
    pages: int
    processes: list[tuple[str, str]] = field(default_factory=list)  # (process id, name) for the filter
    units: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    parent: tuple[int, str] | None = None


def _process_names(session: Session) -> dict[str, str]:
    """The latest name of every deployed process (a small table)."""
    latest = select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("v")) \
        .group_by(ProcessVersion.process_id).subquery()
    return dict(session.execute(select(ProcessVersion.process_id, ProcessVersion.name).join(
        latest, (latest.c.process_id == ProcessVersion.process_id) & (latest.c.v == ProcessVersion.version))).all())


def list_instances(rt: Runtime, actor: Actor, filters: Filters) -> InstanceList:
    """The instances the actor may see that match the filters, newest first, one page."""
    wanted = filters.conditions()
    scope = visible(actor)
    if scope is not None:
        wanted.append(scope)
    with rt.db.reading() as session:
        total = session.scalar(select(func.count()).select_from(PI).where(*wanted)) or 0
        size = max(1, filters.per_page)
        pages = max(1, min(MAX_PAGE, math.ceil(total / size)))
        page = min(max(1, filters.page), pages)
        found = session.execute(
            select(PI.id, PI.title, PI.process_id, PI.status, PI.business_key, PI.period, PI.unit_code, OrgUnit.name,
                   PI.created_at, PI.completed_at, PI.next_timer_at, PI.error_element, PI.parent_instance_id)
            .outerjoin(OrgUnit, OrgUnit.code == PI.unit_code).where(*wanted)
            .order_by(PI.id.desc()).limit(size).offset((page - 1) * size)).all()
        names = _process_names(session)
        rows = [InstanceRow(r.id, r.title, r.process_id, names.get(r.process_id, r.process_id), r.status,
                            r.business_key, r.period, r.unit_code, r.name, r.created_at, r.completed_at,
                            r.next_timer_at, r.error_element, r.parent_instance_id) for r in found]
        units = list(session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.active.is_(True))
                                     .order_by(OrgUnit.code)).all())
        parent = None
        if filters.parent_id is not None:  # its title only for those who may see the parent itself
            query = select(PI.title).where(PI.id == filters.parent_id)
            title = session.scalar(query.where(scope) if scope is not None else query)
            parent = (filters.parent_id, title) if title else None
        return InstanceList(rows, total, page, pages, sorted(names.items(), key=lambda item: item[1]),
                            [tuple(u) for u in units], parent)


@dataclass(frozen=True)
class Related:
    id: int
    title: str
    status: str


@dataclass
class ChildGroup:
    """The children one service task of the parent started, counted by status."""

    spawned_by: str
    counts: dict[str, int]
    total: int
    listed: list[Related]  # all of them when few, else none (the page links to the filtered list)


@dataclass
class InstancePage:
    view: instances.InstanceView
    process_name: str
    version: int
    parent: Related | None
    children: list[ChildGroup]
    shared_data: dict  # data every live branch has alike (or the instance's data)
    branches: list[tuple[str, str, dict]]  # (element, name, the data that differs), when several
    person_names: dict[int, str]
    actor_names: dict[str, str]
    # Copied from the start data onto the row (the record read for the engine leaves them out).
    period: str | None = None
    unit_code: str | None = None
    unit_name: str | None = None
    usernames: dict[int, str] = field(default_factory=dict)  # person id → username, of the task holders
    launches: list = field(default_factory=list)  # fan_out.Progress of the children its steps start

    @property
    def launching(self) -> bool:
        """Children still being started: the page refreshes itself until they all exist."""
        return any(launch.status == "running" for launch in self.launches)


def split_branches(view: instances.InstanceView) -> tuple[dict, list[tuple[str, str, dict]]]:
    """Data common to every live branch, and what each branch has of its own."""
    if len(view.branches) < 2:
        return view.data, []
    datas = [data for _e, _n, data in view.branches]
    shared = {k: v for k, v in datas[0].items() if all(k in d and d[k] == v for d in datas[1:])}
    return shared, [(element, name, {k: v for k, v in data.items() if k not in shared})
                    for element, name, data in view.branches]


def _children(session: Session, instance_id: int) -> list[ChildGroup]:
    counted = session.execute(select(PI.spawned_by, PI.status, func.count()).where(PI.parent_instance_id == instance_id)
                              .group_by(PI.spawned_by, PI.status)).all()
    groups: dict[str, ChildGroup] = {}
    for spawned_by, status, count in counted:
        group = groups.setdefault(spawned_by or "", ChildGroup(spawned_by or "", {}, 0, []))
        group.counts[status] = count
        group.total += count
    for group in groups.values():
        if group.total <= CHILDREN_LISTED:
            group.listed = [Related(*r) for r in session.execute(
                select(PI.id, PI.title, PI.status).where(PI.parent_instance_id == instance_id,
                                                         PI.spawned_by == (group.spawned_by or None))
                .order_by(PI.id)).all()]
    return sorted(groups.values(), key=lambda g: g.spawned_by)


def names_by_id(session: Session, person_ids) -> dict[int, str]:
    wanted = sorted({pid for pid in person_ids if pid is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(Person.id, Person.display_name).where(Person.id.in_(wanted))).all())


def usernames_by_id(session: Session, person_ids) -> dict[int, str]:
    wanted = sorted({pid for pid in person_ids if pid is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(Person.id, Person.username).where(Person.id.in_(wanted))).all())


def names_by_username(session: Session, usernames) -> dict[str, str]:
    wanted = sorted({name for name in usernames if name})
    if not wanted:
        return {}
    return dict(session.execute(select(Person.username, Person.display_name)
                                .where(Person.username.in_(wanted))).all())


def instance_page(rt: Runtime, instance_id: int, actor: Actor) -> InstancePage:
    """Everything the instance page shows, for whoever may view the instance (else PermissionDenied)."""
    view = instances.view(rt, instance_id, actor)
    record = view.instance
    shared, branches = split_branches(view)
    with rt.db.reading() as session:
        name, number = session.execute(select(ProcessVersion.name, ProcessVersion.version)
                                       .where(ProcessVersion.id == record.process_version_id)).one()
        parent = None
        if record.parent_instance_id is not None:
            row = session.execute(select(PI.id, PI.title, PI.status)
                                  .where(PI.id == record.parent_instance_id)).first()
            parent = Related(*row) if row else None
        people = [t.assignee_id for t in view.tasks] + [t.completed_by_id for t in view.tasks]
        period, unit_code, unit_name = session.execute(
            select(PI.period, PI.unit_code, OrgUnit.name).outerjoin(OrgUnit, OrgUnit.code == PI.unit_code)
            .where(PI.id == instance_id)).one()
        return InstancePage(view, name, number, parent, _children(session, instance_id), shared, branches,
                            names_by_id(session, people),
                            names_by_username(session, [record.started_by] + [e.actor for e in view.trail]),
                            period, unit_code, unit_name, usernames_by_id(session, people),
                            fan_out.progress_of(session, parent_id=instance_id))
