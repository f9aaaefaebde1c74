"""`kaohe backup FILE` / `kaohe restore FILE`, run as an operator runs them (the real command in a
subprocess): a restored copy holds every row, file and audit event, verifies, and works; a backup
taken while people keep completing tasks is one consistent moment; a restore refuses a non-empty
database and a damaged or foreign archive without changing anything; backups move between SQLite
and PostgreSQL and from an older schema revision to this one."""
from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from engine.clock import FixedClock
from engine.migrate import alembic_config, upgrade
from engine.models import OrgUnit, Person
from engine.runtime import Runtime
from engine.services import deploy, evidence, instances, schemes, tasks
from engine.services.people import actor_for
from engine.settings import Settings
from tests.support import evidence as evidence_files
from tests.support.cli import ROOT
from tests.support.databases import scalar, table_names, table_rows
from tests.support.rectifications import PLAN, approve_plan, close, open_problem
from tests.support.scoring import score
from tests.support.servers import kaohe_env

pytestmark = pytest.mark.timeout(240)


def kaohe(url: str, files_dir: Path, *args: str, language: str = "zh_CN") -> subprocess.CompletedProcess:
    """The real `kaohe` command against one database and files directory."""
    return subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env=kaohe_env(url, files_dir, KAOHE_LANGUAGE=language), timeout=180, check=False)


@pytest.fixture
def rt(new_database, tmp_path):
    """Overrides tests/conftest.py's runtime: the source is a database built by Alembic, as `kaohe init`
    builds it (a backup records its schema revision), with its own evidence files directory."""
    url = new_database("bsrc")
    upgrade(url)
    runtime = Runtime(Settings(database_url=url, script_time_limit=1.0, workflows_dir=ROOT / "workflows",
                               files_dir=tmp_path / "files"))
    yield runtime
    runtime.db.dispose()


def runtime_on(url: str, files_dir: Path, actor_source) -> Runtime:
    """A runtime on a restored database, at the same moment as the source world, with an `actor` lookup."""
    restored = Runtime(Settings(database_url=url, script_time_limit=1.0, workflows_dir=ROOT / "workflows",
                                files_dir=files_dir), clock=FixedClock(actor_source.clock.now()))

    def actor(username: str):
        with restored.db.reading() as session:
            return actor_for(session.scalar(select(Person).where(Person.username == username)))
    restored.actor = actor
    return restored


@pytest.fixture
def world(tracked):
    """Workflows, the demo organisation, a closed rectification case and two open ones, March scores,
    and an evidence file uploaded to an open review task."""
    rt = tracked
    closed = open_problem(rt)
    later = close(rt, closed)
    planned, fresh = open_problem(later), open_problem(later)
    approve_plan(later, planned)
    schemes.import_scheme(rt, (ROOT / "workflows" / "schemes" / "default.scheme.json").read_text(encoding="utf-8"),
                          rt.actor("owner"))
    score(rt, "2026-03", {"P01": 92, "P02": 80.5})
    deploy.deploy(rt, evidence_files.review_with_files_bundle(), rt.actor("owner"))
    review = instances.start(rt, "review", rt.actor("owner"), data={"weight": 0.5, "unit_code": "P01"})
    [task] = [t for t in tasks.inbox(rt, rt.actor("p01_staff1")) if t.instance_id == review]
    evidence.store(rt, rt.actor("p01_staff1"), task.id, "attachments", "自评材料.pdf", io.BytesIO(evidence_files.PDF))
    return SimpleNamespace(rt=later, url=rt.settings.database_url, files=Path(rt.settings.files_dir),
                           open_cases=(planned, fresh), review=review)


def back_up(world, archive: Path) -> subprocess.CompletedProcess:
    done = kaohe(world.url, world.files, "backup", str(archive))
    assert done.returncode == 0, done.stderr
    return done


def restore_into(url: str, files_dir: Path, archive: Path) -> subprocess.CompletedProcess:
    done = kaohe(url, files_dir, "restore", str(archive))
    assert done.returncode == 0, done.stderr
    assert "审计链完整 audit chain intact" in done.stdout
    return done


def assert_same_rows(source_url: str, target_url: str) -> dict[str, list[tuple]]:
    source, target = table_rows(source_url), table_rows(target_url)
    assert source.keys() == target.keys()
    for name, rows in source.items():
        assert target[name] == rows, f"table {name} differs after restore"
    return source


def test_a_restored_backup_holds_every_row_file_and_event_and_works(world, new_database, tmp_path):
    archive = tmp_path / "kaohe-backup.zip"
    backed_up = back_up(world, archive)
    assert "1 个佐证文件 evidence files" in backed_up.stdout

    target, target_files = new_database("restore"), tmp_path / "restored-files"
    restored = restore_into(target, target_files, archive)
    rows = assert_same_rows(world.url, target)
    statuses = {row[0] for row in scalar_rows(target, "SELECT status FROM human_task")}
    assert {"open", "completed"} <= statuses and len(rows["process_instance"]) >= 4
    assert rows["score_entry"] and rows["evidence_file"] and len(rows["audit_event"]) > 20
    assert f"审计链完整 audit chain intact: {len(rows['audit_event'])} 条事件" in restored.stdout
    assert f"audit_event: {len(rows['audit_event'])}" in restored.stdout

    stored = target_files / hashlib.sha256(evidence_files.PDF).hexdigest()[:2] / hashlib.sha256(
        evidence_files.PDF).hexdigest()
    assert stored.read_bytes() == evidence_files.PDF
    verify = kaohe(target, target_files, "audit", "verify")
    assert verify.returncode == 0 and f"{len(rows['audit_event'])} 条事件" in verify.stdout

    # The restored installation works: same inbox, the file downloads, and a task completes with fresh ids.
    copy = runtime_on(target, target_files, world.rt)
    try:
        head_inbox = [(t.id, t.name) for t in tasks.inbox(world.rt, world.rt.actor("p01_head"))]
        assert [(t.id, t.name) for t in tasks.inbox(copy, copy.actor("p01_head"))] == head_inbox
        sha256 = hashlib.sha256(evidence_files.PDF).hexdigest()
        assert evidence.open_file(copy, copy.actor("owner"), world.review, sha256).path.read_bytes() == \
            evidence_files.PDF
        plan = next(t for t in tasks.inbox(copy, copy.actor("p01_head")) if t.instance_id == world.open_cases[1])
        tasks.complete(copy, plan.id, copy.actor("p01_head"), PLAN)
        loaded = {r[0] for r in rows["human_task"]}
        new_ids = {row[0] for row in scalar_rows(target, "SELECT id FROM human_task")} - loaded
        assert new_ids and min(new_ids) > max(loaded)  # sequences moved past the load
    finally:
        copy.db.dispose()
    after = kaohe(target, target_files, "audit", "verify")
    events_after = scalar_rows(target, "SELECT count(*) FROM audit_event")[0][0]
    assert events_after > len(rows["audit_event"])
    assert after.returncode == 0 and f"audit chain intact: {events_after} 条事件" in after.stdout


def scalar_rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def test_a_backup_taken_while_tasks_are_completed_is_one_consistent_moment(tracked, new_database, tmp_path):
    rt = tracked
    done, stop, failures = [0], threading.Event(), []

    def keep_working() -> None:  # as people would: open a problem, then write its plan
        try:
            while not stop.is_set():
                case = open_problem(rt)
                [plan] = [t for t in tasks.inbox(rt, rt.actor("p01_head")) if t.instance_id == case]
                tasks.complete(rt, plan.id, rt.actor("p01_head"), PLAN)
                done[0] += 1
        except BaseException as error:  # reported below; a silent thread would hide the failure
            failures.append(error)

    worker = threading.Thread(target=keep_working, daemon=True)
    worker.start()
    archive = tmp_path / "busy.zip"
    try:
        while done[0] < 1 and not failures:
            stop.wait(0.05)
        at_start = done[0]
        back_up(SimpleNamespace(url=rt.settings.database_url, files=Path(rt.settings.files_dir)), archive)
        at_end = done[0]
        while done[0] <= at_end and not failures and worker.is_alive():
            stop.wait(0.05)  # one more after the backup, so the snapshot is strictly older than the source
    finally:
        stop.set()
        worker.join(60)
    assert not failures, failures
    assert at_end > at_start, "no task was completed while the backup ran"

    target = new_database("busy")
    restore_into(target, tmp_path / "busy-files", archive)
    completed = scalar_rows(target, "SELECT count(*) FROM human_task WHERE status = 'completed'")[0][0]
    completions = scalar_rows(target, "SELECT count(*) FROM audit_event WHERE action = 'complete'")[0][0]
    started = scalar_rows(target, "SELECT count(*) FROM process_instance")[0][0]
    starts = scalar_rows(target, "SELECT count(*) FROM audit_event WHERE action = 'start'")[0][0]
    assert completed == completions and started == starts  # every table read at the same moment
    source_events = scalar_rows(rt.settings.database_url, "SELECT count(*) FROM audit_event")[0][0]
    assert scalar_rows(target, "SELECT count(*) FROM audit_event")[0][0] < source_events


def _rewritten(archive: Path, target: Path, change) -> Path:
    """A copy of the archive with each member passed through change(name, data) -> data."""
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info.filename, change(info.filename, source.read(info.filename)))
    return target


@pytest.fixture
def small_backup(rt, people, tmp_path):
    """A source with one review case and one uploaded evidence file, and its backup. U1 is moved under a
    unit created after it, so its row points at a later row of the same table (restore links it last)."""
    with rt.db.unit_of_work() as session:
        later = OrgUnit(code="U0", name="新设中心", category="non_production")
        session.add(later)
        session.flush()
        session.scalar(select(OrgUnit).where(OrgUnit.code == "U1")).parent_id = later.id
    deploy.deploy(rt, evidence_files.review_with_files_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 0.5, "unit_code": "U1"})
    [task] = tasks.inbox(rt, people.alice)
    evidence.store(rt, people.alice, task.id, "attachments", "a.pdf", io.BytesIO(evidence_files.PDF))
    archive = tmp_path / "small.zip"
    world = SimpleNamespace(url=rt.settings.database_url, files=Path(rt.settings.files_dir), instance=instance_id)
    back_up(world, archive)
    world.archive = archive
    return world


def test_restore_refuses_and_changes_nothing(small_backup, new_database, tmp_path):
    target, target_files = new_database("refused"), tmp_path / "refused-files"
    data = small_backup.archive.read_bytes()
    sha256 = hashlib.sha256(evidence_files.PDF).hexdigest()

    def refused(archive: Path, zh: str, en: str | None = None) -> None:
        for language, expected in (("zh_CN", zh), ("en", en)) if en else (("zh_CN", zh),):
            result = kaohe(target, target_files, "restore", str(archive), language=language)
            assert result.returncode == 1 and expected in result.stderr, (result.stdout, result.stderr)
            assert "Traceback" not in result.stderr
        assert table_names(target) == [] and not target_files.exists()

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(data[: len(data) // 2])
    refused(truncated, "不是完整的 kaohe 备份", "is not a complete kaohe backup")
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("readme.txt", "hello")
    refused(foreign, "不是 kaohe 备份文件")
    swapped = _rewritten(small_backup.archive, tmp_path / "swapped.zip",
                         lambda name, body: evidence_files.PNG if name.endswith(sha256) else body)
    refused(swapped, f"佐证文件 {sha256} 内容与其 SHA-256 不符", f"evidence file {sha256} in the backup does not "
            "match its SHA-256")
    short = _rewritten(small_backup.archive, tmp_path / "short.zip",
                       lambda name, body: b"\n".join(body.splitlines()[1:]) + b"\n" if "audit_event" in name else body)
    refused(short, "备份文件已损坏")
    future = _rewritten(small_backup.archive, tmp_path / "future.zip", lambda name, body: body.replace(
        b'"revision": "', b'"revision": "9999_') if name == "manifest.json" else body)
    refused(future, "比本程序新")

    before = table_rows(small_backup.url)
    busy = kaohe(small_backup.url, small_backup.files, "restore", str(small_backup.archive))
    assert busy.returncode == 1 and "目标数据库不是空的" in busy.stderr
    assert table_rows(small_backup.url) == before


def test_a_backup_moves_between_sqlite_and_postgresql(small_backup, new_database, tmp_path):
    """Suite dialect -> SQLite -> suite dialect: with KAOHE_TEST_DATABASE_URL set that is PostgreSQL to
    SQLite and back; every hop keeps every row and the chain."""
    middle, middle_files = new_database("middle", sqlite=True), tmp_path / "middle-files"
    restore_into(middle, middle_files, small_backup.archive)
    assert_same_rows(small_backup.url, middle)
    again = tmp_path / "again.zip"
    back_up(SimpleNamespace(url=middle, files=middle_files), again)
    final = new_database("final")
    restore_into(final, tmp_path / "final-files", again)
    assert_same_rows(small_backup.url, final)


def test_a_backup_of_an_older_schema_is_restored_then_upgraded(new_database, tmp_path):
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = scripts.get_current_head()
    older = scripts.get_revision(head).down_revision
    source = new_database("older")
    upgrade(source, older)
    engine = create_engine(source, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO non_working_day (day, name) VALUES ('2026-10-01', '国庆节')"))
    engine.dispose()
    archive = tmp_path / "older.zip"
    back_up(SimpleNamespace(url=source, files=tmp_path / "none"), archive)
    target = new_database("upgraded")
    restored = restore_into(target, tmp_path / "upgraded-files", archive)
    assert f"schema upgraded: {older} -> {head}" in restored.stdout
    assert scalar(target, "SELECT version_num FROM alembic_version") == head
    assert scalar(target, "SELECT name FROM non_working_day") == "国庆节"
