"""Signing in: throttled failures, every attempt in the audit trail, sessions that end, secure cookies,
and the administrator's API-token page."""
from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from engine.models import AuditEvent
from engine.runtime import Runtime
from engine.services import api_tokens
from tests.support.people import PASSWORD
from tests.web.conftest import csrf_token, login, post_form
from web import create_app


def _attempt(client, username, password):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))})


def test_failed_sign_ins_are_throttled_per_username_and_successes_are_not(client, people):
    for _ in range(3):  # signing in and out all day never throttles anyone
        assert _attempt(client, "alice", PASSWORD).status_code == 302
        post_form(client, "/tasks", "/logout", {})
    for _ in range(5):
        assert _attempt(client, "alice", "wrong-password").status_code == 200
    throttled = _attempt(client, "alice", PASSWORD)
    assert throttled.status_code == 429 and "尝试次数过多" in throttled.get_data(as_text=True)
    assert _attempt(client, "bob", PASSWORD).status_code == 302  # another account is not locked with it


def test_one_address_cannot_try_many_accounts(client, people):
    for n in range(10):
        _attempt(client, f"guess{n}", "wrong-password")
    assert _attempt(client, "bob", PASSWORD).status_code == 429


def test_every_sign_in_attempt_is_in_the_audit_trail(rt, client, people):
    _attempt(client, "alice", "wrong-password")
    _attempt(client, "alice", PASSWORD)
    with rt.db.reading() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.subject == "alice")).all()
    assert [e.action for e in events] == ["login_failed", "login"]
    assert all('"source":"127.0.0.1"' in e.detail for e in events)


def test_a_session_ends_a_day_after_sign_in_however_active(client, people, monkeypatch):
    login(client, "alice")
    assert client.get("/tasks").status_code == 200
    later = time.time() + 25 * 3600
    monkeypatch.setattr("web.auth_user.time.time", lambda: later)
    assert client.get("/tasks").status_code == 302


def test_served_over_tls_kaohe_will_not_start_with_the_development_key(rt):
    settings = replace(rt.settings, secure_cookies=True)
    with pytest.raises(RuntimeError, match="KAOHE_SECRET_KEY"):
        create_app({"TESTING": True, "KAOHE_RUNTIME": Runtime(settings, database=rt.db), "START_SCHEDULER": False})


def test_cookies_are_secure_and_expire_as_set(rt, people):
    settings = replace(rt.settings, secure_cookies=True, session_hours=2, secret_key="a-long-random-test-key")
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": Runtime(settings, database=rt.db),
                      "START_SCHEDULER": False})
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 2 * 3600
    client = app.test_client()
    response = login(client, "alice")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_an_admin_issues_a_token_sees_it_once_and_revokes_it(rt, app, people):
    from engine.services.people import ensure_person
    from tests.support.people import password_hash
    with rt.db.unit_of_work() as session:
        ensure_person(session, "root", "管理员", password_hash=password_hash(), roles=("admin",))
    client = app.test_client()
    login(client, "root")
    created = post_form(client, "/admin/tokens", "/admin/tokens", {"name": "oa-sync", "scope": "process_owner"})
    page = created.get_data(as_text=True)
    assert created.status_code == 201 and "只显示这一次" in page
    secret = re.search(r'<code class="secret">(kh_[^<]+)</code>', page).group(1)
    assert api_tokens.actor_for_secret(rt, secret).username == "api-oa-sync"
    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert "oa-sync" in listing and secret not in listing and secret[:10] in listing
    refused = post_form(client, "/admin/tokens", "/admin/tokens", {"name": "oa-sync", "scope": "auditor"})
    assert refused.status_code == 422 and "已被使用" in refused.get_data(as_text=True)
    token_id = _only_token_id(rt)
    revoked = post_form(client, "/admin/tokens", f"/admin/tokens/{token_id}/revoke", {})
    assert revoked.status_code == 302
    assert api_tokens.actor_for_secret(rt, secret) is None
    assert "已吊销" in client.get("/admin/tokens").get_data(as_text=True)


def _only_token_id(rt) -> int:
    from engine.models import ApiToken
    with rt.db.reading() as session:
        return session.scalar(select(ApiToken.id))
