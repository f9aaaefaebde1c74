"""Background jobs (engine/services/jobs.py): exports and imports run outside the request, show how far
they are, fail with a message a person can act on, are taken up again when their runner dies, are
seen only by who asked (and administrators), and their files are deleted after a few days."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from openpyxl import Workbook, load_workbook
from sqlalchemy import select, update

from engine.errors import NotFound, PermissionDenied
from engine.models import OrgUnit, Person
from engine.models.job import Job
from engine.runtime import Actor
from engine.services import job_kinds, jobs
from engine.services.org_io import export_org
from engine.services.progress import counted
from tests.support.cli import ROOT

ADMIN = Actor("root", 9999, None, frozenset({"admin"}))
BROKER = "redis://127.0.0.1:6379/8"


def queue(rt, mode: str, **more) -> None:
    rt.settings = replace(rt.settings, work_queue=mode, **more)


def wait_until_finished(rt, actor, job_id: int, seconds: float = 30) -> jobs.JobView:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = jobs.view(rt, actor, job_id)
        if seen.finished:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {seen.status} after {seconds} s: {seen}")


def org_workbook(people_rows) -> bytes:
    book = Workbook()
    book.remove(book.active)
    units = book.create_sheet("单位")
    units.append(["单位编码", "单位名称", "类别"])
    units.append(["P01", "采油一队", "生产型"])
    staff = book.create_sheet("人员")
    staff.append(["用户名", "姓名", "所属单位编码"])
    for row in people_rows:
        staff.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def add_people(rt, count: int) -> None:
    with rt.db.unit_of_work() as session:
        unit = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "U1"))
        session.add_all([Person(username=f"p{n:05d}", display_name=f"员工{n}", unit_id=unit, active=True,
                                created_at=rt.clock.now()) for n in range(count)])


@pytest.mark.timeout(60)
def test_an_export_runs_as_a_job_and_its_file_is_only_for_who_asked(rt, people):
    add_people(rt, 450)
    job_id = jobs.start(rt, "org_export", people.owner, {"language": "zh"})  # inline: done after the commit
    seen = jobs.view(rt, people.owner, job_id)
    assert (seen.status, seen.percent, seen.error_zh) == ("done", 100, None)
    result = jobs.result_file(rt, people.owner, job_id)
    assert (result.filename, result.path.parent.name) == ("org.xlsx", "jobs")
    book = load_workbook(io.BytesIO(result.path.read_bytes()), read_only=True)
    assert sum(1 for _ in book["人员"].iter_rows()) == 1 + 450 + 5  # header, the added people, the cast
    book.close()
    assert jobs.view(rt, ADMIN, job_id).status == "done"  # administrators see every job
    for stranger in (people.auditor, people.alice):  # an auditor may export, but not take another's file
        with pytest.raises(PermissionDenied, match="只有发起任务的人和系统管理员"):
            jobs.result_file(rt, stranger, job_id)
    with pytest.raises(NotFound):
        jobs.view(rt, people.owner, job_id + 100)


@pytest.mark.timeout(60)
def test_the_work_itself_reports_rows_written(rt, people, tmp_path):
    add_people(rt, 450)
    reports = []
    export_org(rt, tmp_path / "org.xlsx", progress=lambda *report: reports.append(report))
    writing_people = [r for r in reports if r[2] == "正在写入工作表「人员」"]
    assert writing_people[0][:2] == (0, 455) and writing_people[-1][:2] == (455, 455)
    assert (200, 455) in [r[:2] for r in writing_people]  # moved in steps, not only at the ends
    assert reports[0][2] == "正在读取组织数据" and reports[-1][2] == "正在保存工作簿"


@pytest.mark.timeout(60)
def test_progress_is_visible_while_a_job_runs_in_the_background(rt, people, monkeypatch):
    queue(rt, "thread")
    monkeypatch.setattr(jobs, "REPORT_SECONDS", 0.05)
    halfway, release = threading.Event(), threading.Event()

    def counting_work(rt_, actor, params, upload, report):
        for n in counted(range(100), report, 100, "正在数数", "counting", every=10):
            if n == 40:
                halfway.set()
                assert release.wait(20)
        return jobs.Outcome(b"done", "count.txt", "text/plain", {"counted": 100})

    monkeypatch.setitem(job_kinds.KINDS, "count", job_kinds.Kind(lambda *a: None, counting_work))
    job_id = jobs.start(rt, "count", people.owner, {})
    assert halfway.wait(20)
    deadline = time.monotonic() + 10
    while jobs.view(rt, people.owner, job_id).done < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    seen = jobs.view(rt, people.owner, job_id)
    assert (seen.status, seen.done, seen.total, seen.percent, seen.stage("zh")) == ("running", 40, 100, 40, "正在数数")
    assert seen.stage("en") == "counting" and seen.as_dict("en")["status_text"] == "running"
    release.set()
    seen = wait_until_finished(rt, people.owner, job_id)
    assert (seen.status, seen.percent, seen.summary) == ("done", 100, {"counted": 100})
    assert jobs.result_file(rt, people.owner, job_id).path.read_bytes() == b"done"


@pytest.mark.timeout(60)
def test_a_refused_import_fails_with_every_row_problem_and_writes_nothing(rt, people):
    data = org_workbook([["n1", "新员工", "P01"], ["n2", "", "NOPE"]])
    job_id = jobs.start(rt, "org_import", people.owner, {"filename": "org.xlsx"}, upload=data)
    seen = jobs.view(rt, people.owner, job_id)
    assert seen.status == "failed"
    assert seen.error("zh").startswith("导入被拒绝：发现 2 个问题") and "nothing was written" in seen.error("en")
    rows = [(p["sheet"], p["row"]) for p in seen.summary["problems"]]
    assert rows == [("人员", 3), ("人员", 3)]
    with rt.db.reading() as session:
        assert session.scalar(select(Person.id).where(Person.username == "n1")) is None
    assert not list((rt.settings.files_dir / "jobs").glob("input-*"))  # the upload does not linger


@pytest.mark.timeout(60)
def test_an_import_job_reports_what_it_wrote(rt, people):
    data = org_workbook([["n1", "新员工", "P01"], ["n2", "另一人", "P01"]])
    job_id = jobs.start(rt, "org_import", people.owner, {"filename": "org.xlsx"}, upload=data)
    seen = jobs.view(rt, people.owner, job_id)
    assert seen.status == "done" and not seen.has_file
    assert seen.summary["lines_zh"][:2] == ["单位：新建 1，更新 0，未变 0", "人员：新建 2，更新 0，未变 0"]
    assert seen.summary["people_created"] == 2


@pytest.mark.timeout(60)
def test_who_may_not_do_the_work_is_refused_at_once_and_no_job_is_written(rt, people):
    with pytest.raises(PermissionDenied):
        jobs.start(rt, "org_import", people.alice, {"filename": "org.xlsx"}, upload=b"x")
    with pytest.raises(PermissionDenied):
        jobs.start(rt, "audit_export", people.alice, {"fmt": "csv"})
    with pytest.raises(NotFound, match="没有这种后台任务"):
        jobs.start(rt, "format_disk", people.owner, {})
    with rt.db.reading() as session:
        assert session.scalars(select(Job)).all() == []


@pytest.mark.timeout(60)
def test_an_unexpected_failure_says_so_and_names_the_job(rt, people, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("disk on fire")
    monkeypatch.setitem(job_kinds.KINDS, "broken", job_kinds.Kind(lambda *a: None, broken))
    job_id = jobs.start(rt, "broken", people.owner, {})
    seen = jobs.view(rt, people.owner, job_id)
    assert seen.status == "failed" and f"编号 {job_id}" in seen.error("zh") and "administrator" in seen.error("en")
    assert "disk on fire" in caplog.text  # the details are in the log, not shown to the person


@pytest.mark.timeout(60)
def test_a_job_whose_runner_died_is_taken_up_by_the_sweep_and_one_that_runs_is_left_alone(rt, people):
    queue(rt, "scheduler")  # nobody runs it at once: it waits for the sweep
    job_id = jobs.start(rt, "audit_export", people.auditor, {"fmt": "csv"})
    assert jobs._claim(rt, job_id) is not None  # a runner took it ... and died
    assert jobs.run(rt, job_id) is None  # its heartbeat is fresh: nobody else takes it yet
    assert jobs.sweep(rt) == []
    with rt.db.unit_of_work() as session:  # two minutes later, no heartbeat
        session.execute(update(Job).where(Job.id == job_id).values(
            updated_at=rt.clock.now() - jobs.STALLED_AFTER - timedelta(seconds=1)))
    assert jobs.sweep(rt) == [job_id]
    seen = jobs.view(rt, people.auditor, job_id)
    assert seen.status == "done"
    content = jobs.result_file(rt, people.auditor, job_id).path.read_bytes().decode("utf-8-sig")
    assert "序号" in content.splitlines()[0] or content.count("\n") >= 1
    with rt.db.reading() as session:
        assert session.get(Job, job_id).attempts == 2


@pytest.mark.timeout(60)
def test_a_job_interrupted_too_often_is_given_up_with_a_message(rt, people):
    queue(rt, "scheduler")
    job_id = jobs.start(rt, "org_export", people.owner, {})
    with rt.db.unit_of_work() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="running", attempts=jobs.MAX_ATTEMPTS,
                                                                   updated_at=rt.clock.now() - timedelta(hours=1)))
    jobs.sweep(rt)
    seen = jobs.view(rt, people.owner, job_id)
    assert seen.status == "failed" and "不再重试" in seen.error("zh")


@pytest.mark.timeout(60)
def test_result_files_are_deleted_after_some_days(rt, people):
    job_id = jobs.start(rt, "org_export", people.owner, {})
    path = jobs.result_file(rt, people.owner, job_id).path
    jobs.sweep(rt)
    assert path.is_file()  # fresh: kept
    with rt.db.unit_of_work() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            finished_at=rt.clock.now() - timedelta(days=jobs.RESULT_DAYS, minutes=1)))
    jobs.sweep(rt)
    assert not path.exists()
    assert jobs.view(rt, people.owner, job_id).file_expired
    with pytest.raises(NotFound, match="结果文件已在 3 天后删除"):
        jobs.result_file(rt, people.owner, job_id)


@pytest.mark.timeout(90)
def test_a_celery_worker_runs_the_job(rt, people, tmp_path):
    redis.Redis.from_url(BROKER).flushdb()
    queue(rt, "celery", broker_url=BROKER)
    env = {**os.environ, "KAOHE_DATABASE_URL": rt.settings.database_url, "KAOHE_WORK_QUEUE": "celery",
           "KAOHE_BROKER_URL": BROKER, "KAOHE_FILES_DIR": str(rt.settings.files_dir)}
    log = open(tmp_path / "worker.log", "w")
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "engine.worker", "worker", "--pool", "solo",
                               "--without-gossip", "--without-mingle", "--loglevel", "INFO"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        import engine.worker
        engine.worker.app.conf.broker_url = BROKER  # this process sends to the same broker
        job_id = jobs.start(rt, "org_export", people.owner, {"language": "en"})
        seen = wait_until_finished(rt, people.owner, job_id, seconds=60)
        assert seen.status == "done", seen
        book = load_workbook(io.BytesIO(jobs.result_file(rt, people.owner, job_id).path.read_bytes()))
        assert book.sheetnames[:2] == ["units", "people"]
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        log.close()
    assert "kaohe.run_job" in (tmp_path / "worker.log").read_text()
