"""The deployment beyond one machine, on this one: 2 gunicorn web workers and 2 Celery workers
against the test database (PostgreSQL in CI's second pass) and Redis. A month launched through the
API is started by the Celery workers, and every unit's task exists exactly once."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import json
import urllib.error
import urllib.request
import pytest
import redis
from sqlalchemy import func, insert, select

from engine.models import FanOut, HumanTask, OrgUnit, ProcessInstance
from engine.runtime import SYSTEM
from engine.services import api_tokens, audit, deploy
from tests.support.cli import ROOT

UNITS = 600  # three chunks of 250: enough for both workers to take part
BROKER = "redis://127.0.0.1:6379/7"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def deployment(rt, tmp_path):
    redis.Redis.from_url(BROKER).flushdb()  # no message left from an earlier run
    env = {**os.environ, "KAOHE_DATABASE_URL": rt.settings.database_url, "KAOHE_WORK_QUEUE": "celery",
           "KAOHE_BROKER_URL": BROKER, "KAOHE_SCHEDULER": "external", "KAOHE_SECRET_KEY": "celery-test-secret",
           "KAOHE_FILES_DIR": str(tmp_path / "files")}
    env.pop("KAOHE_TEST_DATABASE_URL", None)
    port = _free_port()
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("web", "worker1", "worker2")}
    processes = [subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                                   "web.wsgi:create_worker_app()"], cwd=ROOT, env=env, stdout=logs["web"],
                                  stderr=subprocess.STDOUT)]
    for n in (1, 2):
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "engine.worker", "worker", "--pool", "solo", "-n", f"w{n}@%h",
             "--without-gossip", "--without-mingle", "--loglevel", "INFO"], cwd=ROOT, env=env,
            stdout=logs[f"worker{n}"], stderr=subprocess.STDOUT))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/login", timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    try:
        yield base, tmp_path
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs.values():
            log.close()


def test_a_month_launched_through_two_web_workers_is_started_once_by_two_celery_workers(rt, people, deployment):
    base, logs = deployment
    with rt.db.unit_of_work() as session:
        session.execute(insert(OrgUnit), [{"code": f"P{n:04d}", "name": f"单位{n}", "category": "production",
                                           "active": True} for n in range(UNITS - 2)])
    deploy.deploy(rt, deploy.read_files([ROOT / "workflows"]), SYSTEM)
    token = api_tokens.create(rt, SYSTEM, name="launcher", scope=["process_owner"], account="owner").secret

    request = urllib.request.Request(
        f"{base}/api/v1/instances", method="POST",
        data=json.dumps({"process_id": "monthly_cycle", "data": {"period": "2026-12"}}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # an error status raises here
        cycle = json.load(answer)["id"]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with rt.db.reading() as session:
            statuses = session.scalars(select(FanOut.status).where(FanOut.parent_instance_id == cycle)).all()
        if statuses and all(status == "done" for status in statuses):
            break
        time.sleep(0.5)
    worker_logs = [(logs / f"worker{n}.log").read_text() for n in (1, 2)]
    assert statuses == ["done"], worker_logs

    with rt.db.reading() as session:
        books, keys, units = session.execute(select(
            func.count(), func.count(func.distinct(ProcessInstance.business_key)),
            func.count(func.distinct(ProcessInstance.unit_code))).where(
            ProcessInstance.process_id == "task_book", ProcessInstance.parent_instance_id == cycle)).one()
        open_tasks, task_units = session.execute(select(func.count(), func.count(func.distinct(HumanTask.unit_code)))
                                                 .where(HumanTask.process_id == "task_book",
                                                        HumanTask.status == "open")).one()
    assert (books, keys, units) == (UNITS, UNITS, UNITS)  # U1, U2 of the cast and the 598 added
    assert (open_tasks, task_units) == (UNITS, UNITS)
    with rt.db.reading() as session:  # one worker finished the launch and told the parent, once
        trail = [event.action for event in audit.instance_trail(session, cycle)]
    assert trail.count("launch_planned") == 1 and trail.count("launch_done") == 1
    # what the workers report having started adds up to the month: no chunk was done twice
    done = r"kaohe\.run_launch\[[^\]]+\] succeeded in [0-9.]+s: (\d+)"
    reported = [int(n) for log in worker_logs for n in re.findall(done, log)]
    assert sum(reported) == UNITS, worker_logs
