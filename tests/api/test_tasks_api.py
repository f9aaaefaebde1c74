"""/api/v1/tasks: a staff member lists, opens and completes their task with a token; errors are JSON."""
from __future__ import annotations

from sqlalchemy import select

from engine.models import AuditEvent


def _first_task(api) -> dict:
    listed = api.get("/api/v1/tasks").get_json()
    assert listed["items"], listed
    return listed["items"][0]


def test_a_staff_member_lists_opens_and_completes_their_task(rt, people, api_as, started):
    alice = api_as(people.alice)
    row = _first_task(alice)
    assert row["name"] == "填写自评" and row["instance_id"] == started
    assert row["created_at"].endswith("+08:00")  # ISO 8601 with the organisation's zone
    task = alice.get(f"/api/v1/tasks/{row['id']}").get_json()
    assert task["may_act"] is True and "self_score" in task["form"]["properties"]

    done = alice.post(f"/api/v1/tasks/{row['id']}/complete",
                      json={"data": {"self_score": 90, "summary": "按期完成"}})
    assert done.status_code == 200, done.get_json()
    assert done.get_json() == {"status": "waiting_person", "instance_id": started}  # the head approves next
    with rt.db.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "complete")).one()
    assert event.actor.startswith("alice#token")  # the trail names the account and the token


def test_an_invalid_form_is_refused_with_field_errors_and_the_task_stays_open(people, api_as, started):
    alice = api_as(people.alice)
    row = _first_task(alice)
    refused = alice.post(f"/api/v1/tasks/{row['id']}/complete", json={"data": {"self_score": "很多"}})
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["code"] == "validation_failed" and "self_score" in body["field_errors"]
    assert _first_task(alice)["id"] == row["id"]


def test_a_malformed_body_names_the_missing_field(people, api_as, started):
    alice = api_as(people.alice)
    row = _first_task(alice)
    refused = alice.post(f"/api/v1/tasks/{row['id']}/complete", json={"wrong": 1})
    assert refused.status_code == 422
    assert set(refused.get_json()["field_errors"]) >= {"data"}


def test_another_persons_task_is_refused(people, api_as, started):
    task_id = _first_task(api_as(people.alice))["id"]
    bob = api_as(people.bob)
    assert bob.get("/api/v1/tasks").get_json()["items"] == []
    for call in (bob.get(f"/api/v1/tasks/{task_id}"),
                 bob.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"self_score": 1}}),
                 bob.post(f"/api/v1/tasks/{task_id}/claim")):
        assert call.status_code == 403 and call.get_json()["code"] == "forbidden"


def test_no_token_or_a_wrong_token_gets_401_with_the_challenge(anonymous, app):
    missing = anonymous.get("/api/v1/tasks")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = app.test_client().get("/api/v1/tasks", headers={"Authorization": "Bearer kh_not-a-real-token"})
    assert wrong.status_code == 401 and wrong.get_json()["code"] == "unauthorized"


def test_messages_follow_the_accept_language_header(people, api_as, started):
    bob = api_as(people.bob)
    zh = bob.get("/api/v1/tasks/999999").get_json()["message"]
    en = bob.get("/api/v1/tasks/999999", headers={"Accept-Language": "en"}).get_json()["message"]
    assert "不存在" in zh and "does not exist" in en


def test_a_nul_character_anywhere_is_refused_at_the_door(people, api_as, started):
    """PostgreSQL cannot store NUL; it is refused with 400 before it reaches a query."""
    alice = api_as(people.alice)
    task_id = _first_task(alice)["id"]
    for call in (alice.get("/api/v1/tasks?unit=P%00X"),
                 alice.get("/api/v1/results/units/U%001"),
                 alice.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"summary": "a\u0000b"}})):
        assert call.status_code == 400 and call.get_json()["code"] == "bad_request"
    assert _first_task(alice)["id"] == task_id  # nothing was completed


def test_a_finished_task_is_a_conflict_for_its_people_and_refused_to_everyone_else(people, api_as, started):
    alice, bob = api_as(people.alice), api_as(people.bob)
    task_id = _first_task(alice)["id"]
    assert alice.post(f"/api/v1/tasks/{task_id}/complete",
                      json={"data": {"self_score": 90, "summary": "按期完成"}}).status_code == 200
    again = alice.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {"self_score": 91, "summary": "再交"}})
    assert again.status_code == 409 and again.get_json()["code"] == "conflict"
    for call in (bob.post(f"/api/v1/tasks/{task_id}/complete", json={"data": {}}),
                 bob.post(f"/api/v1/tasks/{task_id}/claim")):
        assert call.status_code == 403  # bob learns nothing about a task of another unit


def test_the_inbox_pages_by_cursor_and_refuses_a_damaged_one_in_chinese(rt, people, api_as):
    from datetime import timedelta
    from tests.integration.test_keyset_paging import T0, add_task
    made = [add_task(rt, people.alice.person_id, T0 + timedelta(hours=n % 5), T0) for n in range(45)]
    alice = api_as(people.alice)
    seen, after, pages = [], None, []
    while True:
        body = alice.get("/api/v1/tasks" + (f"?after={after}" if after else "")).get_json()
        pages.append(body)
        seen += [row["id"] for row in body["items"]]
        if not body["has_next"]:
            break
        after = body["next_after"]
    assert [len(p["items"]) for p in pages] == [20, 20, 5] and sorted(seen) == sorted(made)
    assert len(set(seen)) == 45 and pages[-1]["next_after"] is None
    by_number = alice.get("/api/v1/tasks?page=2").get_json()
    assert [row["id"] for row in by_number["items"]] == seen[20:40] and by_number["next_after"] == pages[1]["next_after"]
    for damaged in ("nonsense", pages[0]["next_after"] + "x"):
        response = alice.get(f"/api/v1/tasks?after={damaged}")
        assert response.status_code == 422 and list(response.get_json()["field_errors"]) == ["after"]
        assert "翻页游标无效" in response.get_json()["field_errors"]["after"]
    wrong_sort = alice.get(f"/api/v1/tasks?sort=newest&after={pages[0]['next_after']}")
    assert wrong_sort.status_code == 422
