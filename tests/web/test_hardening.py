"""Hardening of the web app: security headers on every kind of response, no stack trace ever reaches a
person (only a short reference the log also carries), and text people typed is shown escaped."""
from __future__ import annotations

import html
import io
import json
import logging
import re

import pytest

from sqlalchemy import select

from engine.models import Person
from engine.services import deploy, instances, tasks
from engine.services.org_io import import_org
from engine.services.people import actor_for, ensure_person
from tests.support import evidence as evidence_files
from tests.support.evidence import review_with_files_bundle
from tests.support.files import review_bundle
from tests.support.people import PASSWORD, password_hash
from tests.web.conftest import job_download, login, post_form, run_job
from web import create_app
from web import errors as web_errors

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SCRIPT_SHOWN = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG_SHOWN = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
LIVE = ("<script>alert", "<img src=x", "onerror=alert(1)>")


def text(response) -> str:
    return response.get_data(as_text=True)


def assert_escaped(html: str, *, script: bool = True, img: bool = True) -> None:
    """The payloads appear as text, never as a tag the browser would run."""
    for live in LIVE:
        assert live not in html, f"live markup {live!r} in the page"
    if script:
        assert SCRIPT_SHOWN in html
    if img:
        assert IMG_SHOWN in html


@pytest.fixture
def app(rt, people):
    """The test app with two throwaway views that fail, registered before the first request."""
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})

    def boom():
        raise RuntimeError("secret detail")

    app.add_url_rule("/hardening/boom", "hardening_boom", boom)
    app.add_url_rule("/api/v1/hardening/boom", "hardening_api_boom", boom)
    return app


@pytest.fixture
def admin(rt, people):
    with rt.db.unit_of_work() as session:
        ensure_person(session, "root", "管理员", password_hash=password_hash(), roles=("admin",))


def signed_in(app, username: str, password: str = PASSWORD):
    client = app.test_client()
    assert login(client, username, password).status_code == 302, f"{username} could not sign in"
    return client


# --- headers -------------------------------------------------------------------------------------

def assert_hardened(response, what: str) -> None:
    headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert headers.get("X-Frame-Options") == "DENY" or "frame-ancestors 'none'" in policy, what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert policy and "'unsafe-eval'" not in policy, what
    # A sandboxed download runs no script at all; everything else allows scripts from this site only.
    assert "script-src 'self'" in policy or policy.split(";")[0].strip() == "sandbox", what
    if "script-src 'self'" in policy:
        script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src and "*" not in script_src, what


def test_every_kind_of_response_carries_the_security_headers(app, rt, people, started):
    anonymous = app.test_client()
    owner = signed_in(app, "owner")
    alice = signed_in(app, "alice")
    job_page = run_job(owner, "/admin/org", "org_export")  # the organisation workbook, as a background job
    checks = {
        "login page": (anonymous.get("/login"), 200),
        "sign-in redirect": (anonymous.get("/tasks"), 302),
        "inbox page": (alice.get("/tasks"), 200),
        "instance page": (owner.get(f"/instances/{started}"), 200),
        "api 401": (anonymous.get("/api/v1/tasks"), 401),
        "api answer": (alice.get("/api/v1/tasks"), 200),
        "openapi document": (anonymous.get("/api/v1/openapi.json"), 200),
        "api docs page": (anonymous.get("/api/v1/docs"), 200),
        "static file": (anonymous.get("/static/kaohe.css"), 200),
        "vendor script": (anonymous.get("/static/vendor/swagger-ui/swagger-ui-bundle.js"), 200),
        "404 page": (alice.get("/no/such/page"), 404),
        "404 api": (alice.get("/api/v1/no/such/thing"), 404),
        "405 page": (anonymous.post("/static/kaohe.css"), 405),
        "csrf refusal": (anonymous.post("/login", data={"username": "x", "password": "y"}), 400),
        "500 page": (alice.get("/hardening/boom"), 500),
        "500 api": (alice.get("/api/v1/hardening/boom"), 500),
        "diagram xml": (owner.get(f"/instances/{started}/diagram.bpmn"), 200),
        "job page": (job_page, 200),
        "job download (org workbook)": (job_download(owner, job_page), 200),
        "definition file download": (owner.get("/processes/review/versions/1/files/review.bpmn"), 200),
    }
    for what, (response, status) in checks.items():
        assert response.status_code == status, what
        assert_hardened(response, what)
        response.close()  # a static file response holds the file open until closed
    assert checks["api 401"][0].is_json and checks["api 401"][0].json["code"] == "unauthorized"
    assert checks["500 api"][0].is_json
    assert checks["job download (org workbook)"][0].headers["Content-Disposition"].startswith("attachment;")
    # Anything that may show personal data stays out of every cache; static files may be cached.
    for what in ("inbox page", "instance page", "api answer", "404 page", "500 page", "500 api", "job page",
                 "diagram xml", "job download (org workbook)", "definition file download", "login page"):
        assert "no-store" in checks[what][0].headers.get("Cache-Control", ""), what
    assert "no-store" not in checks["static file"][0].headers.get("Cache-Control", "")


def test_an_evidence_file_named_with_markup_is_listed_escaped_and_downloads_sandboxed(app, rt, people):
    """The evidence view sets its own, stricter policy (no script at all); the common headers join it."""
    deploy.deploy(rt, review_with_files_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"})
    [task] = tasks.inbox(rt, people.alice)
    alice = signed_in(app, "alice")
    # (a "/" would cut the name to its last part, and a quote ends it in the upload's header)
    upload = (io.BytesIO(evidence_files.PDF), "报告<img src=x onerror=alert(1)>.pdf")
    sent = post_form(alice, f"/tasks/{task.id}", f"/tasks/{task.id}",
                     {"self_score": "90", "summary": "完成", "attachments": [upload]},
                     content_type="multipart/form-data")
    assert sent.status_code == 302, re.findall(r'class="error"[^>]*>([^<]*)', text(sent))
    page = text(alice.get(f"/instances/{instance_id}"))
    assert "报告&lt;img src=x onerror=alert(1)&gt;.pdf" in page
    assert_escaped(page, script=False, img=False)
    link = re.search(rf'href="(/instances/{instance_id}/files/[0-9a-f]+[^"]*)"', page).group(1)
    download = alice.get(html.unescape(link))
    download.close()
    assert download.status_code == 200
    assert_hardened(download, "evidence download")
    assert download.headers["Content-Security-Policy"] == "sandbox"
    assert download.headers["Cache-Control"] == "private, no-store"


# --- no stack traces -------------------------------------------------------------------------------

def logged_with(caplog, reference: str):
    [record] = [r for r in caplog.records if f"unhandled error ref={reference}" in r.getMessage()]
    assert record.levelno >= logging.ERROR and record.exc_info, "the traceback is logged"
    assert "secret detail" in str(record.exc_info[1])
    formatted = logging.Formatter().format(record)
    assert "Traceback" in formatted and "secret detail" in formatted and reference in formatted
    return record


def test_a_failing_page_shows_a_reference_the_log_has_with_the_traceback(app, people, caplog):
    alice = signed_in(app, "alice")
    with caplog.at_level(logging.ERROR):
        response = alice.get("/hardening/boom")
    page = text(response)
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert "Traceback" not in page and "secret detail" not in page and "RuntimeError" not in page
    reference = re.search(r'class="reference">[^<]*<code>([0-9a-f]{8})</code>', page).group(1)
    logged_with(caplog, reference)


def test_a_failing_api_call_answers_json_with_the_reference(app, people, caplog, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr("engine.services.inbox.page", broken)
    alice = signed_in(app, "alice")
    for path in ("/api/v1/hardening/boom", "/api/v1/tasks"):
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            response = alice.get(path)
        body = text(response)
        assert response.status_code == 500 and response.is_json, path
        assert "Traceback" not in body and "secret detail" not in body and "RuntimeError" not in body
        answer = response.json
        assert answer["code"] == "server_error" and re.fullmatch(r"[0-9a-f]{8}", answer["reference"])
        logged_with(caplog, answer["reference"])


def test_when_even_the_error_page_fails_the_answer_is_plain_text_with_the_reference(app, people, caplog,
                                                                                   monkeypatch):
    def broken_page(*_args, **_kwargs):
        raise RuntimeError("secret detail in the template")

    monkeypatch.setattr(web_errors, "error_page", broken_page)
    alice = signed_in(app, "alice")
    with caplog.at_level(logging.ERROR):
        response = alice.get("/hardening/boom")
    body = text(response)
    assert response.status_code == 500 and "secret detail" not in body and "Traceback" not in body
    reference = re.search(r"ref: ([0-9a-f]{8})", body).group(1)
    logged_with(caplog, reference)
    assert_hardened(response, "plain-text 500")


# --- autoescaping ----------------------------------------------------------------------------------

def test_a_display_name_from_the_admin_form_is_escaped_wherever_it_shows(app, rt, admin, started):
    root = signed_in(app, "root")
    evil = f"坏人{SCRIPT}{IMG}"
    created = post_form(root, "/admin/users", "/admin/users",
                        {"username": "mallory", "display_name": evil, "password": "long-enough-1",
                         "unit_code": "U1", "roles": ["staff"]})
    assert created.status_code == 302
    for url in ("/admin/users/mallory", "/admin/users?q=mallory", "/admin/org?unit=U1"):
        assert_escaped(text(root.get(url)))
    # The person works on a case: the instance page names them in the history and the trail.
    mallory = signed_in(app, "mallory", "long-enough-1")
    assert_escaped(text(mallory.get("/tasks")))  # their own name in the top bar
    [task] = [t for t in tasks.inbox(rt, rt_actor(rt, "mallory")) if t.instance_id == started]
    tasks.claim(rt, task.id, rt_actor(rt, "mallory"))
    owner = signed_in(app, "owner")
    page = text(owner.get(f"/instances/{started}"))
    assert_escaped(page[page.index('id="history"'):])
    # A refused form keeps what was typed, escaped in the value attribute.
    refused = post_form(root, "/admin/users", "/admin/users",
                        {"username": "mallory", "display_name": evil, "password": "short"})
    assert refused.status_code == 422
    assert_escaped(text(refused))


def rt_actor(rt, username: str):
    with rt.db.reading() as session:
        return actor_for(session.scalar(select(Person).where(Person.username == username)))


def test_an_instance_title_a_form_value_and_a_delegation_note_are_escaped(app, rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"},
                                  title=f"标题{SCRIPT}{IMG}")
    [task] = tasks.inbox(rt, people.alice)
    tasks.delegate(rt, task.id, people.owner, "alice", note=f"说明{SCRIPT}{IMG}")
    tasks.complete(rt, task.id, people.alice, {"self_score": 80, "summary": f"总结{SCRIPT}{IMG}"})
    owner = signed_in(app, "owner")
    page = text(owner.get(f"/instances/{instance_id}"))
    assert_escaped(page)
    head = page[:page.index("<body")]
    assert SCRIPT_SHOWN in head  # the title in <title>, escaped there too
    data = page[page.index('id="data"'):page.index('id="history"')]
    assert f"总结{SCRIPT_SHOWN}{IMG_SHOWN}" in data
    assert_escaped(text(owner.get("/instances")))  # the list shows the title
    # The head's inbox shows the case title; the task page's earlier steps show the note and the summary.
    head_client = signed_in(app, "head")
    assert_escaped(text(head_client.get("/tasks")))
    [approve] = tasks.inbox(rt, people.head)
    task_page = text(head_client.get(f"/tasks/{approve.id}"))
    assert_escaped(task_page)
    steps = task_page[task_page.index('id="steps"'):]
    assert f"说明{SCRIPT_SHOWN}{IMG_SHOWN}" in steps and f"总结{SCRIPT_SHOWN}{IMG_SHOWN}" in steps


def test_a_delegation_to_an_unknown_typed_name_echoes_it_escaped(app, rt, people, started):
    [task] = tasks.inbox(rt, people.alice)
    alice = signed_in(app, "alice")
    response = post_form(alice, f"/tasks/{task.id}", f"/tasks/{task.id}/delegate",
                         {"to": SCRIPT, "note": IMG})
    assert response.status_code == 422
    assert_escaped(text(response))


def test_an_org_unit_name_from_an_import_is_escaped(app, rt, people):
    units = ("code,name,category,parent_code,branch_code\n"
             f'X1,"单位{SCRIPT}{IMG.replace(chr(34), chr(34) * 2)}",production,,\n').encode("utf-8")
    import_org(rt, [("units.csv", units)], people.owner)
    owner = signed_in(app, "owner")
    for url in ("/admin/org", "/admin/org?unit=X1"):
        page = text(owner.get(url))
        assert f"单位{SCRIPT_SHOWN}{IMG_SHOWN}" in page, url
        assert_escaped(page)


def test_a_form_preview_of_a_schema_with_markup_in_its_titles_is_escaped(app, rt, people):
    """The editor puts the previewed form into the page as HTML: the server must have escaped it."""
    schema = {"type": "object", "title": f"表单{SCRIPT}", "properties": {
        "x": {"type": "string", "title": f"字段{IMG}", "description": SCRIPT, "default": IMG}}}
    deploy.deploy(rt, review_bundle(), people.owner)
    owner = signed_in(app, "owner")
    page = text(owner.get("/processes/review/edit"))
    token = re.search(r'data-csrf="([^"]+)"', page).group(1)
    response = owner.post("/definitions/form-preview", json={"content": json.dumps(schema)},
                          headers={"X-CSRFToken": token})
    assert response.status_code == 200, text(response)
    assert_escaped(response.json["html"])
