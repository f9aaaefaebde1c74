"""API tokens for integrations: created and revoked by an administrator, kept only as a digest.

A token acts as one account (a person, or a service account made for it) and holds only the roles
named in its scope that the account also holds, so a token can never do more than its account."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from engine.clock import as_utc
from engine.errors import Message, NotFound, ValidationFailed
from engine.models import ApiToken, Person, PersonRole
from engine.models.org import ROLES
from engine.runtime import Actor, Runtime
from engine.services import audit
from engine.services.admin_access import require_user_admin

SECRET_PREFIX = "kh_"
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
SERVICE_ACCOUNT_PREFIX = "api-"
# Recording each use would add a write to every read; a few minutes' precision is enough to spot
# a token nobody uses any more.
LAST_USED_PRECISION = timedelta(minutes=5)


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    account: str
    scope: tuple[str, ...]
    prefix: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedToken:
    token: TokenRow
    secret: str  # shown once, never stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _row(token: ApiToken, account: str) -> TokenRow:
    return TokenRow(token.id, token.name, account, tuple(token.scope.split()), token.prefix, token.created_by,
                    token.created_at, token.expires_at, token.revoked_at, token.last_used_at)


def list_tokens(rt: Runtime, actor: Actor) -> list[TokenRow]:
    require_user_admin(actor)
    with rt.db.reading() as session:
        rows = session.execute(select(ApiToken, Person.username).join(Person, Person.id == ApiToken.person_id)
                               .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())).all()
        return [_row(token, username) for token, username in rows]


def create(rt: Runtime, actor: Actor, *, name: str, scope: list[str] | tuple[str, ...], account: str = "",
           valid_days: int | None = None) -> CreatedToken:
    """Make a token. Without `account`, a service account `api-<name>` holding the scope is created
    (it has no password, so nobody can sign in to the pages with it)."""
    require_user_admin(actor)
    name, account = name.strip(), account.strip()
    scope = tuple(dict.fromkeys(r.strip() for r in scope if r.strip()))
    problems: dict[str, Message] = {}
    if not NAME.match(name):
        problems["name"] = Message("名称须为 1–40 个字母、数字或 _ . -", "a name is 1–40 letters, digits or _ . -")
    unknown = [r for r in scope if r not in ROLES]
    if not scope or unknown:
        problems["scope"] = Message(f"请选择角色{('（未知：' + '、'.join(unknown) + '）') if unknown else ''}",
                                    "choose at least one known role" + (f" (unknown: {', '.join(unknown)})"
                                                                        if unknown else ""))
    if valid_days is not None and not 1 <= valid_days <= 3650:
        problems["valid_days"] = Message("有效天数须在 1 到 3650 之间", "valid days must be between 1 and 3650")
    with rt.db.unit_of_work() as session:
        if "name" not in problems and session.scalar(select(ApiToken.id).where(ApiToken.name == name)):
            problems["name"] = Message(f"名称 {name} 已被使用", f"the name {name} is taken")
        person = _account(session, account, name, scope, problems)
        if problems:
            raise ValidationFailed("令牌未创建，请修改标出的内容", "the token was not created; correct the marked fields",
                                   field_errors=problems)
        now = rt.clock.now()
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(name=name, person_id=person.id, scope=" ".join(scope), secret_hash=digest(secret),
                         prefix=secret[:10], created_by=actor.audit_name, created_at=now,
                         expires_at=now + timedelta(days=valid_days) if valid_days else None)
        session.add(token)
        session.flush()
        audit.record(session, at=now, actor=actor, action="token_created", subject=name,
                     detail={"token": token.id, "account": person.username, "scope": list(scope),
                             "expires_at": token.expires_at})
        return CreatedToken(_row(token, person.username), secret)


def _account(session, username: str, name: str, scope, problems: dict[str, Message]) -> Person | None:
    """The person a new token acts as: the named one (who must hold the scope), or a new service account."""
    if username:
        person = session.scalar(select(Person).where(Person.username == username, Person.active.is_(True)))
        if person is None:
            problems["account"] = Message(f"账号 {username} 不存在或已停用",
                                          f"there is no active account {username}")
        elif missing := [r for r in scope if r not in person.role_codes]:
            problems["account"] = Message(f"账号 {username} 没有角色：{'、'.join(missing)}",
                                          f"{username} does not hold: {', '.join(missing)}")
        return person
    username = SERVICE_ACCOUNT_PREFIX + name
    if session.scalar(select(Person.id).where(Person.username == username)):
        problems["account"] = Message(f"账号 {username} 已存在，请直接指定它",
                                      f"the account {username} exists; name it as the account")
        return None
    if problems:
        return None
    person = Person(username=username, display_name=f"接口账号 {name}", active=True,
                    roles=[PersonRole(role=r) for r in scope])
    session.add(person)
    session.flush()
    return person


def revoke(rt: Runtime, actor: Actor, token_id: int) -> None:
    require_user_admin(actor)
    with rt.db.unit_of_work() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"令牌 {token_id} 不存在", f"token {token_id} does not exist")
        if token.revoked_at is not None:
            return  # revoking twice changes nothing, and is not an error for the admin
        now = rt.clock.now()
        token.revoked_at, token.revoked_by = now, actor.audit_name
        audit.record(session, at=now, actor=actor, action="token_revoked", subject=token.name,
                     detail={"token": token.id})


def actor_for_secret(rt: Runtime, secret: str) -> Actor | None:
    """The Actor a bearer secret stands for, or None if it is unknown, revoked, expired or its
    account is inactive (the caller answers all four the same way)."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 100:
        return None
    now = rt.clock.now()
    with rt.db.reading() as session:
        found = session.execute(select(ApiToken, Person).join(Person, Person.id == ApiToken.person_id)
                                .where(ApiToken.secret_hash == digest(secret), ApiToken.revoked_at.is_(None),
                                       Person.active.is_(True))).first()
        if found is None:
            return None
        token, person = found
        if token.expires_at is not None and as_utc(token.expires_at) <= as_utc(now):
            return None
        actor = Actor(person.username, person.id, person.unit_id,
                      frozenset(token.scope.split()) & frozenset(person.role_codes), token_id=token.id)
        stale = token.last_used_at is None or as_utc(token.last_used_at) < as_utc(now) - LAST_USED_PRECISION
    if stale:
        with rt.db.unit_of_work() as session:
            session.execute(update(ApiToken).where(ApiToken.id == actor.token_id).values(last_used_at=now))
    return actor
