"""Issue 9 · limits: oversized requests, forms, task data, instances and files are refused with a
clear message (Chinese, or English with the language switch) before they can hurt the service,
and nothing is stored or changed. Each limit is a setting (engine/settings.py, KAOHE_MAX_*)."""
from __future__ import annotations

import html
import io
import json
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import AuditEvent, FanOut, HumanTask, Job, OrgUnit, ProcessInstance, ProcessVersion
from engine.runtime import Runtime
from engine.services import deploy, instances, jobs, tasks
from engine.services.execution import fetch_instance
from tests.api.conftest import token_for
from tests.support import servers
from tests.support.limits_diagrams import (BILLION_LAUGHS, EXTERNAL_ENTITY, bloated_definition, launch_bundle,
                                           many_rows_csv, pile_bundle, timed_pile_bundle,
                                           zip_bomb_xlsx)
from tests.web.conftest import csrf_token, login, run_job
from web import create_app

pytestmark = pytest.mark.timeout(120)

# Small limits, so that each case costs kilobytes, not the defaults' megabytes.
SMALL = dict(max_upload_mb=0.02, max_request_mb=0.5, max_form_fields=50, max_form_memory_kb=100, max_data_kb=16,
             max_text_length=500, max_list_items=20, max_state_mb=0.1, max_children=3, max_unpacked_mb=1,
             max_sheet_rows=30, max_definition_kb=64)


@pytest.fixture
def small(rt, people) -> Runtime:
    return Runtime(replace(rt.settings, **SMALL), database=rt.db)


@pytest.fixture
def app(small):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": small, "START_SCHEDULER": False})


def api(app, small, actor):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token_for(small, actor)}"
    return client


def count(rt, model, *where) -> int:
    with rt.db.reading() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def start_pile(rt, people, **data) -> tuple[int, int]:
    """A `pile` instance for unit U1, waiting at its form task: (instance id, task id)."""
    deploy.deploy(rt, pile_bundle(), people.owner)
    instance_id = instances.start(rt, "pile", people.owner, data={"unit_code": "U1", "pile": [], "grow_to": 0,
                                                                  "grow_after": 0, **data})
    (task,) = [t for t in tasks.inbox(rt, people.alice) if t.instance_id == instance_id]
    return instance_id, task.id


def snapshot(rt, instance_id: int, task_id: int) -> tuple:
    """What must not change when a submission is refused: state, status, task, completions."""
    with rt.db.reading() as session:
        record = fetch_instance(session, instance_id)
        task = session.get(HumanTask, task_id)
        completions = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.instance_id == instance_id, AuditEvent.action == "complete"))
        return record.state, record.status, record.version, task.status, completions


# ---------------------------------------------------------------- the request body (real gunicorn)

def _raw(base: str, head: str, body: bytes = b"", *, wait: float = 15) -> str:
    """Send a request's head and the first bytes of its body, then read the answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.encode("latin-1") + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.decode("utf-8", "replace")


@pytest.mark.timeout(90)
def test_a_body_over_the_limit_is_refused_before_it_is_read(rt, people, database_url, tmp_path):
    """A declared gigabyte gets its 413 after a kilobyte was sent, the page in Chinese (or English),
    the API as JSON; a chunked body without a length is cut off at the limit; the worker lives on."""
    env = servers.kaohe_env(database_url, tmp_path / "files", KAOHE_MAX_UPLOAD_MB="0.02", KAOHE_MAX_REQUEST_MB="0.06")
    web = servers.web(env, tmp_path, workers=1).start()
    try:
        gigabyte = 1 << 30
        page = _raw(web.base, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    f"Content-Length: {gigabyte}\r\n\r\n", b"username=" + b"a" * 1024)
        assert page.startswith("HTTP/1.1 413")
        assert "提交的内容超过了 0.06 MB 的上限，未保存任何内容。单个文件最多 0.02 MB。" in html.unescape(page)
        english = _raw(web.base, "POST /login?lang=en HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-"
                       f"urlencoded\r\nContent-Length: {gigabyte}\r\n\r\n", b"a" * 1024)
        assert "The request is larger than the 0.06 MB limit; nothing was saved." in html.unescape(english)
        answer = _raw(web.base, "POST /api/v1/instances HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {gigabyte}\r\n\r\n", b'{"process_id": "')
        assert answer.startswith("HTTP/1.1 413")
        body = json.loads(answer.split("\r\n\r\n", 1)[1])
        assert body["status"] == 413 and body["code"] == "too_large" and "0.06 MB" in body["message"]
        chunk = b"a" * 8192
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(12)) + b"0\r\n\r\n"  # 96 KB > 60 KB
        streamed = _raw(web.base, "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
                        "\r\nTransfer-Encoding: chunked\r\n\r\n", chunks)
        assert streamed.startswith("HTTP/1.1 413")
        assert "未保存任何内容" in html.unescape(streamed)
        assert _raw(web.base, "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith("HTTP/1.1 200")
        assert "Traceback" not in web.log()
    finally:
        web.stop()


# ---------------------------------------------------------------- form posts (fields, memory)

@pytest.mark.parametrize("case", ["too_many_fields", "too_much_text"])
def test_a_form_with_too_many_fields_or_too_much_text_is_a_413_page(app, small, people, case):
    instance_id, task_id = start_pile(small, people)
    before = snapshot(small, instance_id, task_id)
    client = app.test_client()
    login(client, "alice")
    token = csrf_token(client.get(f"/tasks/{task_id}").get_data(as_text=True))
    form = {f"extra{n}": "x" for n in range(60)} if case == "too_many_fields" else {"summary": "字" * 40_000}
    for multipart in (False, True):  # Werkzeug bounds multipart forms; kaohe bounds urlencoded ones too
        response = client.post(f"/tasks/{task_id}", data={"csrf_token": token, **form},
                               content_type="multipart/form-data" if multipart else None)
        assert response.status_code == 413
        assert "表单的字段太多或文字太长（最多 50 个字段、共 100 KB 文字），未保存任何内容。" in text_of(response)
    english = client.post(f"/tasks/{task_id}?lang=en", data={"csrf_token": token, **form})
    assert english.status_code == 413
    assert "The form has too many fields or too much text (at most 50 fields and 100 KB of text)" in text_of(english)
    assert snapshot(small, instance_id, task_id) == before


# ---------------------------------------------------------------- task data

def test_a_text_over_the_limit_is_refused_by_its_field_and_kept_on_the_page(app, small, people):
    instance_id, task_id = start_pile(small, people)
    before = snapshot(small, instance_id, task_id)
    client = app.test_client()
    login(client, "alice")
    typed = "很长的说明" * 101  # 505 characters > 500, and the form sets no maxLength
    token = csrf_token(client.get(f"/tasks/{task_id}").get_data(as_text=True))
    response = client.post(f"/tasks/{task_id}", data={"csrf_token": token, "summary": typed})
    page = text_of(response)
    assert response.status_code == 422
    assert "提交的数据超过上限，未保存任何内容，请检查标出的字段" in page
    assert "最多 500 个字符（现有 505 个）" in page
    assert typed in page  # what the person typed is still in the form
    english = text_of(client.post(f"/tasks/{task_id}?lang=en", data={"csrf_token": token, "summary": typed}))
    assert "at most 500 characters (this has 505)" in english
    assert snapshot(small, instance_id, task_id) == before
    # A field with its own, larger maxLength keeps it: the limit only bounds what the form leaves open.
    response = client.post(f"/tasks/{task_id}", data={"csrf_token": token, "capped": "长" * 1000})
    assert response.status_code == 302
    assert snapshot(small, instance_id, task_id)[3] == "completed"


@pytest.mark.parametrize("data, field, zh, en", [
    ({"items": [f"事项{n}" for n in range(21)]}, "items", "最多 20 项（现有 21 项）", "at most 20 items (this has 21)"),
    ({"capped": "长" * 6000, "summary": "短"}, "capped", "内容过大：共 18 KB，上限 16 KB", "too large: 18 KB, the limit is 16 KB"),
])
def test_task_data_over_a_limit_is_a_422_naming_the_field(app, small, people, data, field, zh, en):
    instance_id, task_id = start_pile(small, people)
    before = snapshot(small, instance_id, task_id)
    client = api(app, small, people.alice)
    response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "too_large" and body["field_errors"] == {field: zh}
    english = client.post(f"/api/v1/tasks/{task_id}/complete?lang=en", json={"data": data}).get_json()
    assert english["field_errors"] == {field: en}
    assert snapshot(small, instance_id, task_id) == before


# ---------------------------------------------------------------- instances

def test_start_data_over_the_limit_starts_nothing(app, small, people):
    deploy.deploy(small, pile_bundle(), people.owner)
    client = api(app, small, people.owner)
    data = {"unit_code": "U1", "pile": ["x" * 2000] * 9, "grow_to": 0, "grow_after": 0}  # 18 KB > 16 KB
    response = client.post("/api/v1/instances", json={"process_id": "pile", "data": data})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "too_large" and body["field_errors"] == {"data": "内容过大：共 18 KB，上限 16 KB"}
    assert count(small, ProcessInstance) == 0


def test_a_start_whose_state_would_grow_too_large_is_refused_whole(app, small, people):
    """A loop in the diagram piles up data at start: the save is refused, no instance exists."""
    deploy.deploy(small, pile_bundle(), people.owner)
    client = api(app, small, people.owner)
    response = client.post("/api/v1/instances", json={"process_id": "pile", "data": {
        "unit_code": "U1", "pile": [], "grow_to": 60, "grow_after": 0}})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "state_too_large"
    assert "超过 0.1 MB 上限，本次操作未保存，实例保持原状" in body["message"]
    assert count(small, ProcessInstance) == 0


def test_a_completion_whose_state_would_grow_too_large_leaves_the_task_open(app, small, people):
    instance_id, task_id = start_pile(small, people, grow_after=60)
    before = snapshot(small, instance_id, task_id)
    client = app.test_client()
    login(client, "alice")
    token = csrf_token(client.get(f"/tasks/{task_id}").get_data(as_text=True))
    response = client.post(f"/tasks/{task_id}", data={"csrf_token": token, "summary": "本月完成"})
    assert response.status_code == 422
    assert "超过 0.1 MB 上限，本次操作未保存，实例保持原状；请检查流程中不断累积数据的脚本或循环" in text_of(response)
    assert "本月完成" in text_of(response)
    english = client.post(f"/tasks/{task_id}?lang=en", data={"csrf_token": token, "summary": "本月完成"})
    assert "over the 0.1 MB limit; nothing was saved and the instance is as it was" in text_of(english)
    assert snapshot(small, instance_id, task_id) == before  # the last good state, the task still open


def test_a_timer_whose_step_would_grow_the_state_too_large_marks_the_instance_failed(small, people):
    """Nobody waits for a timer's answer, and a refused wake-up would come back forever: like a failing
    script, the instance goes to `error` with the reason, keeping its last good state."""
    deploy.deploy(small, timed_pile_bundle(), people.owner)
    instance_id = instances.start(small, "timed_pile", people.owner, data={"pile": [], "grow_to": 60})
    with small.db.reading() as session:
        before = fetch_instance(session, instance_id)
    assert before.status == "waiting_timer"
    time.sleep(max(0.0, (before.next_timer_at - small.clock.now()).total_seconds()) + 0.05)
    assert instances.wake(small, instance_id) is True
    with small.db.reading() as session:
        after = fetch_instance(session, instance_id)
        events = list(session.scalars(select(AuditEvent.action).where(AuditEvent.instance_id == instance_id)))
    assert (after.status, after.error_element, after.next_timer_at) == ("error", "timer", None)
    assert "超过 0.1 MB 上限" in after.error_message and "over the 0.1 MB limit" in after.error_message
    assert after.state == before.state and events[-1] == "error"
    assert instances.due_instance_ids(small) == []  # not woken again


def test_a_launch_over_the_children_limit_starts_none(app, small, people):
    """Like a failing script: the parent goes to `error` with the reason; no launch, no child."""
    deploy.deploy(small, pile_bundle(), people.owner)
    deploy.deploy(small, launch_bundle(), people.owner)
    client = api(app, small, people.owner)
    response = client.post("/api/v1/instances", json={"process_id": "launch",
                                                      "data": {"people": ["a", "b", "c", "d"]}})
    assert response.status_code == 201 and response.get_json()["status"] == "error"
    parent_id = response.get_json()["id"]
    with small.db.reading() as session:
        parent = fetch_instance(session, parent_id)
    assert parent.error_element == "spawn"
    assert "要启动 4 个子流程，超过上限 3，一个也未启动" in parent.error_message
    assert count(small, FanOut) == 0
    assert count(small, ProcessInstance, ProcessInstance.parent_instance_id == parent_id) == 0


# ---------------------------------------------------------------- uploaded files

def import_from_the_page(app, small, name: str, content: bytes) -> str:
    """The organisation page's upload form (an import job, run inline here): the job page's error,
    after checking that the job failed and left neither units nor the uploaded file behind."""
    client = app.test_client()
    login(client, "owner")
    job_page = run_job(client, "/admin/org", "org_import", {"workbook": (io.BytesIO(content), name)})
    assert job_page.status_code == 200 and 'id="job-error"' in job_page.get_data(as_text=True)
    with small.db.reading() as session:
        assert session.scalars(select(Job.status).where(Job.kind == "org_import")).all() == ["failed"]
    assert list((Path(small.settings.files_dir) / jobs.JOBS_DIR).glob("input-*")) == []
    assert count(small, OrgUnit) == 2 and count(small, AuditEvent, AuditEvent.action == "org_import") == 0
    return text_of(job_page)


def test_a_workbook_that_unpacks_too_large_is_not_opened(app, small, people):
    """An .xlsx is a zip: 5 MB of sheet in a few kilobytes. Refused by its declared size, unread."""
    bomb = zip_bomb_xlsx(5)
    assert len(bomb) < 20 * 1024
    assert "「org.xlsx」解压后有 5 MB，超过 1 MB 上限，未读取" in import_from_the_page(app, small, "org.xlsx", bomb)
    scores = api(app, small, people.owner).post("/api/v1/org/import?lang=en",
                                                data={"file": (io.BytesIO(bomb), "org.xlsx")})
    assert scores.status_code == 422
    assert "'org.xlsx' unpacks to 5 MB, over the 1 MB limit; it was not read" in json.dumps(scores.get_json())
    assert count(small, OrgUnit) == 2  # the two units the test cast already had


@pytest.mark.parametrize("content, name, zh", [
    (lambda: many_rows_csv(40), "org.csv", "行数超过 30 行上限，未导入任何数据；请分成几个文件"),
    (lambda: b"x" * 30_000, "org.csv", "「org.csv」超过 0.02 MB 上限"),
])
def test_an_import_file_over_a_limit_is_refused(app, small, people, content, name, zh):
    client = api(app, small, people.owner)
    response = client.post("/api/v1/org/import", data={"file": (io.BytesIO(content()), name)})
    assert response.status_code == 422
    assert zh in json.dumps(response.get_json(), ensure_ascii=False)
    assert count(small, OrgUnit) == 2
    assert zh in import_from_the_page(app, small, name, content())


@pytest.mark.parametrize("file, zh", [
    (lambda: ("laughs.bpmn", BILLION_LAUGHS), "不允许 DOCTYPE 或实体声明"),
    (lambda: ("peek.bpmn", EXTERNAL_ENTITY), "不允许 DOCTYPE 或实体声明"),
    (lambda: (bloated_definition(80).name, bloated_definition(80).content), "超过 64 KB 上限"),
])
def test_a_definition_with_entities_or_over_the_size_limit_is_not_deployed(app, small, people, file, zh):
    name, content = file()
    client = api(app, small, people.owner)
    response = client.post("/api/v1/processes", data={"file": (io.BytesIO(content.encode()), name)})
    assert response.status_code == 422
    assert any(zh in detail for detail in response.get_json()["details"])
    assert "root:" not in json.dumps(response.get_json())  # /etc/passwd never reached a message
    assert count(small, ProcessVersion) == 0
