"""The organisation's active units with the party branch each belongs to, read in one query:
results, the calendar and child instances all need exactly this."""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import OrgUnit
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
