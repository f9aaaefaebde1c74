"""/api/v1/processes and /api/v1/decisions: owners check and deploy files with a token, bad files are
refused whole naming file and element, auditors look and download, staff see nothing."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from engine.models import AuditEvent, DecisionVersion, ProcessVersion
from engine.services import deploy
from tests.support.files import data_file, review_bundle
from tests.web.test_editor_pages import TASK_BOOK_FILES

UNSAFE = {"total = round_half_up(self_score * weight, 1)": "total = __import__('os').system('id')"}


def multipart(files) -> dict:
    return {"data": {"file": [(io.BytesIO(f.content.encode("utf-8")), f.name) for f in files]},
            "content_type": "multipart/form-data"}


def versions_stored(rt) -> int:
    with rt.db.reading() as session:
        return session.scalar(select(func.count()).select_from(ProcessVersion))


@pytest.fixture
def deployed(rt, people):
    deploy.deploy(rt, deploy.read_files(TASK_BOOK_FILES), people.owner)
    return rt


def test_the_owner_deploys_files_and_the_trail_names_the_token(rt, people, api_as):
    owner = api_as(people.owner)
    done = owner.post("/api/v1/processes", **multipart(review_bundle()))
    assert done.status_code == 201, done.get_json()
    assert done.get_json() == {"versions": [{"id": "review", "kind": "process", "version": 1, "created": True}]}
    again = owner.post("/api/v1/processes", **multipart(review_bundle()))
    assert again.get_json()["versions"][0] == {"id": "review", "kind": "process", "version": 1, "created": False}
    with rt.db.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "deploy")).one()
    assert event.subject == "review" and event.actor.startswith("owner#token")
    listed = owner.get("/api/v1/processes").get_json()
    assert [(p["id"], p["name"], p["version"], p["versions"], p["kind"]) for p in listed["items"]] == \
        [("review", "月度自评审核", 1, 1, "process")]
    assert listed["items"][0]["deployed_at"].endswith("+08:00") and listed["total"] == 1


def test_a_malformed_diagram_is_refused_naming_file_and_element_and_nothing_is_stored(rt, people, api_as):
    owner = api_as(people.owner)
    broken = [data_file("review.bpmn", {'targetRef="score"': 'targetRef="nowhere"'}), data_file("self_assess.json")]
    refused = owner.post("/api/v1/processes", **multipart(broken))
    body = refused.get_json()
    assert refused.status_code == 422 and body["code"] == "deployment_rejected"
    assert any(detail.startswith("review.bpmn") and "nowhere" in detail for detail in body["details"]), body
    syntax = owner.post("/api/v1/processes", **multipart([data_file("review.bpmn", {"</bpmn:process>": ""})]))
    assert syntax.status_code == 422 and syntax.get_json()["details"][0].startswith("review.bpmn:")
    assert versions_stored(rt) == 0


def test_an_unsafe_script_is_refused_at_deploy(rt, people, api_as):
    owner = api_as(people.owner)
    refused = owner.post("/api/v1/processes", **multipart(review_bundle(**UNSAFE)))
    assert refused.status_code == 422
    details = refused.get_json()["details"]
    assert any("review.bpmn" in d and "#score" in d for d in details), details
    assert versions_stored(rt) == 0
    checked = owner.post("/api/v1/processes/check", **multipart(review_bundle(**UNSAFE))).get_json()
    assert checked["ok"] is False
    assert any(p["file"] == "review.bpmn" and p["element"] == "score" for p in checked["problems"]), checked


def test_check_lists_problems_in_the_requested_language_and_stores_nothing(rt, people, api_as):
    owner = api_as(people.owner)
    good = owner.post("/api/v1/processes/check", **multipart(review_bundle()))
    assert good.status_code == 200 and good.get_json() == {"ok": True, "problems": []}
    missing_form = owner.post("/api/v1/processes/check", headers={"Accept-Language": "en"},
                              **multipart(review_bundle()[:1])).get_json()
    [problem] = missing_form["problems"]
    assert (problem["file"], problem["element"]) == ("review.bpmn", "self_assess")
    assert "self_assess.json" in problem["message"] and problem["message"].isascii()
    not_text = owner.post("/api/v1/processes/check", content_type="multipart/form-data",
                          data={"file": [(io.BytesIO(b"\xff\xfe\x00bad"), "x.bpmn")]}).get_json()
    assert not_text["ok"] is False and not_text["problems"][0]["file"] == "x.bpmn"
    nothing = owner.post("/api/v1/processes/check", content_type="multipart/form-data", data={})
    assert nothing.status_code == 422 and "file" in nothing.get_json()["field_errors"]
    assert versions_stored(rt) == 0


def test_auditors_look_and_download_but_may_not_check_or_deploy(rt, people, api_as, deployed):
    auditor = api_as(people.auditor)
    assert [p["id"] for p in auditor.get("/api/v1/processes").get_json()["items"]] == ["task_book"]
    history = auditor.get("/api/v1/processes/task_book/versions").get_json()
    [version] = history["items"]
    assert version["version"] == 1 and version["deployed_by"] == "owner"
    files = {f["filename"]: f for f in version["files"]}
    assert files["task_book.bpmn"]["kind"] == "bpmn" and len(files["task_book.bpmn"]["sha256"]) == 64
    download = auditor.get("/api/v1/processes/task_book/versions/1/files/task_book.bpmn")
    assert download.status_code == 200 and download.mimetype == "application/xml"
    assert download.headers["Content-Disposition"] == "attachment; filename*=UTF-8''task_book.bpmn"
    assert b'id="task_book"' in download.get_data()
    assert auditor.get("/api/v1/processes/task_book/versions/2/files/task_book.bpmn").status_code == 404
    assert auditor.get("/api/v1/processes/task_book/versions/1/files/other.bpmn").status_code == 404
    for path in ("/api/v1/processes", "/api/v1/processes/check"):
        assert auditor.post(path, **multipart(review_bundle())).status_code == 403, path
    assert versions_stored(rt) == 1


def test_decision_tables_are_listed_and_downloaded(people, api_as, deployed):
    owner = api_as(people.owner)
    [decision] = owner.get("/api/v1/decisions").get_json()["items"]
    assert (decision["id"], decision["kind"], decision["version"]) == ("monthly_rewards", "decision", 1)
    [version] = owner.get("/api/v1/decisions/monthly_rewards/versions").get_json()["items"]
    assert version["files"][0]["filename"] == "monthly_rewards.dmn"
    download = owner.get("/api/v1/decisions/monthly_rewards/versions/1/download")
    assert download.status_code == 200 and download.headers["Content-Disposition"].startswith("attachment")
    assert b"monthly_rewards" in download.get_data()
    assert owner.get("/api/v1/decisions/monthly_rewards/versions/9/download").status_code == 404
    assert owner.get("/api/v1/decisions/nothing/versions").status_code == 404


def test_staff_see_no_definitions(rt, people, api_as, deployed):
    alice = api_as(people.alice)
    for path in ("/api/v1/processes", "/api/v1/processes/task_book/versions", "/api/v1/decisions",
                 "/api/v1/processes/task_book/versions/1/files/task_book.bpmn",
                 "/api/v1/decisions/monthly_rewards/versions/1/download"):
        refused = alice.get(path)
        assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden", path
    assert alice.post("/api/v1/processes", **multipart(review_bundle())).status_code == 403
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(DecisionVersion)) == 1
    assert versions_stored(rt) == 1


def test_lists_are_paged(people, api_as, deployed):
    owner = api_as(people.owner)
    deploy.deploy(deployed, review_bundle(), people.owner)
    first = owner.get("/api/v1/processes?per_page=1").get_json()
    assert [p["id"] for p in first["items"]] == ["review"] and first["has_next"] and first["total"] == 2
    second = owner.get("/api/v1/processes?per_page=1&page=2").get_json()
    assert [p["id"] for p in second["items"]] == ["task_book"] and not second["has_next"]
    assert owner.get("/api/v1/processes?per_page=0").status_code == 422
