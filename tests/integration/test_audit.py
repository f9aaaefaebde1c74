"""The audit trail is a hash chain: every change is in it, and tampering is found and located."""
from __future__ import annotations

import pytest

from sqlalchemy import select, update

from engine.models import AuditEvent
from engine.services import audit, deploy, instances, tasks
from tests.support.files import review_bundle


def run_a_case(rt, people) -> int:
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1"})
    [task] = tasks.inbox(rt, people.alice)
    tasks.claim(rt, task.id, people.alice)
    tasks.complete(rt, task.id, people.alice, {"self_score": 70, "summary": "按时完成"})
    return instance_id


def test_every_change_is_recorded_with_actor_and_digest(rt, people):
    instance_id = run_a_case(rt, people)
    with rt.db.reading() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor) for e in events] == [
        ("deploy", "owner"), ("start", "owner"), ("claim", "alice"), ("complete", "alice")]
    complete = events[-1]
    assert complete.instance_id == instance_id and complete.task_guid and complete.subject == "self_assess"
    assert complete.data_digest == audit.digest({"self_score": 70, "summary": "按时完成"})
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:]))


@pytest.mark.tampers_audit
def test_verify_passes_then_names_the_first_tampered_event(rt, people):
    run_a_case(rt, people)
    with rt.db.reading() as session:
        report = audit.verify(session)
        assert report.ok and report.checked == 4
        third = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id).offset(2)).first()
    with rt.db.unit_of_work() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == third).values(actor="mallory"))
    with rt.db.reading() as session:
        report = audit.verify(session)
    assert not report.ok and report.first_broken_id == third and report.checked == 2


@pytest.mark.tampers_audit
def test_verify_notices_events_removed_from_the_end(rt, people):
    run_a_case(rt, people)
    with rt.db.unit_of_work() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        session.delete(last)
    with rt.db.reading() as session:
        report = audit.verify(session)
    assert not report.ok and "removed" in report.reason
