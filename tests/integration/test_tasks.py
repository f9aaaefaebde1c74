"""Human tasks through the services: inbox, claim, delegate, complete, and every wrong way to do it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.errors import Conflict, PermissionDenied, ValidationFailed
from engine.models import HumanTask
from engine.services import audit, deploy, instances, tasks
from engine.services.execution import fetch_instance
from tests.support.files import review_bundle


@pytest.fixture
def started(rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    return instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"})


def only_task(rt, actor):
    [task] = tasks.inbox(rt, actor)
    return task


def snapshot(rt, instance_id):
    with rt.db.reading() as session:
        instance = fetch_instance(session, instance_id)
        rows = session.scalars(select(HumanTask.status).where(HumanTask.instance_id == instance_id)).all()
        return instance.state, instance.version, sorted(rows)


def test_task_goes_to_the_lane_role_in_the_case_unit(rt, people, started):
    task = only_task(rt, people.alice)
    assert (task.name, task.lane, task.form_file) == ("填写自评", "员工", "self_assess.json")
    assert tasks.inbox(rt, people.bob) == []  # staff of another unit
    assert tasks.inbox(rt, people.auditor) == []


def test_happy_path_runs_script_and_moves_to_the_head(rt, people, started):
    task = only_task(rt, people.alice)
    status = tasks.complete(rt, task.id, people.alice, {"self_score": 90, "summary": "完成全部任务"})
    assert status == "waiting_person"
    approve = only_task(rt, people.head)
    assert approve.name == "正职审核"
    view = tasks.get(rt, approve.id, people.head)
    assert view.data["total"] == 45.0
    assert tasks.complete(rt, approve.id, people.head, {"approved": True}) == "completed"
    with rt.db.reading() as session:
        actions = [e.action for e in audit.instance_trail(session, started)]
        assert audit.verify(session).ok
    assert actions == ["start", "complete", "complete", "complete_instance"]


def test_send_back_returns_the_task_to_staff(rt, people, started):
    tasks.complete(rt, only_task(rt, people.alice).id, people.alice, {"self_score": 70, "summary": "一般"})
    tasks.complete(rt, only_task(rt, people.head).id, people.head, {"approved": False})
    assert only_task(rt, people.alice).name == "填写自评"


def test_invalid_form_reports_each_field_and_changes_nothing(rt, people, started):
    task = only_task(rt, people.alice)
    before = snapshot(rt, started)
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(rt, task.id, people.alice, {"self_score": 130})
    errors = caught.value.field_errors
    assert set(errors) == {"self_score", "summary"}
    assert "100" in errors["self_score"].zh and errors["summary"].zh == "此项为必填项"
    assert snapshot(rt, started) == before


def test_fields_outside_the_form_cannot_rewrite_the_case(rt, people, started):
    """Whoever completes a task fills in its form, and nothing else: not who rates them next."""
    task = only_task(rt, people.alice)
    before = snapshot(rt, started)
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(rt, task.id, people.alice, {"self_score": 90, "summary": "很好",
                                                   "lane_owners": {"部门正职": ["alice"]}, "unit_code": "U2"})
    assert set(caught.value.field_errors) == {"lane_owners", "unit_code"}
    assert caught.value.field_errors["unit_code"].zh == "此字段不在表单中"
    assert snapshot(rt, started) == before


def test_someone_elses_task_is_refused_and_changes_nothing(rt, people, started):
    task = only_task(rt, people.alice)
    before = snapshot(rt, started)
    with pytest.raises(PermissionDenied):
        tasks.complete(rt, task.id, people.bob, {"self_score": 80, "summary": "不是我的"})
    assert snapshot(rt, started) == before


def test_completing_twice_is_a_conflict(rt, people, started):
    task = only_task(rt, people.alice)
    tasks.complete(rt, task.id, people.alice, {"self_score": 80, "summary": "第一次"})
    with pytest.raises(Conflict):
        tasks.complete(rt, task.id, people.alice, {"self_score": 80, "summary": "第二次"})


def test_claim_hides_the_task_from_others_and_unclaim_returns_it(rt, people, started):
    with rt.db.unit_of_work() as session:  # a second staff member in the same unit
        from engine.services.people import actor_for, ensure_person
        carol = actor_for(ensure_person(session, "carol", "孙员工", unit_code="U1", roles=("staff",)))
    task = only_task(rt, people.alice)
    tasks.claim(rt, task.id, people.alice)
    assert tasks.inbox(rt, carol) == []
    with pytest.raises(Conflict):
        tasks.claim(rt, task.id, carol)
    with pytest.raises(Conflict, match="已被他人认领"):  # a candidate who was too late hears why
        tasks.complete(rt, task.id, carol, {"self_score": 80, "summary": "抢先"})
    tasks.unclaim(rt, task.id, people.alice)
    assert [t.id for t in tasks.inbox(rt, carol)] == [task.id]


def test_delegate_to_a_named_person_is_recorded(rt, people, started):
    task = only_task(rt, people.alice)
    tasks.delegate(rt, task.id, people.alice, "bob", note="出差")
    assert [t.id for t in tasks.inbox(rt, people.bob)] == [task.id]
    assert tasks.inbox(rt, people.alice) == []
    tasks.complete(rt, task.id, people.bob, {"self_score": 88, "summary": "代为填写"})
    with rt.db.reading() as session:
        [delegated] = [e for e in audit.instance_trail(session, started) if e.action == "delegate"]
    assert '"to":"bob"' in delegated.detail and delegated.actor == "alice"
    with pytest.raises(ValidationFailed):
        tasks.delegate(rt, only_task(rt, people.head).id, people.head, "nobody")


def test_lane_owners_naming_nobody_fall_back_to_the_performance_office(rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    instances.start(rt, "review", people.owner, data={"weight": 1, "lane_owners": {"员工": ["ghost"]}})
    assert [t.name for t in tasks.inbox(rt, people.owner)] == ["填写自评"]
    assert tasks.inbox(rt, people.alice) == []
