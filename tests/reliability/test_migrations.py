"""Alembic migrations on a populated database: built at the first revision, filled with a real case
(people and units, a deployed process, a running instance with its state JSON and open task, the audit
chain), then upgraded revision by revision to head on SQLite or PostgreSQL. The rows must keep their
meaning, today's code must carry the case on, and the upgraded schema must equal the models."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from engine.db import Base, Database
from engine.migrate import alembic_config
from engine.runtime import Runtime
from engine.services import audit, deploy, instances, tasks
from tests.support.databases import scalar
from tests.support.files import review_bundle

# The tables revision 0001 creates, parents before children (foreign keys).
FIRST_TABLES = ("org_unit", "person", "person_role", "definition_file", "process_version", "process_version_file",
                "process_instance", "human_task", "task_candidate", "audit_event", "audit_head")


def copy_rows(source, target_url: str) -> dict[str, int]:
    """Copy every row of the first revision's tables into the target, only the columns that revision
    has (written as SQL against that schema); returns the row count per table."""
    target = create_engine(target_url)
    counts = {}
    try:
        columns = {table: [c["name"] for c in inspect(target).get_columns(table)] for table in FIRST_TABLES}
        with source.connect() as src, target.begin() as dst:
            for table in FIRST_TABLES:
                names = columns[table]
                order = "id" if "id" in names else names[0]
                rows = [dict(r._mapping) for r in src.execute(text(
                    f"SELECT {', '.join(names)} FROM {table} ORDER BY {order}"))]
                if rows:
                    dst.execute(text(f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                                     f"({', '.join(':' + n for n in names)})"), rows)
                counts[table] = len(rows)
                if target.dialect.name == "postgresql" and "id" in names and rows:
                    # Rows written with their ids, as a restored dump would be: move the sequence past them.
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
    finally:
        target.dispose()
    return counts


def schema_differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


@pytest.mark.timeout(180)
def test_a_populated_first_revision_database_upgrades_to_head_and_carries_on(rt, people, settings, new_database):
    # A real case, made by today's code in the test database: deployed, started, claimed, audited.
    deploy.deploy(rt, review_bundle(), people.owner)
    case = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"},
                           title="2025年5月 一车间自评", business_key="ZP-2025-05-U1")
    [task] = [t for t in tasks.inbox(rt, people.alice) if t.instance_id == case]
    tasks.claim(rt, task.id, people.alice)
    with rt.db.reading() as session:
        state_before = session.execute(text("SELECT state FROM process_instance WHERE id = :id"),
                                       {"id": case}).scalar_one()

    url = new_database("migr")  # a database of its own, empty
    config = alembic_config(url)
    command.upgrade(config, "0001")
    copied = copy_rows(rt.db.engine, url)
    assert copied["process_instance"] == 1 and copied["human_task"] == 1 and copied["audit_event"] >= 3

    revisions = [s.revision for s in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]
    assert revisions[0] == "0001" and len(revisions) >= 13
    for revision in revisions[1:]:  # one step at a time, as an installation that upgraded each release
        command.upgrade(config, revision)
        assert scalar(url, "SELECT count(*) FROM process_instance") == 1, f"instance lost at {revision}"

    assert schema_differences(url) == [], "the models and the migrations disagree: add a migration"
    for table, rows in copied.items():
        assert scalar(url, f"SELECT count(*) FROM {table}") == rows, f"{table} lost rows"

    db = Database(url)
    try:
        upgraded = Runtime(replace(settings, database_url=url), database=db)
        with db.reading() as session:
            assert audit.verify(session).ok  # the copied chain still verifies after every upgrade
            row = session.execute(text("SELECT state, status, business_key, title, parent_instance_id "
                                       "FROM process_instance WHERE id = :id"), {"id": case}).one()
        assert json.loads(row.state) == json.loads(state_before)
        assert (row.status, row.business_key, row.title, row.parent_instance_id) == (
            "waiting_person", "ZP-2025-05-U1", "2025年5月 一车间自评", None)
        # Today's code finds the claimed task in alice's inbox and carries the case to its end.
        [mine] = [t for t in tasks.inbox(upgraded, people.alice) if t.instance_id == case]
        assert (mine.id, mine.element_id, mine.assignee_id) == (task.id, "self_assess", people.alice.person_id)
        assert tasks.complete(upgraded, mine.id, people.alice, {"self_score": 90, "summary": "按计划完成"}) \
            == "waiting_person"
        [approval] = [t for t in tasks.inbox(upgraded, people.head) if t.instance_id == case]
        assert tasks.complete(upgraded, approval.id, people.head, {"approved": True}) == "completed"
        view = instances.view(upgraded, case, people.owner)
        assert view.instance.status == "completed" and view.data["total"] == 45.0
        # New rows in tables that later revisions added work too (a second case on the same version).
        second = instances.start(upgraded, "review", people.owner, data={"weight": 1, "unit_code": "U1",
                                                                        "period": "2025-06"})
        with db.reading() as session:
            assert audit.verify(session).ok
            assert session.execute(text("SELECT period, unit_code FROM process_instance WHERE id = :id"),
                                   {"id": second}).one() == ("2025-06", "U1")
    finally:
        db.dispose()
