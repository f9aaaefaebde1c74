"""How many inbox pages a second do 2 gunicorn workers serve to signed-in people, and how fast?
(issue 8: ≥ 300 pages/s with p95 ≤ 100 ms and no errors, on loopback)

Fills a throwaway database with an organisation of 2,000 people in 40 units (every one with a
password; a head per unit and one performance office) and 100,000 open tasks offered as
bench/inbox_list.py offers them (to one person, to a unit's head, to the office, to a whole unit;
one in ten already claimed). Starts gunicorn with 2 workers on a free loopback port, as
deployment does (`gunicorn 'web.wsgi:create_worker_app()'`, scheduler external), and runs locust
headless: 20 simulated people (staff and unit heads) each sign in once through the login form
and then load /tasks again and again with no pause (bench/http_load_users.py); the figures count
only the inbox, for 30 s from the moment the last one has signed in. Before the load it times 50
inbox pages one at a time (one person, no other load: the server's own time per page).
Prints the database, workers, pages/s, p50/p95/p99 and errors, and the CPU time the gunicorn
workers and locust spent per page; asserts nothing.

The load generator shares the machine's cores with the server (about 1 ms of CPU per page), and so
does anything else running: pages/s and response times move with that, the CPU per page hardly.
On PostgreSQL the database server's own CPU is not in the workers' figure.

Runs on a temporary SQLite file, or on PostgreSQL when KAOHE_TEST_DATABASE_URL is set (e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/bench_http). It DROPS AND RECREATES EVERY TABLE of
that database, so it never reads KAOHE_DATABASE_URL and stops if the test URL equals the real one.
Needs locust: `pip install -e '.[bench]'` (`make bench` does it).
Run: .venv/bin/python bench/http_load.py [--seconds 30] [--users 20] [--workers 2] [--threads 1]
     [--tasks 100000] [--office]
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

import engine.models  # noqa: E402,F401
from engine.db import Base, Database  # noqa: E402
from engine.models import (HumanTask, OrgUnit, Person, PersonRole, ProcessInstance, ProcessVersion,  # noqa: E402
                           TaskCandidate)
from engine.services.people import hash_password  # noqa: E402
from engine.settings import Settings  # noqa: E402

PASSWORD = "bench-password-2026"
PEOPLE, UNITS = 2000, 40
OFFICE = UNITS + 1  # person ids 1..UNITS head the unit of the same id; the next one is the office
PROCESSES = [("achievement_declaration", "工作实绩申报", "填报工作实绩"), ("check_record", "旬检查记录", "确认检查记录"),
             ("rectification", "问题整改跟踪", "提交整改落实情况")]
PERIODS = [f"2026-{m:02d}" for m in range(1, 13)]
LOCUSTFILE = Path(__file__).resolve().parent / "http_load_users.py"


def fill_people(conn, now: datetime) -> None:
    """Units, people with one password (hashed once: argon2 is slow on purpose) and their roles."""
    password_hash = hash_password(PASSWORD)
    conn.execute(insert(OrgUnit), [{"id": i, "code": f"U{i:03d}", "name": f"单位{i:03d}", "category": "production",
                                    "active": True} for i in range(1, UNITS + 1)])
    conn.execute(insert(Person), [{"id": i, "username": f"user{i}", "display_name": f"员工{i}",
                                   "password_hash": password_hash, "unit_id": i if i <= UNITS else 1 + i % UNITS,
                                   "position": "head" if i <= UNITS else "staff", "party_status": "none",
                                   "language": None, "active": True, "created_at": now}
                                  for i in range(1, PEOPLE + 1)])
    roles = [{"person_id": i, "role": "staff"} for i in range(1, PEOPLE + 1)]
    roles += [{"person_id": i, "role": "unit_head"} for i in range(1, UNITS + 1)]
    roles.append({"person_id": OFFICE, "role": "process_owner"})
    conn.execute(insert(PersonRole), roles)


def fill_tasks(conn, count: int, now: datetime) -> None:
    """Open tasks with their instances and candidate rows, as bench/inbox_list.py makes them."""
    rng = random.Random(8)
    conn.execute(insert(ProcessVersion), [{"id": n, "process_id": pid, "version": 1, "name": name,
                                           "bundle_hash": str(n) * 64, "deployed_at": now, "deployed_by": "bench"}
                                          for n, (pid, name, _task) in enumerate(PROCESSES, 1)])
    base = {"business_key": None, "state": "{}", "serializer_version": "1", "version": 1, "next_timer_at": None,
            "error_element": None, "error_message": None, "started_by": "owner", "updated_at": now,
            "completed_at": None, "spawned_by": None, "parent_instance_id": None}
    for chunk in range(1, count + 1, 5000):
        instances, tasks, candidates = [], [], []
        for n in range(chunk, min(count, chunk + 4999) + 1):
            version = rng.randint(1, len(PROCESSES))
            pid, _name, task_name = PROCESSES[version - 1]
            unit, period = rng.randint(1, UNITS), rng.choice(PERIODS)
            created = now - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 1440))
            instances.append({**base, "id": n, "process_version_id": version, "process_id": pid,
                              "title": f"{period} {task_name} {n}", "status": "waiting_person", "created_at": created,
                              "period": period, "unit_code": f"U{unit:03d}"})
            assignee = rng.randint(1, PEOPLE) if rng.random() < .1 else None
            tasks.append({"id": n, "instance_id": n, "task_guid": f"{n:036d}", "element_id": "task", "name": task_name,
                          "lane": None, "form_file": None, "instructions": None, "status": "open",
                          "assignee_id": assignee, "due_at": created + timedelta(days=rng.choice([3, 5, 7, 30])),
                          "reminded_at": None, "created_at": created, "claimed_at": None, "completed_at": None,
                          "completed_by_id": None, "process_id": pid, "unit_code": f"U{unit:03d}", "period": period})
            kind = rng.random()
            if kind < .5:
                candidates.append({"task_id": n, "person_id": rng.randint(1, PEOPLE), "role": None, "unit_id": None})
            elif kind < .8:
                candidates.append({"task_id": n, "person_id": None, "role": "unit_head", "unit_id": unit})
            elif kind < .95:
                candidates.append({"task_id": n, "person_id": None, "role": "process_owner", "unit_id": None})
            else:
                candidates.append({"task_id": n, "person_id": None, "role": None, "unit_id": unit})
        conn.execute(insert(ProcessInstance), instances)
        conn.execute(insert(HumanTask), tasks)
        conn.execute(insert(TaskCandidate), candidates)


def prepare(url: str, count: int) -> None:
    db = Database(url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    now = datetime.now(timezone.utc)  # the server runs on the real clock: tasks due around today
    began = time.perf_counter()
    with db.engine.begin() as conn:
        fill_people(conn, now)
        fill_tasks(conn, count, now)
        conn.execute(text("ANALYZE"))  # statistics, as a database that has run a while has
    print(f"{PEOPLE} people in {UNITS} units, {count} open tasks: filled in {time.perf_counter() - began:.1f} s")
    db.dispose()


def simulated_people(users: int, with_office: bool) -> list[str]:
    """Mostly staff, one in ten a unit head, and the office if asked: distinct people, fixed order."""
    rng = random.Random(users)
    heads = rng.sample(range(1, UNITS + 1), min(UNITS, max(1, users // 10)))
    staff = rng.sample(range(OFFICE + 1, PEOPLE + 1), users - len(heads) - with_office)
    return [f"user{i}" for i in heads + staff + ([OFFICE] if with_office else [])]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int, threads: int, files: Path) -> subprocess.Popen:
    env = {**os.environ, "KAOHE_DATABASE_URL": url, "KAOHE_SCHEDULER": "external", "KAOHE_FILES_DIR": str(files),
           "KAOHE_SECRET_KEY": secrets.token_hex(32)}
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
               "--no-control-socket", "--log-level", "warning"]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    return subprocess.Popen([*command, "web.wsgi:create_worker_app()"], cwd=ROOT, env=env)


def wait_until_serving(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn stopped at start (exit {server.returncode})")
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not answer within a minute")


def one_at_a_time(base: str, username: str, pages: int = 50) -> float:
    """Median ms of one inbox page with nothing else running (server time plus loopback)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    form = opener.open(f"{base}/login", timeout=10).read().decode()
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    opener.open(f"{base}/login", urlencode({"username": username, "password": PASSWORD, "csrf_token": token})
                .encode(), timeout=10).read()
    samples = []
    for _ in range(pages + 5):
        began = time.perf_counter()
        with opener.open(f"{base}/tasks", timeout=10) as page:
            page.read()
            if not page.url.endswith("/tasks"):
                sys.exit(f"{username} could not sign in")
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples[5:])  # the first few warm the worker's caches


def worker_pids(server: subprocess.Popen) -> list[int]:
    """gunicorn's workers: the master's children (Linux /proc; none elsewhere)."""
    try:
        return [int(pid) for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]
    except OSError:
        return []


def run_locust(base: str, people: list[str], seconds: int, work: Path, server_pids: list[int]
               ) -> tuple[dict | None, str]:
    env = {**os.environ, "BENCH_USERNAMES": ",".join(people), "BENCH_PASSWORD": PASSWORD,
           "BENCH_SECONDS": str(seconds), "BENCH_SERVER_PIDS": ",".join(map(str, server_pids))}
    # The users end the run `seconds` after the last sign-in; --run-time only caps a stuck one.
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base,
               "--users", str(len(people)), "--spawn-rate", str(len(people)), "--run-time", f"{seconds + 120}s",
               "--stop-timeout", "5", "--csv", str(work / "locust"), "--only-summary", "--loglevel", "WARNING"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 240)
    if not (work / "locust_stats.csv").exists():
        sys.exit(f"locust failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    notes = "\n".join(line for line in done.stderr.splitlines() if line.startswith("BENCH") or "Error" in line)
    with open(work / "locust_stats.csv", newline="") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    return rows.get("GET /tasks"), notes


def report(row: dict | None, errors_total: int) -> None:
    if row is None:
        print("no inbox page was loaded")
        return
    rate, p95 = float(row["Requests/s"]), float(row["95%"])
    failures = int(row["Failure Count"])
    print(f"inbox pages: {row['Request Count']}, {rate:.0f}/s; p50 {row['50%']} ms, p95 {row['95%']} ms, "
          f"p99 {row['99%']} ms, max {float(row['Max Response Time']):.0f} ms; errors {failures} "
          f"(all requests: {errors_total})")
    met = rate >= 300 and p95 <= 100 and errors_total == 0
    print(f"target ≥ 300/s, p95 ≤ 100 ms, no errors: {'met' if met else 'missed'}")


def run(url: str, label: str, options: argparse.Namespace) -> None:
    print(f"database: {label}; gunicorn workers: {options.workers} "
          f"({'gthread, %d threads' % options.threads if options.threads > 1 else 'sync'}); "
          f"simulated people: {options.users}{' (the office among them)' if options.office else ''}; "
          f"{options.seconds} s")
    prepare(url, options.tasks)
    people = simulated_people(options.users, options.office)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_gunicorn(url, port, options.workers, options.threads, Path(tmp) / "files")
        try:
            wait_until_serving(base, server)
            print(f"one page at a time ({people[-1]}): median {one_at_a_time(base, people[-1]):.1f} ms")
            row, notes = run_locust(base, people, options.seconds, Path(tmp), worker_pids(server))
            if notes:
                print(notes)
            with open(Path(tmp) / "locust_stats.csv", newline="") as stats:
                total = next(r for r in csv.DictReader(stats) if r["Name"] == "Aggregated")
            report(row, int(total["Failure Count"]))
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=30, help="length of the load (default 30)")
    parser.add_argument("--users", type=int, default=20, help="simulated people, each a closed loop (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker; >1: gthread (default 1)")
    parser.add_argument("--tasks", type=int, default=100_000, help="open tasks in the database (default 100000)")
    parser.add_argument("--office", action="store_true", help="one of the people is the office (15%% of all tasks)")
    options = parser.parse_args()
    if importlib.util.find_spec("locust") is None:
        sys.exit("locust is missing: pip install -e '.[bench]' (or make bench)")
    test_url = os.environ.get("KAOHE_TEST_DATABASE_URL")
    if not test_url:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench.db", "SQLite (temporary file)", options)
        return
    if test_url == os.environ.get("KAOHE_DATABASE_URL") or test_url == Settings.from_env().database_url:
        sys.exit("KAOHE_TEST_DATABASE_URL is the real database: refusing to empty it")
    if not test_url.startswith("postgresql"):
        sys.exit("KAOHE_TEST_DATABASE_URL must be a PostgreSQL test database")
    run(test_url, f"PostgreSQL ({test_url.rsplit('/', 1)[-1]})", options)


if __name__ == "__main__":
    main()
