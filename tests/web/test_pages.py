"""The pages as a person meets them: signing in, the inbox, a task form, an instance, errors."""
from __future__ import annotations

import logging
import re
from zoneinfo import ZoneInfo

from engine.services import tasks
from tests.web.conftest import csrf_token, login, post_form


def text(response) -> str:
    return response.get_data(as_text=True)


def field_html(html: str, name: str) -> str:
    """The markup of one form field, from its wrapper to the next field."""
    start = html.index(f'data-field="{name}"')
    end = html.find('data-field="', start + 1)
    return html[start:end if end != -1 else len(html)]


def submit(client, task_id: int, data: dict, action: str = ""):
    """Post to the task page (or one of its actions) with the token from the task page."""
    return post_form(client, f"/tasks/{task_id}", f"/tasks/{task_id}{action}", data)


def alice_task(rt, people):
    [task] = tasks.inbox(rt, people.alice)
    return task


# --- signing in ---------------------------------------------------------------------------------

def test_login_failure_never_says_which_part_was_wrong(client, people):
    wrong_password = login(client, "alice", "not-the-password")
    unknown_user = login(client, "nobody", "not-the-password")
    for response in (wrong_password, unknown_user):
        assert response.status_code == 200
        assert "用户名或密码错误" in text(response)
    assert 'value="nobody"' in text(unknown_user)  # the typed username is kept
    assert client.get("/tasks").status_code == 302  # still signed out


def test_login_success_leads_to_the_inbox(client, people):
    response = login(client, "alice")
    assert response.status_code == 302 and response.headers["Location"] == "/tasks"
    page = client.get("/tasks")
    assert page.status_code == 200 and "赵员工" in text(page)


def test_pages_need_a_signed_in_person(client, people):
    response = client.get("/tasks")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    assert client.get("/").headers["Location"] == "/tasks"


def test_a_post_without_csrf_token_is_refused(client, rt, people, started):
    response = client.post("/login", data={"username": "alice", "password": "secret-pass-1"})
    assert response.status_code == 400
    assert "安全令牌" in text(response) and "Traceback" not in text(response)
    assert client.get("/tasks").status_code == 302
    task = alice_task(rt, people)
    login(client, "alice")
    assert client.post(f"/tasks/{task.id}/claim").status_code == 400
    assert client.post(f"/tasks/{task.id}", data={"self_score": "90", "summary": "完成"}).status_code == 400
    assert alice_task(rt, people).assignee_id is None


def test_login_redirect_stays_on_this_site(client, people):
    page = client.get("/login?next=//evil.example/x")
    response = client.post("/login", data={"username": "alice", "password": "secret-pass-1",
                                           "next": "//evil.example/x", "csrf_token": csrf_token(text(page))})
    assert response.headers["Location"] == "/tasks"


def test_logout_is_a_post_and_ends_the_session(client, people):
    login(client, "alice")
    assert client.get("/logout").status_code == 405
    response = post_form(client, "/tasks", "/logout", {})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/tasks").status_code == 302


# --- the inbox ----------------------------------------------------------------------------------

def test_inbox_shows_the_task_to_alice_and_not_to_bob(client, rt, people, started):
    task = alice_task(rt, people)
    login(client, "alice")
    page = text(client.get("/tasks"))
    assert "填写自评" in page and "2025年5月 自评" in page and f"#{started}" in page
    shanghai = task.created_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert shanghai in page
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    login(client, "bob")
    page = text(client.get("/tasks"))
    assert "填写自评" not in page and "目前没有待办任务" in page


def test_claim_and_release_from_the_inbox(client, rt, people, started):
    task = alice_task(rt, people)
    login(client, "alice")
    response = post_form(client, "/tasks", f"/tasks/{task.id}/claim", {}, follow_redirects=True)
    assert "已认领任务" in text(response) and "我已认领" in text(response)
    response = post_form(client, "/tasks", f"/tasks/{task.id}/unclaim", {}, follow_redirects=True)
    assert "已退回任务" in text(response) and "我已认领" not in text(response)


# --- a task -------------------------------------------------------------------------------------

def test_task_page_draws_the_form_from_its_schema(client, rt, people, started):
    task = alice_task(rt, people)
    login(client, "alice")
    page = text(client.get(f"/tasks/{task.id}"))
    assert "请填写本月自评分和说明" in page and "本月自评" in page
    score = field_html(page, "self_score")
    assert '<label for="f-self_score">自评分' in score and 'class="req"' in score
    assert 'type="number"' in score and 'min="0"' in score and 'max="100"' in score and 'step="any"' in score
    summary = field_html(page, "summary")
    assert "<textarea" in summary and 'maxlength="500"' in summary and "工作说明" in summary


def test_invalid_submit_shows_each_error_beside_its_field_and_keeps_what_was_typed(client, rt, people,
                                                                                     started):
    task = alice_task(rt, people)
    login(client, "alice")
    response = submit(client, task.id, {"self_score": "130", "summary": "好"})
    assert response.status_code == 422
    page = text(response)
    assert "表单填写有误" in page
    score, summary = field_html(page, "self_score"), field_html(page, "summary")
    assert "不能大于 100" in score and 'value="130"' in score
    assert "至少需要 2 个字符" in summary and ">好</textarea>" in summary
    assert alice_task(rt, people).status == "open"


def test_a_number_that_is_not_a_number_is_reported_not_crashed(client, rt, people, started):
    task = alice_task(rt, people)
    login(client, "alice")
    response = submit(client, task.id, {"self_score": "九十", "summary": ""})
    assert response.status_code == 422
    page = text(response)
    assert "格式不正确" in field_html(page, "self_score") and 'value="九十"' in field_html(page, "self_score")
    assert "此项为必填项" in field_html(page, "summary")


def test_valid_submit_completes_the_task_and_the_head_gets_the_next(client, rt, people, started):
    task = alice_task(rt, people)
    login(client, "alice")
    response = post_form(client, f"/tasks/{task.id}", f"/tasks/{task.id}",
                         {"self_score": "90", "summary": "完成全部任务"})
    assert response.status_code == 302 and response.headers["Location"] == "/tasks"
    inbox = text(client.get("/tasks"))
    assert "已完成任务「填写自评」" in inbox and "目前没有待办任务" in inbox
    [approve] = tasks.inbox(rt, people.head)
    assert tasks.get(rt, approve.id, people.head).data["self_score"] == 90
    client.post("/logout", data={"csrf_token": csrf_token(inbox)})
    login(client, "head")
    assert "正职审核" in text(client.get("/tasks"))
    page = text(client.get(f"/tasks/{approve.id}"))
    assert 'name="comment"' in page and "完成" in page  # a task without a form: a button and a comment


def test_someone_elses_task_is_a_403_page(client, rt, people, started):
    task = alice_task(rt, people)
    login(client, "bob")
    response = client.get(f"/tasks/{task.id}")
    assert response.status_code == 403
    assert "无权查看此任务" in text(response) and "无权访问" in text(response)


def test_an_unknown_task_is_a_404_page(client, people):
    login(client, "alice")
    response = client.get("/tasks/999999")
    assert response.status_code == 404 and "任务 999999 不存在" in text(response)
    assert client.get("/no/such/page").status_code == 404


def test_delegating_to_an_unknown_person_keeps_the_typed_name(client, rt, people, started):
    task = alice_task(rt, people)
    login(client, "alice")
    response = submit(client, task.id, {"to": "nobody", "note": "出差"}, action="/delegate")
    assert response.status_code == 422
    page = text(response)
    assert "用户不存在" in page and 'value="nobody"' in page and 'value="出差"' in page
    response = submit(client, task.id, {"to": "bob", "note": "出差"}, action="/delegate")
    assert response.status_code == 302
    assert [t.id for t in tasks.inbox(rt, people.bob)] == [task.id]


# --- English --------------------------------------------------------------------------------------

def test_english_on_request_and_remembered(client, rt, people, started):
    task = alice_task(rt, people)
    login(client, "alice")
    page = text(client.get("/tasks?lang=en"))
    assert '<html lang="en">' in page and "My tasks" in page and "Claim" in page and "待办任务" not in page
    page = text(client.get(f"/tasks/{task.id}"))  # the cookie keeps the choice
    assert "Submit" in page and "Other actions" in page
    response = submit(client, task.id, {"self_score": "130", "summary": "ok"})
    assert "must be at most 100" in text(response)
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    login(client, "bob")
    assert "you may not view this task" in text(client.get(f"/tasks/{task.id}"))
    page = text(client.get("/tasks?lang=zh_CN"))
    assert '<html lang="zh-CN">' in page and "待办任务" in page


# --- an instance ----------------------------------------------------------------------------------

def test_instance_page_shows_status_data_history_and_audit_trail(client, rt, people, started):
    task = alice_task(rt, people)
    tasks.claim(rt, task.id, people.alice)
    tasks.complete(rt, task.id, people.alice, {"self_score": 80, "summary": "按时完成"})
    login(client, "owner")
    page = text(client.get(f"/instances/{started}"))
    assert "2025年5月 自评" in page and "月度自评审核" in page and "v1" in page
    assert "等待人工处理" in page
    history = page[page.index('id="history"'):page.index('id="audit"')]
    assert "填写自评" in history and "赵员工" in history and "已完成" in history and "正职审核" in history
    audit = page[page.index('id="audit"'):]
    for action in ("发起流程", "认领任务", "完成任务"):
        assert action in audit
    assert "王绩效" in audit and "按时完成" in page and "self_score" in page
    assert 'id="diagram"' in page and "bpmn-navigated-viewer.production.min.js" in page
    assert "&#34;self_assess&#34;" in page  # the completed element, for the diagram markers
    assert "挂起" in page and "终止" in page


def test_instance_diagram_is_the_versions_bpmn_with_a_layout(client, people, started):
    login(client, "owner")
    response = client.get(f"/instances/{started}/diagram.bpmn")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    xml = text(response)
    assert 'id="review"' in xml and "BPMNShape" in xml and 'bpmnElement="self_assess"' in xml


def test_owner_suspends_and_resumes_others_may_not(client, rt, people, started):
    login(client, "owner")
    page = f"/instances/{started}"
    response = post_form(client, page, f"/instances/{started}/suspend", {"reason": "核对数据"},
                         follow_redirects=True)
    assert "已挂起" in text(response) and "恢复" in text(response)
    response = post_form(client, page, f"/instances/{started}/resume", {}, follow_redirects=True)
    assert "等待人工处理" in text(response)
    client.post("/logout", data={"csrf_token": csrf_token(text(response))})
    login(client, "alice")
    assert post_form(client, "/tasks", f"/instances/{started}/suspend", {}).status_code == 403
    assert client.get(f"/instances/{started}").status_code == 200  # she may read it: its task is offered to her
    client.post("/logout", data={"csrf_token": csrf_token(text(client.get("/tasks")))})
    login(client, "bob")
    assert client.get(f"/instances/{started}").status_code == 403  # another unit's case


# --- safety ------------------------------------------------------------------------------------------

def test_security_headers_on_every_response(client, people):
    responses = [client.get("/login"), client.get("/nowhere"), client.get("/static/kaohe.css")]
    cookie = responses[0].headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    for response in responses:
        headers = response.headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        response.close()  # the static file response holds the file open until closed


def test_an_unexpected_error_shows_a_reference_and_no_traceback(client, people, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("engine.services.inbox.page", broken)
    login(client, "alice")
    with caplog.at_level(logging.ERROR):
        response = client.get("/tasks")
    page = text(response)
    assert response.status_code == 500 and "服务器出错" in page
    reference = re.search(r"<code>([0-9a-f]{8})</code>", page).group(1)
    assert "Traceback" not in page and "secret internal detail" not in page
    [record] = [r for r in caplog.records if reference in r.getMessage()]
    assert record.exc_info and "secret internal detail" in str(record.exc_info[1])
