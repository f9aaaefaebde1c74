"""Evidence files on the pages: chosen in the task form, kept through a refused submit, listed with
links on the task and instance pages, and downloaded as attachments only."""
from __future__ import annotations

import html
import io
import json
from urllib.parse import unquote

import pytest

from engine.services import deploy, evidence, instances, tasks
from tests.support import evidence as files
from tests.support.evidence import review_with_files_bundle
from tests.web.conftest import csrf_token, login


def text(response) -> str:
    return response.get_data(as_text=True)


def field_html(page: str, name: str) -> str:
    start = page.index(f'data-field="{name}"')
    end = page.find('data-field="', start + 1)
    return page[start:end if end != -1 else len(page)]


@pytest.fixture
def task_id(rt, people) -> int:
    deploy.deploy(rt, review_with_files_bundle(), people.owner)
    instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"})
    [task] = tasks.inbox(rt, people.alice)
    return task.id


def post_task(client, task_id: int, data: dict):
    page = client.get(f"/tasks/{task_id}")
    return client.post(f"/tasks/{task_id}", data={**data, "csrf_token": csrf_token(text(page))},
                       content_type="multipart/form-data")


def test_the_form_has_a_file_input_and_posts_as_multipart(client, people, task_id):
    login(client, "alice")
    page = text(client.get(f"/tasks/{task_id}"))
    assert 'enctype="multipart/form-data"' in page
    many, one = field_html(page, "attachments"), field_html(page, "photo")
    assert 'type="file"' in many and "multiple" in many and ".pdf" in many
    assert 'type="file"' in one and "multiple" not in one


def test_upload_through_the_form_then_download_as_an_attachment(client, rt, people, task_id):
    login(client, "alice")
    response = post_task(client, task_id, {
        "self_score": "90", "summary": "完成全部任务",
        "attachments": [(io.BytesIO(files.PDF), "整改报告.pdf"), (io.BytesIO(files.PNG), "现场照片.png")]})
    assert response.status_code == 302
    [approve] = tasks.inbox(rt, people.head)
    data = tasks.get(rt, approve.id, people.head).data
    assert [(f["name"], f["content_type"]) for f in data["attachments"]] == [
        ("整改报告.pdf", "application/pdf"), ("现场照片.png", "image/png")]
    instance_id = approve.instance_id
    sha = data["attachments"][0]["sha256"]

    instance_page = text(client.get(f"/instances/{instance_id}"))  # alice completed a task: she may see it
    assert f"/instances/{instance_id}/files/{sha}" in instance_page and "整改报告.pdf" in instance_page
    download = client.get(f"/instances/{instance_id}/files/{sha}")
    body = download.get_data()
    download.close()  # the file is streamed from disk: close it as a server would
    assert download.status_code == 200 and body == files.PDF
    assert download.headers["Content-Type"] == "application/pdf"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "整改报告.pdf" in unquote(disposition)
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "sandbox"

    client.post("/logout", data={"csrf_token": csrf_token(instance_page)})
    login(client, "head")  # the next person sees the files on their task page
    page = text(client.get(f"/tasks/{approve.id}"))
    assert 'id="attachments"' in page and f"/instances/{instance_id}/files/{sha}" in page
    again = client.get(f"/instances/{instance_id}/files/{sha}")
    again.close()
    assert again.status_code == 200


def test_another_units_staff_may_not_download(client, rt, people, task_id):
    stored = evidence.store(rt, people.alice, task_id, "attachments", "报告.pdf", io.BytesIO(files.PDF))
    instance_id = tasks.get(rt, task_id, people.alice).task.instance_id
    login(client, "bob")
    response = client.get(f"/instances/{instance_id}/files/{stored['sha256']}")
    assert response.status_code == 403 and files.PDF not in response.data
    assert client.get(f"/instances/{instance_id}/files/{'0' * 64}").status_code in (403, 404)


def test_a_refused_submit_keeps_the_uploaded_file_listed(client, rt, people, task_id):
    login(client, "alice")
    response = post_task(client, task_id, {"self_score": "130", "summary": "完成",
                                           "attachments": [(io.BytesIO(files.PDF), "整改报告.pdf")]})
    assert response.status_code == 422
    page = text(response)
    assert "不能大于 100" in field_html(page, "self_score")
    kept = field_html(page, "attachments")
    assert "整改报告.pdf" in kept and 'type="checkbox"' in kept and "checked" in kept
    value = html.unescape(kept.split('value="', 1)[1].split('"', 1)[0])
    ref = json.loads(value)
    assert ref["name"] == "整改报告.pdf" and ref["size"] == len(files.PDF)

    # sent back as the page has it (the file ticked), with the score corrected: nothing is lost
    response = post_task(client, task_id, {"self_score": "90", "summary": "完成", "attachments": value})
    assert response.status_code == 302
    [approve] = tasks.inbox(rt, people.head)
    assert tasks.get(rt, approve.id, people.head).data["attachments"] == [ref]


def test_a_refused_file_is_named_beside_its_field_and_the_others_are_kept(client, rt, people, task_id):
    login(client, "alice")
    response = post_task(client, task_id, {
        "self_score": "90", "summary": "完成",
        "attachments": [(io.BytesIO(files.PDF), "报告.pdf"), (io.BytesIO(files.HTML), "伪装.pdf")]})
    assert response.status_code == 422
    kept = field_html(text(response), "attachments")
    assert "伪装.pdf" in kept and "不符" in kept and 'role="alert"' in kept
    assert "报告.pdf" in kept and 'type="checkbox"' in kept
    assert [t.id for t in tasks.inbox(rt, people.alice)] == [task_id]  # not completed


def test_unticking_every_kept_file_removes_them_and_a_kept_one_comes_back_as_posted():
    from werkzeug.datastructures import MultiDict

    from web import forms_render
    schema = json.loads(review_with_files_bundle()[1].content)
    assert forms_render.convert(schema, MultiDict({"summary": "完成"}))["attachments"] == []
    ref = {"sha256": "a" * 64, "name": "a.pdf", "size": 3, "content_type": "application/pdf"}
    posted = MultiDict([("attachments", json.dumps(ref)), ("photo", json.dumps(ref))])
    converted = forms_render.convert(schema, posted)
    assert converted["attachments"] == [ref] and converted["photo"] == ref
