"""Deploying files: versions by content, and bad files refused whole with a clear reason."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.bpmn.bundle import SourceFile
from engine.errors import DeploymentRejected, PermissionDenied
from engine.models import DefinitionFile, ProcessVersion
from engine.services import deploy, instances
from tests.support.files import data_file, review_bundle


def count(rt, model) -> int:
    with rt.db.reading() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_deploy_creates_a_version_and_unchanged_files_create_none(rt, people):
    first = deploy.deploy(rt, review_bundle(), people.owner)
    again = deploy.deploy(rt, review_bundle(), people.owner)
    assert [(r.process_id, r.version, r.created) for r in first] == [("review", 1, True)]
    assert [(r.process_id, r.version, r.created) for r in again] == [("review", 1, False)]
    assert count(rt, ProcessVersion) == 1


def test_changed_form_makes_a_new_version_and_running_instances_keep_theirs(rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    old_instance = instances.start(rt, "review", people.owner)
    changed = [data_file("review.bpmn"), data_file("self_assess.json", {'"maximum": 100': '"maximum": 120'})]
    [result] = deploy.deploy(rt, changed, people.owner)
    assert (result.version, result.created) == (2, True)
    new_instance = instances.start(rt, "review", people.owner)
    with rt.db.reading() as session:
        versions = {i: v for i, v in session.execute(select(ProcessVersion.id, ProcessVersion.version))}
    old_view = instances.view(rt, old_instance, people.owner)
    new_view = instances.view(rt, new_instance, people.owner)
    assert versions[old_view.instance.process_version_id] == 1
    assert versions[new_view.instance.process_version_id] == 2


BROKEN = {
    "xml syntax": ([SourceFile("bad.bpmn", "<bpmn:definitions><oops></bpmn:definitions>")], "bad.bpmn", None,
                   "XML"),
    "unknown reference": ([data_file("review.bpmn", {'targetRef="score"': 'targetRef="nowhere"'}),
                           data_file("self_assess.json")], "review.bpmn", None, "BPMN"),
    "missing call target": ([data_file("review.bpmn", {
        '<bpmn:userTask id="approve" name="正职审核"/>':
            '<bpmn:callActivity id="approve" name="调用" calledElement="ghost_process"/>'}),
        data_file("self_assess.json")], "review.bpmn", None, "ghost_process"),
    "missing form file": (review_bundle()[:1], "review.bpmn", "self_assess", "self_assess.json"),
    "unsafe script": ([data_file("review.bpmn", {
        "total = round_half_up(self_score * weight, 1)": "import os\nos.system('id')"}),
        data_file("self_assess.json")], "review.bpmn", "score", "import"),
    "unsafe condition": ([data_file("review.bpmn", {
        "approved == True": "().__class__.__base__.__subclasses__()"}),
        data_file("self_assess.json")], "review.bpmn", "f_ok", "_"),
    "invalid form schema": ([data_file("review.bpmn"), SourceFile("self_assess.json", '{"type": 12}')],
                            "self_assess.json", None, "JSON Schema"),
    "not a diagram": ([SourceFile("notes.txt", "hello")], "notes.txt", None, ".bpmn"),
}


@pytest.mark.parametrize("files, file, element, words", BROKEN.values(), ids=BROKEN.keys())
def test_bad_files_are_refused_whole_naming_file_element_and_problem(rt, people, files, file, element, words):
    with pytest.raises(DeploymentRejected) as caught:
        deploy.deploy(rt, files, people.owner)
    problems = caught.value.problems
    assert any(p.file == file and (element is None or p.element == element) and
               (words in p.zh or words in p.en) for p in problems), [p.text("en") for p in problems]
    assert all(p.zh and p.en for p in problems)
    assert count(rt, ProcessVersion) == 0 and count(rt, DefinitionFile) == 0


def test_a_good_file_beside_a_bad_one_is_not_stored_either(rt, people):
    with pytest.raises(DeploymentRejected):
        deploy.deploy(rt, review_bundle() + [SourceFile("bad.dmn", "<definitions")], people.owner)
    assert count(rt, ProcessVersion) == 0


def test_only_process_owners_deploy(rt, people):
    with pytest.raises(PermissionDenied):
        deploy.deploy(rt, review_bundle(), people.alice)
    assert count(rt, ProcessVersion) == 0


def test_decision_tables_are_versioned_on_their_own(rt, people):
    table = data_file("../../workflows/monthly_rewards.dmn", rename="monthly_rewards.dmn")
    [first] = deploy.deploy(rt, [table], people.owner)
    assert (first.kind, first.process_id, first.version, first.created) == ("decision", "monthly_rewards", 1, True)
    assert deploy.deploy(rt, [table], people.owner)[0].created is False
    edited = SourceFile("monthly_rewards.dmn", table.content.replace(">20<", ">25<", 1))
    assert edited.content != table.content
    assert deploy.deploy(rt, [edited], people.owner)[0].version == 2


def test_a_decision_cell_spiffworkflow_would_misread_is_refused(rt, people):
    table = data_file("../../workflows/monthly_rewards.dmn", rename="monthly_rewards.dmn")
    broken = SourceFile(table.name, table.content.replace("? in (1, 2)", "in (1, 2)", 1))
    assert broken.content != table.content
    with pytest.raises(DeploymentRejected) as caught:
        deploy.deploy(rt, [broken], people.owner)
    assert "must be written '? in (1, 2)'" in caught.value.problems[0].en


def test_a_lane_named_after_no_role_must_fit_a_role_code(rt, people):
    """Such a lane offers its tasks to its name as a role code (32 characters in the task table):
    a longer one is refused at deployment instead of breaking the first task that reaches it."""
    long_name = "第三方协作单位联络员" * 4  # 40 characters, no known role
    with pytest.raises(DeploymentRejected) as refused:
        deploy.deploy(rt, review_bundle(**{'name="部门正职"': f'name="{long_name}"'}), people.owner)
    [problem] = refused.value.problems
    assert problem.element == "lane_head" and "32" in problem.zh
    deploy.deploy(rt, review_bundle(**{'name="部门正职"': 'name="联络员"'}), people.owner)  # a short one is fine
