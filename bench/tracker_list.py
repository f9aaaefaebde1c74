"""How long does the rectification tracker's list take with 100,000 problems? (issue 8 item 3: p95 <= 20 ms)

Fills a throwaway database with 100,000 problems in the tracker's read model (rectification_case
and their process_instance rows, 50 rounds, 40 units; three in eight closed) by bulk inserts, and
times engine.services.tracker.list_cases, the whole server-side work of the /rectifications page
(the page of rows, the per-stage and overdue counts, the rounds and units to filter by), for the
office (sees every problem), a unit head and an inspector: the first page and a deep page reached by
cursor (`after=`, as the "next" link does), with the filters people use. Prints median and p95 in ms
and the plan of the list statement: EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL.
With 10,000 problems or fewer it also writes six steps per problem and times the full xlsx export.

Runs on a temporary SQLite file, and again on PostgreSQL when KAOHE_TEST_DATABASE_URL is set
(that database is emptied: use one of its own, e.g. .../bench_queries, never a real one, which is
why KAOHE_DATABASE_URL is not read).
Run: .venv/bin/python bench/tracker_list.py [problems] [repeats]
"""
from __future__ import annotations

import json
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

from sqlalchemy import insert, select, text  # noqa: E402

import engine.models  # noqa: E402,F401
from engine.clock import FixedClock  # noqa: E402
from engine.db import Base, Database  # noqa: E402
from engine.models import OrgUnit, ProcessInstance, ProcessVersion  # noqa: E402
from engine.models.tracking import RectificationCase, RectificationStep  # noqa: E402
from engine.runtime import Actor, Runtime  # noqa: E402
from engine.services import tracker, tracker_export  # noqa: E402
from engine.services.tracker import Filters  # noqa: E402
from engine.settings import Settings  # noqa: E402

NOW = datetime(2026, 9, 1, 1, 0, tzinfo=timezone.utc)
EXPORT_UP_TO = 10_000  # problems; beyond that the steps are not written and the export is not timed
STAGES = ["plan", "review", "fix", "verify", "follow_up", "closed", "closed", "closed"]
STEPS = [("start", "问题立项"), ("plan", "制定整改方案"), ("review_plan", "审核整改方案"), ("fix", "提交整改落实情况"),
         ("verify", "验收整改"), ("follow_up", "长效巩固复查")]


def fill(db: Database, problems: int) -> dict:
    rng = random.Random(6)
    with db.engine.begin() as conn:
        conn.execute(insert(OrgUnit), [{"id": i, "code": f"U{i:03d}", "name": f"单位{i:03d}", "category": "production",
                                        "active": True} for i in range(1, 41)])
        conn.execute(insert(ProcessVersion), [{"id": 1, "process_id": "rectification", "version": 1, "name": "问题整改跟踪",
                                               "bundle_hash": "0" * 64, "deployed_at": NOW, "deployed_by": "bench"},
                                              {"id": 2, "process_id": "cross_inspection", "version": 1, "name": "交叉检查",
                                               "bundle_hash": "1" * 64, "deployed_at": NOW, "deployed_by": "bench"}])
        base = {"business_key": None, "state": "{}", "serializer_version": "1", "version": 1, "next_timer_at": None,
                "error_element": None, "error_message": None, "started_by": "owner", "updated_at": NOW,
                "completed_at": None, "spawned_by": None}
        rounds = list(range(1, 51))
        conn.execute(insert(ProcessInstance), [{**base, "id": r, "process_version_id": 2, "process_id": "cross_inspection",
                                                "title": f"第 {r} 轮交叉检查", "status": "completed", "created_at": NOW,
                                                "parent_instance_id": None} for r in rounds])
        instances, cases, steps = [], [], []
        for n in range(problems):
            iid = 1000 + n
            opened = NOW - timedelta(days=rng.randint(0, 365))
            stage = rng.choice(STAGES)
            closed = opened + timedelta(days=rng.randint(20, 90)) if stage == "closed" else None
            parent = rng.choice(rounds) if rng.random() < .8 else None
            instances.append({**base, "id": iid, "process_version_id": 1, "process_id": "rectification",
                              "title": f"整改 {n}", "status": "completed" if closed else "waiting_person",
                              "created_at": opened, "parent_instance_id": parent})
            cases.append({"instance_id": iid, "problem": f"第 {n} 个问题：月度绩效例会记录不全", "unit_code": None,
                          "unit_id": rng.randint(1, 40), "branch_id": None, "source": "交叉检查",
                          "severity": rng.choice(["一般", "较重", "严重"]), "inspector": f"insp_{rng.randint(1, 60)}",
                          "round_instance_id": parent, "stage": stage, "status": "completed" if closed else "waiting_person",
                          "due_at": None if closed else opened + timedelta(days=rng.choice([5, 7, 30])),
                          "opened_at": opened, "closed_at": closed, "reopened": rng.randint(0, 2),
                          "evidence_count": rng.randint(0, 5), "verified": None, "updated_at": NOW})
            if problems > EXPORT_UP_TO:
                continue
            fields = json.dumps([["measures", "整改措施", "补记例会记录并按月归档"]], ensure_ascii=False)
            steps += [{"instance_id": iid, "task_id": None if element == "start" else iid * 10 + k, "element_id": element,
                       "name": name, "actor": "p01_head", "actor_name": "张主任", "at": opened + timedelta(days=k),
                       "fields": fields} for k, (element, name) in enumerate(STEPS)]
        for chunk in range(0, len(instances), 20_000):
            conn.execute(insert(ProcessInstance), instances[chunk:chunk + 20_000])
            conn.execute(insert(RectificationCase), cases[chunk:chunk + 20_000])
        for chunk in range(0, len(steps), 20_000):
            conn.execute(insert(RectificationStep), steps[chunk:chunk + 20_000])
    # Statistics and (PostgreSQL) the visibility map, as autovacuum keeps them in a database that has run a while.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"))
    return {"round": rounds[7], "unit": 12, "inspector": "insp_7"}


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


def explain(db: Database, actor: Actor, filters: Filters) -> str:
    statement = tracker.first_statement(actor, filters, NOW)
    postgres = db.engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS OFF) " if postgres else "EXPLAIN QUERY PLAN "
    with db.engine.connect() as conn:
        rows = conn.execute(text(prefix + str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))))
        rows = rows.all()
    if postgres:
        return "\n".join("    " + shorten(row[0]) for row in rows)
    depth, lines = {0: -1}, []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("    " + "  " * depth[node] + shorten(detail))
    return "\n".join(lines)


def deep(rt: Runtime, actor: Actor, filters: Filters, rows: int) -> Filters:
    """The filters of the page after row `rows` (or the last page), with the cursor "next" gives there."""
    number = max(1, rows // tracker.PAGE_SIZE)
    found = tracker.list_cases(rt, actor, replace(filters, page=number))
    while not found.next_after and number > 1:
        number //= 2
        found = tracker.list_cases(rt, actor, replace(filters, page=number))
    return replace(filters, after=found.next_after)


def run(url: str, label: str, problems: int, repeats: int) -> None:
    db = Database(url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    began = time.perf_counter()
    picks = fill(db, problems)
    steps = problems * len(STEPS) if problems <= EXPORT_UP_TO else 0
    print(f"\n{label}: {problems} problems, {steps} steps inserted in {time.perf_counter() - began:.1f} s")
    # The data was built in this process: its garbage and the objects left behind would make Python's
    # collector pause the timed calls now and then (30-50 ms p95 spikes beside 5-10 ms medians): that
    # measures this process's heap, not the query (a web worker freezes its start-up heap, web/wsgi.py).
    gc.collect()
    gc.freeze()
    rt = Runtime(Settings(database_url=url), database=db, clock=FixedClock(NOW))
    auditor = Actor("auditor", person_id=1, roles=frozenset({"auditor"}))
    head = Actor("head", person_id=2, unit_id=picks["unit"], roles=frozenset({"unit_head"}))
    inspector = Actor(picks["inspector"], person_id=3, roles=frozenset({"inspector"}))
    with db.reading() as session:
        assert session.scalar(select(RectificationCase.id).limit(1)) is not None
    cases = [("office, first page", auditor, Filters()),
             ("office, deep page (cursor, row 50,000)", auditor, deep(rt, auditor, Filters(), 50_000)),
             ("office, deep page among the closed", auditor, deep(rt, auditor, Filters(), problems - 5_000)),
             ("office, overdue only", auditor, Filters(overdue=True)),
             ("office, one round", auditor, Filters(round_id=picks["round"])),
             ("office, one unit, not closed", auditor, Filters(unit_id=picks["unit"], stage="open")),
             ("office, stage 整改", auditor, Filters(stage="fix")),
             ("office, page 100 by number (OFFSET)", auditor, Filters(page=100)),
             ("unit head, first page", head, Filters()),
             ("unit head, deep page (cursor)", head, deep(rt, head, Filters(), 2_000)),
             ("inspector (own problems)", inspector, Filters())]
    print(f"{'list_cases (server time)':42} {'median ms':>10} {'p95 ms':>10}")
    for name, actor, filters in cases:
        median, p95 = timed(lambda: tracker.list_cases(rt, actor, filters), repeats)
        print(f"{name:42} {median:10.1f} {p95:10.1f}")
    for name, actor, filters in cases[:3] + cases[8:10]:
        print(f"\nplan: {name}\n{explain(db, actor, filters)}")
    if steps:
        began = time.perf_counter()
        size = len(tracker_export.export_xlsx(rt, auditor))
        print(f"\nxlsx export of everything: {time.perf_counter() - began:.1f} s, {size / 1e6:.1f} MB")
    db.dispose()


def main() -> None:
    problems = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", "SQLite", problems, repeats)
    test_url = os.environ.get("KAOHE_TEST_DATABASE_URL")
    if test_url:
        if test_url == os.environ.get("KAOHE_DATABASE_URL") or test_url == Settings.from_env().database_url:
            sys.exit("KAOHE_TEST_DATABASE_URL is the real database: refusing to empty it")
        if not test_url.startswith("postgresql"):
            sys.exit("KAOHE_TEST_DATABASE_URL must be a PostgreSQL test database")
        run(test_url, "PostgreSQL", problems, repeats)


if __name__ == "__main__":
    main()
