"""A cross-inspection round (workflows/cross_inspection.bpmn) as its page shows it: who inspects
which unit, how far the visits are, what the feedback session found, the questionnaire, and how
many of the round's problems are closed (from the rectification tracker's table); and the list of
rounds a person may open. A round is an instance of the `cross_inspection` process."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from engine.errors import NotFound, PermissionDenied
from engine.models import OrgUnit, ProcessInstance
from engine.models.tracking import RectificationCase as Case
from engine.runtime import Actor, Runtime
from engine.services import instances
from engine.services.execution import fetch_instance, load_workflow
from engine.services.tracker import SEE_ALL, overdue_condition
from engine.services.tracking import case_data

ROUND_PROCESS, VISIT_PROCESS = "cross_inspection", "inspection_visit"
VISIT_DONE = ("completed", "terminated")  # a visit that will not change any more


@dataclass
class Group:
    code: str
    name: str
    members: list[str]
    units: list[str]  # the units it inspects


@dataclass
class RoundView:
    instance: ProcessInstance
    data: dict
    approved: bool  # the organiser approved the assignment (visits were started)
    groups: list[Group]
    units: list[str]
    unit_names: dict[str, str]
    inspected_by: dict[str, str]  # unit code -> group code
    visit_status: dict[str, str]  # unit code -> visit instance status
    visits_done: int
    visits_total: int
    findings: list[dict]
    questionnaire: list[dict]
    problems_total: int = 0
    problems_closed: int = 0
    problems_overdue: int = 0
    stage_counts: dict[str, int] = field(default_factory=dict)

    @property
    def closed_percent(self) -> float:
        return round(self.problems_closed * 100 / self.problems_total, 1) if self.problems_total else 0.0

    @property
    def visits_percent(self) -> float:
        return round(self.visits_done * 100 / self.visits_total, 1) if self.visits_total else 0.0


def _may_see(session, record, actor: Actor, groups: dict) -> bool:
    return actor.has_role(*SEE_ALL) or instances.may_view(session, record, actor) or _member(actor, groups)


def _member(actor: Actor, groups: dict) -> bool:
    return any(actor.username in (g.get("members") or []) for g in groups.values() if isinstance(g, dict))


def _groups_of(data: dict) -> dict:
    return data.get("groups") if isinstance(data.get("groups"), dict) else {}


def _visible_round(rt: Runtime, session, record, actor: Actor) -> bool:
    """round_view's rule; the round's state is loaded only when the cheap checks say no, because
    group membership is known only from the round's data."""
    if actor.has_role(*SEE_ALL) or instances.may_view(session, record, actor):
        return True
    workflow, _loaded = load_workflow(rt, session, record)
    return _member(actor, _groups_of(case_data(workflow)))


def _not_a_round(instance_id: int) -> NotFound:
    return NotFound(f"交叉检查轮次 {instance_id} 不存在", f"cross-inspection round {instance_id} does not exist")


def require_round(rt: Runtime, instance_id: int) -> None:
    """NotFound unless the id names a round. Its problems are listed by the tracker's own rule (a unit
    head sees their unit's problems of a round whose page they may not open), so nothing more here."""
    with rt.db.reading() as session:
        found = session.scalar(select(ProcessInstance.process_id).where(ProcessInstance.id == instance_id))
    if found != ROUND_PROCESS:
        raise _not_a_round(instance_id)


def round_view(rt: Runtime, actor: Actor, instance_id: int) -> RoundView:
    """The round's page: its data read from its own instance, the visits and problems from their tables."""
    with rt.db.reading() as session:
        record = fetch_instance(session, instance_id)
        if record.process_id != ROUND_PROCESS:
            raise _not_a_round(instance_id)
        workflow, _loaded = load_workflow(rt, session, record)
        data = case_data(workflow)
        raw_groups = _groups_of(data)
        if not _may_see(session, record, actor, raw_groups):
            raise PermissionDenied("无权查看此交叉检查轮次", "you may not see this cross-inspection round")
        assignment = data.get("assignment") if isinstance(data.get("assignment"), dict) else {}
        groups = [Group(code, str(g.get("name") or code), list(g.get("members") or []), list(assignment.get(code) or []))
                  for code, g in raw_groups.items() if isinstance(g, dict)]
        units = [str(u) for u in data.get("units") or []]
        inspected_by = {unit: group.code for group in groups for unit in group.units}
        visits = session.execute(select(ProcessInstance.business_key, ProcessInstance.status).where(
            ProcessInstance.parent_instance_id == instance_id, ProcessInstance.process_id == VISIT_PROCESS)).all()
        # A visit's business key ends with its unit's code (engine/services/children.py names them so).
        visit_status = {(key or "").rsplit(":", 1)[-1]: status for key, status in visits}
        unit_names = dict(session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(units))).all()) \
            if units else {}
        counts = dict(session.execute(select(Case.stage, func.count()).where(Case.round_instance_id == instance_id)
                                      .group_by(Case.stage)).all())
        overdue = session.scalar(select(func.count()).select_from(Case).where(
            Case.round_instance_id == instance_id, overdue_condition(rt.clock.now())))
        instance = session.get(ProcessInstance, instance_id)
        session.expunge(instance)
    findings = [f for f in data.get("findings") or [] if isinstance(f, dict)] if "feedback_summary" in data else []
    return RoundView(instance, data, "visits" in data, groups, units, unit_names, inspected_by, visit_status,
                     sum(1 for s in visit_status.values() if s in VISIT_DONE), len(visit_status),
                     findings, [q for q in data.get("questionnaire_results") or [] if isinstance(q, dict)],
                     sum(counts.values()), counts.get("closed", 0), overdue or 0, counts)


@dataclass(frozen=True)
class RoundRow:
    id: int
    title: str
    status: str
    started_by: str
    created_at: datetime
    completed_at: datetime | None
    visits_done: int
    visits_total: int
    problems_total: int
    problems_closed: int
    problems_overdue: int


@dataclass
class RoundList:
    rows: list[RoundRow]
    total: int
    page: int
    per_page: int

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_rounds(rt: Runtime, actor: Actor, page: int = 1, per_page: int = 50) -> RoundList:
    """The rounds whose page the actor may open (round_view's rule), newest first, one page, with the
    progress figures read from the visit and tracker tables (no round state for those).

    Rounds are a few a year, so for people who do not see everything each round is checked in turn."""
    page, per_page = max(1, page), max(1, per_page)
    query = select(ProcessInstance.id).where(ProcessInstance.process_id == ROUND_PROCESS)
    with rt.db.reading() as session:
        if actor.has_role(*SEE_ALL):
            total = session.scalar(select(func.count()).select_from(query.subquery()))
            ids = list(session.scalars(query.order_by(ProcessInstance.id.desc())
                                       .limit(per_page).offset((page - 1) * per_page)))
        else:
            seen = [i for i in session.scalars(query.order_by(ProcessInstance.id.desc()))
                    if _visible_round(rt, session, fetch_instance(session, i), actor)]
            total, ids = len(seen), seen[(page - 1) * per_page:page * per_page]
        rows = _round_rows(session, ids, rt.clock.now())
    return RoundList(rows, total, page, per_page)


def _round_rows(session, ids: list[int], now: datetime) -> list[RoundRow]:
    if not ids:
        return []
    visits: dict[int, dict[str, str]] = {}
    for parent, key, status in session.execute(
            select(ProcessInstance.parent_instance_id, ProcessInstance.business_key, ProcessInstance.status)
            .where(ProcessInstance.parent_instance_id.in_(ids), ProcessInstance.process_id == VISIT_PROCESS)
            .order_by(ProcessInstance.id)):
        visits.setdefault(parent, {})[(key or "").rsplit(":", 1)[-1]] = status  # as round_view counts them
    stages: dict[int, dict[str, int]] = {}
    for round_id, stage, count in session.execute(
            select(Case.round_instance_id, Case.stage, func.count()).where(Case.round_instance_id.in_(ids))
            .group_by(Case.round_instance_id, Case.stage)):
        stages.setdefault(round_id, {})[stage] = count
    overdue = dict(session.execute(select(Case.round_instance_id, func.count()).where(
        Case.round_instance_id.in_(ids), overdue_condition(now)).group_by(Case.round_instance_id)).all())
    records = {r.id: r for r in session.execute(
        select(ProcessInstance.id, ProcessInstance.title, ProcessInstance.status, ProcessInstance.started_by,
               ProcessInstance.created_at, ProcessInstance.completed_at).where(ProcessInstance.id.in_(ids)))}
    rows = []
    for i in ids:
        r, done = records[i], visits.get(i, {})
        counts = stages.get(i, {})
        rows.append(RoundRow(i, r.title, r.status, r.started_by, r.created_at, r.completed_at,
                             sum(1 for s in done.values() if s in VISIT_DONE), len(done),
                             sum(counts.values()), counts.get("closed", 0), overdue.get(i, 0)))
    return rows
