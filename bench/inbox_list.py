"""How long does the inbox page take with 1,000,000 tasks? (issue 8 item 3: p95 <= 20 ms server time)

Fills a throwaway database with 1,000,000 human tasks, 900,000 of them history (completed or
cancelled, older) and 100,000 open, one candidate row each (offered to one person, to a role in a
unit, to the whole office, or to a unit; one open task in ten already claimed), spread over 2,000
people, 40 units, three processes and twelve periods, 10 tasks per instance. Bulk inserts.

Times engine.services.inbox.page, the whole server-side work of the /tasks page (without the
template), for a member of staff, a unit head and a process owner (the office: 15% of every task is
offered to it), the first page and a deep page reached by cursor (`after=`, as the "next" link
does), with the filters people use. Prints median and p95 in ms and the plan of the statement each
page starts with: EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL.

Runs on a temporary SQLite file, and again on PostgreSQL when KAOHE_TEST_DATABASE_URL is set. It
DROPS AND RECREATES EVERY TABLE of that database, so it refuses any other database: it never reads
KAOHE_DATABASE_URL, takes no URL argument, and stops if the test URL equals the real one. Use a
database of its own, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench_queries.
Run: .venv/bin/python bench/inbox_list.py [tasks] [repeats]   (open tasks are a tenth of `tasks`)
"""
from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
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
    opened = count // 10
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
        per_instance = 10
        for chunk in range(0, count, 50_000):
            instances, tasks, candidates = [], [], []
            for n in range(chunk + 1, min(count, chunk + 50_000) + 1):
                history = n <= count - opened  # ids grow with time: the open tasks are the newest
                version = rng.randint(1, len(PROCESSES))
                pid, _name, task_name = PROCESSES[version - 1]
                unit, period = rng.randint(1, UNITS), rng.choice(PERIODS)
                created = NOW - timedelta(days=(120 + 1000 * (count - opened - n) / count) if history
                                          else rng.randint(0, 120), minutes=rng.randint(0, 1440))
                instance_id = (n - 1) // per_instance + 1
                if (n - 1) % per_instance == 0:
                    instances.append({**base, "id": instance_id, "process_version_id": version, "process_id": pid,
                                      "title": f"{period} {task_name} {instance_id}",
                                      "status": "completed" if history else "waiting_person", "created_at": created,
                                      "period": period, "unit_code": f"U{unit:03d}"})
                kind = rng.random()
                person = rng.randint(1, PEOPLE)
                assignee = person if history or rng.random() < .1 else None
                tasks.append({"id": n, "instance_id": instance_id, "task_guid": f"{n:036d}", "element_id": "task",
                              "name": task_name, "lane": None, "form_file": None, "instructions": None,
                              "status": ("completed" if rng.random() < .95 else "cancelled") if history else "open",
                              "assignee_id": assignee, "due_at": created + timedelta(days=rng.choice([3, 5, 7, 30])),
                              "reminded_at": None, "created_at": created, "claimed_at": None,
                              "completed_at": created + timedelta(days=2) if history else None,
                              "completed_by_id": assignee if history else None, "process_id": pid,
                              "unit_code": f"U{unit:03d}", "period": period})
                if kind < .5:
                    candidates.append({"task_id": n, "person_id": person, "role": None, "unit_id": None})
                elif kind < .8:
                    candidates.append({"task_id": n, "person_id": None, "role": "unit_head", "unit_id": unit})
                elif kind < .95:
                    candidates.append({"task_id": n, "person_id": None, "role": "process_owner", "unit_id": None})
                else:
                    candidates.append({"task_id": n, "person_id": None, "role": None, "unit_id": unit})
            if instances:
                conn.execute(insert(ProcessInstance), instances)
            conn.execute(insert(HumanTask), tasks)
            conn.execute(insert(TaskCandidate), candidates)


def timed(call, repeats: int) -> tuple[float, float]:
    call()  # warm the statement cache, as a running server has
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(.95 * (len(samples) - 1))))]


def shorten(line: str, width: int = 220) -> str:
    """A plan line with its literal id list cut (the inbox hands PostgreSQL up to 5,000 ids)."""
    return line if len(line) <= width else line[:width] + " …"


def explain(db: Database, actor: Actor, query: InboxQuery) -> str:
    with db.reading() as session:
        statement = inbox.first_statement(session, actor, query, NOW)
    postgres = db.engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS OFF) " if postgres else "EXPLAIN QUERY PLAN "
    with db.engine.connect() as conn:
        sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
        rows = conn.execute(text(prefix + sql)).all()
    if postgres:
        return "\n".join("    " + shorten(row[0]) for row in rows)
    depth, lines = {0: -1}, []
    for node, parent, _unused, detail in rows:  # SQLite: a tree given as (id, parent id, -, text)
        depth[node] = depth.get(parent, -1) + 1
        lines.append("    " + "  " * depth[node] + shorten(detail))
    return "\n".join(lines)


def deep(rt: Runtime, actor: Actor, query: InboxQuery, rows: int) -> InboxQuery:
    """The query of the page after row `rows` (or the last page): its cursor, as the "next" link gives it.
    Found once by page number (OFFSET), which is how far a person clicking "next" would have come."""
    per_page = query.normalised().per_page
    found = inbox.page(rt, actor, replace(query, page=rows // per_page), with_choices=False)
    while not found.next_after and found.query.page > 1:  # fewer rows than that: the last page there is
        found = inbox.page(rt, actor, replace(query, page=max(1, found.query.page // 2)), with_choices=False)
    return replace(query, after=found.next_after)


def create_then_fill(db: Database, count: int) -> None:
    """Tables first, rows by bulk insert, indexes last: a million rows load several times faster
    than into a dozen indexes kept up to date row by row."""
    Base.metadata.drop_all(db.engine)
    indexes = {table: set(table.indexes) for table in Base.metadata.sorted_tables}
    try:
        for table in indexes:
            table.indexes.clear()
        Base.metadata.create_all(db.engine)
    finally:
        for table, kept in indexes.items():
            table.indexes.update(kept)
    fill(db, count)
    for table, kept in indexes.items():
        for index in kept:
            index.create(db.engine)
    # Statistics and (PostgreSQL) the visibility map, as autovacuum keeps them in a database that has run a while.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"))


def run(url: str, label: str, count: int, repeats: int) -> None:
    db = Database(url)
    began = time.perf_counter()
    create_then_fill(db, count)
    print(f"\n{label}: {count} tasks ({count // 10} open) with candidates inserted in "
          f"{time.perf_counter() - began:.1f} s")
    # The data was built in this process: its garbage and the objects left behind would make Python's
    # collector pause the timed calls now and then (30-50 ms p95 spikes beside 5-10 ms medians): that
    # measures this process's heap, not the query (a web worker freezes its start-up heap, web/wsgi.py).
    gc.collect()
    gc.freeze()
    rt = Runtime(Settings(database_url=url), database=db, clock=FixedClock(NOW))
    staff = Actor("user7", person_id=7, unit_id=1 + 7 % UNITS, roles=frozenset({"staff"}))
    head = Actor("user12", person_id=12, unit_id=12, roles=frozenset({"unit_head", "staff"}))
    owner = Actor("owner", person_id=1, unit_id=2, roles=frozenset({"process_owner", "staff"}))
    with db.reading() as session:
        for name, actor in (("staff", staff), ("unit head", head), ("office", owner)):
            way = "many: along the sort index" if inbox.offers_are_broad(session, actor) else "few: from the candidates"
            print(f"  {name}: offers {way}")
    cases = [("staff, first page", staff, InboxQuery()),
             ("staff, deep page (cursor)", staff, deep(rt, staff, InboxQuery(), 10_000)),
             ("staff, mine only", staff, InboxQuery(scope="mine")),
             ("unit head, first page", head, InboxQuery()),
             ("unit head, deep page (cursor)", head, deep(rt, head, InboxQuery(), 10_000)),
             ("unit head, overdue only", head, InboxQuery(overdue=True)),
             ("unit head, one period, newest", head, InboxQuery(period="2026-03", sort="newest")),
             ("office, first page", owner, InboxQuery()),
             ("office, deep page (cursor, row 10,000)", owner, deep(rt, owner, InboxQuery(), 10_000)),
             ("office, 50 per page, row 10,000", owner, deep(rt, owner, InboxQuery(per_page=50), 10_000)),
             ("office, one unit", owner, InboxQuery(unit="U012")),
             ("office, process + period + overdue", owner,
              InboxQuery(process="rectification", period="2026-05", overdue=True)),
             ("office, oldest first, deep", owner, deep(rt, owner, InboxQuery(sort="oldest"), 10_000)),
             ("office, page 500 by number (OFFSET)", owner, InboxQuery(page=500))]
    print(f"{'inbox.page (server time)':42} {'rows':>5} {'median ms':>10} {'p95 ms':>10}")
    for name, actor, query in cases:
        rows = len(inbox.page(rt, actor, query).rows)
        median, p95 = timed(lambda: inbox.page(rt, actor, query), repeats)
        print(f"{name:42} {rows:5d} {median:10.1f} {p95:10.1f}")
    for name, actor, query in cases[:2] + cases[3:5] + cases[7:9] + cases[11:12]:
        print(f"\nplan: {name}\n{explain(db, actor, query)}")
    db.dispose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
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
