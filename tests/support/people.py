"""A few people for tests, created through the same service the demo data uses."""
from __future__ import annotations

from types import SimpleNamespace

from engine.models import OrgUnit
from engine.services.people import actor_for, ensure_person, hash_password

PASSWORD = "secret-pass-1"
_HASHES: list[str] = []


def password_hash() -> str:
    """argon2 is slow on purpose; one hash of the shared test password serves every test."""
    if not _HASHES:
        _HASHES.append(hash_password(PASSWORD))
    return _HASHES[0]


def make_people(rt) -> SimpleNamespace:
    hashed = password_hash()
    with rt.db.unit_of_work() as session:
        session.add_all([OrgUnit(code="U1", name="一车间", category="production"),
                         OrgUnit(code="U2", name="财务部", category="non_production")])
        session.flush()
        cast = {
            "owner": ensure_person(session, "owner", "王绩效", password_hash=hashed, roles=("process_owner",)),
            "auditor": ensure_person(session, "auditor", "李审计", password_hash=hashed, roles=("auditor",)),
            "head": ensure_person(session, "head", "张主任", password_hash=hashed, unit_code="U1", position="head",
                                  roles=("unit_head", "staff")),
            "alice": ensure_person(session, "alice", "赵员工", password_hash=hashed, unit_code="U1",
                                   roles=("staff",)),
            "bob": ensure_person(session, "bob", "钱员工", password_hash=hashed, unit_code="U2", roles=("staff",)),
        }
        return SimpleNamespace(**{name: actor_for(p) for name, p in cast.items()})
