"""Logins as administrators manage them: create one, set or reset its password, switch it off and on,
and grant or withdraw roles. Only administrators may (admin_access.require_user_admin); every change
goes to the audit trail, never the password itself."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidState, Message, NotFound, ValidationFailed
from engine.models import OrgUnit, Person, PersonRole
from engine.models.org import ROLES
from engine.runtime import Actor, Runtime
from engine.services import audit
from engine.services.admin_access import require_user_admin
from engine.services.people import MIN_PASSWORD_LENGTH, hash_password

USERNAME = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    unit_code: str | None
    unit_name: str | None
    position: str
    party_status: str
    active: bool
    has_password: bool
    created_at: datetime | None
    roles: tuple[str, ...]


def _account(person: Person) -> Account:
    order = list(ROLES)
    roles = tuple(sorted(person.role_codes, key=lambda c: order.index(c) if c in order else len(order)))
    return Account(person.id, person.username, person.display_name, person.unit.code if person.unit else None,
                   person.unit.name if person.unit else None, person.position, person.party_status,
                   person.active, person.password_hash is not None, person.created_at, roles)


def _person(session: Session, username: str) -> Person:
    # A name no login can have is not looked up: PostgreSQL refuses text holding NUL outright. (Not
    # USERNAME: people imported from a spreadsheet may have names the create form would refuse.)
    storable = 0 < len(username) <= 64 and all(ord(c) >= 32 for c in username)
    person = session.scalar(select(Person).where(Person.username == username)) if storable else None
    if person is None:
        raise NotFound(f"用户 {username} 不存在", f"there is no user {username}")
    return person


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("密码太短", "the password is too short", field_errors={"password": Message(
            f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符", f"passwords need at least {MIN_PASSWORD_LENGTH} characters")})


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed(f"未知的角色：{role}", f"unknown role: {role}")


def get_account(rt: Runtime, actor: Actor, username: str) -> Account:
    require_user_admin(actor)
    with rt.db.reading() as session:
        return _account(_person(session, username))


def create_user(rt: Runtime, actor: Actor, *, username: str, display_name: str, password: str,
                unit_code: str = "", roles: tuple[str, ...] = ()) -> Account:
    """A new person who can log in at once; every problem with the input is reported together."""
    require_user_admin(actor)
    username, display_name, unit_code = username.strip(), display_name.strip(), unit_code.strip()
    problems: dict[str, Message] = {}
    if not USERNAME.match(username):
        problems["username"] = Message("用户名须为 1–64 个字母、数字或 _ . @ -",
                                       "a username is 1–64 letters, digits or _ . @ -")
    if not display_name or len(display_name) > 100:
        problems["display_name"] = Message("请填写姓名（最多 100 个字符）", "give a name (at most 100 characters)")
    if len(password) < MIN_PASSWORD_LENGTH:
        problems["password"] = Message(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
                                       f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        problems["roles"] = Message(f"未知的角色：{'、'.join(unknown)}", f"unknown roles: {', '.join(unknown)}")
    with rt.db.unit_of_work() as session:
        if "username" not in problems and session.scalar(select(Person.id).where(Person.username == username)):
            problems["username"] = Message(f"用户名 {username} 已存在", f"the username {username} is taken")
        unit_id = None
        if unit_code:
            unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == unit_code))
            if unit_id is None:
                problems["unit_code"] = Message(f"单位 {unit_code} 不存在", f"there is no unit {unit_code}")
        if problems:
            raise ValidationFailed("用户未创建，请修改标出的内容", "the user was not created; correct the marked fields",
                                   field_errors=problems)
        now = rt.clock.now()
        person = Person(username=username, display_name=display_name, unit_id=unit_id, active=True,
                        password_hash=hash_password(password), created_at=now,
                        roles=[PersonRole(role=r) for r in dict.fromkeys(roles)])
        session.add(person)
        session.flush()
        audit.record(session, at=now, actor=actor, action="user_created", subject=username,
                     detail={"name": display_name, "unit": unit_code or None, "roles": sorted(set(roles))})
        session.refresh(person)
        return _account(person)


def reset_password(rt: Runtime, actor: Actor, username: str, password: str) -> None:
    """Set a new password (also the first one of a person imported from a spreadsheet)."""
    require_user_admin(actor)
    _check_password(password)
    with rt.db.unit_of_work() as session:
        person = _person(session, username)
        first = person.password_hash is None
        person.password_hash = hash_password(password)
        audit.record(session, at=rt.clock.now(), actor=actor,
                     action="password_set" if first else "password_reset", subject=username)


def set_active(rt: Runtime, actor: Actor, username: str, active: bool) -> None:
    """An inactive person cannot log in and their open session ends at the next request."""
    require_user_admin(actor)
    with rt.db.unit_of_work() as session:
        person = _person(session, username)
        if not active and person.id == actor.person_id:
            raise InvalidState("不能停用自己的账号", "you cannot deactivate your own account")
        if person.active == active:
            return
        person.active = active
        audit.record(session, at=rt.clock.now(), actor=actor,
                     action="user_reactivated" if active else "user_deactivated", subject=username)


def add_role(rt: Runtime, actor: Actor, username: str, role: str) -> None:
    change_roles(rt, actor, username, add=(role,))


def remove_role(rt: Runtime, actor: Actor, username: str, role: str) -> None:
    change_roles(rt, actor, username, remove=(role,))


def change_roles(rt: Runtime, actor: Actor, username: str, *, add=(), remove=()) -> Account:
    """Grant and withdraw roles in one change: all of them, or none if one is refused.
    A role already held (or not held) is left alone; each real change is its own audit event."""
    require_user_admin(actor)
    add, remove = tuple(dict.fromkeys(add)), tuple(dict.fromkeys(remove))
    for role in add + remove:
        _check_role(role)
    both = sorted(set(add) & set(remove))
    if both:
        raise ValidationFailed(f"同一角色不能同时授予和撤销：{'、'.join(both)}",
                               f"a role cannot be granted and withdrawn at once: {', '.join(both)}")
    with rt.db.unit_of_work() as session:
        person = _person(session, username)
        if "admin" in remove and person.id == actor.person_id:
            # Otherwise the last administrator could lock everybody out of user management.
            raise InvalidState("不能移除自己的系统管理员角色", "you cannot remove your own administrator role")
        now = rt.clock.now()
        for role in add:
            if role not in person.role_codes:
                person.roles.append(PersonRole(role=role))
                audit.record(session, at=now, actor=actor, action="role_granted", subject=username,
                             detail={"role": role})
        for role in remove:
            held = [r for r in person.roles if r.role == role]
            if held:
                person.roles.remove(held[0])
                audit.record(session, at=now, actor=actor, action="role_withdrawn", subject=username,
                             detail={"role": role})
        session.flush()
        return _account(person)
