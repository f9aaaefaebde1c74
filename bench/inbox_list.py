"""How long does the inbox page take with 100,000 open tasks? (issue 6 item 8: < 200 ms server time)

Fills a throwaway database with 100,000 open human tasks and their candidate rows (offered to one
person, to a role in a unit, to the whole office, or to a unit; one in ten already claimed), spread
over 2,000 people, 40 units, three processes and twelve periods, and times
engine.services.inbox.page, the whole server-side work of the /tasks page, for a member of staff,
a unit head and a process owner, with the filters people use. Prints median and p95 in ms and the
query plan of the list query.

Runs on a temporary SQLite file, and again on PostgreSQL when KAOHE_TEST_DATABASE_URL is set. It
DROPS AND RECREATES EVERY TABLE of that database, so it refuses any other database: it never reads
KAOHE_DATABASE_URL, takes no URL argument, and stops if the test URL equals the real one.
Run: .venv/bin/python bench/inbox_list.py [tasks] [repeats]
"""
from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

import engine.models  # noqa: E402,F401
from engine.clock import FixedClock  # noqa: E402
from engine.db import Base, Database  # noqa: E402
from engine.models import HumanTask, OrgUnit, Person, ProcessInstance, ProcessVersion, TaskCandidate  # noqa: E402
from engine.runtime import Actor, Runtime  # noqa: E402
from engine.services import inbox  # noqa: E402
from engine.services.inbox import InboxQuery  # noqa: E402
from engine.settings import Settings  # noqa: E402

NOW = datetime(2026, 9, 1, 1, 0, tzinfo=timezone.utc)
PROCESSES = [("achievement_declaration", "工作实绩申报", "填报工作实绩"), ("check_record", "旬检查记录", "确认检查记录"),
             ("rectification", "问题整改跟踪", "提交整改落实情况")]
PEOPLE, UNITS = 2000, 40
PERIODS = [f"2026-{m:02d}" for m in range(1, 13)]


def fill(db: Database, count: int) -> None:
    rng = random.Random(6)
    with db.engine.begin() as conn:
        conn.execute(insert(OrgUnit), [{"id": i, "code": f"U{i:03d}", "name": f"单位{i:03d}", "category": "production",
                                        "active": True} for i in range(1, UNITS + 1)])
        conn.execute(insert(Person), [{"id": i, "username": f"user{i}", "display_name": f"员工{i}", "password_hash": None,
                                       "unit_id": 1 + i % UNITS, "position": "staff", "party_status": "none",
                                       "language": None, "active": True, "created_at": NOW}
                                      for i in range(1, PEOPLE + 1)])
        conn.execute(insert(ProcessVersion), [{"id": n, "process_id": pid, "version": 1, "name": name,
                                               "bundle_hash": str(n) * 64, "deployed_at": NOW, "deployed_by": "bench"}
                                              for n, (pid, name, _task) in enumerate(PROCESSES, 1)])
        base = {"business_key": None, "state": "{}", "serializer_version": "1", "version": 1, "next_timer_at": None,
                "error_element": None, "error_message": None, "started_by": "owner", "updated_at": NOW,
                "completed_at": None, "spawned_by": None, "parent_instance_id": None}
        instances, tasks, candidates = [], [], []
        for n in range(1, count + 1):
            version = rng.randint(1, len(PROCESSES))
            pid, _name, task_name = PROCESSES[version - 1]
            unit, period = rng.randint(1, UNITS), rng.choice(PERIODS)
            created = NOW - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 1440))
            instances.append({**base, "id": n, "process_version_id": version, "process_id": pid,
                              "title": f"{period} {task_name} {n}", "status": "waiting_person", "created_at": created,
                              "period": period, "unit_code": f"U{unit:03d}"})
            kind = rng.random()
            assignee = rng.randint(1, PEOPLE) if rng.random() < .1 else None
            tasks.append({"id": n, "instance_id": n, "task_guid": f"{n:036d}", "element_id": "task", "name": task_name,
                          "lane": None, "form_file": None, "instructions": None, "status": "open",
                          "assignee_id": assignee, "due_at": created + timedelta(days=rng.choice([3, 5, 7, 30])),
                          "reminded_at": None, "created_at": created, "claimed_at": None, "completed_at": None,
                          "completed_by_id": None, "process_id": pid, "unit_code": f"U{unit:03d}", "period": period})
            if kind < .5:
                candidates.append({"task_id": n, "person_id": rng.randint(1, PEOPLE), "role": None, "unit_id": None})
            elif kind < .8:
                candidates.append({"task_id": n, "person_id": None, "role": "unit_head", "unit_id": unit})
            elif kind < .95:
                candidates.append({"task_id": n, "person_id": None, "role": "process_owner", "unit_id": None})
            else:
                candidates.append({"task_id": n, "person_id": None, "role": None, "unit_id": unit})
        for chunk in range(0, count, 5000):
            conn.execute(insert(ProcessInstance), instances[chunk:chunk + 5000])
            conn.execute(insert(HumanTask), tasks[chunk:chunk + 5000])
            conn.execute(insert(TaskCandidate), candidates[chunk:chunk + 5000])
        conn.execute(text("ANALYZE"))  # statistics, as a database that has run a while has


def timed(call, repeats: int) -> tuple[float, float]:
    call()  # warm the statement cache, as a running server has
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(.95 * (len(samples) - 1))))]


def explain(db: Database, actor: Actor, query: InboxQuery) -> str:
    statement = inbox.task_list_query(actor, query.normalised(), NOW).compile(
        db.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    with db.engine.connect() as conn:
        rows = conn.execute(text(prefix + str(statement))).all()
    return "\n".join("    " + " | ".join(str(c) for c in row) for row in rows)


def run(url: str, label: str, count: int, repeats: int) -> None:
    db = Database(url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    began = time.perf_counter()
    fill(db, count)
    print(f"\n{label}: {count} open tasks with candidates inserted in {time.perf_counter() - began:.1f} s")
    rt = Runtime(Settings(database_url=url), database=db, clock=FixedClock(NOW))
    staff = Actor("user7", person_id=7, unit_id=1 + 7 % UNITS, roles=frozenset({"staff"}))
    head = Actor("user12", person_id=12, unit_id=12, roles=frozenset({"unit_head", "staff"}))
    owner = Actor("owner", person_id=1, unit_id=2, roles=frozenset({"process_owner", "staff"}))
    cases = [("staff, default (due first)", staff, InboxQuery()),
             ("staff, mine only", staff, InboxQuery(scope="mine")),
             ("unit head, default", head, InboxQuery()),
             ("unit head, overdue only", head, InboxQuery(overdue=True)),
             ("unit head, one period, newest", head, InboxQuery(period="2026-03", sort="newest")),
             ("owner, default", owner, InboxQuery()),
             ("owner, page 10 of 50", owner, InboxQuery(page=10, per_page=50)),
             ("owner, one unit", owner, InboxQuery(unit="U012")),
             ("owner, process + period + overdue", owner,
              InboxQuery(process="rectification", period="2026-05", overdue=True)),
             ("owner, oldest first", owner, InboxQuery(sort="oldest"))]
    print(f"{'inbox.page (server time)':40} {'rows':>5} {'median ms':>10} {'p95 ms':>10}")
    for name, actor, query in cases:
        rows = len(inbox.page(rt, actor, query).rows)
        median, p95 = timed(lambda: inbox.page(rt, actor, query), repeats)
        print(f"{name:40} {rows:5d} {median:10.1f} {p95:10.1f}")
    for name, actor, query in (cases[0], cases[5], cases[8]):
        print(f"\nplan: {name}\n{explain(db, actor, query)}")
    db.dispose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", "SQLite", count, repeats)
    test_url = os.environ.get("KAOHE_TEST_DATABASE_URL")
    if test_url:
        if test_url == os.environ.get("KAOHE_DATABASE_URL") or test_url == Settings.from_env().database_url:
            sys.exit("KAOHE_TEST_DATABASE_URL is the real database: refusing to empty it")
        if not test_url.startswith("postgresql"):
            sys.exit("KAOHE_TEST_DATABASE_URL must be a PostgreSQL test database")
        run(test_url, "PostgreSQL", count, repeats)


if __name__ == "__main__":
    main()
