"""People as users: accounts, passwords and the Actor a service call runs as."""
from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import ValidationFailed
from engine.models import OrgUnit, Person, PersonRole
from engine.runtime import Actor, Runtime
from engine.services import audit
from engine.services.result_inputs import all_periods_changed

# argon2id: memory-hard, so a stolen hash table is expensive to crack.
_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
                               f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


def actor_for(person: Person) -> Actor:
    return Actor(person.username, person.id, person.unit_id, frozenset(person.role_codes))


@dataclass(frozen=True)
class SignedIn:
    """What every request of a signed-in person needs: who they are and how to greet them."""
    actor: Actor
    display_name: str
    language: str | None


def signed_in(rt: Runtime, person_id: int) -> SignedIn | None:
    """The active person with their roles and profile, in one query (it runs on every page)."""
    with rt.db.reading() as session:
        rows = session.execute(
            select(Person.username, Person.unit_id, Person.display_name, Person.language, PersonRole.role)
            .outerjoin(PersonRole, PersonRole.person_id == Person.id)
            .where(Person.id == person_id, Person.active.is_(True))).all()
    if not rows:
        return None
    first = rows[0]
    roles = frozenset(row.role for row in rows if row.role is not None)
    return SignedIn(Actor(first.username, person_id, first.unit_id, roles), first.display_name, first.language)


def authenticate(rt: Runtime, username: str, password: str, *, source: str | None = None) -> Actor | None:
    """The person's Actor if the password is right, else None (never says which part was wrong).

    Every attempt goes into the audit trail, failures too, with `source` (the caller's address)."""
    with rt.db.unit_of_work() as session:
        actor = _verified(session, username, password)
        audit.record(session, at=rt.clock.now(), actor=username[:64], action="login" if actor else "login_failed",
                     subject=username[:255], detail={"source": source} if source else None)
        return actor


def _verified(session: Session, username: str, password: str) -> Actor | None:
    person = session.scalar(select(Person).where(Person.username == username, Person.active.is_(True)))
    if person is None or not person.password_hash:
        _HASHER.hash(password)  # same work either way, so timing does not reveal valid usernames
        return None
    try:
        _HASHER.verify(person.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _HASHER.check_needs_rehash(person.password_hash):
        person.password_hash = _HASHER.hash(password)
    return actor_for(person)


def ensure_person(session: Session, username: str, display_name: str, *, password: str | None = None,
                  password_hash: str | None = None, unit_code: str | None = None, position: str = "staff", roles: tuple[str, ...] = (),
                  party_status: str = "none") -> Person:
    """Create or update a person by username (idempotent, for demo data and imports)."""
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None:
        person = Person(username=username, display_name=display_name)
        session.add(person)
    person.display_name, person.position, person.party_status = display_name, position, party_status
    if unit_code:
        person.unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == unit_code))
    if person.password_hash is None and (password or password_hash):
        person.password_hash = password_hash or hash_password(password)
    all_periods_changed(session)  # a rated person's name and unit are part of the results
    held = {r.role for r in person.roles}
    for role in roles:
        if role not in held:
            person.roles.append(PersonRole(role=role))
    session.flush()
    return person
