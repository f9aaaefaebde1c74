"""The process owners' editor: the list of definitions, history, downloads, validation without storing,
deployment of a new version, diffs, forms preview, uploads, and who may do what."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from engine.services import deploy
from tests.web.conftest import csrf_token, login

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
TASK_BOOK_FILES = [WORKFLOWS / "task_book.bpmn", *sorted((WORKFLOWS / "forms").glob("task_book_*.json")),
                   WORKFLOWS / "monthly_rewards.dmn"]
BROKEN_CONDITION = ("head_approved and secretary_approved", "head_approved and (")


@pytest.fixture
def deployed(rt, people):
    deploy.deploy(rt, deploy.read_files(TASK_BOOK_FILES), people.owner)
    return rt


def signed_in(app, username):
    client = app.test_client()
    login(client, username)
    return client


def token(client) -> str:
    return csrf_token(client.get("/processes/task_book/edit").get_data(as_text=True))


def task_book(replace: tuple[str, str] | None = None) -> str:
    text = (WORKFLOWS / "task_book.bpmn").read_text(encoding="utf-8")
    return text.replace(*replace) if replace else text


def post_json(client, url, files, csrf):
    return client.post(url, json={"files": [{"name": n, "content": c} for n, c in files]},
                       headers={"X-CSRFToken": csrf})


def test_the_list_shows_every_process_with_its_latest_version(app, deployed):
    owner = signed_in(app, "owner")
    page = owner.get("/processes")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "月度任务书编制与双签" in text and 'data-process="task_book"' in text and "v1" in text
    assert "owner" in text and 'data-decision="monthly_rewards"' in text
    assert "/processes/task_book/edit" in text and "/processes/task_book/versions" in text
    assert 'name="files"' in text  # the upload form, for an owner
    assert "Process definitions" in owner.get("/processes?lang=en").get_data(as_text=True)


def test_history_lists_versions_with_file_hashes_and_files_download(app, deployed):
    owner = signed_in(app, "owner")
    text = owner.get("/processes/task_book/versions").get_data(as_text=True)
    assert 'data-version="1"' in text and "task_book_draft.json" in text
    import hashlib
    digest = hashlib.sha256((WORKFLOWS / "task_book.bpmn").read_bytes()).hexdigest()
    assert digest[:12] in text
    download = owner.get("/processes/task_book/versions/1/files/task_book.bpmn")
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("application/xml")
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.get_data(as_text=True) == task_book()
    assert owner.get("/processes/task_book/versions/1/files/other.bpmn").status_code == 404
    assert owner.get("/processes/task_book/versions/9/files/task_book.bpmn").status_code == 404
    dmn = owner.get("/decisions/monthly_rewards/versions/1/download")
    assert dmn.status_code == 200 and "monthly_rewards" in dmn.get_data(as_text=True)


def test_the_editor_page_and_its_source(app, deployed):
    owner = signed_in(app, "owner")
    page = owner.get("/processes/task_book/edit").get_data(as_text=True)
    assert "bpmn-modeler.production.min.js" in page and 'id="btn-check"' in page and 'id="btn-deploy"' in page
    assert "kaohe/start_instances" in page  # the operators offered in the panel
    source = owner.get("/processes/task_book/source.json").get_json()
    assert source["bpmn_name"] == "task_book.bpmn" and source["version"] == 1
    assert sorted(source["forms"]) == ["task_book_draft.json", "task_book_sign_head.json",
                                       "task_book_sign_secretary.json"]
    assert owner.get("/processes/nothing/edit").status_code == 404
    english = owner.get("/processes/task_book/edit?lang=en").get_data(as_text=True)
    assert ">Validate<" in english and ">Deploy<" in english and "Form file" in english


def test_validate_names_the_element_of_each_problem_and_stores_nothing(app, deployed):
    owner = signed_in(app, "owner")
    answer = post_json(owner, "/definitions/check", [("task_book.bpmn", task_book(BROKEN_CONDITION))], token(owner))
    body = answer.get_json()
    assert answer.status_code == 200 and body["ok"] is False
    assert body["problems"][0]["element"] == "signed" and body["problems"][0]["file"] == "task_book.bpmn"
    assert "语法错误" in body["problems"][0]["message"]
    good = post_json(owner, "/definitions/check", [("task_book.bpmn", task_book(("正职签字", "部门正职签字")))],
                     token(owner)).get_json()
    assert good == {"ok": True, "problems": []}
    assert 'data-version="2"' not in owner.get("/processes/task_book/versions").get_data(as_text=True)


def test_deploy_stores_a_new_version_and_the_diff_marks_the_changed_element(app, deployed):
    owner = signed_in(app, "owner")
    renamed = task_book(('name="正职签字"', 'name="部门正职签字"'))
    answer = post_json(owner, "/definitions/deploy", [("task_book.bpmn", renamed)], token(owner))
    body = answer.get_json()
    assert answer.status_code == 200 and body["ok"] is True
    assert body["results"] == [{"id": "task_book", "kind": "process", "version": 2, "created": True,
                                "history": "/processes/task_book/versions"}]
    again = post_json(owner, "/definitions/deploy", [("task_book.bpmn", renamed)], token(owner)).get_json()
    assert again["results"][0]["version"] == 2 and again["results"][0]["created"] is False
    history = owner.get("/processes/task_book/versions").get_data(as_text=True)
    assert 'data-version="2"' in history and 'data-version="1"' in history
    assert 'class="diff-changed" data-element="sign_head"' in history and "部门正职签字" in history
    assert 'data-added="[]"' in history
    refused = post_json(owner, "/definitions/deploy", [("task_book.bpmn", task_book(BROKEN_CONDITION))], token(owner))
    assert refused.status_code == 422 and refused.get_json()["problems"][0]["element"] == "signed"


def test_a_diff_shows_added_and_removed_elements(rt, app, deployed, people):
    extra = task_book(('<bpmn:endEvent id="end" name="任务书生效"/>',
                       '<bpmn:endEvent id="end" name="任务书生效"/>\n<bpmn:task id="note" name="备注"/>'))
    extra = extra.replace('<bpmndi:BPMNShape id="end_di" bpmnElement="end">',
                          '<bpmndi:BPMNShape id="note_di" bpmnElement="note"><dc:Bounds x="900" y="280" width="100" '
                          'height="80"/></bpmndi:BPMNShape>\n<bpmndi:BPMNShape id="end_di" bpmnElement="end">')
    deploy.deploy(rt, [deploy.SourceFile("task_book.bpmn", extra)], people.owner)
    owner = signed_in(app, "owner")
    forward = owner.get("/processes/task_book/versions?old=1&new=2").get_data(as_text=True)
    assert 'class="diff-added" data-element="note"' in forward
    backward = owner.get("/processes/task_book/versions?old=2&new=1").get_data(as_text=True)
    assert 'class="diff-removed" data-element="note"' in backward


def test_forms_are_checked_and_previewed(app, deployed):
    owner = signed_in(app, "owner")
    form = (WORKFLOWS / "forms" / "task_book_draft.json").read_text(encoding="utf-8")
    headers = {"X-CSRFToken": token(owner)}
    preview = owner.post("/definitions/form-preview", json={"content": form}, headers=headers).get_json()
    assert preview["ok"] and 'data-field="' in preview["html"] and "disabled" in preview["html"]
    broken = owner.post("/definitions/form-preview", json={"content": '{"type": "object",'}, headers=headers).get_json()
    assert broken["ok"] is False and "不是有效的 JSON" in broken["problems"][0] and broken["html"] == ""
    bad_schema = owner.post("/definitions/form-preview", json={"content": '{"type": 5}'}, headers=headers).get_json()
    assert "JSON Schema" in bad_schema["problems"][0]


def test_upload_validates_and_deploys_files_from_other_modelers(app, deployed):
    owner = signed_in(app, "owner")
    csrf = csrf_token(owner.get("/processes").get_data(as_text=True))

    def upload(name, content, action):
        return owner.post("/processes/upload", data={"csrf_token": csrf, "action": action,
                                                     "files": [(io.BytesIO(content.encode()), name)]},
                          content_type="multipart/form-data")
    refused = upload("task_book.bpmn", task_book(BROKEN_CONDITION), "deploy")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "#signed" in text and "语法错误" in text
    checked = upload("task_book.bpmn", task_book(("正职签字", "正职审签")), "check")
    assert checked.status_code == 200 and "校验通过" in checked.get_data(as_text=True)
    done = upload("task_book.bpmn", task_book(("正职签字", "正职审签")), "deploy")
    assert done.status_code == 200 and "task_book 版本 2" in done.get_data(as_text=True)
    wrong = upload("notes.txt", "hello", "check")
    assert wrong.status_code == 422 and "不支持的文件类型" in wrong.get_data(as_text=True)


def test_the_decision_editor_opens_the_latest_table(app, deployed):
    owner = signed_in(app, "owner")
    page = owner.get("/decisions/monthly_rewards/edit").get_data(as_text=True)
    assert "dmn-modeler.production.min.js" in page and "monthly_rewards.dmn" in page and 'id="btn-deploy"' in page
    assert owner.get("/decisions/nothing/edit").status_code == 404


def test_auditors_may_look_and_download_but_not_validate_or_deploy(app, deployed):
    auditor = signed_in(app, "auditor")
    assert auditor.get("/processes").status_code == 200
    edit = auditor.get("/processes/task_book/edit").get_data(as_text=True)
    assert 'id="btn-deploy"' not in edit and 'id="btn-download"' in edit
    assert auditor.get("/processes/task_book/versions/1/files/task_book.bpmn").status_code == 200
    csrf = csrf_token(edit)
    assert post_json(auditor, "/definitions/check", [("task_book.bpmn", task_book())], csrf).status_code == 403
    assert post_json(auditor, "/definitions/deploy", [("task_book.bpmn", task_book())], csrf).status_code == 403
    assert 'name="files"' not in auditor.get("/processes").get_data(as_text=True)


def test_staff_may_not_see_definitions(app, deployed):
    staff = signed_in(app, "alice")
    for url in ("/processes", "/processes/task_book/edit", "/processes/task_book/versions",
                "/processes/task_book/versions/1/files/task_book.bpmn", "/decisions/monthly_rewards/edit"):
        assert staff.get(url).status_code == 403, url
    csrf = csrf_token(staff.get("/tasks").get_data(as_text=True))
    assert post_json(staff, "/definitions/check", [("task_book.bpmn", task_book())], csrf).status_code == 403
    preview = staff.post("/definitions/form-preview", json={"content": "{}"}, headers={"X-CSRFToken": csrf})
    assert preview.status_code == 403
    assert "/processes" not in staff.get("/tasks").get_data(as_text=True)
