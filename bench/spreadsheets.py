"""How long do the big spreadsheet round trips take?

1. Organisation: generate an xlsx of 2,000 units and 100,000 people (as Excel would save it),
   import it, import it again (nothing changes), export it.
2. Score entry: a scheme of 15 indicators for 1,000 units; write the template (15,000 rows),
   fill it in, import it, import it again unchanged, import it with 10,000 changed scores.
Uses KAOHE_TEST_DATABASE_URL when set, else a temporary SQLite file. Prints seconds and peak memory.
Run: .venv/bin/python bench/spreadsheets.py [people]
"""
from __future__ import annotations

import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook, load_workbook  # noqa: E402

import engine.models  # noqa: E402,F401
from engine.db import Base, Database  # noqa: E402
from engine.models import OrgUnit  # noqa: E402
from engine.runtime import SYSTEM, Runtime  # noqa: E402
from engine.services import schemes, score_sheets  # noqa: E402
from engine.services.org_io import export_org, import_org  # noqa: E402
from engine.settings import Settings  # noqa: E402


def fresh_runtime(url: str) -> Runtime:
    database = Database(url)
    Base.metadata.drop_all(database.engine)
    Base.metadata.create_all(database.engine)
    return Runtime(Settings(database_url=url), database=database)


def timed(label: str, action):
    started = time.perf_counter()
    result = action()
    print(f"  {label}: {time.perf_counter() - started:.1f} s")
    return result


def organisation(url: str, folder: Path, people: int) -> None:
    path = folder / "org.xlsx"
    book = Workbook(write_only=True)
    units, persons = book.create_sheet("单位"), book.create_sheet("人员")
    units.append(["单位编码", "单位名称", "类别", "上级单位编码", "所属党支部编码"])
    units.append(["ORG", "集团", "组织", "", ""])
    for b in range(1, 201):
        units.append([f"B{b:04d}", f"第{b}党支部", "党支部", "ORG", ""])
    for u in range(1, 1800):
        units.append([f"U{u:04d}", f"单位{u}", "生产型" if u % 2 else "非生产型", "ORG", f"B{u % 200 + 1:04d}"])
    persons.append(["用户名", "姓名", "所属单位编码", "职务", "政治面貌", "角色"])
    for i in range(people):
        persons.append([f"user{i:06d}", f"张{i}", f"U{i % 1799 + 1:04d}", ("正职", "副职", "员工", "员工")[i % 4],
                        ("党员", "群众", "入党积极分子")[i % 3], "部门正职、员工" if i % 4 == 0 else "员工"])
    book.save(path)
    rt = fresh_runtime(url)
    print(f"organisation: 2,000 units, {people:,} people ({path.stat().st_size / 1e6:.1f} MB xlsx)")
    timed("first import (all new)", lambda: import_org(rt, [path], SYSTEM))
    timed("import again (nothing changes)", lambda: import_org(rt, [path], SYSTEM))
    timed("export to xlsx", lambda: export_org(rt, folder / "export.xlsx"))
    rt.db.dispose()


def score_entry(url: str) -> None:
    rt = fresh_runtime(url)
    with rt.db.unit_of_work() as session:
        session.add_all([OrgUnit(code=f"U{i:04d}", name=f"单位{i}", category="production") for i in range(1000)])
    indicators = [{"code": f"i{n:02d}", "name": f"指标{n}", "weight": 7 if n < 14 else 2, "max": 10,
                   "method": ["points", "deduction", "pass_fail"][n % 3]} for n in range(15)]
    schemes.import_scheme(rt, json.dumps({"code": "bench", "name": "基准", "valid_from": "2026-01", "areas": [
        {"code": "party", "name": "党务", "weight": 100, "categories": ["production"], "indicators": indicators}]}),
        SYSTEM)
    print("score entry: 1,000 units x 15 indicators")
    template = timed("write the template (15,000 rows)", lambda: score_sheets.write_template(rt, "2026-03", SYSTEM))

    def filled(value) -> bytes:
        book = load_workbook(io.BytesIO(template))
        for row in book["党务"].iter_rows(min_row=2):
            row[9].value = 0 if row[7].value == "达标制" else value
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    first, changed = filled(7.5), filled(8)
    timed("first import (15,000 new)", lambda: score_sheets.import_scores(rt, first, "scores.xlsx", SYSTEM))
    timed("import again (unchanged)", lambda: score_sheets.import_scores(rt, first, "scores.xlsx", SYSTEM))
    timed("import with 10,000 changed", lambda: score_sheets.import_scores(rt, changed, "scores.xlsx", SYSTEM))
    rt.db.dispose()


def main() -> None:
    people = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    folder = Path(tempfile.mkdtemp())
    url = os.environ.get("KAOHE_TEST_DATABASE_URL") or f"sqlite:///{folder}/bench.db"
    organisation(url, folder, people)
    score_entry(url)
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
