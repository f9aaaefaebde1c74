"""Score entry in bulk: the workbook a group fills in, importing it back all-or-nothing, permissions,
and the `kaohe scores` commands."""
from __future__ import annotations

import io
import re
import sqlite3
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, func, select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import (AuditEvent, EvaluationGroup, EvaluationGroupMember, OrgUnit, SchemeIndicator,
                           ScoreAdjustment, ScoreEntry)
from engine.models.scoring import AREAS
from engine.runtime import SYSTEM
from engine.services import schemes
from engine.services.score_sheets import import_scores, write_template
from engine.services.score_sheets_import import ScoreSheetRejected

PERIOD = "2026-03"
GROUP_SHEETS = ["党务", "经营", "安全", "环境", "服务", "三产"]
PARTY_INDICATORS = ["party_org", "party_theory", "party_conduct", "party_culture"]
SCORE, UNIT, INDICATOR, PERIOD_COLUMN = "J", "C", "F", "A"


@pytest.fixture
def org(rt, people):
    """Units of every category (people made U1 production, U2 non-production), the default scheme,
    and the six groups: alice a member of party, head the leader of operations, bob in none."""
    with rt.db.unit_of_work() as session:
        session.add_all([OrgUnit(code="B1", name="第一党支部", category="party_branch"),
                         OrgUnit(code="X1", name="集团公司", category="organisation"),
                         OrgUnit(code="U9", name="已撤销车间", category="production", active=False)])
        for code, (name, _english) in AREAS.items():
            session.add(EvaluationGroup(code=code, name=f"{name}评价小组",
                                        leader_id=people.head.person_id if code == "operations" else None))
        session.flush()
        party = session.scalar(select(EvaluationGroup.id).where(EvaluationGroup.code == "party"))
        session.add(EvaluationGroupMember(group_id=party, person_id=people.alice.person_id))
    schemes.import_scheme(rt, schemes.DEFAULT_SCHEME_FILE.read_text(encoding="utf-8"), SYSTEM)
    return people


def template(rt, actor=SYSTEM, period=PERIOD, group=None):
    return load_workbook(io.BytesIO(write_template(rt, period, actor, group)))


def ranges(rule) -> set[str]:
    return {str(r) for r in rule.sqref.ranges}


def as_bytes(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def fill(sheet) -> None:
    """Score every row of a group's sheet: max - 1, or 0 for a pass/fail indicator."""
    for row in sheet.iter_rows(min_row=2):
        method, top = row[7].value, row[8].value
        row[9].value = 0 if method == "达标制" else top - 1


def add_adjustments(workbook, *rows) -> None:
    sheet = workbook["加减分"]
    for values in rows:
        sheet.append(values)


def filled(rt, actor=SYSTEM):
    """A template with the party sheet scored and one like on the adjustments sheet."""
    workbook = template(rt, actor)
    fill(workbook["党务"])
    add_adjustments(workbook, [PERIOD, "U1", "点赞", 2, "主动完成抢修", "照片"])
    return workbook


def entries(rt) -> dict[tuple[str, str], Decimal]:
    with rt.db.reading() as session:
        return {(unit, indicator): value for unit, indicator, value in session.execute(
            select(OrgUnit.code, SchemeIndicator.code, ScoreEntry.value)
            .join(OrgUnit, OrgUnit.id == ScoreEntry.unit_id)
            .join(SchemeIndicator, SchemeIndicator.id == ScoreEntry.indicator_id))}


def adjustments(rt) -> list[tuple]:
    with rt.db.reading() as session:
        return sorted(session.execute(select(OrgUnit.code, ScoreAdjustment.kind, ScoreAdjustment.points,
                                             ScoreAdjustment.reason, ScoreAdjustment.evidence)
                                      .join(OrgUnit, OrgUnit.id == ScoreAdjustment.unit_id)).all())


def import_events(rt) -> list[AuditEvent]:
    with rt.db.reading() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "scores_import")))


def test_template_has_a_sheet_per_group_rows_for_units_in_scope_and_excel_rules(rt, org):
    workbook = template(rt)
    assert workbook.sheetnames == GROUP_SHEETS + ["加减分", "说明"]
    party = workbook["党务"]
    assert [c.value for c in party[1]] == ["期间\nperiod", "考核组\ngroup", "单位编码\nunit code",
                                           "单位名称\nunit name", "类别\ncategory", "指标编码\nindicator code",
                                           "指标名称\nindicator name", "计分方式\nmethod", "满分\nmax",
                                           "得分\nscore", "说明\nnote"]
    rows = [[c.value for c in row] for row in party.iter_rows(min_row=2)]
    # Sorted by unit code, then indicator order; no organisation unit, no inactive unit.
    assert [(r[2], r[5]) for r in rows] == [(u, i) for u in ("B1", "U1", "U2") for i in PARTY_INDICATORS]
    assert rows[0] == [PERIOD, "party", "B1", "第一党支部", "党支部", "party_org", "组织建设", "得分制", 10,
                       None, None]
    assert [r[7] for r in rows[:4]] == ["得分制", "得分制", "扣分制", "得分制"]
    assert {r[2] for r in workbook["经营"].iter_rows(min_row=2, values_only=True)} == {"U1", "U2"}
    assert {r[2] for r in workbook["三产"].iter_rows(min_row=2, values_only=True)} == {"U1"}
    assert party["A1"].font.b and party.freeze_panes == "A2" and party.column_dimensions["K"].width == 40
    assert party["J2"].number_format == "0.00" and party["J2"].protection.locked is False
    assert party["C2"].protection.locked and party["C2"].fill.fgColor.rgb.endswith("EDEDED")
    assert party.protection.sheet
    rules = {"扣减" in r.error: r for r in party.data_validations.dataValidation}  # points, deduction
    assert {(r.type, r.formula1, r.formula2) for r in rules.values()} == {("decimal", "0", "10")}
    assert ranges(rules[False]) == {"J2:J3", "J5:J7", "J9:J11", "J13"}
    assert ranges(rules[True]) == {"J4", "J8", "J12"}
    operations = {r.type: r for r in workbook["经营"].data_validations.dataValidation}
    assert operations["list"].formula1 == '"0,10"'
    assert ranges(operations["list"]) == {"J4", "J7"}  # ops_report, pass/fail
    assert ranges(operations["decimal"]) == {"J2:J3", "J5:J6"}
    adjustments_sheet = workbook["加减分"]
    assert [c.value.split("\n")[0] for c in adjustments_sheet[1]] == ["期间", "单位编码", "类型", "分值", "事由",
                                                                     "佐证"]
    assert {r.formula1 for r in adjustments_sheet.data_validations.dataValidation} == {'"点赞,错情"', "0.01"}
    guide = "\n".join(row[0] for row in workbook["说明"].iter_rows(values_only=True))
    for phrase in ("扣分制：填写扣减的分数", "达标制：只能填 0 或满分", "得分为空表示尚未评分", "全有或全无",
                   "（期间、单位、类型、分值、事由）识别", "pass/fail: 0 or max only"):
        assert phrase in guide


def test_import_writes_scores_and_adjustments_then_reimport_updates_without_duplicates(rt, org):
    workbook = filled(rt)
    workbook["经营"]["J2"] = 8.5  # U1 ops_output; the rest of 经营 stays blank
    add_adjustments(workbook, [PERIOD, "U2", "错情", 1.5, "报表迟报", None])
    report = import_scores(rt, as_bytes(workbook), "march.xlsx", SYSTEM)

    assert (report.period, report.adjustments_new, report.adjustments_existing) == (PERIOD, 2, 0)
    assert vars(report.groups["party"]) == {"new": 12, "updated": 0, "unchanged": 0, "blank": 0}
    assert vars(report.groups["operations"]) == {"new": 1, "updated": 0, "unchanged": 0, "blank": 5}
    stored = entries(rt)
    assert len(stored) == 13 and stored[("U1", "ops_output")] == Decimal("8.5")
    assert stored[("B1", "party_conduct")] == 9  # a deduction entry holds the points deducted
    assert adjustments(rt) == [("U1", "like", 2, "主动完成抢修", "照片"),
                               ("U2", "error", Decimal("-1.5"), "报表迟报", None)]
    event, = import_events(rt)
    assert event.subject == "march.xlsx" and '"new":12' in event.detail and event.data_digest

    again = import_scores(rt, as_bytes(workbook), "march.xlsx", SYSTEM)
    assert vars(again.groups["party"]) == {"new": 0, "updated": 0, "unchanged": 12, "blank": 0}
    assert (again.adjustments_new, again.adjustments_existing) == (0, 2)
    assert len(entries(rt)) == 13 and len(adjustments(rt)) == 2 and len(import_events(rt)) == 2

    corrected = template(rt)  # the new template carries what was entered
    assert corrected["党务"]["J2"].value == 9 and corrected["经营"]["J3"].value is None
    corrected["党务"]["J2"], corrected["党务"]["K2"] = 10, "复核后更正"
    corrected["经营"]["J2"] = None  # an empty cell never clears a score already entered
    report = import_scores(rt, as_bytes(corrected), "march-v2.xlsx", SYSTEM)
    assert vars(report.groups["party"]) == {"new": 0, "updated": 1, "unchanged": 11, "blank": 0}
    assert entries(rt)[("B1", "party_org")] == 10 and entries(rt)[("U1", "ops_output")] == Decimal("8.5")
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ScoreEntry)) == 13


def test_two_identical_adjustment_rows_add_two_and_importing_again_adds_none(rt, org):
    workbook = template(rt, group="party")
    add_adjustments(workbook, [PERIOD, "U1", "点赞", 1, "志愿服务"], [PERIOD, "U1", "点赞", 1, "志愿服务"])
    assert import_scores(rt, as_bytes(workbook), "a.xlsx", SYSTEM).adjustments_new == 2
    assert import_scores(rt, as_bytes(workbook), "a.xlsx", SYSTEM).adjustments_new == 0
    assert len(adjustments(rt)) == 2


def _cell(sheet, ref, value):
    def change(workbook):
        workbook[sheet][ref] = value
    return change


def _all_periods(value):
    def change(workbook):
        for name in GROUP_SHEETS + ["加减分"]:
            for row in workbook[name].iter_rows(min_row=2, max_col=1):
                row[0].value = value
    return change


# (what is wrong, how to break the filled workbook, sheet, row, column, words the message uses)
ERRORS = [
    ("above max", _cell("党务", "J2", 11), "党务", 2, SCORE, "超过满分 10"),
    ("below zero", _cell("党务", "J3", -1), "党务", 3, SCORE, "小于 0"),
    ("not a number", _cell("党务", "J4", "九分"), "党务", 4, SCORE, "不是数字"),
    ("three decimals", _cell("党务", "J4", 9.125), "党务", 4, SCORE, "两位小数"),
    ("pass/fail not 0 or max", _cell("经营", "J4", 5), "经营", 4, SCORE, "只能填 0 或 10"),
    ("unit out of scope", _cell("三产", "C2", "U2"), "三产", 2, UNIT, "不在考核组「三产」的考核范围内"),
    ("unknown unit", _cell("党务", "C5", "NOPE"), "党务", 5, UNIT, "单位编码 NOPE 不存在"),
    ("inactive unit", _cell("党务", "C5", "U9"), "党务", 5, UNIT, "已停用"),
    ("unknown indicator", _cell("党务", "F6", "nope"), "党务", 6, INDICATOR, "不在本期适用的考核方案中"),
    ("indicator of another group", _cell("党务", "F7", "ops_cost"), "党务", 7, INDICATOR, "属于考核组「经营」"),
    ("duplicate row", _cell("党务", "F3", "party_org"), "党务", 3, INDICATOR, "重复，与「党务」第 2 行相同"),
    ("invalid period", _cell("党务", "A8", "2026-13"), "党务", 8, PERIOD_COLUMN, "无效，应为 YYYY-MM"),
    ("another period", _cell("党务", "A9", "2026-04"), "党务", 9, PERIOD_COLUMN, "与本工作簿的期间 2026-03 不同"),
    ("no scheme for the period", _all_periods("2025-12"), "党务", 2, PERIOD_COLUMN, "2025-12 没有适用的考核方案"),
    ("adjustment unit", _cell("加减分", "B2", "NOPE"), "加减分", 2, "B", "NOPE 不存在"),
    ("adjustment type", _cell("加减分", "C2", "表扬"), "加减分", 2, "C", "类型「表扬」无效"),
    ("adjustment points", _cell("加减分", "D2", 0), "加减分", 2, "D", "分值须为正数"),
    ("adjustment negative", _cell("加减分", "D2", -3), "加减分", 2, "D", "分值须为正数"),
    ("adjustment reason", _cell("加减分", "E2", None), "加减分", 2, "E", "事由为空"),
]


@pytest.mark.parametrize("change, sheet, row, column, words", [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_each_problem_is_named_by_sheet_row_and_column_and_nothing_is_written(rt, org, change, sheet, row,
                                                                                column, words):
    workbook = filled(rt)
    fill(workbook["经营"])
    fill(workbook["三产"])
    change(workbook)
    with pytest.raises(ScoreSheetRejected) as refused:
        import_scores(rt, as_bytes(workbook), "bad.xlsx", SYSTEM)
    found = {(p.sheet, p.row, p.column): p for p in refused.value.problems}
    assert (sheet, row, column) in found, [p.message.zh for p in refused.value.problems]
    problem = found[(sheet, row, column)]
    assert words in problem.message.zh and problem.message.en and f"row {row}" in problem.message.en
    assert f"{sheet}!{column}{row}" in refused.value.field_errors
    assert entries(rt) == {} and adjustments(rt) == [] and import_events(rt) == []


def test_every_problem_in_a_workbook_is_reported_at_once(rt, org):
    workbook = filled(rt)
    workbook["党务"]["J2"], workbook["党务"]["J13"], workbook["加减分"]["C2"] = 11, "x", "?"
    with pytest.raises(ScoreSheetRejected) as refused:
        import_scores(rt, as_bytes(workbook), "bad.xlsx", SYSTEM)
    assert sorted(refused.value.field_errors) == ["党务!J13", "党务!J2", "加减分!C2"]
    assert "3 处问题" in refused.value.message.zh and "nothing was imported" in refused.value.message.en


def test_unknown_sheets_and_missing_columns_are_named_by_sheet(rt, org):
    workbook = filled(rt)
    workbook.create_sheet("草稿")["A1"] = "备忘"
    workbook["三产"]["J1"] = "分数"  # the score column can no longer be found
    with pytest.raises(ScoreSheetRejected) as refused:
        import_scores(rt, as_bytes(workbook), "bad.xlsx", SYSTEM)
    errors = refused.value.field_errors
    assert sorted(errors) == ["三产!1", "草稿"]
    assert "缺少列：得分" in errors["三产!1"].zh and "missing columns: 得分 (score)" in errors["三产!1"].en
    assert "不是考核组的表" in errors["草稿"].zh


def test_a_period_excel_turned_into_a_date_reads_as_its_month(rt, org):
    workbook = filled(rt)
    workbook["党务"]["A2"] = datetime(2026, 3, 1)  # what Excel makes of a typed 2026-03
    assert import_scores(rt, as_bytes(workbook), "dates.xlsx", SYSTEM).groups["party"].new == 12


def test_a_file_that_is_not_a_workbook_is_refused(rt, org):
    with pytest.raises(ValidationFailed, match="xlsx"):
        import_scores(rt, b"unit,score\nU1,9\n", "scores.csv", SYSTEM)


def test_a_group_member_enters_only_their_own_groups_sheets(rt, org):
    alice, head = org.alice, org.head
    assert template(rt, alice).sheetnames == ["党务", "加减分", "说明"]
    assert template(rt, head).sheetnames == ["经营", "加减分", "说明"]  # the group's leader
    with pytest.raises(PermissionDenied):
        write_template(rt, PERIOD, alice, group="operations")

    own = filled(rt, alice)
    report = import_scores(rt, as_bytes(own), "party.xlsx", alice)
    assert report.groups["party"].new == 12 and report.adjustments_new == 1

    everything = template(rt)  # the office's workbook holds every group's sheet
    fill(everything["经营"])
    with pytest.raises(ScoreSheetRejected) as refused:
        import_scores(rt, as_bytes(everything), "all.xlsx", alice)
    named = {p.sheet for p in refused.value.problems}
    assert named == set(GROUP_SHEETS) - {"党务"}
    assert "不是考核组「经营」的成员" in refused.value.field_errors["经营"].zh
    assert ("U1", "ops_output") not in entries(rt)


def test_anyone_outside_the_groups_and_the_office_is_refused(rt, org):
    workbook = filled(rt)
    with pytest.raises(PermissionDenied):
        import_scores(rt, as_bytes(workbook), "x.xlsx", org.bob)
    with pytest.raises(PermissionDenied):
        write_template(rt, PERIOD, org.bob)
    assert import_scores(rt, as_bytes(workbook), "x.xlsx", org.owner).groups["party"].new == 12


def test_import_queries_do_not_grow_with_the_number_of_rows(rt, org):
    """Units, indicators and existing entries are loaded once: no query per row."""
    def statements_for_import() -> int:
        workbook = template(rt)
        for name in GROUP_SHEETS:
            fill(workbook[name])
        statements = []

        def count(*_args) -> None:
            statements.append(1)
        event.listen(rt.db.engine, "before_cursor_execute", count)
        try:
            import_scores(rt, as_bytes(workbook), "n.xlsx", SYSTEM)
        finally:
            event.remove(rt.db.engine, "before_cursor_execute", count)
        return len(statements)

    few = statements_for_import()
    with rt.db.unit_of_work() as session:
        session.add_all([OrgUnit(code=f"P{n:03d}", name=f"车间{n}", category="production") for n in range(40)])
    assert statements_for_import() == few


def test_cli_template_then_import(kaohe, tmp_path):
    for command in (("scores", "--help"), ("scores", "template", "--help"), ("scores", "import", "--help")):
        helped = kaohe(*command)
        assert helped.returncode == 0 and "Usage:" in helped.stdout
    assert kaohe("init").returncode == 0 and kaohe("demo").returncode == 0
    path = tmp_path / "march.xlsx"
    made = kaohe("scores", "template", "--period", PERIOD, "--group", "party", str(path))
    assert made.returncode == 0 and str(path) in made.stdout, made.stderr
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["党务", "加减分", "说明"]
    assert workbook["党务"].max_row == 1 + (13 + 20 + 10) * 4  # every unit of the demo, four indicators
    fill(workbook["党务"])
    add_adjustments(workbook, [PERIOD, "P01", "错情", 2, "安全检查发现隐患"])
    workbook.save(path)

    imported = kaohe("scores", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    # The demo may have scored some months already; whatever it holds, all 172 rows are now entered.
    counts = re.search(r"党务：新增 (\d+)，更新 (\d+)，未变 (\d+)", imported.stdout)
    assert counts and sum(map(int, counts.groups())) == 172 and "加减分：新增 1" in imported.stdout
    again = kaohe("scores", "import", str(path), language="en")
    assert "party affairs: 0 new, 0 updated, 172 unchanged" in again.stdout
    assert "1 already imported" in again.stdout

    workbook["党务"]["J2"] = 12
    workbook.save(path)
    refused = kaohe("scores", "import", str(path))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "未导入任何数据" in refused.stderr
    assert "工作表「党务」第 2 行 J 列（得分）：得分 12 超过满分 10" in refused.stderr
    with sqlite3.connect(kaohe.database) as db:  # the refused file changed nothing
        assert db.execute("select count(*) from score_entry where value = 12").fetchone() == (0,)
    english = kaohe("scores", "import", str(path), language="en")
    assert "sheet 党务, row 2, column J (score): score 12 is above the maximum 10" in english.stderr

    no_scheme = kaohe("scores", "template", "--period", "2020-01", str(tmp_path / "old.xlsx"))
    assert no_scheme.returncode == 1 and "没有适用的考核方案" in no_scheme.stderr
    assert kaohe("scores", "template", "--period", "2026-3", str(path)).returncode == 1
