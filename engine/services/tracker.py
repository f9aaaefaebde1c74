"""The rectification tracker: who may see which problems, the filtered list, and one problem's page.

Everything listed comes from the tracker's read model (engine/models/tracking.py), never from
instance state: the list must stay fast with 10,000 problems. Only one problem's page loads its
instance, for the diagram."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from engine.bpmn.timers import waiting_timers
from engine.errors import NotFound, PermissionDenied
from engine.models import AuditEvent, HumanTask, OrgUnit, Person, ProcessInstance
from engine.models.tracking import STAGES, RectificationCase as Case, RectificationStep as Step
from engine.runtime import Actor, Runtime
from engine.services import keyset
from engine.services.execution import fetch_instance, load_workflow

PAGE_SIZE = 50
ROUND_PROCESS = "cross_inspection"  # problems remember the round that opened them (tracking._round_of)
# Who sees every problem; unit heads, branch secretaries and inspectors see theirs (see _scope).
SEE_ALL = ("auditor", "process_owner", "admin")
# Audit events worth a line in a problem's timeline besides its steps (completions are the steps).
TIMELINE_ACTIONS = ("timer_fired", "claim", "unclaim", "delegate", "suspend", "resume", "terminate", "retry",
                    "error", "upload")


def may_track(actor: Actor) -> bool:
    """Whether the tracker has anything for this person (the navigation asks)."""
    return actor.has_role(*SEE_ALL, "unit_head", "branch_secretary", "inspector")


def _scope(actor: Actor) -> ColumnElement | None:
    """The problems the actor may see, as a condition (None: all); PermissionDenied for others."""
    if actor.has_role(*SEE_ALL):
        return None
    conditions = []
    if actor.unit_id is not None and actor.has_role("unit_head"):
        conditions.append(Case.unit_id == actor.unit_id)
    if actor.unit_id is not None and actor.has_role("branch_secretary"):
        conditions.append(or_(Case.branch_id == actor.unit_id, Case.unit_id == actor.unit_id))
    if actor.has_role("inspector"):
        conditions.append(Case.inspector == actor.username)
    if not conditions:
        raise PermissionDenied("只有审计员、绩效办公室、责任单位正职和检查组成员可以查看整改台账",
                               "only auditors, the performance office, unit heads and inspectors see the tracker")
    return or_(*conditions)


def may_see_case(session: Session, actor: Actor, instance_id: int) -> bool:
    """Whether the problem of `instance_id` is in the actor's tracker (its files follow the same rule)."""
    try:
        scope = _scope(actor)
    except PermissionDenied:
        return False
    query = select(Case.id).where(Case.instance_id == instance_id)
    return session.scalar(query.where(scope) if scope is not None else query) is not None


@dataclass(frozen=True)
class Filters:
    round_id: int | None = None
    unit_id: int | None = None
    unit_code: str | None = None  # the API's clients know units by code, the page by id
    stage: str | None = None
    overdue: bool = False
    page: int = 1  # by number (OFFSET), for API clients; a cursor wins when both are given
    after: str | None = None  # cursors from a previous page (engine/services/keyset.py)
    before: str | None = None

    def conditions(self, now: datetime) -> list:
        wanted = []
        if self.round_id is not None:
            wanted.append(Case.round_instance_id == self.round_id)
        if self.unit_id is not None:
            wanted.append(Case.unit_id == self.unit_id)
        if self.unit_code is not None:
            wanted.append(Case.unit_code == self.unit_code)
        if self.stage == "open":
            wanted.append(Case.closed_at.is_(None))
        elif self.stage in STAGES:
            wanted.append(Case.stage == self.stage)
        if self.overdue:
            wanted.append(overdue_condition(now))
        return wanted


def overdue_condition(now: datetime):
    return and_(Case.closed_at.is_(None), Case.due_at < now)


def overdue_days(due_at: datetime | None, closed_at: datetime | None, now: datetime) -> int:
    """Whole days past the deadline, a started day counting as one; 0 when not overdue."""
    if due_at is None or closed_at is not None or due_at >= now:
        return 0
    return max(1, math.ceil((now - due_at).total_seconds() / 86400))


@dataclass(frozen=True)
class CaseRow:
    instance_id: int
    problem: str
    unit_code: str | None
    unit_name: str | None
    stage: str
    status: str
    due_at: datetime | None
    overdue_days: int
    severity: str | None
    source: str | None
    round_id: int | None
    round_title: str | None
    inspector: str | None
    evidence_count: int
    verified: bool | None
    reopened: int
    opened_at: datetime
    closed_at: datetime | None
    inspector_name: str | None = None


@dataclass
class CaseList:
    rows: list[CaseRow]
    total: int
    page: int  # the number asked for (1 when paging by cursor)
    has_next: bool
    stage_counts: dict[str, int]
    overdue_total: int
    rounds: list[tuple[int, str]] = field(default_factory=list)
    units: list[tuple[int, str]] = field(default_factory=list)
    has_prev: bool = False
    next_after: str | None = None
    prev_before: str | None = None


_ROW_COLUMNS = (Case.id, Case.instance_id, Case.problem, Case.unit_code, OrgUnit.name, Case.stage, Case.status,
                Case.due_at, Case.severity, Case.source, Case.round_instance_id, Case.inspector, Case.evidence_count,
                Case.verified, Case.reopened, Case.opened_at, Case.closed_at)
# Open problems first, most urgent deadline first, then open ones without a deadline, then the closed
# ones; the last two latest first. Each part reads one index in order (keyset.py): the first two
# (closed_at, due_at, id) or (unit_id, closed_at, due_at, id), the closed ones the primary key or
# (unit_id, id) backwards, as more than a third of all problems are closed.
SORT_TAG = "urgent"
SEGMENTS = [keyset.Segment((Case.closed_at.is_(None), Case.due_at.is_not(None)),
                           ((Case.due_at, False), (Case.id, False)), (Case.closed_at,)),
            keyset.Segment((Case.closed_at.is_(None), Case.due_at.is_(None)), ((Case.id, True),),
                           (Case.closed_at, Case.due_at)),
            keyset.Segment((Case.closed_at.is_not(None),), ((Case.id, True),))]


def titles_of(session: Session, instance_ids) -> dict[int, str]:
    wanted = sorted({i for i in instance_ids if i is not None})
    if not wanted:
        return {}
    return dict(session.execute(select(ProcessInstance.id, ProcessInstance.title)
                                .where(ProcessInstance.id.in_(wanted))).all())


def _rows(session: Session, found, now: datetime) -> list[CaseRow]:
    """The rows of a page as CaseRow, with round titles and inspectors' names (found: result rows)."""
    titles = titles_of(session, [r.round_instance_id for r in found])
    inspectors = sorted({r.inspector for r in found if r.inspector})
    names = dict(session.execute(select(Person.username, Person.display_name)
                                 .where(Person.username.in_(inspectors))).all()) if inspectors else {}
    return [CaseRow(r.instance_id, r.problem, r.unit_code, r.name, r.stage, r.status, r.due_at,
                    overdue_days(r.due_at, r.closed_at, now), r.severity, r.source, r.round_instance_id,
                    titles.get(r.round_instance_id), r.inspector, r.evidence_count, r.verified, r.reopened,
                    r.opened_at, r.closed_at, names.get(r.inspector)) for r in found]


def visible(actor: Actor, filters: Filters, now: datetime) -> list:
    """The WHERE conditions of the actor's view with the filters (PermissionDenied if none)."""
    scope = _scope(actor)
    return ([scope] if scope is not None else []) + filters.conditions(now)


def list_query(where: list):
    """The problems' SELECT without order and limit (keyset.py adds them per segment)."""
    return select(*_ROW_COLUMNS).outerjoin(OrgUnit, OrgUnit.id == Case.unit_id).where(*where)


def first_statement(actor: Actor, filters: Filters, now: datetime, page_size: int = PAGE_SIZE):
    """The statement that reads the first segment of the asked page (what bench/tracker_list.py explains)."""
    start = keyset.decode(filters.after, SORT_TAG, SEGMENTS)
    return keyset.segment_query(list_query(visible(actor, filters, now)), SEGMENTS[start.segment if start else 0],
                                start, page_size + 1)


def _window(session: Session, where: list, filters: Filters, page_size: int) -> keyset.Window:
    after = keyset.decode(filters.after, SORT_TAG, SEGMENTS)
    before = None if after else keyset.decode(filters.before, SORT_TAG, SEGMENTS)
    if after is None and before is None and filters.page > 1:
        return keyset.fetch_offset(session, list_query(where), SEGMENTS, SORT_TAG, page_size, filters.page)
    return keyset.fetch(session, list_query(where), SEGMENTS, SORT_TAG, page_size, after=after, before=before)


def _count(session: Session, *where) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(*where)) or 0


def _total(session: Session, filters: Filters, where: list, counts: dict, overdue_total: int) -> int:
    """How many problems the filters match. Without filters, or with only a stage or only "overdue",
    it follows from the per-stage counts the chips show anyway; otherwise the filter is a round, a unit
    or a stage within them, whose index narrows the COUNT to that subset (never the whole table)."""
    narrowing = (filters.round_id, filters.unit_id, filters.unit_code, filters.stage, filters.overdue)
    if not any(narrowing):
        return sum(counts.values())
    if filters.stage in STAGES and not any(narrowing[:3]) and not filters.overdue:
        return counts.get(filters.stage, 0)
    if filters.overdue and not any(narrowing[:4]):
        return overdue_total
    return _count(session, *where)


def _choices(session: Session, scope) -> tuple[list, list]:
    """Rounds (newest first) and units that have a problem in view, to filter by. For the office, one
    index probe per round / unit (short lists) rather than a DISTINCT over every problem; for a scoped
    person, a DISTINCT over their own problems (their index bounds it)."""
    rounds_of = select(ProcessInstance.id, ProcessInstance.title).where(ProcessInstance.process_id == ROUND_PROCESS)
    units_of = select(OrgUnit.id, OrgUnit.name)
    if scope is None:
        rounds_of = rounds_of.where(select(Case.id).where(Case.round_instance_id == ProcessInstance.id).exists())
        units_of = units_of.where(select(Case.id).where(Case.unit_id == OrgUnit.id).exists())
    else:
        rounds_of = rounds_of.where(ProcessInstance.id.in_(select(Case.round_instance_id).where(scope).distinct()))
        units_of = units_of.where(OrgUnit.id.in_(select(Case.unit_id).where(scope).distinct()))
    rounds = session.execute(rounds_of.order_by(ProcessInstance.id.desc())).all()
    units = session.execute(units_of.order_by(OrgUnit.code)).all()
    return [tuple(r) for r in rounds], [tuple(u) for u in units]


def list_cases(rt: Runtime, actor: Actor, filters: Filters | None = None, page_size: int = PAGE_SIZE) -> CaseList:
    """One page of the problems the actor may see, with counts for the filters. Pages continue by
    cursor (`after` / `before`); a `page` number past the end gives no rows (API clients page until
    `has_next` is false and must not get the same rows twice)."""
    now = rt.clock.now()
    filters = filters or Filters()
    where = visible(actor, filters, now)
    scope = _scope(actor)
    in_scope = [scope] if scope is not None else []
    with rt.db.reading() as session:
        window = _window(session, where, filters, page_size)
        rows = _rows(session, window.rows, now)
        # The chips count everything in view whatever the page: read from indexes alone ((stage, id),
        # (closed_at, due_at, id)); the total then mostly follows from them (_total).
        counts = dict(session.execute(select(Case.stage, func.count()).where(*in_scope).group_by(Case.stage)).all())
        overdue_total = _count(session, *in_scope, overdue_condition(now))
        total = _total(session, filters, where, counts, overdue_total)
        rounds, units = _choices(session, scope)
    return CaseList(rows, total, filters.page if not (filters.after or filters.before) else 1, window.has_next,
                    counts, overdue_total, rounds, units,
                    window.has_prev, window.next_cursor, window.prev_cursor)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "step" (the opening or a completed task) or an audit action
    name: str
    actor: str | None
    actor_name: str | None
    fields: list  # [key, title, value]
    detail: dict


@dataclass
class CaseDetail:
    case: CaseRow
    instance: ProcessInstance
    timeline: list[TimelineEntry]
    open_tasks: list[tuple[str, datetime | None, str | None]]  # name, due, assignee's name
    timers: list[tuple[str, datetime]]
    completed_elements: list[str]
    active_elements: list[str]


def _case_row(session: Session, actor: Actor, instance_id: int, now: datetime) -> CaseRow:
    scope = _scope(actor)
    query = select(*_ROW_COLUMNS).outerjoin(OrgUnit, OrgUnit.id == Case.unit_id).where(Case.instance_id == instance_id)
    rows = _rows(session, session.execute(query.where(scope) if scope is not None else query).all(), now)
    if rows:
        return rows[0]
    if session.scalar(select(Case.id).where(Case.instance_id == instance_id)) is None:
        raise NotFound(f"整改问题 {instance_id} 不存在", f"problem {instance_id} does not exist")
    raise PermissionDenied("无权查看此整改问题", "you may not see this problem")


def case_version(rt: Runtime, actor: Actor, instance_id: int) -> tuple[int, str]:
    """(process version id, process id) of a problem the actor may see, for its diagram."""
    with rt.db.reading() as session:
        _case_row(session, actor, instance_id, rt.clock.now())
        row = session.execute(select(ProcessInstance.process_version_id, ProcessInstance.process_id)
                              .where(ProcessInstance.id == instance_id)).one()
        return row.process_version_id, row.process_id


def case_detail(rt: Runtime, actor: Actor, instance_id: int) -> CaseDetail:
    """One problem: its row, every step with what was submitted, other events, and its diagram state."""
    now = rt.clock.now()
    with rt.db.reading() as session:
        case = _case_row(session, actor, instance_id, now)
        timeline = [TimelineEntry(s.at, "step", s.name, s.actor, s.actor_name, json.loads(s.fields), {})
                    for s in session.scalars(select(Step).where(Step.instance_id == instance_id).order_by(Step.id))]
        events = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id,
                                                          AuditEvent.action.in_(TIMELINE_ACTIONS))
                                 .order_by(AuditEvent.id)).all()
        names = dict(session.execute(select(Person.username, Person.display_name).where(
            Person.username.in_(sorted({e.actor for e in events})))).all()) if events else {}
        timeline += [TimelineEntry(e.occurred_at, e.action, e.subject or "", e.actor, names.get(e.actor), [],
                                   json.loads(e.detail or "{}")) for e in events]
        timeline.sort(key=lambda entry: entry.at)
        open_tasks = session.execute(
            select(HumanTask.name, HumanTask.due_at, Person.display_name)
            .outerjoin(Person, Person.id == HumanTask.assignee_id)
            .where(HumanTask.instance_id == instance_id, HumanTask.status.in_(("open", "suspended")))
            .order_by(HumanTask.id)).all()
        instance = session.get(ProcessInstance, instance_id)
        workflow, _loaded = load_workflow(rt, session, fetch_instance(session, instance_id))
        done = workflow.get_tasks(state=TaskState.COMPLETED)
        active = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR)
        session.expunge(instance)
    return CaseDetail(case, instance, timeline, [tuple(t) for t in open_tasks], waiting_timers(workflow),
                      sorted({t.task_spec.bpmn_id for t in done if t.task_spec.bpmn_id}),
                      sorted({t.task_spec.bpmn_id for t in active if t.task_spec.bpmn_id}))
