"""A cross-inspection round (workflows/cross_inspection.bpmn) as its page shows it: who inspects
which unit, how far the visits are, what the feedback session found, the questionnaire, and how
many of the round's problems are closed (from the rectification tracker's table)."""
from __future__ import annotations

from dataclasses import dataclass, field

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
    if actor.has_role(*SEE_ALL) or instances.may_view(session, record, actor):
        return True
    return any(actor.username in (g.get("members") or []) for g in groups.values() if isinstance(g, dict))


def round_view(rt: Runtime, actor: Actor, instance_id: int) -> RoundView:
    """The round's page: its data read from its own instance, the visits and problems from their tables."""
    with rt.db.reading() as session:
        record = fetch_instance(session, instance_id)
        if record.process_id != ROUND_PROCESS:
            raise NotFound(f"交叉检查轮次 {instance_id} 不存在", f"cross-inspection round {instance_id} does not exist")
        workflow, _loaded = load_workflow(rt, session, record)
        data = case_data(workflow)
        raw_groups = data.get("groups") if isinstance(data.get("groups"), dict) else {}
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
                     sum(1 for s in visit_status.values() if s in ("completed", "terminated")), len(visit_status),
                     findings, [q for q in data.get("questionnaire_results") or [] if isinstance(q, dict)],
                     sum(counts.values()), counts.get("closed", 0), overdue or 0, counts)
