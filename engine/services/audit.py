"""Append to and verify the hash-chained audit trail."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import AuditEvent, AuditHead
from engine.runtime import Actor
from engine.services.rows import execute

GENESIS = "0" * 64


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def digest(value) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def _event_hash(prev_hash: str, occurred_at: datetime, actor: str, action: str, instance_id: int | None,
                task_guid: str | None, subject: str | None, detail: str, data_digest: str | None) -> str:
    return digest([prev_hash, occurred_at.isoformat(), actor, action, instance_id, task_guid, subject, detail,
                   data_digest])


def _stored_hash(event: AuditEvent) -> str:
    return _event_hash(event.prev_hash, event.occurred_at, event.actor, event.action, event.instance_id,
                       event.task_guid, event.subject, event.detail, event.data_digest)


_HEAD = select(AuditHead.last_hash).where(AuditHead.id == 1).with_for_update()
_EVENT_COLUMNS = ("occurred_at", "actor", "action", "instance_id", "task_guid", "subject", "detail", "data_digest",
                  "prev_hash", "hash")
_INSERT_EVENT = insert(AuditEvent).values(**{c: bindparam(c) for c in _EVENT_COLUMNS}).returning(AuditEvent.id)
_MOVE_HEAD = update(AuditHead).where(AuditHead.id == 1).values(last_event_id=bindparam("event_id"),
                                                               last_hash=bindparam("event_hash"))


def _lock_head(session: Session) -> str:
    """The last event's hash, with the head row locked: the chain stays linear when several
    writers append at once (the lock is held until the caller's transaction ends)."""
    head = execute(session, _HEAD).first()
    if head is None:
        execute(session, insert(AuditHead).values(id=1, last_event_id=None, last_hash=GENESIS))
        return GENESIS
    return head.last_hash


def _linked(prev_hash: str, *, at: datetime, actor: Actor | str, action: str, instance_id: int | None = None,
            task_guid: str | None = None, subject: str | None = None, detail: dict | None = None,
            data=None) -> dict:
    """One event's row, chained to the one before it."""
    values = {"occurred_at": as_utc(at), "actor": actor.audit_name if isinstance(actor, Actor) else actor,
              "action": action, "instance_id": instance_id, "task_guid": task_guid, "subject": subject,
              "detail": canonical_json(detail or {}), "data_digest": None if data is None else digest(data),
              "prev_hash": prev_hash}
    values["hash"] = _event_hash(**values)
    return values


def record(session: Session, **event) -> int:
    """Append one event in the caller's transaction; returns its id. Keywords: at, actor, action,
    and optionally instance_id, task_guid, subject, detail (a dict) and data (kept as its digest).

    Plain SQL statements rather than ORM objects: this runs on every change and should cost little."""
    values = _linked(_lock_head(session), **event)
    event_id = execute(session, _INSERT_EVENT, values).scalar_one()
    execute(session, _MOVE_HEAD, {"event_id": event_id, "event_hash": values["hash"]})
    return event_id


_INSERT_EVENTS = insert(AuditEvent).returning(AuditEvent.id, sort_by_parameter_order=True)


def record_many(session: Session, events: list[dict]) -> None:
    """Append several events, in order, with one lock of the head and one batched insert (a launch
    starts hundreds of children per transaction). Each dict takes `record`'s keyword arguments."""
    if not events:
        return
    rows, prev_hash = [], _lock_head(session)
    for event in events:
        rows.append(_linked(prev_hash, **event))
        prev_hash = rows[-1]["hash"]
    ids = execute(session, _INSERT_EVENTS, rows).scalars().all()
    execute(session, _MOVE_HEAD, {"event_id": ids[-1], "event_hash": prev_hash})


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def verify(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain in id order; name the first event whose link or content does not match."""
    previous, checked, last_id = GENESIS, 0, 0
    while True:
        events = session.scalars(select(AuditEvent).where(AuditEvent.id > last_id)
                                 .order_by(AuditEvent.id).limit(batch)).all()
        if not events:
            break
        for event in events:
            if event.prev_hash != previous:
                return ChainReport(checked, event.id, "prev_hash does not match the previous event")
            if _stored_hash(event) != event.hash:
                return ChainReport(checked, event.id, "content does not match its hash")
            previous, last_id, checked = event.hash, event.id, checked + 1
    head = session.get(AuditHead, 1)
    if head is not None and head.last_hash != previous:
        return ChainReport(checked, head.last_event_id, "events after this one were removed")
    return ChainReport(checked, None, None)


def instance_trail(session: Session, instance_id: int) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                                .order_by(AuditEvent.id)))
