"""How long do a month's full results take for a large organisation?

Generates 1,000 units (production, non-production and party branches) and 50,000 people with
a month of scores (every indicator of the default scheme for every unit, likes and error
notices) and two raters per person, then times results.compute for the month, twice (cold
and warm caches). Target: <= 2 s on this machine, in the database the suite uses
(SQLite by default; KAOHE_TEST_DATABASE_URL for PostgreSQL).
Run: .venv/bin/python bench/scoring.py [units] [people]
"""
from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select  # noqa: E402

import engine.models  # noqa: E402,F401
from engine.db import Base, Database  # noqa: E402
from engine.models import OrgUnit, Person, PersonRating, ScoreAdjustment, ScoreEntry  # noqa: E402
from engine.runtime import SYSTEM, Runtime  # noqa: E402
from engine.services import deploy, results, schemes  # noqa: E402
from engine.services.unit_scores import areas_by_category  # noqa: E402
from engine.settings import PROJECT_ROOT, Settings  # noqa: E402

PERIOD = "2026-03"


def build(rt: Runtime, unit_count: int, people_count: int) -> None:
    random.seed(7)
    workflows = PROJECT_ROOT / "workflows"
    deploy.deploy(rt, deploy.read_files([workflows / "monthly_rewards.dmn", workflows / "quarterly_rewards.dmn"]),
                  SYSTEM)
    scheme, _ = schemes.import_scheme(rt, (workflows / "schemes" / "default.scheme.json").read_text("utf-8"), SYSTEM)
    now = rt.clock.now()
    branches = unit_count // 10
    with rt.db.unit_of_work() as session:
        session.execute(insert(OrgUnit), [{"code": f"B{i:04d}", "name": f"第{i}党支部", "category": "party_branch",
                                           "active": True} for i in range(branches)])
        branch_ids = session.scalars(select(OrgUnit.id).order_by(OrgUnit.id)).all()
        admin = unit_count - branches
        session.execute(insert(OrgUnit), [
            {"code": f"U{i:04d}", "name": f"单位{i}", "category": "production" if i % 3 else "non_production",
             "branch_id": branch_ids[i % branches], "active": True} for i in range(admin)])
        units = session.execute(select(OrgUnit.id, OrgUnit.category)).all()
        categories = areas_by_category(scheme)
        entries = [{"period": PERIOD, "unit_id": unit_id, "indicator_id": indicator.id,
                    "value": Decimal(random.randint(int(indicator.max_score * 6), int(indicator.max_score * 10))) / 10
                    if indicator.method != "deduction" else Decimal(random.randint(0, 20)) / 10,
                    "entered_by": "bench", "entered_at": now}
                   for unit_id, category in units for area in categories[category] for indicator in area.indicators]
        session.execute(insert(ScoreEntry), entries)
        session.execute(insert(ScoreAdjustment), [
            {"period": PERIOD, "unit_id": unit_id, "kind": "like" if n % 2 else "error",
             "points": Decimal(1) if n % 2 else Decimal(-1), "reason": "旬抽查", "created_by": "bench",
             "created_at": now} for n, (unit_id, _c) in enumerate(units[::5])])
        unit_ids = [u for u, _c in units]
        session.execute(insert(Person), [{"username": f"p{i:06d}", "display_name": f"员工{i}",
                                          "unit_id": unit_ids[i % len(unit_ids)], "position": "staff",
                                          "party_status": "none", "active": True} for i in range(people_count)])
        person_ids = session.scalars(select(Person.id)).all()
        ratings = []
        for n, person_id in enumerate(person_ids):
            rater = person_ids[(n + 1) % len(person_ids)]
            ratings.append({"period": PERIOD, "person_id": person_id, "rater_id": rater, "rater_role": "direct_head",
                            "score": Decimal(random.randint(60, 100)), "created_at": now})
            ratings.append({"period": PERIOD, "person_id": person_id, "rater_id": person_ids[n - 1],
                            "rater_role": "peer", "score": Decimal(random.randint(60, 100)), "created_at": now})
        session.execute(insert(PersonRating), ratings)
    print(f"generated {unit_count} units, {people_count} people, {len(entries)} score entries, "
          f"{len(ratings)} ratings, {len(scheme.areas)} areas / "
          f"{sum(len(a.indicators) for a in scheme.areas)} indicators")


def main() -> None:
    unit_count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    people_count = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    url = os.environ.get("KAOHE_TEST_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/scoring.db"
    database = Database(url)
    Base.metadata.drop_all(database.engine)
    Base.metadata.create_all(database.engine)
    rt = Runtime(Settings(database_url=url), database=database)
    started = time.perf_counter()
    build(rt, unit_count, people_count)
    print(f"data generated in {time.perf_counter() - started:.1f} s on {database.dialect}")
    for label in ("cold", "warm"):
        started = time.perf_counter()
        computed = results.compute(rt, PERIOD)
        elapsed = time.perf_counter() - started
        ranked = sum(1 for u in computed.units if u.ranked)
        print(f"results.compute({PERIOD}) {label}: {elapsed:.2f} s  ({ranked} units ranked, "
              f"{len(computed.people)} people scored)   target <= 2 s")
    started = time.perf_counter()
    computed = results.compute(rt, "2026Q1")
    print(f"results.compute(2026Q1): {time.perf_counter() - started:.2f} s (one month of data in the quarter)")
    database.dispose()


if __name__ == "__main__":
    main()
