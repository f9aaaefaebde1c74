"""The organisation's active units (with the party branch each belongs to), people and evaluation
groups, each read in one query: results, the calendar and child instances all need exactly this."""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import EvaluationGroup, OrgUnit, Person
from engine.services.rows import execute


class ActiveUnit(NamedTuple):
    code: str
    name: str
    category: str
    branch_code: str | None


def active_units(session: Session, categories=None) -> list[ActiveUnit]:
    """Active units ordered by code; `categories` (a collection) narrows them, empty or None keeps all."""
    branch = select(OrgUnit.id, OrgUnit.code).subquery()
    query = (select(OrgUnit.code, OrgUnit.name, OrgUnit.category, branch.c.code)
             .outerjoin(branch, branch.c.id == OrgUnit.branch_id)
             .where(OrgUnit.active.is_(True)).order_by(OrgUnit.code))
    if categories:
        query = query.where(OrgUnit.category.in_(list(categories)))
    return [ActiveUnit(*row) for row in execute(session, query)]


class ActivePerson(NamedTuple):
    username: str
    person_name: str
    position: str
    unit_code: str
    unit_name: str
    branch_code: str | None


def active_people(session: Session, positions=None, categories=None, unit_code: str | None = None) -> list[ActivePerson]:
    """Active people of active units ordered by unit and username; `positions` (head / deputy /
    staff), unit `categories` and one `unit_code` narrow them, empty or None keeps all."""
    branch = select(OrgUnit.id, OrgUnit.code).subquery()
    query = (select(Person.username, Person.display_name, Person.position, OrgUnit.code, OrgUnit.name, branch.c.code)
             .join(OrgUnit, OrgUnit.id == Person.unit_id)
             .outerjoin(branch, branch.c.id == OrgUnit.branch_id)
             .where(Person.active.is_(True), OrgUnit.active.is_(True)).order_by(OrgUnit.code, Person.username))
    if positions:
        query = query.where(Person.position.in_(list(positions)))
    if categories:
        query = query.where(OrgUnit.category.in_(list(categories)))
    if unit_code:
        query = query.where(OrgUnit.code == unit_code)
    return [ActivePerson(*row) for row in execute(session, query)]


def evaluation_groups(session: Session) -> list[dict]:
    """The evaluation groups with their leader's username (None when nobody leads one)."""
    rows = execute(session, select(EvaluationGroup.code, EvaluationGroup.name, Person.username)
                   .outerjoin(Person, Person.id == EvaluationGroup.leader_id).order_by(EvaluationGroup.code))
    return [{"group_code": code, "group_name": name, "area": code, "leader": leader} for code, name, leader in rows]
