"""Moving a running instance to a newer version of its process: a compatible change moves it (its open
task stays in the inbox and completing it follows the NEW diagram); an incompatible one is refused with
the reason and leaves the instance exactly as it was. Through the service, the CLI, the API and the page."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from engine.models import AuditEvent, HumanTask, ProcessInstance, TaskCandidate
from engine.services import deploy, instance_migration, instances, tasks
from tests.api.conftest import ApiClient, token_for
from tests.support.cli import cli_runner
from tests.support.files import review_bundle
from tests.web.conftest import login, post_form
from web import create_app

# v2: the waiting task renamed (label only), a new task after it, and the form's summary made optional.
COMPATIBLE = {
    'name="填写自评"': 'name="填写本月自评"',
    '<bpmn:sequenceFlow id="f2" sourceRef="self_assess" targetRef="score"/>':
        '<bpmn:sequenceFlow id="f2" sourceRef="self_assess" targetRef="explain"/>'
        '<bpmn:userTask id="explain" name="补充说明"/>'
        '<bpmn:sequenceFlow id="f2b" sourceRef="explain" targetRef="score"/>',
    "<bpmn:flowNodeRef>score</bpmn:flowNodeRef>": "<bpmn:flowNodeRef>score</bpmn:flowNodeRef>"
                                                 "<bpmn:flowNodeRef>explain</bpmn:flowNodeRef>",
}
# v3 of an instance waiting at self_assess: that task's id is changed (a rename of the element itself).
RENAMED = {'id="self_assess"': 'id="self_review"', 'sourceRef="self_assess"': 'sourceRef="self_review"',
           'targetRef="self_assess"': 'targetRef="self_review"',
           "<bpmn:flowNodeRef>self_assess</bpmn:flowNodeRef>": "<bpmn:flowNodeRef>self_review</bpmn:flowNodeRef>"}


def optional_summary_form():
    [bpmn, form] = review_bundle(**COMPATIBLE)
    form = type(form)(form.name, form.content.replace('"required": ["self_score", "summary"]',
                                                      '"required": ["self_score"]'))
    return [bpmn, form]


def snapshot(rt, instance_id: int) -> dict:
    """All that a refused move must leave untouched: state, version, task rows, candidates, trail."""
    with rt.db.reading() as session:
        row = session.execute(text("SELECT state, process_version_id, version, status FROM process_instance "
                                   "WHERE id = :id"), {"id": instance_id}).one()
        task_rows = session.execute(select(HumanTask.id, HumanTask.task_guid, HumanTask.name, HumanTask.lane,
                                           HumanTask.form_file, HumanTask.status, HumanTask.assignee_id)
                                    .where(HumanTask.instance_id == instance_id).order_by(HumanTask.id)).all()
        candidates = session.execute(select(TaskCandidate.task_id, TaskCandidate.role, TaskCandidate.unit_id,
                                            TaskCandidate.person_id).join(HumanTask)
                                     .where(HumanTask.instance_id == instance_id).order_by(TaskCandidate.id)).all()
        events = session.scalar(select(func.count()).select_from(AuditEvent))
    return {"row": tuple(row), "tasks": task_rows, "candidates": candidates, "events": events}


def migrations_of(rt, instance_id: int) -> list[dict]:
    import json
    with rt.db.reading() as session:
        return [json.loads(d) for d in session.scalars(select(AuditEvent.detail).where(
            AuditEvent.instance_id == instance_id, AuditEvent.action == "instance_migrated"))]


def version_of(rt, instance_id: int) -> int:
    with rt.db.reading() as session:
        return session.get(ProcessInstance, instance_id).process_version.version


@pytest.fixture
def case(rt, people) -> int:
    """A review case on v1 waiting at 填写自评, claimed by alice."""
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"},
                                  title="2026年5月 自评")
    [task] = [t for t in tasks.inbox(rt, people.alice) if t.instance_id == instance_id]
    tasks.claim(rt, task.id, people.alice)
    return instance_id


@pytest.mark.timeout(60)
def test_a_compatible_change_moves_the_instance_and_it_follows_the_new_diagram(rt, people, case):
    deploy.deploy(rt, optional_summary_form(), people.owner)
    found = instance_migration.check(rt, case, people.owner)
    assert found.allowed and (found.from_version, found.to_version) == (1, 2)
    assert any("self_assess.json" in note.zh for note in found.notes)  # the form changed, and it says so

    instance_migration.migrate(rt, case, people.owner)

    assert version_of(rt, case) == 2
    assert migrations_of(rt, case) == [{"from_version": 1, "to_version": 2}]
    [task] = [t for t in tasks.inbox(rt, people.alice) if t.instance_id == case]
    assert (task.name, task.element_id, task.assignee_id) == ("填写本月自评", "self_assess", people.alice.person_id)
    # The summary is optional in v2's form: v1's form would have refused this submission.
    assert tasks.complete(rt, task.id, people.alice, {"self_score": 80}) == "waiting_person"
    [following] = [t for t in tasks.inbox(rt, people.alice) if t.instance_id == case]
    assert following.element_id == "explain"  # v2's new task, which v1 does not have
    tasks.complete(rt, following.id, people.alice, {})
    [approval] = [t for t in tasks.inbox(rt, people.head) if t.instance_id == case and t.element_id == "approve"]
    assert tasks.complete(rt, approval.id, people.head, {"approved": True}) == "completed"


@pytest.mark.timeout(60)
def test_an_incompatible_change_is_refused_with_its_reason_and_changes_nothing(rt, people, case):
    deploy.deploy(rt, review_bundle(**RENAMED), people.owner)
    before = snapshot(rt, case)
    found = instance_migration.check(rt, case, people.owner)
    assert not found.allowed
    assert any("self_assess" in r.zh and "不存在" in r.zh for r in found.reasons), found.reasons
    assert any("self_assess" in r.en and "not in the new version" in r.en for r in found.reasons)
    with pytest.raises(instance_migration.MigrationRefused) as refused:
        instance_migration.migrate(rt, case, people.owner)
    assert "self_assess" in str(refused.value)
    assert snapshot(rt, case) == before
    assert migrations_of(rt, case) == []
    # The case still works on its own version.
    [task] = [t for t in tasks.inbox(rt, people.alice) if t.instance_id == case]
    tasks.complete(rt, task.id, people.alice, {"self_score": 80, "summary": "按时完成"})
    assert version_of(rt, case) == 1


@pytest.mark.timeout(60)
def test_finished_instances_older_versions_and_strangers_are_refused(rt, people, case):
    deploy.deploy(rt, optional_summary_form(), people.owner)
    instance_migration.migrate(rt, case, people.owner)
    before = snapshot(rt, case)
    older = instance_migration.check(rt, case, people.owner, to_version=1)
    assert [r.en for r in older.reasons] == ["version v1 is not newer than the instance's v2"]
    with pytest.raises(instance_migration.MigrationRefused):
        instance_migration.migrate(rt, case, people.owner, to_version=1)
    from engine.errors import PermissionDenied
    with pytest.raises(PermissionDenied):
        instance_migration.migrate(rt, case, people.alice)
    assert snapshot(rt, case) == before

    done = instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1"}, title="已终止")
    instances.terminate(rt, done, people.owner, "测试")
    deploy.deploy(rt, review_bundle(**{'name="正职审核"': 'name="正职审批"'}), people.owner)
    refused = instance_migration.check(rt, done, people.owner)
    assert any("terminated" in r.en for r in refused.reasons)
    assert version_of(rt, done) == 2 and migrations_of(rt, done) == []


@pytest.mark.timeout(120)
def test_the_cli_checks_refuses_and_moves(rt, people, case, database_url):
    run = cli_runner(database_url)
    deploy.deploy(rt, review_bundle(**RENAMED), people.owner)  # v2: incompatible
    before = snapshot(rt, case)
    checked = run("instances", "migrate", str(case), "--check", language="en")
    assert checked.returncode == 1 and "self_assess" in checked.stderr and "not in the new version" in checked.stderr
    refused = run("instances", "migrate", str(case))
    assert refused.returncode == 1 and "self_assess" in refused.stderr and "不存在" in refused.stderr
    assert snapshot(rt, case) == before

    deploy.deploy(rt, optional_summary_form(), people.owner)  # v3: compatible
    before = snapshot(rt, case)
    checked = run("instances", "migrate", str(case), "--to", "3", "--check")
    assert checked.returncode == 0 and "v1 → v3" in checked.stdout and "self_assess.json" in checked.stdout
    assert snapshot(rt, case) == before
    moved = run("instances", "migrate", str(case))
    assert moved.returncode == 0, moved.stderr
    assert "v1 → v3" in moved.stdout and version_of(rt, case) == 3
    assert migrations_of(rt, case) == [{"from_version": 1, "to_version": 3}]


@pytest.mark.timeout(60)
def test_the_api_answers_409_with_the_reasons_or_moves(rt, people, case):
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})
    owner = ApiClient(app.test_client(), token_for(rt, people.owner))
    alice = ApiClient(app.test_client(), token_for(rt, people.alice))
    deploy.deploy(rt, review_bundle(**RENAMED), people.owner)
    before = snapshot(rt, case)
    assert alice.post(f"/api/v1/instances/{case}/migrate", json={}).status_code == 403
    refused = owner.post(f"/api/v1/instances/{case}/migrate", json={"version": 2})
    assert refused.status_code == 409
    assert refused.json["code"] == "migration_refused"
    assert any("self_assess" in detail for detail in refused.json["details"])
    assert owner.post(f"/api/v1/instances/{case}/migrate", json={"version": 9}).status_code == 404
    assert owner.post(f"/api/v1/instances/{case}/migrate", json={"version": "x"}).status_code == 422
    assert snapshot(rt, case) == before

    deploy.deploy(rt, optional_summary_form(), people.owner)
    before = snapshot(rt, case)
    checked = owner.post(f"/api/v1/instances/{case}/migrate", json={"check": True})
    assert checked.status_code == 200 and checked.json["allowed"] and not checked.json["migrated"]
    assert snapshot(rt, case) == before
    moved = owner.post(f"/api/v1/instances/{case}/migrate")
    assert moved.status_code == 200, moved.json
    assert (moved.json["from_version"], moved.json["to_version"], moved.json["migrated"]) == (1, 3, True)
    assert owner.get(f"/api/v1/instances/{case}").json["process_version"] == 3


@pytest.mark.timeout(60)
def test_the_page_offers_the_move_to_owners_and_shows_a_refusal(rt, people, case):
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})
    client = app.test_client()
    page_url = f"/instances/{case}"
    login(client, "owner")
    assert "迁移到最新版本" not in client.get(page_url).get_data(as_text=True)  # nothing newer yet
    deploy.deploy(rt, review_bundle(**RENAMED), people.owner)
    assert "迁移到最新版本" in client.get(page_url).get_data(as_text=True)
    before = snapshot(rt, case)
    refused = post_form(client, page_url, f"/instances/{case}/migrate", {})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert 'id="migration-refused"' in html and "self_assess" in html and "不存在" in html
    assert snapshot(rt, case) == before

    deploy.deploy(rt, optional_summary_form(), people.owner)
    moved = post_form(client, page_url, f"/instances/{case}/migrate", {}, follow_redirects=True)
    html = moved.get_data(as_text=True)
    assert moved.status_code == 200 and "已迁移到版本 v3" in html and "v3" in html
    assert "迁移到最新版本" not in html and version_of(rt, case) == 3

    other = app.test_client()
    login(other, "alice")
    assert "迁移到最新版本" not in other.get(page_url).get_data(as_text=True)
    assert post_form(other, page_url, f"/instances/{case}/migrate", {}).status_code == 403


@pytest.mark.timeout(60)
def test_timers_keep_their_deadline_and_sub_processes_move_with_the_instance(rt, people):
    from engine.bpmn.bundle import SourceFile
    from tests.web.test_instances_pages import WAITER
    inner = ('<bpmn:subProcess id="side" name="旁路"><bpmn:startEvent id="s2"/>'
             '<bpmn:sequenceFlow id="g1" sourceRef="s2" targetRef="inner"/><bpmn:userTask id="inner" name="内部登记"/>'
             '<bpmn:sequenceFlow id="g2" sourceRef="inner" targetRef="e2"/><bpmn:endEvent id="e2"/></bpmn:subProcess>')
    embedded = WAITER.replace('<bpmn:userTask id="side" name="旁路登记"/>', inner)
    deploy.deploy(rt, [SourceFile("waiter.bpmn", embedded)], people.owner)
    case = instances.start(rt, "waiter", people.owner, data={})
    [fill] = [t for t in tasks.inbox(rt, people.owner) if t.instance_id == case]
    tasks.complete(rt, fill.id, people.owner, {})  # now: a 3-day timer and a task inside the sub-process
    with rt.db.reading() as session:
        due = session.get(ProcessInstance, case).next_timer_at
    deploy.deploy(rt, [SourceFile("waiter.bpmn", embedded.replace('name="内部登记"', 'name="内部复核"'))], people.owner)
    instance_migration.migrate(rt, case, people.owner)
    with rt.db.reading() as session:
        assert session.get(ProcessInstance, case).next_timer_at == due  # the timer was not restarted
    assert [t.name for t in tasks.inbox(rt, people.owner) if t.instance_id == case] == ["内部复核"]
    # The sub-process made a plain task again: a different kind of element where the case stands.
    deploy.deploy(rt, [SourceFile("waiter.bpmn", WAITER)], people.owner)
    refused = instance_migration.check(rt, case, people.owner)
    assert any("side" in r.en and "different kind" in r.en for r in refused.reasons), refused.reasons
