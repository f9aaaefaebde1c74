"""API tokens: issued and revoked by an administrator, kept only as a digest, scoped to roles."""
from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from engine.clock import FixedClock
from engine.models import ApiToken, AuditEvent
from engine.runtime import SYSTEM, Runtime
from engine.services import api_tokens, people as people_service
from engine.services.people import actor_for, ensure_person
from tests.api.conftest import ApiClient


def _admin(rt):
    with rt.db.unit_of_work() as session:
        return actor_for(ensure_person(session, "root", "管理员", roles=("admin",)))


def test_an_admin_issues_a_service_token_that_works_until_revoked(rt, people, app, api_as):
    root = api_as(_admin(rt))
    issued = root.post("/api/v1/tokens", json={"name": "hr-sync", "scope": ["auditor"]})
    assert issued.status_code == 201
    body = issued.get_json()
    secret, token = body["secret"], body["token"]
    assert token["account"] == "api-hr-sync" and token["scope"] == ["auditor"] and secret.startswith(token["prefix"])
    with rt.db.reading() as session:
        stored = session.scalar(select(ApiToken).where(ApiToken.name == "hr-sync"))
        assert secret not in (stored.secret_hash, stored.prefix) and len(stored.secret_hash) == 64
    hr = ApiClient(app.test_client(), secret)
    assert hr.get("/api/v1/audit/verify").status_code == 200  # an auditor's read
    assert hr.post("/api/v1/instances", json={"process_id": "review"}).status_code == 403  # not an owner
    used = {t["name"]: t["last_used_at"] for t in root.get("/api/v1/tokens").get_json()["items"]}
    assert used["hr-sync"] is not None  # the admin sees that the integration calls
    assert root.post(f"/api/v1/tokens/{token['id']}/revoke").get_json() == {"status": "revoked"}
    assert hr.get("/api/v1/audit/verify").status_code == 401
    listed = root.get("/api/v1/tokens").get_json()["items"]
    assert [(t["name"], t["active"]) for t in listed] == [("t-root", True), ("hr-sync", False)]  # active first
    with rt.db.reading() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject == "hr-sync")).all()
    assert actions == ["token_created", "token_revoked"]


def test_a_service_account_cannot_sign_in_to_the_pages(rt, people):
    api_tokens.create(rt, SYSTEM, name="oa", scope=["process_owner"])
    assert people_service.authenticate(rt, "api-oa", "") is None


def test_a_token_never_holds_more_than_its_scope_or_its_account(rt, people, app):
    with rt.db.unit_of_work() as session:
        ensure_person(session, "both", "两职", roles=("process_owner", "auditor"))
    narrow = api_tokens.create(rt, SYSTEM, name="read-only", scope=["auditor"], account="both")
    actor = api_tokens.actor_for_secret(rt, narrow.secret)
    assert actor.roles == frozenset({"auditor"}) and actor.audit_name == f"both#token{narrow.token.id}"
    client = ApiClient(app.test_client(), narrow.secret)
    assert client.post("/api/v1/instances", json={"process_id": "review"}).status_code == 403
    refused = app.test_client().post("/api/v1/tokens", headers={"Authorization": f"Bearer {narrow.secret}"},
                                     json={"name": "more", "scope": ["admin"]})
    assert refused.status_code == 403


def test_an_account_cannot_be_given_a_scope_it_does_not_hold(rt, people, api_as):
    root = api_as(_admin(rt))
    refused = root.post("/api/v1/tokens", json={"name": "sneaky", "scope": ["admin"], "account": "alice"})
    assert refused.status_code == 422 and "account" in refused.get_json()["field_errors"]
    clash = root.post("/api/v1/tokens", json={"name": "bad name!", "scope": []})
    assert clash.status_code == 422


def test_an_expired_token_and_a_deactivated_account_are_refused(rt, people, app):
    created = api_tokens.create(rt, SYSTEM, name="short", scope=["auditor"], account="auditor", valid_days=1)
    later = Runtime(rt.settings, database=rt.db, clock=FixedClock(rt.clock.now() + timedelta(days=2)))
    assert api_tokens.actor_for_secret(rt, created.secret) is not None
    assert api_tokens.actor_for_secret(later, created.secret) is None
    other = api_tokens.create(rt, SYSTEM, name="gone", scope=["staff"], account="bob")
    from engine.services import admin_users
    admin_users.set_active(rt, SYSTEM, "bob", False)
    assert ApiClient(app.test_client(), other.secret).get("/api/v1/tasks").status_code == 401


def test_tokens_from_the_command_line(rt, people, monkeypatch):
    from web.cli import main
    monkeypatch.setenv("KAOHE_DATABASE_URL", rt.settings.database_url)
    runner = CliRunner()
    created = runner.invoke(main, ["token", "create", "payroll", "--role", "auditor"])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert api_tokens.actor_for_secret(rt, secret).username == "api-payroll"
    listed = runner.invoke(main, ["token", "list"])
    assert "payroll" in listed.output and secret not in listed.output
    token_id = api_tokens.list_tokens(rt, SYSTEM)[0].id
    assert runner.invoke(main, ["token", "revoke", str(token_id)]).exit_code == 0
    assert api_tokens.actor_for_secret(rt, secret) is None
    refused = runner.invoke(main, ["token", "create", "x", "--role", "king"])
    assert refused.exit_code == 1 and "scope" in refused.output


def test_the_session_door_needs_the_csrf_token_for_changes(rt, people, app, started):
    """A signed-in browser may call the API too, but a change must carry the page's CSRF token."""
    from tests.web.conftest import csrf_token, login
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    login(client, "alice")
    task_id = client.get("/api/v1/tasks").get_json()["items"][0]["id"]
    assert client.post(f"/api/v1/tasks/{task_id}/claim").status_code == 400  # no token: refused
    token = csrf_token(client.get("/tasks").get_data(as_text=True))
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers={"X-CSRFToken": token}).status_code == 200
