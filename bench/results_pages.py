"""How long do the results pages take once a period's results are stored? (issue 8: p95 <= 20 ms of
server time at 2,000 units / 100,000 people, on SQLite and on PostgreSQL)

Generates 2,000 units and 100,000 people with a month of scores, likes and error notices and two
ratings per person (bench/scoring.py's generator, bulk inserts), computes and stores the month once
(printed: the cold compute + store time, and the first unit page, which computes and stores the 11
earlier months of its trend once), then times the service functions behind the pages, i.e. the whole
server-side work without HTTP and templates: the rankings page for the office (every unit; once as
the first request after a store, which turns the 2,000 stored units into the page's objects, and
then as every later request, which finds them kept in the process), the rankings page for a member
of staff (their unit and themselves), a unit page with its 12-month trend, and a person page.
Prints median and p95 in ms.

Runs on a temporary SQLite file, and again on PostgreSQL when KAOHE_TEST_DATABASE_URL is set (use a
database of its own, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench_results). It DROPS AND
RECREATES EVERY TABLE of that database, so it refuses the real one.
Run: .venv/bin/python bench/results_pages.py [units] [people] [repeats]
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, text  # noqa: E402

import engine.models  # noqa: E402,F401
from bench.scoring import PERIOD, build  # noqa: E402
from engine.db import Base, Database  # noqa: E402
from engine.models import OrgUnit, Person  # noqa: E402
from engine.runtime import Actor, Runtime  # noqa: E402
from engine.services import result_store, result_views, results  # noqa: E402
from engine.settings import Settings  # noqa: E402


def timed(call, repeats: int) -> tuple[float, float]:
    call(0)  # warm the statement cache, as a running server has
    samples = []
    for n in range(repeats):
        began = time.perf_counter()
        call(n)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(.95 * (len(samples) - 1))))]


def run(url: str, label: str, unit_count: int, people_count: int, repeats: int) -> None:
    db = Database(url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    rt = Runtime(Settings(database_url=url), database=db)
    began = time.perf_counter()
    build(rt, unit_count, people_count)
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    print(f"{label}: data generated in {time.perf_counter() - began:.1f} s")

    began = time.perf_counter()
    results.compute(rt, PERIOD)
    computed = time.perf_counter() - began
    began = time.perf_counter()
    snap = result_store.snapshot(rt, PERIOD)
    print(f"cold compute + store of {PERIOD}: {time.perf_counter() - began:.2f} s "
          f"({snap.unit_count} units, {snap.person_count} people; "
          f"results.compute alone took {computed:.2f} s)")
    with db.reading() as session:
        units = session.scalars(select(OrgUnit.code).where(OrgUnit.category != "party_branch")
                                .order_by(OrgUnit.code)).all()
        staff_row = session.execute(select(Person.id, Person.username, Person.unit_id)
                                    .order_by(Person.id).limit(1)).one()
    owner = Actor("bench_owner", person_id=None, roles=frozenset({"process_owner"}))
    staff = Actor(staff_row.username, person_id=staff_row.id, unit_id=staff_row.unit_id,
                  roles=frozenset({"staff"}))
    began = time.perf_counter()
    result_views.unit_page(rt, owner, PERIOD, units[0], 12)
    print(f"first unit page (the trend's 11 earlier months computed and stored once): "
          f"{time.perf_counter() - began:.2f} s")

    def office_uncached(n):
        result_store._DECODED.clear()  # as the first request after a store: decode the 2,000 units
        result_views.results_page(rt, owner, PERIOD)

    cases = [
        ("rankings page, office, first after a store", office_uncached),
        ("rankings page, office (every unit)", lambda n: result_views.results_page(rt, owner, PERIOD)),
        ("rankings page, staff (own unit + self)", lambda n: result_views.results_page(rt, staff, PERIOD)),
        ("unit page with a 12-month trend", lambda n: result_views.unit_page(
            rt, owner, PERIOD, units[(n * 37) % len(units)], 12)),
        ("person page", lambda n: result_views.person_page(
            rt, owner, PERIOD, f"p{(n * 7919) % people_count:06d}")),
    ]
    print(f"{'result_views (server time)':42} {'median ms':>10} {'p95 ms':>10}")
    for name, call in cases:
        median, p95 = timed(call, repeats)
        print(f"{name:42} {median:10.1f} {p95:10.1f}")
    db.dispose()


def main() -> None:
    unit_count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    people_count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", "SQLite", unit_count, people_count, repeats)
    test_url = os.environ.get("KAOHE_TEST_DATABASE_URL")
    if test_url:
        if test_url == os.environ.get("KAOHE_DATABASE_URL") or test_url == Settings.from_env().database_url:
            sys.exit("KAOHE_TEST_DATABASE_URL is the real database: refusing to empty it")
        if not test_url.startswith("postgresql"):
            sys.exit("KAOHE_TEST_DATABASE_URL must be a PostgreSQL test database")
        print()
        run(test_url, "PostgreSQL", unit_count, people_count, repeats)


if __name__ == "__main__":
    main()
