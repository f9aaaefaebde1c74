"""The inbox page's read model: my open tasks and my groups', filtered, sorted and paged.

Reads only the human_task projection (plus names for the one page shown), one page at a time by
keyset (engine/services/keyset.py): the next page continues after the last task's sort key, so a
deep page costs what the first one does. Which tasks a person may see is found one of two ways,
chosen by measuring (cheaply) how many candidate rows name the person, their roles or unit:
- few (a member of staff, a unit head of a small unit): from the candidate indexes first, "offered
  to me" (a list of ids) or "assigned to me", then sorted: the cost follows the person's own share;
- many (the office, offered every process owner's task): along the open tasks' sort index, keeping
  those a candidate row offers to the person: the cost follows the page size, as a large share of
  the open tasks is theirs. The planners cannot tell the two apart from a three-way OR, hence the probe.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import ARRAY, Integer, and_, any_, bindparam, exists, func, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from engine.models import HumanTask, OrgUnit, ProcessInstance, ProcessVersion, TaskCandidate
from engine.runtime import Actor, Runtime
from engine.services import keyset
from engine.services.tasks import candidate_match

PAGE_SIZES = (20, 50, 100)
SCOPES = ("all", "mine", "groups")  # all = mine + my groups'
SORTS = ("due", "newest", "oldest")
DAY_SECONDS = 86400
# Above this many candidate rows naming the person the inbox walks the open tasks in order instead
# (bench/inbox_list.py: a unit head named by 7,500 rows walks; the office, named by 150,000, too).
BROAD_OFFERS = 5000

_TASK = HumanTask
# Each sort as keyset segments (see keyset.py); "due" puts tasks without a due time last.
SEGMENTS = {
    "due": [keyset.Segment((_TASK.due_at.is_not(None),), ((_TASK.due_at, False), (_TASK.id, False))),
            keyset.Segment((_TASK.due_at.is_(None),), ((_TASK.id, False),), (_TASK.due_at,))],
    "newest": [keyset.Segment((), ((_TASK.created_at, True), (_TASK.id, True)))],
    "oldest": [keyset.Segment((), ((_TASK.created_at, False), (_TASK.id, False)))],
}


@dataclass(frozen=True)
class InboxQuery:
    """What the person asked for; `normalised()` makes any input safe to run.

    `after` / `before` are cursors from a previous page (keyset.encode); `page` is only for API
    clients that page by number and is ignored when a cursor is given."""

    scope: str = "all"
    process: str | None = None
    unit: str | None = None
    period: str | None = None
    overdue: bool = False
    sort: str = "due"
    page: int = 1
    per_page: int = PAGE_SIZES[0]
    after: str | None = None
    before: str | None = None

    def normalised(self) -> "InboxQuery":
        def text(value, length):
            value = (value or "").strip()[:length]
            return value or None
        sort = self.sort if self.sort in SORTS else "due"
        after = keyset.decode(self.after, sort, SEGMENTS[sort]) and self.after
        before = None if after else keyset.decode(self.before, sort, SEGMENTS[sort]) and self.before
        return replace(self, scope=self.scope if self.scope in SCOPES else "all", sort=sort,
                       process=text(self.process, 128), unit=text(self.unit, 64), period=text(self.period, 32),
                       page=max(1, min(int(self.page or 1), 10_000)),
                       per_page=self.per_page if self.per_page in PAGE_SIZES else PAGE_SIZES[0],
                       after=after or None, before=before or None)

    @property
    def first_page(self) -> bool:
        return not (self.after or self.before) and self.page == 1


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
    has_prev: bool = False
    next_after: str | None = None  # cursor of the next page
    prev_before: str | None = None  # cursor of the previous page


def _offer_branches(actor: Actor) -> list:
    """candidate_match's terms as separate SELECTs of task ids, each one index range read alone."""
    found = TaskCandidate.task_id
    branches = [select(found).where(TaskCandidate.person_id == actor.person_id)] if actor.person_id else []
    if actor.roles:
        roles = TaskCandidate.role.in_(sorted(actor.roles))
        branches.append(select(found).where(roles, TaskCandidate.unit_id.is_(None)))
        if actor.unit_id is not None:
            branches.append(select(found).where(roles, TaskCandidate.unit_id == actor.unit_id))
    if actor.unit_id is not None:
        branches.append(select(found).where(TaskCandidate.unit_id == actor.unit_id, TaskCandidate.role.is_(None),
                                            TaskCandidate.person_id.is_(None)))
    return branches


def offered_task_ids(session: Session, actor: Actor) -> list[int] | None:
    """Ids of the tasks candidate rows offer to the person (open or not), or None when there are more
    than BROAD_OFFERS (reads at most that many index entries, from the covering indexes of
    task_candidate). Handed to the list query as a list of numbers, so both planners know how few
    they are (from a subquery PostgreSQL guessed 200,000 and walked every open task)."""
    branches = _offer_branches(actor)
    if not branches:
        return []
    ids = session.scalars(union_all(*branches).limit(BROAD_OFFERS + 1)).all()
    return None if len(ids) > BROAD_OFFERS else sorted(set(ids))


def _among(ids: list[int], dialect: str):
    """human_task.id among `ids`, sent as ONE parameter (an array; JSON text on SQLite): as a list of
    1,500 bound numbers it cost 20 ms in SQLAlchemy and psycopg alone, more than the query."""
    if dialect == "postgresql":
        return HumanTask.id == any_(bindparam("offered", ids, type_=ARRAY(Integer)))
    return HumanTask.id.in_(select(literal_column("value")).select_from(
        func.json_each(bindparam("offered", json.dumps(ids)))).scalar_subquery())


def offers_are_broad(session: Session, actor: Actor) -> bool:
    return offered_task_ids(session, actor) is None


def task_list_query(actor: Actor, query: InboxQuery, now: datetime, offered: list[int] | None = None,
                    dialect: str = "sqlite"):
    """The SELECT behind the list, without order and limit (keyset.py adds them per segment).
    `offered`: the ids offered_task_ids found, or None to walk the open tasks testing each one's offers."""
    task = HumanTask
    mine = task.assignee_id == actor.person_id
    # "Nobody holds it, or I do" as an expression on the column rather than an OR of two index ranges:
    # given the OR, SQLite reads every unclaimed open task through the assignee index and sorts them.
    held_ok = (func.coalesce(task.assignee_id, 0) == 0 if query.scope == "groups"
               else func.coalesce(task.assignee_id, actor.person_id or 0) == (actor.person_id or 0))
    # Where the person's tasks are few, "open" is tested on each of them, not used as an index prefix:
    # offered it, both planners walked all 100,000 open tasks in due order to fill a page of 20
    # (170 ms for "mine only" on SQLite) rather than sort the person's hundred.
    only_open = func.coalesce(task.status, "") == "open"
    if query.scope == "mine":
        conditions = [mine, only_open]
    elif offered is None:
        offers = exists().where(TaskCandidate.task_id == task.id, candidate_match(actor))
        conditions = [task.status == "open", held_ok,
                      offers if query.scope == "groups" else or_(task.assignee_id.is_not(None), offers)]
    else:
        among = _among(offered, dialect)
        conditions = [among if query.scope == "groups" else or_(among, mine), only_open, held_ok]
    if query.process:
        conditions.append(task.process_id == query.process)
    if query.unit:
        conditions.append(task.unit_code == query.unit)
    if query.period:
        conditions.append(task.period == query.period)
    if query.overdue:
        conditions.append(task.due_at < now)
    return select(task.id, task.name, task.instance_id, task.process_id, task.unit_code, task.period,
                  task.created_at, task.due_at, task.assignee_id).where(*conditions)


def first_statement(session: Session, actor: Actor, query: InboxQuery, now: datetime):
    """The statement that reads the first segment of the asked page (what bench/inbox_list.py explains)."""
    query = query.normalised()
    segments = SEGMENTS[query.sort]
    base = task_list_query(actor, query, now, None if query.scope == "mine" else offered_task_ids(session, actor),
                           session.get_bind().dialect.name)
    start = keyset.decode(query.after, query.sort, segments)
    return keyset.segment_query(base, segments[start.segment if start else 0], start, query.per_page + 1)


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


def _window(session: Session, actor: Actor, query: InboxQuery, now: datetime) -> keyset.Window:
    segments = SEGMENTS[query.sort]
    base = task_list_query(actor, query, now, None if query.scope == "mine" else offered_task_ids(session, actor),
                           session.get_bind().dialect.name)
    after = keyset.decode(query.after, query.sort, segments)
    before = keyset.decode(query.before, query.sort, segments)
    if after is None and before is None and query.page > 1:
        return keyset.fetch_offset(session, base, segments, query.sort, query.per_page, query.page)
    return keyset.fetch(session, base, segments, query.sort, query.per_page, after=after, before=before)


def page(rt: Runtime, actor: Actor, query: InboxQuery, *, with_choices: bool = True) -> InboxPage:
    """One page of the inbox; `has_next` says whether another page follows (no COUNT over the set)."""
    query = query.normalised()
    now = rt.clock.now()
    with rt.db.reading() as session:
        window = _window(session, actor, query, now)
        rows = window.rows
        titles, process_names, units = _names(session, rows)
        processes, unit_choices = _choices(session) if with_choices else ([], [])
    result = [InboxRow(r.id, r.name, r.instance_id, titles.get(r.instance_id, ""), r.process_id,
                       process_names.get(r.instance_id), r.unit_code, units.get(r.unit_code), r.period,
                       r.created_at, r.due_at, overdue_days(r.due_at, now),
                       r.assignee_id is not None and r.assignee_id == actor.person_id) for r in rows]
    return InboxPage(query, result, window.has_next, processes, unit_choices, window.has_prev,
                     window.next_cursor, window.prev_cursor)
