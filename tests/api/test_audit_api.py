"""/api/v1/audit and /api/v1/instances/{id}/audit: auditors page through the whole chain and check it;
people involved in a case read and download its trail, and every download is itself in the trail."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from engine.models import AuditEvent


def all_events(rt) -> list[AuditEvent]:
    with rt.db.reading() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def take_part(api_as, people) -> int:
    """alice claims the case's task, so the case is hers to see."""
    alice = api_as(people.alice)
    [row] = alice.get("/api/v1/tasks").get_json()["items"]
    assert alice.post(f"/api/v1/tasks/{row['id']}/claim").status_code == 200
    return row["instance_id"]


def test_an_auditor_pages_through_the_chain_by_id(rt, people, api_as, started):
    take_part(api_as, people)
    auditor, seen, after = api_as(people.auditor), [], 0
    stored = all_events(rt)
    assert [e.action for e in stored] == ["deploy", "start", "token_created", "claim", "token_created"]
    while True:
        page = auditor.get(f"/api/v1/audit/events?limit=2&after_id={after}")
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        seen += body["items"]
        assert body["limit"] == 2 and body["has_next"] == (body["next_after_id"] is not None)
        if not body["has_next"]:
            break
        assert body["next_after_id"] == body["items"][-1]["id"]
        after = body["next_after_id"]
    assert [e["id"] for e in seen] == [e.id for e in stored]
    start, claim = seen[1], seen[3]
    assert (start["action"], start["actor"], start["instance_id"], start["subject"]) == \
        ("start", "owner", started, "review")
    assert start["occurred_at"].endswith("+08:00") and start["detail"] == {"version": 1}
    assert start["prev_hash"] == seen[0]["hash"] and len(start["data_digest"]) == 64
    assert claim["actor"].startswith("alice#token") and claim["task_guid"]


def test_events_are_filtered_by_case_actor_action_and_time(rt, people, api_as, started):
    take_part(api_as, people)
    auditor = api_as(people.auditor)

    def actions(query: str) -> list[str]:
        response = auditor.get(f"/api/v1/audit/events?{query}")
        assert response.status_code == 200, response.get_json()
        return [e["action"] for e in response.get_json()["items"]]
    assert actions(f"instance_id={started}") == ["start", "claim"]
    assert actions("actor=alice") == ["claim"]  # the account's own events and those made with its tokens
    assert actions("actor=ali") == []
    assert actions("action=deploy") == ["deploy"]
    assert actions("since=2000-01-01T00:00:00%2B08:00&until=2001-01-01T00:00:00Z") == []
    assert actions("since=2000-01-01T00:00:00%2B08:00") == [e.action for e in all_events(rt)]
    bad = auditor.get("/api/v1/audit/events?limit=0&since=2026-01-01T00:00:00&after_id=-1")
    assert bad.status_code == 422 and {"limit", "since", "after_id"} <= set(bad.get_json()["field_errors"])


def test_staff_are_refused_the_whole_chain(people, api_as, started):
    alice = api_as(people.alice)
    for path in ("/api/v1/audit/events", "/api/v1/audit/verify", "/api/v1/audit/export.csv"):
        refused = alice.get(path)
        assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden", path


@pytest.mark.tampers_audit
def test_verify_reports_ok_then_names_a_tampered_event(rt, people, api_as, started):
    owner = api_as(people.owner)  # the office may check the chain as well as auditors
    assert owner.get("/api/v1/audit/verify").get_json() == \
        {"ok": True, "checked": len(all_events(rt)), "first_broken_id": None, "reason": None}
    first = all_events(rt)[0].id
    with rt.db.unit_of_work() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == first).values(actor="mallory"))
    report = api_as(people.auditor).get("/api/v1/audit/verify").get_json()
    assert report["ok"] is False and report["first_broken_id"] == first and report["checked"] == 0


def test_staff_read_and_export_the_trail_of_their_own_case(rt, people, api_as, started):
    take_part(api_as, people)
    alice = api_as(people.alice)
    trail = alice.get(f"/api/v1/instances/{started}/audit")
    assert trail.status_code == 200
    assert [(e["action"], e["instance_id"]) for e in trail.get_json()] == [("start", started), ("claim", started)]

    download = alice.get(f"/api/v1/instances/{started}/audit.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"] == f'attachment; filename="audit-instance-{started}.csv"'
    assert download.data.startswith(b"\xef\xbb\xbf")  # the BOM, so Excel reads the Chinese as UTF-8
    rows = list(csv.reader(io.StringIO(download.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["编号", "时间", "时间（UTC，参与哈希）", "操作人"] and rows[0][-2:] == ["前一事件哈希", "哈希"]
    assert [row[4] for row in rows[1:]] == ["start", "claim"]
    assert [row[-1] for row in rows[1:]] == [e["hash"] for e in trail.get_json()]

    [exported] = [e for e in all_events(rt) if e.action == "audit_exported"]
    assert exported.instance_id == started and exported.actor.startswith("alice#token")
    assert '"events":2' in exported.detail and '"format":"csv"' in exported.detail

    workbook = alice.get(f"/api/v1/instances/{started}/audit.xlsx", headers={"Accept-Language": "en"})
    assert workbook.status_code == 200 and workbook.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(workbook.data))
    assert book.sheetnames == ["audit", "explanation"]
    values = list(book["audit"].iter_rows(values_only=True))
    assert values[0][0] == "id" and [row[4] for row in values[1:]] == ["start", "claim", "audit_exported"]


def test_another_units_staff_are_refused_a_cases_trail(people, api_as, started):
    take_part(api_as, people)
    bob = api_as(people.bob)
    for suffix in ("audit", "audit.csv", "audit.xlsx"):
        refused = bob.get(f"/api/v1/instances/{started}/{suffix}")
        assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden", suffix
    assert bob.get("/api/v1/instances/999999/audit").status_code == 404
    assert bob.get(f"/api/v1/instances/{2**70}/audit").status_code == 404


def test_an_auditor_exports_the_whole_chain_and_its_rows_link(rt, people, api_as, started):
    take_part(api_as, people)
    download = api_as(people.auditor).get("/api/v1/audit/export.csv")
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.data.decode("utf-8-sig"))))
    assert [int(row["编号"]) for row in rows] == [e.id for e in all_events(rt)][:-1]  # the export's own event follows
    assert rows[0]["前一事件哈希"] == "0" * 64
    assert all(later["前一事件哈希"] == earlier["哈希"] for earlier, later in zip(rows, rows[1:]))
    assert all_events(rt)[-1].action == "audit_exported" and all_events(rt)[-1].instance_id is None
