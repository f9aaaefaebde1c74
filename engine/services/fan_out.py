"""Launches: a parent's service task plans its children, chunks of them start after it commits.

`kaohe/start_instances` (engine/services/children.py) no longer starts 100,000 children inside the
parent's transaction (minutes long, gigabytes of memory, all lost on any failure). It writes a
launch row and one small item row per child, in the parent's transaction, and returns. After the
commit the launch runs in chunks of CHUNK_SIZE children, each chunk one transaction that starts its
children and deletes their items, so:

- an interrupted launch (crash, restart, database outage) resumes where it stopped: what is left
  is exactly the items not yet deleted; nothing is started twice, because an item and the child it
  became are never both committed;
- several processes can share a launch: on PostgreSQL each chunk takes its items with
  FOR UPDATE SKIP LOCKED (Celery workers, engine/worker.py); SQLite's writers queue;
- the parent hears `<element>_done` only once every chunk has run and every child has finished.

Who runs the chunks is KAOHE_WORK_QUEUE: `inline` (default: the committing caller, before it
returns), `thread` (a background thread of this process), `scheduler` (the scheduler process's
sweep, within seconds) or `celery` (Celery workers). Whatever the mode, the scheduler's sweep
takes up a launch that stopped moving (its worker died), so none is left half-started.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.orm import Session

from engine.models import FanOut, FanOutItem, ProcessInstance, ProcessVersion
from engine.models.fan_out import FAN_OUT_STATUSES
from engine.runtime import Runtime
from engine.services import audit, work_queue

log = logging.getLogger(__name__)
CHUNK_SIZE = 250
# A running launch whose chunks have not moved for this long lost its worker: take it up again.
STALLED_AFTER = timedelta(minutes=2)


class ItemDataError(ValueError):
    pass


def plan(rt: Runtime, session: Session, parent, element: str, version, entries: list[dict]) -> int:
    """Write the launch and its items in the caller's (the parent's) transaction; run after commit."""
    now = rt.clock.now()
    fan_out_id = session.execute(insert(FanOut).values(
        parent_instance_id=parent.id, element=element, process_version_id=version.id, started_by=parent.started_by,
        status="running", total=len(entries), started=0, created_at=now, updated_at=now)
        .returning(FanOut.id)).scalar_one()
    rows = []
    for seq, entry in enumerate(entries):
        try:
            data = json.dumps(entry["data"], ensure_ascii=False)
        except (TypeError, ValueError) as error:
            raise ItemDataError(f"子流程数据须为 JSON 可表示的值 / child data must be JSON values: {error}") from None
        rows.append({"fan_out_id": fan_out_id, "seq": seq, "business_key": entry["business_key"],
                     "title": entry["title"][:300], "data": data})
    for start in range(0, len(rows), 5000):
        session.execute(insert(FanOutItem), rows[start:start + 5000])
    audit.record(session, at=now, actor="system", action="launch_planned", instance_id=parent.id, subject=element,
                 detail={"launch": fan_out_id, "process": version.process_id, "total": len(entries)})
    session.info.setdefault("after_commit", []).append(lambda: dispatch(rt, fan_out_id))
    return fan_out_id


def dispatch(rt: Runtime, fan_out_id: int) -> None:
    """Hand a launch to whoever runs chunks here (KAOHE_WORK_QUEUE). Never raises: the caller's work
    is committed, and a launch that did not run is taken up again by `sweep`."""
    def send() -> None:
        from engine.worker import queue_launch
        queue_launch(fan_out_id, _chunks_left(rt, fan_out_id))
    work_queue.hand_over(rt, f"launch {fan_out_id}", lambda: _run_logged(rt, fan_out_id), send)


def _run_logged(rt: Runtime, fan_out_id: int) -> None:
    try:
        run(rt, fan_out_id)
    except Exception as error:
        log.exception("launch %s stopped; it will be resumed", fan_out_id)
        _note_error(rt, fan_out_id, error)


def _chunks_left(rt: Runtime, fan_out_id: int) -> int:
    with rt.db.reading() as session:
        left = session.scalar(select(func.count()).select_from(FanOutItem).where(FanOutItem.fan_out_id == fan_out_id))
    return max(1, math.ceil((left or 0) / CHUNK_SIZE))


def run(rt: Runtime, fan_out_id: int, progress: Callable[[int], None] | None = None) -> int:
    """Run chunks until none is left; returns how many children this call started."""
    total = 0
    while True:
        started, finished = run_chunk(rt, fan_out_id)
        total += started
        if progress and started:
            progress(started)
        if finished or not started:
            return total


def run_chunk(rt: Runtime, fan_out_id: int, size: int | None = None) -> tuple[int, bool]:
    """Start the next `size` (CHUNK_SIZE) children of a launch in one transaction: (started, finished)."""
    from engine.services import children
    from engine.services.execution import lock_instance
    from engine.services.start_many import start_many
    with rt.db.unit_of_work() as session:
        launch = session.get(FanOut, fan_out_id)
        if launch is None or launch.status != "running":
            return 0, True
        parent_status = session.scalar(select(ProcessInstance.status)
                                       .where(ProcessInstance.id == launch.parent_instance_id))
        if parent_status == "terminated":  # the cycle was called off: its remaining children never start
            _cancel(rt, session, launch)
            return 0, True
        size = size or CHUNK_SIZE
        if launch.total - launch.started <= 2 * size:
            # One of the last chunks may join the parent: lock it before the audit trail's head, in
            # the order every other change of the parent takes them, so the two never deadlock.
            lock_instance(session, launch.parent_instance_id)
        query = select(FanOutItem).where(FanOutItem.fan_out_id == fan_out_id).order_by(FanOutItem.seq).limit(size)
        if rt.db.supports_row_locks:  # another worker's chunk is not ours to wait for
            query = query.with_for_update(skip_locked=True)
        items = session.scalars(query).all()
        version = session.get(ProcessVersion, launch.process_version_id)
        start_many(rt, session, version, launch.started_by,
                   [{"data": json.loads(i.data), "title": i.title, "business_key": i.business_key} for i in items],
                   parent=(launch.parent_instance_id, launch.element))
        if items:
            session.execute(delete(FanOutItem).where(FanOutItem.id.in_([i.id for i in items])))
        # The launch row's lock orders chunks finishing at once, so exactly one sees none left.
        session.execute(update(FanOut).where(FanOut.id == fan_out_id).values(
            started=FanOut.started + len(items), updated_at=rt.clock.now(), last_error=None))
        if session.scalar(select(exists().where(FanOutItem.fan_out_id == fan_out_id))):
            return len(items), False
        now = rt.clock.now()
        finished = session.execute(update(FanOut).where(FanOut.id == fan_out_id, FanOut.status == "running")
                                   .values(status="done", finished_at=now)).rowcount
        if not finished:  # a worker with an empty chunk, after the one that finished it: nothing to tell
            return len(items), True
        audit.record(session, at=now, actor="system", action="launch_done", instance_id=launch.parent_instance_id,
                     subject=launch.element, detail={"launch": fan_out_id, "total": launch.total})
        children.join(rt, session, launch.parent_instance_id, launch.element)
        return len(items), True


def _cancel(rt: Runtime, session: Session, launch: FanOut) -> None:
    left = session.execute(delete(FanOutItem).where(FanOutItem.fan_out_id == launch.id)).rowcount
    now = rt.clock.now()
    session.execute(update(FanOut).where(FanOut.id == launch.id).values(status="cancelled", finished_at=now,
                                                                         updated_at=now))
    audit.record(session, at=now, actor="system", action="launch_cancelled", instance_id=launch.parent_instance_id,
                 subject=launch.element, detail={"launch": launch.id, "not_started": left,
                                                 "reason": "parent terminated"})


def _note_error(rt: Runtime, fan_out_id: int, error: Exception) -> None:
    try:
        with rt.db.unit_of_work() as session:
            session.execute(update(FanOut).where(FanOut.id == fan_out_id).values(last_error=str(error)[:2000]))
    except Exception:
        log.exception("could not note the error of launch %s", fan_out_id)


def sweep(rt: Runtime, *, stalled_only: bool = True) -> list[int]:
    """Dispatch again every running launch that has not moved for STALLED_AFTER (a lost worker),
    or every running launch when the scheduler is the one that runs them (KAOHE_WORK_QUEUE=scheduler).
    The scheduler calls this every few seconds; `kaohe launches resume` does it at once."""
    query = select(FanOut.id).where(FanOut.status == "running").order_by(FanOut.id)
    if stalled_only:
        query = query.where(FanOut.updated_at < rt.clock.now() - STALLED_AFTER)
    with rt.db.reading() as session:
        ids = list(session.scalars(query))
    for fan_out_id in ids:
        if rt.settings.work_queue in ("scheduler", "inline"):
            _run_logged(rt, fan_out_id)
        else:
            dispatch(rt, fan_out_id)
    return ids


def running_for(session: Session, parent_id: int, element: str) -> bool:
    """Has a launch of (parent, element) children still to start?"""
    return bool(session.scalar(select(exists().where(
        FanOut.parent_instance_id == parent_id, FanOut.element == element, FanOut.status == "running"))))


@dataclass(frozen=True)
class Progress:
    id: int
    parent_instance_id: int
    element: str
    process_id: str
    status: str
    total: int
    started: int
    last_error: str | None

    def status_text(self, english: bool = False) -> str:
        zh, en = FAN_OUT_STATUSES.get(self.status, (self.status, self.status))
        return en if english else zh

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(self.started * 100 / self.total)


def progress_of(session: Session, parent_id: int | None = None, fan_out_id: int | None = None) -> list[Progress]:
    """Launches of one instance (or one launch), newest first, for the page and the command line."""
    query = (select(FanOut.id, FanOut.parent_instance_id, FanOut.element, ProcessVersion.process_id, FanOut.status,
                    FanOut.total, FanOut.started, FanOut.last_error)
             .join(ProcessVersion, ProcessVersion.id == FanOut.process_version_id).order_by(FanOut.id.desc()))
    if parent_id is not None:
        query = query.where(FanOut.parent_instance_id == parent_id)
    if fan_out_id is not None:
        query = query.where(FanOut.id == fan_out_id)
    return [Progress(*row) for row in session.execute(query)]
