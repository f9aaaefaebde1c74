"""The inbox page's read model: my open tasks and my groups', filtered, sorted and paged.

Reads only the human_task projection (plus names for the one page shown). The set of tasks a person
may see is found from the candidate indexes first (a union of "assigned to me" and "offered to my
person, roles or unit"), so the cost follows the size of that set, not of the table: a person of
staff with 100,000 open tasks in the database reads a handful of rows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.orm import Session

from engine.models import HumanTask, OrgUnit, ProcessInstance, ProcessVersion, TaskCandidate
from engine.runtime import Actor, Runtime
from engine.services.tasks import candidate_match

PAGE_SIZES = (20, 50, 100)
SCOPES = ("all", "mine", "groups")  # all = mine + my groups'
SORTS = ("due", "newest", "oldest")
DAY_SECONDS = 86400


@dataclass(frozen=True)
class InboxQuery:
    """What the person asked for; `normalised()` makes any input safe to run."""

    scope: str = "all"
    process: str | None = None
    unit: str | None = None
    period: str | None = None
    overdue: bool = False
    sort: str = "due"
    page: int = 1
    per_page: int = PAGE_SIZES[0]

    def normalised(self) -> "InboxQuery":
        def text(value, length):
            value = (value or "").strip()[:length]
            return value or None
        return replace(self, scope=self.scope if self.scope in SCOPES else "all",
                       sort=self.sort if self.sort in SORTS else "due",
                       process=text(self.process, 128), unit=text(self.unit, 64), period=text(self.period, 32),
                       page=max(1, min(int(self.page or 1), 10_000)),
                       per_page=self.per_page if self.per_page in PAGE_SIZES else PAGE_SIZES[0])


@dataclass(frozen=True)
class InboxRow:
    id: int
    name: str
    instance_id: int
    instance_title: str
    process_id: str | None
    process_name: str | None
    unit_code: str | None
    unit_name: str | None
    period: str | None
    created_at: datetime
    due_at: datetime | None
    overdue_days: int  # 0 when not overdue; counted in started days (one hour late = 1 day)
    mine: bool  # assigned to me (claimed or delegated to me); otherwise offered to my groups


@dataclass(frozen=True)
class InboxPage:
    query: InboxQuery
    rows: list[InboxRow]
    has_next: bool
    processes: list[tuple[str, str]] = field(default_factory=list)  # (process id, name) to filter by
    units: list[tuple[str, str]] = field(default_factory=list)  # (unit code, name)


def _offered_ids(actor: Actor):
    """Ids of tasks a candidate row offers to this person, one of their roles (in their unit) or their unit."""
    return select(TaskCandidate.task_id).where(candidate_match(actor))


def visible_ids(actor: Actor, scope: str):
    """The ids of the open tasks in the person's inbox, as a subquery (indexes only)."""
    mine = select(HumanTask.id).where(HumanTask.assignee_id == actor.person_id, HumanTask.status == "open")
    if scope == "mine":
        return mine
    if scope == "groups":
        return _offered_ids(actor)
    return union(mine, _offered_ids(actor))


def task_list_query(actor: Actor, query: InboxQuery, now: datetime):
    """The SELECT behind one page (also what bench/inbox_list.py explains)."""
    task = HumanTask
    # Offered tasks count only while nobody holds them; mine are those assigned to me.
    held_ok = task.assignee_id == actor.person_id if query.scope == "mine" else (
        task.assignee_id.is_(None) if query.scope == "groups" else
        or_(task.assignee_id.is_(None), task.assignee_id == actor.person_id))
    conditions = [task.id.in_(visible_ids(actor, query.scope)), task.status == "open", held_ok]
    if query.process:
        conditions.append(task.process_id == query.process)
    if query.unit:
        conditions.append(task.unit_code == query.unit)
    if query.period:
        conditions.append(task.period == query.period)
    if query.overdue:
        conditions.append(task.due_at < now)
    order = {"due": (task.due_at.is_(None), task.due_at, task.id),
             "newest": (task.created_at.desc(), task.id.desc()),
             "oldest": (task.created_at, task.id)}[query.sort]
    return (select(task.id, task.name, task.instance_id, task.process_id, task.unit_code, task.period,
                   task.created_at, task.due_at, task.assignee_id)
            .where(*conditions).order_by(*order)
            .limit(query.per_page + 1).offset((query.page - 1) * query.per_page))


def overdue_days(due_at: datetime | None, now: datetime) -> int:
    if due_at is None or due_at >= now:
        return 0
    return max(1, math.ceil((now - due_at).total_seconds() / DAY_SECONDS))


def _names(session: Session, rows) -> tuple[dict, dict, dict]:
    """Titles, process names and unit names for the rows of one page (three small lookups)."""
    instance_ids = sorted({r.instance_id for r in rows})
    titles, version_of = {}, {}
    if instance_ids:
        for iid, title, version_id in session.execute(select(
                ProcessInstance.id, ProcessInstance.title, ProcessInstance.process_version_id)
                .where(ProcessInstance.id.in_(instance_ids))):
            titles[iid], version_of[iid] = title, version_id
    version_names: dict = {}
    if version_of:
        version_names = dict(session.execute(select(ProcessVersion.id, ProcessVersion.name).where(
            ProcessVersion.id.in_(sorted(set(version_of.values()))))).all())
    process_names = {iid: version_names.get(vid) for iid, vid in version_of.items()}
    codes = sorted({r.unit_code for r in rows if r.unit_code})
    units = dict(session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(codes))).all()) \
        if codes else {}
    return titles, process_names, units


def _choices(session: Session) -> tuple[list, list]:
    """Processes (latest name per deployed process) and active units to filter by: small tables."""
    latest = select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("v")) \
        .group_by(ProcessVersion.process_id).subquery()
    processes = session.execute(select(ProcessVersion.process_id, ProcessVersion.name).join(
        latest, and_(latest.c.process_id == ProcessVersion.process_id, latest.c.v == ProcessVersion.version))
        .order_by(ProcessVersion.name)).all()
    units = session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.active.is_(True))
                            .order_by(OrgUnit.code)).all()
    return [tuple(p) for p in processes], [tuple(u) for u in units]


def page(rt: Runtime, actor: Actor, query: InboxQuery, *, with_choices: bool = True) -> InboxPage:
    """One page of the inbox; `has_next` says whether another page follows (no COUNT over the set)."""
    query = query.normalised()
    now = rt.clock.now()
    with rt.db.reading() as session:
        found = session.execute(task_list_query(actor, query, now)).all()
        rows, has_next = found[:query.per_page], len(found) > query.per_page
        titles, process_names, units = _names(session, rows)
        processes, unit_choices = _choices(session) if with_choices else ([], [])
    result = [InboxRow(r.id, r.name, r.instance_id, titles.get(r.instance_id, ""), r.process_id,
                       process_names.get(r.instance_id), r.unit_code, units.get(r.unit_code), r.period,
                       r.created_at, r.due_at, overdue_days(r.due_at, now),
                       r.assignee_id is not None and r.assignee_id == actor.person_id) for r in rows]
    return InboxPage(query, result, has_next, processes, unit_choices)

