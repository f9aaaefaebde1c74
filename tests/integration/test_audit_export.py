"""Exporting the audit trail: the files carry what a reader needs to re-check every hash and the chain
without the system, text is never a formula, every export is itself recorded, and the page and the
`kaohe audit export` command serve the same files under the same rule."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from engine.errors import PermissionDenied
from engine.models import AuditEvent
from engine.services import audit, audit_export
from tests.integration.test_audit import run_a_case
from tests.support.cli import cli_runner
from tests.web.conftest import login
from web import create_app

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def unescaped(value):
    """Undo the apostrophe put before text that would read as a formula (as the explanation sheet says)."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def recomputed_hash(row: dict) -> str:
    """The hash as audit.record computes it, from the exported columns alone."""
    def blank(key):
        value = unescaped(row[key])
        return None if value in ("", None) else value
    instance = blank("instance_id")
    return audit.digest([row["prev_hash"], row["occurred_at_utc"], unescaped(row["actor"]), row["action"],
                         None if instance is None else int(instance), blank("task_guid"), blank("subject"),
                         unescaped(row["detail"]), blank("data_digest")])


def xlsx_rows(content: bytes) -> list[dict]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    return [dict(zip([key for key, _zh, _en in audit_export.COLUMNS], row)) for row in values[1:]]


def csv_rows(content: bytes) -> list[dict]:
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    return [dict(zip([key for key, _zh, _en in audit_export.COLUMNS], row)) for row in rows[1:]]


def stored(rt) -> list[AuditEvent]:
    with rt.db.reading() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


@pytest.fixture
def case(rt, people) -> int:
    instance_id = run_a_case(rt, people)
    with rt.db.unit_of_work() as session:  # text a spreadsheet would run as a formula
        audit.record(session, at=rt.clock.now(), actor="-mallory", action="note", instance_id=instance_id,
                     subject='=HYPERLINK("http://evil","x")', detail={"text": "=1+1"})
    return instance_id


@pytest.mark.parametrize("fmt, read", [("xlsx", xlsx_rows), ("csv", csv_rows)])
def test_a_whole_chain_export_links_row_to_row_and_every_hash_rechecks(rt, people, case, fmt, read):
    events = stored(rt)
    export = audit_export.export_chain(rt, people.auditor, fmt)
    rows = read(export.content)
    assert export.events == len(rows) == len(events)
    assert [int(row["id"]) for row in rows] == [e.id for e in events]
    assert rows[0]["prev_hash"] == audit.GENESIS
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(rows, rows[1:]))
    assert [recomputed_hash(row) for row in rows] == [row["hash"] for row in rows]
    last = stored(rt)[-1]
    assert (last.action, last.actor, last.instance_id, last.subject) == ("audit_exported", "auditor", None, "chain")
    assert audit_export.verify_chain(rt, people.auditor).ok


def test_text_that_looks_like_a_formula_stays_text(rt, people, case):
    export = audit_export.export_case(rt, people.owner, case, "xlsx")
    sheet = load_workbook(io.BytesIO(export.content)).worksheets[0]
    note = next(row for row in sheet.iter_rows(min_row=2) if row[4].value == "note")
    assert all(cell.data_type != "f" for cell in note)
    assert note[3].value == "'-mallory" and note[7].value == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert note[8].value == '{"text":"=1+1"}'  # JSON starts with a brace: nothing to escape
    rows = csv_rows(audit_export.export_case(rt, people.owner, case, "csv").content)
    assert [row["subject"] for row in rows if row["action"] == "note"] == ["'=HYPERLINK(\"http://evil\",\"x\")"]


def test_a_case_export_holds_only_the_case_and_is_recorded_in_its_trail(rt, people, case):
    export = audit_export.export_case(rt, people.alice, case, "csv", "en")  # alice completed a task of it
    rows = csv_rows(export.content)
    assert export.filename == f"audit-instance-{case}.csv" and {row["instance_id"] for row in rows} == {str(case)}
    assert [row["action"] for row in rows] == ["start", "claim", "complete", "note"]
    assert export.content.decode("utf-8-sig").startswith("id,occurred_at,occurred_at_utc,actor")
    assert [recomputed_hash(row) for row in rows] == [row["hash"] for row in rows]
    trail = audit_export.case_trail(rt, people.alice, case)
    assert (trail[-1].action, trail[-1].actor, trail[-1].detail["format"]) == ("audit_exported", "alice", "csv")


def test_outsiders_are_refused_and_their_attempt_leaves_no_export_event(rt, people, case):
    for call in (lambda: audit_export.export_case(rt, people.bob, case, "xlsx"),
                 lambda: audit_export.export_chain(rt, people.alice, "csv"),
                 lambda: audit_export.search(rt, people.head, audit_export.EventQuery())):
        with pytest.raises(PermissionDenied):
            call()
    assert "audit_exported" not in [e.action for e in stored(rt)]


def test_the_instance_page_links_to_the_download_for_those_who_may_view_it(rt, people, case):
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})
    alice = app.test_client()
    login(alice, "alice")
    page = alice.get(f"/instances/{case}").get_data(as_text=True)
    link = f'href="/instances/{case}/audit.xlsx" id="audit-export"'
    assert link in page and "导出审计记录" in page
    download = alice.get(f"/instances/{case}/audit.xlsx")
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    assert download.headers["Content-Disposition"] == f"attachment; filename=audit-instance-{case}.xlsx"
    assert download.headers["Cache-Control"] == "private, no-store"
    assert [row["action"] for row in xlsx_rows(download.data)][-1] == "note"
    english = alice.get(f"/instances/{case}?lang=en").get_data(as_text=True)
    assert "Export audit trail" in english and "Export audit trail" in english.split('id="audit"')[1]

    bob = app.test_client()
    login(bob, "bob")
    assert bob.get(f"/instances/{case}/audit.xlsx").status_code == 403
    assert [e.actor for e in stored(rt) if e.action == "audit_exported"] == ["alice"]


def test_the_command_exports_a_case_or_the_whole_chain(rt, people, case, tmp_path):
    kaohe = cli_runner(rt.settings.database_url)
    one = kaohe("audit", "export", "--instance", str(case), "--output", str(tmp_path / "case.csv"))
    assert one.returncode == 0, one.stderr
    assert "已导出 4 条审计事件" in one.stdout
    assert [row["action"] for row in csv_rows((tmp_path / "case.csv").read_bytes())] == \
        ["start", "claim", "complete", "note"]

    chain = kaohe("audit", "export", "--format", "xlsx", "--output", str(tmp_path / "chain.out"))
    assert chain.returncode == 0, chain.stderr
    rows = xlsx_rows((tmp_path / "chain.out").read_bytes())
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(rows, rows[1:]))
    assert [(e.action, e.actor) for e in stored(rt)[-2:]] == [("audit_exported", "system")] * 2

    missing = kaohe("audit", "export", "--instance", "999999", "--output", str(tmp_path / "none.csv"))
    assert missing.returncode == 1 and not (tmp_path / "none.csv").exists()
    assert kaohe("audit", "export", "--help").returncode == 0
