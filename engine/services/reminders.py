"""Reminders before a person's task falls due: recorded once per task in the audit trail (the
inbox shows the due time and marks what is due soon or overdue)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, select, update

from engine.models import HumanTask
from engine.runtime import SCHEDULER, Runtime
from engine.services import audit
from engine.services.rows import execute

REMIND_BEFORE = timedelta(hours=24)
BATCH = 1000
_TASKS = HumanTask.__table__
# An index range on (status, due_at): never a scan of every task.
_DUE_SOON = (select(_TASKS.c.id, _TASKS.c.instance_id, _TASKS.c.task_guid, _TASKS.c.name, _TASKS.c.due_at)
             .where(_TASKS.c.status == "open", _TASKS.c.due_at <= bindparam("horizon"),
                    _TASKS.c.reminded_at.is_(None)).order_by(_TASKS.c.due_at).limit(BATCH))
_MARK = update(_TASKS).where(_TASKS.c.id == bindparam("b_id")).values(reminded_at=bindparam("b_at"))


def send_due_reminders(rt: Runtime) -> int:
    """Remind every open task due within REMIND_BEFORE (or already overdue) that was not reminded."""
    now, sent = rt.clock.now(), 0
    while True:
        with rt.db.unit_of_work() as session:
            rows = execute(session, _DUE_SOON, {"horizon": now + REMIND_BEFORE}).all()
            if not rows:
                return sent
            execute(session, _MARK, [{"b_id": row.id, "b_at": now} for row in rows])
            for row in rows:
                audit.record(session, at=now, actor=SCHEDULER.username, action="task_reminder",
                             instance_id=row.instance_id, task_guid=row.task_guid, subject=row.name,
                             detail={"due_at": row.due_at.isoformat(), "overdue": row.due_at < now})
            sent += len(rows)
