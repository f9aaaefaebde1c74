"""Read models of the organisation for the administration pages: the unit tree with head counts,
and people found by search, one page at a time (100,000 people are never loaded at once)."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from engine.models import OrgUnit, Person, PersonRole
from engine.models.org import ROLES
from engine.runtime import Actor, Runtime
from engine.services.admin_access import require_reader
from engine.services.org_io import export_org, write_template

PAGE_SIZE = 50


@dataclass(frozen=True)
class UnitNode:
    code: str
    name: str
    category: str
    parent_code: str | None
    branch_code: str | None
    branch_name: str | None
    depth: int
    people: int
    active: bool


@dataclass(frozen=True)
class PersonRow:
    id: int
    username: str
    display_name: str
    unit_code: str | None
    unit_name: str | None
    position: str
    party_status: str
    active: bool
    has_password: bool
    roles: tuple[str, ...]


@dataclass(frozen=True)
class PeoplePage:
    rows: list[PersonRow]
    total: int
    page: int
    pages: int
    query: str
    unit_code: str


def unit_tree(rt: Runtime, actor: Actor) -> list[UnitNode]:
    """Every unit in tree order (parents before their children, siblings by code), with people counts.

    Units number in the hundreds, so the whole tree is one page; people are only counted."""
    require_reader(actor)
    with rt.db.reading() as session:
        units = session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.category,
                                       OrgUnit.parent_id, OrgUnit.branch_id, OrgUnit.active)
                                .order_by(OrgUnit.code)).all()
        counts = dict(session.execute(select(Person.unit_id, func.count()).where(Person.active.is_(True))
                                      .group_by(Person.unit_id)).all())
    by_id = {u.id: u for u in units}
    children: dict[int | None, list] = {}
    for unit in units:
        # A parent that no longer exists would hide the unit: show it at the top instead.
        parent = unit.parent_id if unit.parent_id in by_id else None
        children.setdefault(parent, []).append(unit)
    ordered: list[UnitNode] = []
    stack = [(unit, 0) for unit in reversed(children.get(None, []))]
    seen: set[int] = set()
    while stack:
        unit, depth = stack.pop()
        if unit.id in seen:  # a cycle cannot be imported, but never loop if one is stored anyway
            continue
        seen.add(unit.id)
        branch = by_id.get(unit.branch_id)
        ordered.append(UnitNode(unit.code, unit.name, unit.category, by_id[unit.parent_id].code
                                if unit.parent_id in by_id else None, branch.code if branch else None,
                                branch.name if branch else None, depth, counts.get(unit.id, 0), unit.active))
        stack.extend((child, depth + 1) for child in reversed(children.get(unit.id, [])))
    return ordered


def search_people(rt: Runtime, actor: Actor, query: str = "", *, unit_code: str = "", role: str = "",
                  page: int = 1, page_size: int = PAGE_SIZE) -> PeoplePage:
    """People whose username or name contains `query` (optionally in one unit or holding one role),
    sorted by username; one page of them and the total."""
    require_reader(actor)
    query, unit_code = query.strip(), unit_code.strip()
    unit = aliased(OrgUnit)
    conditions = []
    if query:
        conditions.append(or_(Person.username.icontains(query, autoescape=True),
                              Person.display_name.icontains(query, autoescape=True)))
    if unit_code:
        conditions.append(unit.code == unit_code)
    if role in ROLES:
        conditions.append(Person.id.in_(select(PersonRole.person_id).where(PersonRole.role == role)))
    with rt.db.reading() as session:
        base = select(Person.id).where(*conditions)
        if unit_code:  # the join only when filtering by unit: counting 100,000 people stays one index scan
            base = base.join(unit, Person.unit_id == unit.id)
        total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
        pages = max(1, -(-total // page_size))
        page = min(max(1, page), pages)
        rows = session.execute(
            select(Person.id, Person.username, Person.display_name, unit.code, unit.name, Person.position,
                   Person.party_status, Person.active, Person.password_hash.is_not(None))
            .outerjoin(unit, Person.unit_id == unit.id).where(*conditions)
            .order_by(Person.username).limit(page_size).offset((page - 1) * page_size)).all()
        roles: dict[int, list[str]] = {}
        if rows:
            for person_id, code in session.execute(select(PersonRole.person_id, PersonRole.role)
                                                   .where(PersonRole.person_id.in_([r[0] for r in rows]))):
                roles.setdefault(person_id, []).append(code)
    order = list(ROLES)
    people = [PersonRow(*row[:8], bool(row[8]),
                        tuple(sorted(roles.get(row[0], ()), key=lambda c: order.index(c) if c in order else 99)))
              for row in rows]
    return PeoplePage(people, total, page, pages, query, unit_code)


def _file_bytes(write) -> bytes:
    """The org_io writers take a path (the CLI's need); a download wants the bytes."""
    with tempfile.TemporaryDirectory(prefix="kaohe-org-") as folder:
        path = Path(folder) / "org.xlsx"
        write(path)
        return path.read_bytes()


def template_xlsx(actor: Actor, language: str = "zh") -> bytes:
    require_reader(actor)
    return _file_bytes(lambda path: write_template(path, language=language))


def export_xlsx(rt: Runtime, actor: Actor, language: str = "zh", progress=None) -> bytes:
    """The whole organisation in the layout the import reads, so it can be edited and uploaded again."""
    require_reader(actor)
    return _file_bytes(lambda path: export_org(rt, path, language=language, progress=progress))
