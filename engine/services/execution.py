"""Load an instance's workflow, let the engine run, and save state, status and tasks together."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine import limits
from engine.bpmn import spiff_clock
from engine.bpmn.scripting import original_error
from engine.bpmn.serializer import STATE_SERIALIZER
from engine.bpmn.timers import waiting_timer_due
from engine.models.instance import ACTIVE_STATUSES
from engine.runtime import Actor, Runtime
from engine.services import audit, rows, tracking
from engine.services.rows import InstanceRecord
from engine.services.projection import sync_human_tasks
from engine.specs import LoadedVersion

log = logging.getLogger(__name__)


def fetch_instance(session: Session, instance_id: int | None = None, *, task_id: int | None = None,
                   for_update: bool = False) -> InstanceRecord:
    """An instance (with its state) by id or by one of its human tasks, optionally locked."""
    return rows.fetch(session, instance_id, task_id=task_id, for_update=for_update)


def lock_instance(session: Session, instance_id: int) -> InstanceRecord:
    return rows.fetch(session, instance_id, for_update=True)


def load_workflow(rt: Runtime, session: Session, instance: InstanceRecord) -> tuple[BpmnWorkflow, LoadedVersion]:
    loaded = rt.specs.get(session, instance.process_version_id)
    workflow = STATE_SERIALIZER.loads(instance.state, loaded.spec, loaded.subprocess_specs, rt.script_engine)
    return workflow, loaded


# A loop guard: engine steps that keep producing engine work this often are a modelling error.
MAX_ENGINE_ROUNDS = 100


def _engine_work_left(workflow: BpmnWorkflow) -> bool:
    return any(not task.task_spec.manual for task in workflow.get_tasks(state=TaskState.READY))


def run_engine(rt: Runtime, session: Session, instance: InstanceRecord,
               workflow: BpmnWorkflow) -> tuple[str | None, str | None]:
    """Advance the instance's workflow until people or timers are needed, with timers read against
    rt.clock and service tasks able to act in this unit of work (e.g. start child instances).
    Returns (error element, message) on a failure."""
    from engine.services import children, operators  # noqa: F401  (operators registers every kaohe/* operator)
    with spiff_clock.running_on(rt.clock), children.spawning_from((rt, session, instance)):
        return _run_engine(workflow)


def _run_engine(workflow: BpmnWorkflow) -> tuple[str | None, str | None]:
    try:
        workflow.refresh_timers()
        workflow.do_engine_steps()
        # do_engine_steps() refreshes timers only at its end, so a timer that fell due meanwhile is
        # READY but not yet run: keep stepping until only people's tasks and waits remain.
        for _ in range(MAX_ENGINE_ROUNDS):
            if not _engine_work_left(workflow):
                break
            workflow.do_engine_steps()
        return None, None
    except Exception as exc:  # scripts raise anything; the instance goes to `error`, never the process
        failed = workflow.get_tasks(state=TaskState.ERROR)
        failed_spec = failed[0].task_spec if failed else getattr(getattr(exc, "task", None), "task_spec", None)
        element = (failed_spec.bpmn_id or failed_spec.name) if failed_spec else workflow.spec.name
        message = str(original_error(exc))
        log.info("instance error at %s: %s", element, message)
        return element, message[:4000]


@dataclass(frozen=True)
class Scan:
    """What the saved row needs to know of a workflow, found in one walk over its task tree."""

    failed: bool
    ready: dict  # guid -> READY user or manual task
    next_timer: datetime | None


def scan(workflow: BpmnWorkflow) -> Scan:
    failed, ready, due = False, {}, []
    for task in workflow.get_tasks():
        if task.state == TaskState.ERROR:
            failed = True
        elif task.state == TaskState.READY and task.task_spec.manual:
            ready[str(task.id)] = task
        elif (moment := waiting_timer_due(task)) is not None:
            due.append(moment)
    return Scan(failed, ready, min(due, default=None))


def status_from(workflow: BpmnWorkflow, error_element: str | None, found: Scan) -> str:
    if error_element is not None or found.failed:
        return "error"
    if workflow.is_completed():
        return "completed"
    if found.ready:
        return "waiting_person"
    if found.next_timer is not None:
        return "waiting_timer"
    return "running"


def derive_status(workflow: BpmnWorkflow, error_element: str | None) -> str:
    return status_from(workflow, error_element, scan(workflow))


def save(rt: Runtime, session: Session, instance: InstanceRecord, workflow: BpmnWorkflow,
         loaded: LoadedVersion, *, error: tuple[str | None, str | None] = (None, None),
         actor: Actor | str = "system", previous_status: str | None = None) -> None:
    """Write state, status, next wake-up and the task projection in the caller's transaction.

    `previous_status` is the status before the caller changed it itself (suspend, terminate)."""
    now = rt.clock.now()
    previous_status = previous_status or instance.status
    error_element, error_message = error
    state = STATE_SERIALIZER.dumps(workflow)
    # Too large: refused whole, so the caller's transaction rolls back and the last good state stays.
    limits.check_state(rt.settings, state, instance.id)
    instance.state = state
    instance.serializer_version = STATE_SERIALIZER.version
    instance.updated_at = now
    found = scan(workflow)
    if instance.status not in ("suspended", "terminated"):
        instance.status = status_from(workflow, error_element, found)
    instance.error_element = error_element if instance.status == "error" else None
    instance.error_message = error_message if instance.status == "error" else None
    # Suspended, finished and broken instances must not be woken by the scheduler.
    instance.next_timer_at = found.next_timer if instance.status in ACTIVE_STATUSES else None
    if instance.status == "completed" and instance.completed_at is None:
        instance.completed_at = now
    rows.write(session, instance)
    # Read after commit by the scheduler (engine.scheduling) to keep one wake-up per instance.
    session.info.setdefault("timer_changes", {})[instance.id] = instance.next_timer_at
    sync_human_tasks(session, instance, workflow, loaded, now)
    if instance.process_id == "rectification":  # the tracker's read model, in this same transaction
        tracking.follow(session, instance, workflow, loaded, now)
    if instance.status == "error" and previous_status != "error":
        audit.record(session, at=now, actor=actor, action="error", instance_id=instance.id,
                     subject=error_element, detail={"message": error_message})
    if instance.status == "completed" and previous_status != "completed":
        audit.record(session, at=now, actor=actor, action="complete_instance", instance_id=instance.id)
    from engine.services import children
    children.after_save(rt, session, instance, previous_status)
