"""Do the stored pieces of every instance still tell one story? For an operator after a crash
(`kaohe check`) and for the reliability tests.

Each instance's workflow state is the truth; the status and next_timer_at columns, the human task
projection and the audit trail are written from it in the same transaction, so after any crash
they must still agree with it:

- the live task rows (open, or suspended with their instance) are exactly the state's READY user
  tasks; a finished or terminated instance has none;
- the status column and next_timer_at are what the state gives;
- every completed task row has exactly one `complete` event in the audit trail, and every
  `complete` event names a completed task row (none lost, none applied twice);
- the audit hash chain verifies.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import as_utc
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.runtime import Runtime
from engine.services import audit
from engine.services.execution import fetch_instance, load_workflow, scan, status_from

BATCH = 200
# Statuses the state decides; suspended, terminated and error are set by people or failures.
DERIVED_STATUSES = ("running", "waiting_person", "waiting_timer", "completed")


@dataclass(frozen=True)
class Problem:
    instance_id: int | None
    what: str

    def __str__(self) -> str:
        return f"#{self.instance_id}: {self.what}" if self.instance_id is not None else self.what


def check(rt: Runtime) -> list[Problem]:
    """Every disagreement found, in instance order; an empty list means all is consistent."""
    problems: list[Problem] = []
    with rt.db.reading() as session:
        report = audit.verify(session)
        if not report.ok:
            problems.append(Problem(None, f"audit chain broken at event #{report.first_broken_id}: {report.reason}"))
        last_id = 0
        while True:  # keyset batches: a large database is checked without holding it all in memory
            ids = session.scalars(select(ProcessInstance.id).where(ProcessInstance.id > last_id)
                                  .order_by(ProcessInstance.id).limit(BATCH)).all()
            if not ids:
                break
            for instance_id in ids:
                problems += _check_instance(rt, session, instance_id)
            last_id = ids[-1]
        problems += _check_completions(session)
    return problems


def _check_instance(rt: Runtime, session: Session, instance_id: int) -> list[Problem]:
    instance = fetch_instance(session, instance_id)
    try:
        workflow, _loaded = load_workflow(rt, session, instance)
    except Exception as error:  # a state that no longer loads is itself the finding
        return [Problem(instance_id, f"state does not load: {error}")]
    found = scan(workflow)
    problems = []
    live = dict(session.execute(select(HumanTask.task_guid, HumanTask.status).where(
        HumanTask.instance_id == instance_id, HumanTask.status.in_(("open", "suspended")))).all())
    if instance.status == "terminated" or workflow.is_completed():
        expected = {}
    else:
        wanted = "suspended" if instance.status == "suspended" else "open"
        expected = {guid: wanted for guid in found.ready}
    if live != expected:
        problems.append(Problem(instance_id, f"task rows {_describe(live)} but the state has {_describe(expected)}"))
    if instance.status in DERIVED_STATUSES:
        derived = status_from(workflow, None, found)
        if derived != instance.status:
            problems.append(Problem(instance_id, f"status is {instance.status} but the state says {derived}"))
        stored_timer = as_utc(instance.next_timer_at) if instance.next_timer_at else None
        state_timer = as_utc(found.next_timer) if found.next_timer and instance.status != "completed" else None
        if stored_timer != state_timer:
            problems.append(Problem(instance_id, f"next_timer_at is {stored_timer} but the state says {state_timer}"))
    return problems


def _describe(rows: dict) -> str:
    return "{" + ", ".join(f"{guid[:8]}:{status}" for guid, status in sorted(rows.items())) + "}"


def _check_completions(session: Session) -> list[Problem]:
    """Completed task rows against `complete` events, matched by (instance, task guid)."""
    events = Counter({(instance_id, guid): n for instance_id, guid, n in session.execute(
        select(AuditEvent.instance_id, AuditEvent.task_guid, func.count())
        .where(AuditEvent.action == "complete").group_by(AuditEvent.instance_id, AuditEvent.task_guid))})
    completed = {(instance_id, guid) for instance_id, guid in session.execute(
        select(HumanTask.instance_id, HumanTask.task_guid).where(HumanTask.status == "completed"))}
    problems = []
    for instance_id, guid in sorted(completed):
        n = events.get((instance_id, guid), 0)
        if n != 1:
            problems.append(Problem(instance_id, f"task {guid[:8]} is completed but has {n} complete events"))
    for (instance_id, guid), n in sorted(events.items(), key=lambda item: (item[0][0] or 0, item[0][1] or "")):
        if (instance_id, guid) not in completed:
            problems.append(Problem(instance_id, f"{n} complete event(s) for task {guid and guid[:8]}, "
                                                 "which is not a completed task"))
    return problems
