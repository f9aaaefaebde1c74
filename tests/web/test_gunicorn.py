"""Served as deployed, by gunicorn with 2 worker processes: a person signs in and gets the inbox
from either worker (one session, one key), no worker runs the timer scheduler, and
`kaohe serve --workers 2` runs exactly one scheduler beside its workers and stops it with them."""
from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, build_opener

from engine.bpmn.bundle import SourceFile
from engine.models import ProcessInstance
from engine.services import audit, deploy, instances
from tests.integration.test_instances import TIMER_PROCESS
from tests.support.people import PASSWORD
from tests.web.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
BOOT_SECONDS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(rt, tmp_path: Path, **extra: str) -> dict:
    return {"PATH": "/usr/bin:/bin", "KAOHE_DATABASE_URL": rt.settings.database_url,
            "KAOHE_FILES_DIR": str(tmp_path / "files"), "KAOHE_SECRET_KEY": "k" * 64, **extra}


@contextmanager
def _serving(command: list[str], env: dict, port: int):
    """Start the server, wait until it answers, and stop it (SIGTERM, as an init system does)."""
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    result = {"pid": server.pid}
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            try:
                build_opener().open(f"{base}/login", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield base, result
    finally:
        server.send_signal(signal.SIGTERM)
        result["out"], result["err"] = server.communicate(timeout=BOOT_SECONDS)
        result["returncode"] = server.returncode


def _sign_in(base: str, username: str):
    opener = build_opener(HTTPCookieProcessor(CookieJar()))
    form = opener.open(f"{base}/login", timeout=10).read().decode()
    landed = opener.open(f"{base}/login", urlencode({"username": username, "password": PASSWORD,
                                                     "csrf_token": csrf_token(form)}).encode(), timeout=10)
    assert landed.url.endswith("/tasks")
    return opener


def _inbox(opener, base: str) -> str:
    with opener.open(f"{base}/tasks", timeout=10) as page:
        assert page.status == 200 and page.url.endswith("/tasks")
        return page.read().decode()


def _waiting_on_a_due_timer(rt, people) -> int:
    """A case whose timer is due at once: any scheduler that starts will fire it."""
    deploy.deploy(rt, [SourceFile("waiter.bpmn", TIMER_PROCESS)], people.owner)
    return instances.start(rt, "waiter", people.owner)


def _timer_firings(rt, instance_id: int) -> int:
    with rt.db.reading() as session:
        return [e.action for e in audit.instance_trail(session, instance_id)].count("timer_fired")


def test_both_gunicorn_workers_serve_the_signed_in_inbox_and_neither_runs_the_scheduler(rt, people, started,
                                                                                           tmp_path):
    waiting = _waiting_on_a_due_timer(rt, people)
    port, access_log = _free_port(), tmp_path / "access.log"
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
               "--no-control-socket", "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(r)s %(s)s",
               "web.wsgi:create_worker_app()"]
    with _serving(command, _environment(rt, tmp_path), port) as (base, server):
        opener = _sign_in(base, "alice")
        workers: set[str] = set()
        deadline = time.monotonic() + 10
        # Several pages at once keep one worker busy, so the other takes some: both serve this session.
        with ThreadPoolExecutor(4) as pool:
            while len(workers) < 2 and time.monotonic() < deadline:
                for page in pool.map(lambda _: _inbox(opener, base), range(8)):
                    assert "填写自评" in page and "2025年5月 自评" in page
                workers = set(re.findall(r"^<(\d+)> GET /tasks HTTP/1\.\d 200$", access_log.read_text(), re.M))
        time.sleep(1)  # time enough for a scheduler in a worker to fire the due timer
        assert instances.due_instance_ids(rt) == [waiting]
        assert _timer_firings(rt, waiting) == 0
    assert len(workers) == 2, f"one worker served every page: {workers}"
    assert "gunicorn workers do not run the scheduler: run one `kaohe scheduler`" in server["err"]


def test_kaohe_serve_with_workers_runs_one_scheduler_and_stops_it_with_them(rt, people, tmp_path):
    waiting = _waiting_on_a_due_timer(rt, people)
    port = _free_port()
    command = [sys.executable, "-m", "web.cli", "serve", "--workers", "2", "--port", str(port)]
    with _serving(command, _environment(rt, tmp_path), port) as (base, server):
        assert "待办任务" in _inbox(_sign_in(base, "owner"), base)
        deadline = time.monotonic() + 15
        while _timer_firings(rt, waiting) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        children = Path(f"/proc/{server['pid']}/task/{server['pid']}/children").read_text().split()
        [scheduler] = [pid for pid in children if "scheduler" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert _timer_firings(rt, waiting) == 1
    with rt.db.reading() as session:
        assert session.get(ProcessInstance, waiting).status == "waiting_person"
    assert server["returncode"] == 0, server["err"]
    assert not Path(f"/proc/{scheduler}").exists(), "the scheduler outlived kaohe serve"
