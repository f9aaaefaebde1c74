"""Two people submit the same task at the same moment: one wins, the other gets a clear conflict."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from engine.errors import Conflict
from engine.models import AuditEvent, HumanTask
from engine.services import audit, deploy, instances, tasks
from tests.support.files import review_bundle


def test_simultaneous_completions_complete_the_task_exactly_once(rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1"})
    [task] = tasks.inbox(rt, people.alice)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def submit(n: int) -> None:
        barrier.wait()
        try:
            tasks.complete(rt, task.id, people.alice, {"self_score": 60 + n, "summary": f"第{n}次提交"})
            outcomes.append("done")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "done"]
    with rt.db.reading() as session:
        completions = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.instance_id == instance_id, AuditEvent.action == "complete"))
        open_rows = session.scalars(select(HumanTask.name).where(HumanTask.instance_id == instance_id,
                                                                 HumanTask.status == "open")).all()
        assert audit.verify(session).ok
    assert completions == 1 and open_rows == ["正职审核"]
