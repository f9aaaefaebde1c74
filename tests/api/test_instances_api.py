"""/api/v1/instances and /api/v1/startable: owners start and manage instances with a token and the
trail names the token; staff and auditors are refused changes; people see only what the pages show them."""
from __future__ import annotations

import io

from engine.bpmn.bundle import SourceFile
from engine.clock import FixedClock
from engine.runtime import Runtime
from engine.services import audit, deploy, evidence, instances, tasks
from tests.api.conftest import ApiClient, token_for
from tests.integration.test_on_demand import CHECK
from tests.support import evidence as samples
from tests.support.evidence import review_with_files_bundle
from tests.support.files import review_bundle
from tests.web.test_instances_pages import NOW, WAITER
from web import create_app

START = {"process_id": "review", "title": "2026年3月 一车间自评",
         "data": {"weight": 1, "unit_code": "U1", "period": "2026-03"}}


def trail(rt, instance_id: int) -> list[tuple[str, str]]:
    with rt.db.reading() as session:
        return [(event.action, event.actor) for event in audit.instance_trail(session, instance_id)]


def test_the_owner_starts_suspends_resumes_and_terminates_and_the_trail_names_the_token(rt, people, api_as):
    deploy.deploy(rt, review_bundle(), people.owner)
    owner = api_as(people.owner)
    started = owner.post("/api/v1/instances", json=START)
    assert started.status_code == 201, started.get_json()
    case = started.get_json()["id"]
    assert started.get_json() == {"id": case, "status": "waiting_person"}

    body = owner.get(f"/api/v1/instances/{case}").get_json()
    assert (body["process_id"], body["process_name"], body["process_version"]) == ("review", "月度自评审核", 1)
    assert (body["title"], body["period"], body["unit_code"], body["unit_name"]) == \
        ("2026年3月 一车间自评", "2026-03", "U1", "一车间")
    assert body["started_by"] == "owner" and body["created_at"].endswith("+08:00") and body["parent"] is None
    assert [(t["name"], t["lane"], t["assignee"]) for t in body["open_tasks"]] == [("填写自评", "员工", None)]
    assert body["active_elements"] == ["self_assess"] and body["data"]["weight"] == 1

    assert owner.post(f"/api/v1/instances/{case}/suspend", json={"reason": "核对数据"}).get_json() == \
        {"id": case, "status": "suspended"}
    assert tasks.inbox(rt, people.alice) == []
    assert owner.post(f"/api/v1/instances/{case}/resume").get_json()["status"] == "waiting_person"
    no_reason = owner.post(f"/api/v1/instances/{case}/terminate", json={"reason": "  "})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["field_errors"]
    ended = owner.post(f"/api/v1/instances/{case}/terminate", json={"reason": "重复发起"})
    assert ended.get_json()["status"] == "terminated"
    again = owner.post(f"/api/v1/instances/{case}/terminate", json={"reason": "再次"})
    assert again.status_code == 409 and again.get_json()["code"] == "invalid_state"

    events = dict((action, actor) for action, actor in trail(rt, case) if action != "task_created")
    for action in ("start", "suspend", "resume", "terminate"):
        assert events[action].startswith("owner#token"), (action, events)


def test_the_owner_retries_an_instance_in_error_with_a_data_patch(rt, people, api_as):
    deploy.deploy(rt, review_bundle(), people.owner)
    owner = api_as(people.owner)
    case = owner.post("/api/v1/instances", json={"process_id": "review", "data": {"unit_code": "U1"}}).get_json()["id"]
    [task] = tasks.inbox(rt, people.alice)
    assert tasks.complete(rt, task.id, people.alice, {"self_score": 90, "summary": "完成"}) == "error"  # no weight
    broken = owner.get(f"/api/v1/instances/{case}").get_json()
    assert broken["status"] == "error" and broken["error_element"] == "score" and "weight" in broken["error_message"]
    assert owner.get("/api/v1/instances?status=error").get_json()["items"][0]["id"] == case

    for patch in ('{"weight": 1}', {"not a name": 1}):  # an object, keyed by variable names, as on the page
        bad = owner.post(f"/api/v1/instances/{case}/retry", json={"data_patch": patch})
        assert bad.status_code == 422 and "data_patch" in bad.get_json()["field_errors"], patch
    retried = owner.post(f"/api/v1/instances/{case}/retry", json={"data_patch": {"weight": 0.5}})
    assert retried.status_code == 200 and retried.get_json()["status"] == "waiting_person"
    [approve] = tasks.inbox(rt, people.head)
    assert tasks.get(rt, approve.id, people.head).data["total"] == 45
    assert dict(trail(rt, case))["retry"].startswith("owner#token")


def test_staff_and_auditors_are_refused_changes_but_auditors_read(rt, people, api_as, started):
    for who in (people.alice, people.head, people.auditor):
        client = api_as(who)
        assert client.post("/api/v1/instances", json=START).status_code == 403
        for action, body in (("suspend", {}), ("resume", None), ("terminate", {"reason": "试试"}),
                             ("retry", {"data_patch": {}})):
            refused = client.post(f"/api/v1/instances/{started}/{action}", json=body)
            assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden", (who.username, action)
    auditor = api_as(people.auditor)
    assert auditor.get(f"/api/v1/instances/{started}").get_json()["status"] == "waiting_person"
    assert [row["id"] for row in auditor.get("/api/v1/instances").get_json()["items"]] == [started]
    diagram = auditor.get(f"/api/v1/instances/{started}/diagram")
    assert diagram.status_code == 200 and diagram.mimetype == "application/xml"
    assert b'id="review"' in diagram.get_data() and diagram.headers["Content-Disposition"].startswith("attachment")
    assert [action for action, _actor in trail(rt, started)].count("suspend") == 0


def test_another_units_staff_cannot_see_an_instance_and_a_worker_can(rt, people, api_as, started):
    bob = api_as(people.bob)
    for path in (f"/api/v1/instances/{started}", f"/api/v1/instances/{started}/diagram"):
        assert bob.get(path).status_code == 403, path
    assert bob.get("/api/v1/instances").get_json()["items"] == []
    alice = api_as(people.alice)
    [task] = tasks.inbox(rt, people.alice)
    tasks.claim(rt, task.id, people.alice)
    body = alice.get(f"/api/v1/instances/{started}").get_json()
    assert body["open_tasks"][0]["assignee"] == "alice"
    assert [row["id"] for row in alice.get("/api/v1/instances").get_json()["items"]] == [started]
    assert alice.get("/api/v1/instances/999999").status_code == 404
    assert alice.get("/api/v1/instances/99999999999999999999").status_code == 404  # never reaches the database


def test_a_task_offered_to_my_unit_opens_its_instance_but_not_for_another_unit(people, api_as, started):
    """As on the page (tests/web/test_instances_pages.py): whoever a task is offered to may read its case."""
    alice, bob = api_as(people.alice), api_as(people.bob)
    assert alice.get(f"/api/v1/instances/{started}").status_code == 200
    assert [row["id"] for row in alice.get("/api/v1/instances").get_json()["items"]] == [started]
    assert bob.get(f"/api/v1/instances/{started}").status_code == 403
    assert bob.get("/api/v1/instances").get_json()["items"] == []


def test_the_list_filters_pages_and_refuses_bad_filters(rt, people, api_as):
    deploy.deploy(rt, review_bundle(), people.owner)
    ids = [instances.start(rt, "review", people.owner, title=f"{period} {unit}",
                           data={"weight": 1, "unit_code": unit, "period": period})
           for period, unit in (("2026-03", "U1"), ("2026-04", "U2"), ("2026-04", "U1"))]
    owner = api_as(people.owner)
    listed = owner.get("/api/v1/instances?period=2026-04").get_json()
    assert [row["id"] for row in listed["items"]] == [ids[2], ids[1]] and listed["total"] == 2
    row = owner.get("/api/v1/instances?unit=U2").get_json()["items"][0]
    assert (row["unit_name"], row["process_name"], row["status"]) == ("财务部", "月度自评审核", "waiting_person")
    first = owner.get("/api/v1/instances?per_page=2").get_json()
    assert (len(first["items"]), first["has_next"], first["total"]) == (2, True, 3)
    second = owner.get("/api/v1/instances?per_page=2&page=2").get_json()
    assert [r["id"] for r in second["items"]] == [ids[0]] and second["has_next"] is False
    assert owner.get("/api/v1/instances?q=U2&status=active").get_json()["total"] == 1
    for bad in ("status=lost", "per_page=0", "parent=abc", "parent=99999999999", "q=%01"):
        refused = owner.get(f"/api/v1/instances?{bad}")
        assert refused.status_code == 422 and refused.get_json()["field_errors"], bad


def test_start_refuses_a_malformed_body_and_an_unknown_process(rt, people, api_as):
    owner = api_as(people.owner)
    missing = owner.post("/api/v1/instances", json={"title": "无流程"})
    assert missing.status_code == 422 and "process_id" in missing.get_json()["field_errors"]
    for data in ([1], {"1x": 1}):
        bad_data = owner.post("/api/v1/instances", json={"process_id": "review", "data": data})
        assert bad_data.status_code == 422 and "data" in bad_data.get_json()["field_errors"], data
    assert owner.post("/api/v1/instances", json={"process_id": "nothing"}).status_code == 404
    # Half a character (a JSON \ud978 escape) cannot be stored anywhere: refused at the door, never a 500.
    for body in ('{"process_id": "review", "title": "a\\ud978"}',
                 '{"process_id": "review", "data": {"k": ["\\ud978"]}}'):
        assert owner.post("/api/v1/instances", data=body, content_type="application/json").status_code == 400, body


def test_timers_show_with_their_due_time(rt, people):
    fixed = Runtime(rt.settings, database=rt.db, clock=FixedClock(NOW))
    deploy.deploy(fixed, [SourceFile("waiter.bpmn", WAITER)], people.owner)
    case = instances.start(fixed, "waiter", people.owner, data={"problem": "台账缺页"}, title="台账复查")
    [fill] = tasks.inbox(fixed, people.owner)
    tasks.complete(fixed, fill.id, people.owner, {"found": "缺 3 页"})
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": fixed, "START_SCHEDULER": False})
    owner = ApiClient(app.test_client(), token_for(fixed, people.owner))
    body = owner.get(f"/api/v1/instances/{case}").get_json()
    assert body["timers"] == [{"element_id": "wait", "due_at": "2026-12-06T00:00:00+08:00"}]
    assert [t["name"] for t in body["open_tasks"]] == ["旁路登记"] and body["open_tasks"][0]["assignee"] is None
    assert owner.get("/api/v1/instances?status=waiting_person").get_json()["items"][0]["next_timer_at"] == \
        "2026-12-06T00:00:00+08:00"


def test_people_start_what_the_diagram_lets_them_and_nothing_else(rt, people, api_as):
    deploy.deploy(rt, [SourceFile("spot.bpmn", CHECK)], people.owner)
    head = api_as(people.head)
    listed = head.get("/api/v1/startable").get_json()
    assert [(p["process_id"], p["name"]) for p in listed["items"]] == [("spot", "随手检查")]
    assert "unit_head" in listed["items"][0]["roles"] and listed["total"] == 1
    started = head.post("/api/v1/startable/spot")
    assert started.status_code == 201 and started.get_json()["status"] == "waiting_person"
    case = started.get_json()["id"]
    assert head.get(f"/api/v1/instances/{case}").get_json()["title"] == "随手检查 · 张主任"
    assert dict(trail(rt, case))["start"].startswith("head#token")
    alice = api_as(people.alice)
    assert alice.get("/api/v1/startable").get_json()["items"] == []
    assert alice.post("/api/v1/startable/spot").status_code == 403
    assert head.post("/api/v1/startable/nothing").status_code == 404


def test_an_evidence_file_downloads_as_an_attachment_for_those_who_may_see_it(rt, people, api_as):
    deploy.deploy(rt, review_with_files_bundle(), people.owner)
    case = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"})
    [task] = tasks.inbox(rt, people.alice)
    ref = evidence.store(rt, people.alice, task.id, "photo", "现场.png", io.BytesIO(samples.PNG))
    owner = api_as(people.owner)
    download = owner.get(f"/api/v1/instances/{case}/files/{ref['sha256']}")
    body = download.get_data()
    download.close()
    assert download.status_code == 200 and body == samples.PNG
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "sandbox"
    assert api_as(people.bob).get(f"/api/v1/instances/{case}/files/{ref['sha256']}").status_code == 403
    assert owner.get(f"/api/v1/instances/{case}/files/{'0' * 64}").status_code == 404
    assert owner.get(f"/api/v1/instances/{case}/files/not-a-digest").status_code == 404
