"""What a workflow test does with one case (`rt.case`): see who has which task, complete it as that
person, move the clock and fire what fell due, read the trail. Every step goes through kaohe's
services and the database, so each one is also a save and a restore of the instance."""
from __future__ import annotations

from datetime import datetime

from engine.clock import FixedClock
from engine.models import ProcessInstance
from engine.runtime import Runtime
from engine.services import audit, instances, tasks


def at(rt, moment: datetime) -> Runtime:
    """The same database seen by a runtime whose clock reads `moment` (keeps `actor` and `case`)."""
    later = Runtime(rt.settings, database=rt.db, clock=FixedClock(moment))
    later.actor, later.case = rt.actor, getattr(rt, "case", None)
    return later


def wake(rt, moment: datetime) -> Runtime:
    """Move the clock to `moment` and fire the case's timers that fell due (there must be one)."""
    later = at(rt, moment)
    assert rt.case in instances.due_instance_ids(later)
    assert instances.wake(later, rt.case) is True
    return later


def mine(rt, username: str, instance_id: int | None = None) -> list:
    """The person's open tasks in the case (or in `instance_id`)."""
    wanted = instance_id or rt.case
    return [t for t in tasks.inbox(rt, rt.actor(username)) if t.instance_id == wanted]


def names(rt, username: str, instance_id: int | None = None) -> list[str]:
    return sorted(t.name for t in mine(rt, username, instance_id))


def only(rt, username: str, name: str | None = None):
    [task] = [t for t in mine(rt, username) if name is None or t.name == name]
    return task


def do(rt, username: str, name: str, form: dict) -> str:
    """Complete the person's task `name` with `form`; returns the case's new status."""
    return tasks.complete(rt, only(rt, username, name).id, rt.actor(username), form)


def instance(rt, instance_id: int | None = None) -> ProcessInstance:
    with rt.db.reading() as session:
        return session.get(ProcessInstance, instance_id or rt.case)


def status(rt) -> str:
    return instance(rt).status


def trail(rt) -> list[tuple[str, str, str | None]]:
    """(action, actor, subject) of every audit event of the case, oldest first."""
    with rt.db.reading() as session:
        return [(e.action, e.actor, e.subject) for e in audit.instance_trail(session, rt.case)]
