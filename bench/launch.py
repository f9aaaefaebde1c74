"""Launching a month at the size of a large group: 2,000 units and 100,000 people.

1. Builds the organisation with bulk inserts (1 group, 200 party branches, 1,799 production and
   non-production units, 100,000 people, 5 evaluation groups) and deploys the shipped workflows.
2. **Month**: starts the monthly cycle as the 30th's meeting does; timed until every unit's task
   book (plan) task is in the human_task table.
3. Stands in for the month's human work, untimed: closes the task books, submits the three
   spot checks, and moves the clock to the evaluation's opening.
4. **Evaluation phase**: the opening timer launches a political check per branch (timed); the
   branches' secretaries submit them (untimed); the last submission launches an achievement
   declaration per person (timed) until all 100,000 are ready in their owners' inboxes.
5. Checks nothing was created twice (one declaration instance and one open task per person).

With --workers N the declarations' launch runs in N `kaohe launches run` processes sharing it
(PostgreSQL: FOR UPDATE SKIP LOCKED), as N Celery workers would. With --interrupt SECONDS those
processes are killed with SIGKILL after SECONDS and started again; step 5 shows nothing was
started twice. Prints seconds, children per second and the peak memory of this process and of
the largest `kaohe launches run` process.

Run: KAOHE_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
     .venv/bin/python bench/launch.py [people] [--interrupt SECONDS]
(SQLite in a temporary file when the variable is unset; the script empties the database it is given.)
"""
from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

import engine.models  # noqa: E402,F401
from engine.clock import FixedClock  # noqa: E402
from engine.db import Base, Database  # noqa: E402
from engine.models import (EvaluationGroup, FanOut, HumanTask, OrgUnit, Person, PersonRole,  # noqa: E402
                           ProcessInstance, TaskCandidate)
from engine.runtime import SYSTEM, Runtime  # noqa: E402
from engine.services import deploy, instances, tasks  # noqa: E402
from engine.services.people import actor_for  # noqa: E402
from engine.settings import Settings  # noqa: E402

PERIOD = "2026-12"
DEMO_PEOPLE = 229  # the demo organisation's head count (`kaohe demo`)
ITEMS = [{"title": "完成 3 号集输管线保温改造", "task_source": "单位考核指标：冬季保供", "self_rating": "优秀"}]


def shape(people: int) -> tuple[int, int]:
    """(branches, units): 200 and 1,799 at 100,000 people (with the group itself, 2,000 units)."""
    return max(2, round(people * 200 / 100_000)), max(10, round(people * 1799 / 100_000))


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(db: Database, people: int) -> None:
    branches, units_count = shape(people)
    with db.engine.begin() as conn:
        units = [{"id": 1, "code": "ORG", "name": "集团", "category": "organisation", "parent_id": None,
                  "branch_id": None, "active": True}]
        units += [{"id": 1 + b, "code": f"B{b:04d}", "name": f"第{b}党支部", "category": "party_branch",
                   "parent_id": 1, "branch_id": None, "active": True} for b in range(1, branches + 1)]
        units += [{"id": 1000 + u, "code": f"U{u:04d}", "name": f"单位{u}",
                   "category": "production" if u % 2 else "non_production", "parent_id": 1,
                   "branch_id": 2 + u % branches, "active": True}
                  for u in range(1, units_count + 1)]
        conn.execute(insert(OrgUnit), units)
        rows, roles = [], []
        for i in range(people):
            unit_id = 1000 + i % units_count + 1
            position = "head" if i < units_count else ("deputy", "staff", "staff", "staff")[i % 4]
            rows.append({"id": i + 1, "username": f"p{i:06d}", "display_name": f"员工{i}", "password_hash": None,
                         "unit_id": unit_id, "position": position, "party_status": "member", "active": True})
            if position == "head":
                roles.append({"person_id": i + 1, "role": "unit_head", "unit_id": unit_id})
        for b in range(1, branches + 1):  # each branch's secretary
            rows.append({"id": people + b, "username": f"sec{b:03d}", "display_name": f"书记{b}",
                         "password_hash": None, "unit_id": 1 + b, "position": "head", "party_status": "member",
                         "active": True})
            roles.append({"person_id": people + b, "role": "branch_secretary", "unit_id": 1 + b})
        rows.append({"id": people + branches + 1, "username": "office", "display_name": "绩效办", "password_hash": None,
                     "unit_id": 1, "position": "staff", "party_status": "member", "active": True})
        roles.append({"person_id": people + branches + 1, "role": "process_owner", "unit_id": None})
        for start in range(0, len(rows), 10000):
            conn.execute(insert(Person), rows[start:start + 10000])
        conn.execute(insert(PersonRole), roles)
        conn.execute(insert(EvaluationGroup), [{"code": code, "name": f"{code} 考核组", "leader_id": None}
                                               for code in ("party", "admin", "production", "safety", "service")])


def count_open(rt: Runtime, process_id: str) -> int:
    with rt.db.reading() as session:
        return session.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.process_id == process_id, HumanTask.status == "open")) or 0


def timed(label: str, action, children: int | None = None):
    began = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - began
    rate = f", {children / seconds:,.0f} children/s" if children else ""
    print(f"  {label}: {seconds:.1f} s{rate} (peak memory {peak_mib():.0f} MiB)", flush=True)
    return result


def open_tasks(rt: Runtime, process_id: str) -> list[int]:
    with rt.db.reading() as session:
        return list(session.scalars(select(HumanTask.id).where(HumanTask.process_id == process_id,
                                                               HumanTask.status == "open").order_by(HumanTask.id)))


def move_and_wake(rt: Runtime, clock: FixedClock, to: datetime) -> None:
    clock.move_to(to)
    for instance_id in instances.due_instance_ids(rt):
        instances.wake(rt, instance_id)


def completion_cost(rt: Runtime, samples: int) -> tuple[float, float]:
    """Median and p95 ms of `tasks.complete` for `samples` declarations, each by its declarant."""
    with rt.db.reading() as session:
        open_ids = list(session.scalars(select(HumanTask.id).where(
            HumanTask.process_id == "achievement_declaration", HumanTask.status == "open").order_by(HumanTask.id)))
        picked = open_ids[::max(1, len(open_ids) // samples)][:samples]
        owners = dict(session.execute(select(TaskCandidate.task_id, Person.username)  # the declarant
                                      .join(Person, Person.id == TaskCandidate.person_id)
                                      .where(TaskCandidate.task_id.in_(picked))).all())
        actors = {name: actor_for(p) for name, p in ((p.username, p) for p in session.scalars(
            select(Person).where(Person.username.in_(set(owners.values())))))}
    timings = []
    for task_id in picked:
        began = time.perf_counter()
        tasks.complete(rt, task_id, actors[owners[task_id]], {"items": ITEMS})
        timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def scenario(url: str, people: int, interrupt: float | None, samples: int, workers: int = 1) -> tuple[float, float]:
    """Build, launch the month and its evaluation; returns the completion cost at this size."""
    branches, units = shape(people)
    database = Database(url)
    Base.metadata.drop_all(database.engine)
    Base.metadata.create_all(database.engine)
    clock = FixedClock(datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc))
    rt = Runtime(Settings(database_url=url), clock=clock, database=database)
    # With several workers or an interruption the declarations start in `kaohe launches run`
    # processes: the last political check is then submitted through a runtime that only plans.
    separate = bool(interrupt) or workers > 1
    planner = Runtime(Settings(database_url=url, work_queue="scheduler"), clock=clock, database=database)
    print(f"\n{'PostgreSQL' if database.dialect == 'postgresql' else 'SQLite'}: {people:,} people, "
          f"{units + branches + 1:,} units")
    timed("organisation built (bulk insert)", lambda: build(database, people))
    deploy.deploy(rt, deploy.read_files([ROOT / "workflows"]), SYSTEM)
    with rt.db.reading() as session:
        office = actor_for(session.scalar(select(Person).where(Person.username == "office")))

    print("Month:")
    timed("monthly cycle started, every unit's task book ready",
          lambda: instances.start(rt, "monthly_cycle", SYSTEM, data={"period": PERIOD},
                                  business_key=f"monthly_cycle:{PERIOD}"), children=units)
    print(f"  open task-book tasks: {count_open(rt, 'task_book'):,}")

    print("The month's work (untimed): task books closed, three spot checks submitted")
    with rt.db.reading() as session:
        books = session.scalars(select(ProcessInstance.id).where(ProcessInstance.process_id == "task_book")).all()
    for book in books:
        instances.terminate(rt, book, office, reason="基准测试：代替一个月的工作")
    for day in (11, 21):
        move_and_wake(rt, clock, datetime(2026, 12, day, 1, 0, tzinfo=timezone.utc))
        [spot] = open_tasks(rt, "monthly_cycle")
        tasks.complete(rt, spot, office, {"records": []})
    # The third spot check falls due at the end of the 31st, the moment the evaluation opens.
    move_and_wake(rt, clock, datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc))
    [spot] = open_tasks(rt, "monthly_cycle")

    print("Evaluation phase:")
    timed("third spot check submitted, evaluation open: a political check per branch ready",
          lambda: tasks.complete(rt, spot, office, {"records": []}), children=branches)
    checks = open_tasks(rt, "political_check")
    print(f"  open political checks: {len(checks)}")
    last = checks.pop()
    with rt.db.reading() as session:
        secretaries = {p.username: actor_for(p) for p in session.scalars(select(Person).where(
            Person.username.like("sec%")))}

    def secretary_of(task_id):
        detail = tasks.get(rt, task_id, office)
        return secretaries[f"sec{int(detail.data['unit_code'][1:]):03d}"]
    for task_id in checks:
        tasks.complete(rt, task_id, secretary_of(task_id), {"checked_all": True, "findings": []})
    if not separate:
        timed(f"last political check submitted: {people:,} declarations ready",
              lambda: tasks.complete(rt, last, secretary_of(last), {"checked_all": True, "findings": []}),
              children=people)
    else:
        timed(f"last political check submitted: {people:,} declarations planned",
              lambda: tasks.complete(planner, last, secretary_of(last), {"checked_all": True, "findings": []}))
        run_in_processes(rt, url, workers, interrupt, people)
    with rt.db.reading() as session:
        declarations, distinct = session.execute(select(func.count(), func.count(func.distinct(
            ProcessInstance.business_key))).where(ProcessInstance.process_id == "achievement_declaration")).one()
        open_declare = count_open(rt, "achievement_declaration")
        launches = session.execute(select(FanOut.element, FanOut.status, FanOut.total, FanOut.started)
                                   .order_by(FanOut.id)).all()
    print(f"  declarations: {declarations:,} instances, {distinct:,} distinct people, {open_declare:,} open tasks "
          f"({'none twice' if declarations == distinct == open_declare == people else 'MISMATCH'})")
    print("  launches: " + "; ".join(f"{e} {s} {st}/{t}" for e, s, t, st in launches))
    median, p95 = completion_cost(rt, samples)
    print(f"  one declaration submitted (tasks.complete), {samples} samples: median {median:.2f} ms, p95 {p95:.2f} ms")
    print(f"  peak memory of this process: {peak_mib():.0f} MiB")
    database.dispose()
    return median, p95


def run_in_processes(rt: Runtime, url: str, workers: int, interrupt: float | None, people: int) -> None:
    """The declarations' launch in `workers` `kaohe launches run` processes sharing it (on PostgreSQL
    they take chunks with SKIP LOCKED); with `interrupt`, all are killed after that many seconds and
    the launch is run again to the end."""
    with rt.db.reading() as session:
        launch_id = session.scalar(select(FanOut.id).where(FanOut.element == "declarations"))
    env = {**os.environ, "KAOHE_DATABASE_URL": url}
    command = [str(ROOT / ".venv" / "bin" / "kaohe"), "launches", "run", str(launch_id)]
    began = time.perf_counter()
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(workers)]
    if interrupt:
        time.sleep(interrupt)
        for process in processes:
            process.send_signal(signal.SIGKILL)
        for process in processes:
            process.wait()
        with rt.db.reading() as session:
            done = session.scalar(select(FanOut.started).where(FanOut.id == launch_id))
        print(f"  killed (SIGKILL) after {interrupt:.0f} s with {done:,} of {people:,} started; running it again")
        processes = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for _ in range(workers)]
    peak_kib = 0
    while any(process.poll() is None for process in processes):
        for process in processes:  # VmHWM: the process's own peak since it started kaohe
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
                peak_kib = max(peak_kib, int(status.split("VmHWM:")[1].split()[0]))
            except (OSError, IndexError, ValueError):
                pass
        time.sleep(0.5)
    seconds = time.perf_counter() - began
    print(f"  {workers} process(es) `kaohe launches run`: {people:,} declarations ready in {seconds:.1f} s, "
          f"{people / seconds:,.0f} children/s{' (including the kill and the restart)' if interrupt else ''}; "
          f"peak memory of the largest: {peak_kib / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("people", nargs="?", type=int, default=100_000)
    parser.add_argument("--interrupt", type=float, default=None,
                        help="kill the declarations' launch after this many seconds, then resume it")
    parser.add_argument("--samples", type=int, default=200, help="declarations submitted to time a completion")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes sharing the declarations' launch (PostgreSQL; 1 = inline, as embedded)")
    args = parser.parse_args()
    url = os.environ.get("KAOHE_TEST_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/launch.db"
    small, _ = scenario(url, DEMO_PEOPLE, None, min(args.samples, DEMO_PEOPLE // 2))
    large, _ = scenario(url, args.people, args.interrupt, args.samples, args.workers)
    print(f"\nCompletion cost at {args.people:,} people vs {DEMO_PEOPLE} (the demo's size): "
          f"{large:.2f} / {small:.2f} ms = {large / small:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
