"""Who may see which results (issue 6 item 4).

* The performance office, administrators and auditors (and the system) see everything.
* A unit head (or a branch secretary, who heads a party branch) sees their unit's pages and
  the results of its people.
* An evaluation group leader sees the ranking and the unit pages of the categories their
  group's area scores, but not people's individual results.
* Everyone sees their own person page and where their own unit stands (rank, fused score).

The rules live here, in the engine, so a page, an export and the API all refuse the same way;
templates only decide what to link.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound, PermissionDenied
from engine.models import EvaluationGroup, OrgUnit
from engine.runtime import Actor
from engine.services.schemes import scheme_for_period

EVERYTHING_ROLES = ("process_owner", "admin", "auditor")
HEAD_ROLES = ("unit_head", "branch_secretary")


@dataclass(frozen=True)
class Visibility:
    username: str
    everything: bool = False
    own_unit: str | None = None             # the unit the actor belongs to
    head_of: str | None = None              # the unit whose pages and people the actor heads
    categories: frozenset[str] = frozenset()  # an evaluation leader's categories (full rankings)

    def sees_ranking(self, category: str) -> bool:
        return self.everything or category in self.categories

    def sees_unit(self, code: str, category: str | None) -> bool:
        return (self.everything or code == self.head_of
                or (category is not None and category in self.categories))

    def sees_people_of(self, unit_code: str | None) -> bool:
        return self.everything or (unit_code is not None and unit_code == self.head_of)

    def sees_person(self, username: str, unit_code: str | None) -> bool:
        return username == self.username or self.sees_people_of(unit_code)


def visibility(session: Session, actor: Actor, month: str) -> Visibility:
    """What `actor` may see of the results of `month` (the scheme of that month sets a leader's scope)."""
    if actor.has_role(*EVERYTHING_ROLES):
        return Visibility(actor.username, everything=True)
    own_unit = None
    if actor.unit_id is not None:
        own_unit = session.scalar(select(OrgUnit.code).where(OrgUnit.id == actor.unit_id))
    head_of = own_unit if actor.has_role(*HEAD_ROLES) else None
    return Visibility(actor.username, own_unit=own_unit, head_of=head_of,
                      categories=_leader_categories(session, actor, month))


def _leader_categories(session: Session, actor: Actor, month: str) -> frozenset[str]:
    """The unit categories scored by the area of each group the actor leads."""
    if not actor.has_role("eval_leader") or actor.person_id is None:
        return frozenset()
    areas = set(session.scalars(select(EvaluationGroup.code)
                                .where(EvaluationGroup.leader_id == actor.person_id)))
    if not areas:
        return frozenset()
    try:
        scheme = scheme_for_period(session, month)
    except NotFound:
        return frozenset()
    return frozenset(category for area in scheme.areas if area.code in areas
                     for category in json.loads(area.categories))


def refuse_unit() -> PermissionDenied:
    return PermissionDenied("你无权查看这个单位的考核结果", "you may not see this unit's results")


def refuse_person() -> PermissionDenied:
    return PermissionDenied("你无权查看此人的考核结果", "you may not see this person's results")


def refuse_export() -> PermissionDenied:
    return PermissionDenied("只有绩效办公室、管理员和审计员可以导出全部考核结果",
                            "only the performance office, administrators and auditors may export all results")
