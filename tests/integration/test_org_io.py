"""Organisation spreadsheets as an office uses them: import all-or-nothing, export, template, and the CLI."""
from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from engine.errors import PermissionDenied
from engine.migrate import upgrade
from engine.models import AuditEvent, OrgUnit, Person
from engine.runtime import SYSTEM
from engine.services.org_io import OrgImportRejected, export_org, import_org, write_template
from engine.services.org_sheets import PEOPLE_COLUMNS, UNIT_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "org"
UNIT_HEADER = ["单位编码", "单位名称", "类别", "上级单位编码", "所属党支部编码"]
PEOPLE_HEADER = ["用户名", "姓名", "所属单位编码", "职务", "政治面貌", "角色"]
UNITS = [["ORG", "集团", "组织", "", ""], ["PC", "党委", "组织", "ORG", ""],
         ["B01", "第一党支部", "党支部", "PC", ""], ["P01", "采油一队", "生产型", "ORG", "B01"],
         ["N01", "办公室", "非生产型", "ORG", "B01"]]
PEOPLE = [["p01_head", "陈伟", "P01", "正职", "党员", "部门正职、员工"],
          ["p01_staff", "黄娜", "P01", "员工", "入党积极分子", "员工"],
          ["n01_staff", "赵敏", "N01", "", "", ""]]


def xlsx(path: Path, units=None, people=None, unit_header=UNIT_HEADER, people_header=PEOPLE_HEADER) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, header, rows in (("单位", unit_header, units), ("人员", people_header, people)):
        if rows is not None:
            sheet = workbook.create_sheet(title)
            for row in [header, *rows]:
                sheet.append(row)
    workbook.save(path)
    return path


def csv_file(path: Path, header, rows, *, encoding="utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def snapshot(rt) -> tuple[list, list]:
    """Units and people as a person reads them, codes instead of ids."""
    with rt.db.reading() as session:
        code_of = dict(session.execute(select(OrgUnit.id, OrgUnit.code)).all())
        units = [(u.code, u.name, u.category, code_of.get(u.parent_id), code_of.get(u.branch_id))
                 for u in session.scalars(select(OrgUnit).order_by(OrgUnit.code))]
        people = [(p.username, p.display_name, code_of.get(p.unit_id), p.position, p.party_status,
                   sorted(p.role_codes), p.password_hash is not None)
                  for p in session.scalars(select(Person).order_by(Person.username))]
    return units, people


def counts(report) -> tuple[int, ...]:
    """Units created, updated, unchanged; then people created, updated, unchanged."""
    return (report.units_created, report.units_updated, report.units_unchanged,
            report.people_created, report.people_updated, report.people_unchanged)


def rejected(rt, *sources) -> list[str]:
    """Import expecting refusal; asserts nothing was written; each problem in Chinese and English."""
    before = snapshot(rt)
    with pytest.raises(OrgImportRejected) as caught:
        import_org(rt, sources, SYSTEM)
    assert snapshot(rt) == before
    return [p.text("zh") + " | " + p.text("en") for p in caught.value.problems]


def test_xlsx_import_creates_units_and_people_and_records_an_audit_event(rt, tmp_path):
    report = import_org(rt, [xlsx(tmp_path / "org.xlsx", UNITS, PEOPLE)], SYSTEM)
    assert counts(report) == (5, 0, 0, 3, 0, 0)
    assert "新建的 3 人没有密码" in "\n".join(report.lines("zh"))
    assert "cannot log in until an administrator sets one" in "\n".join(report.lines("en"))
    units, people = snapshot(rt)
    assert ("P01", "采油一队", "production", "ORG", "B01") in units
    assert people == [("n01_staff", "赵敏", "N01", "staff", "none", [], False),
                      ("p01_head", "陈伟", "P01", "head", "member", ["staff", "unit_head"], False),
                      ("p01_staff", "黄娜", "P01", "staff", "activist", ["staff"], False)]
    with rt.db.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "org_import")).one()
    assert event.actor == "system" and event.subject == "org.xlsx"
    assert '"units":{"created":5,"updated":0}' in event.detail


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
def test_csv_import_with_english_headers_with_and_without_bom(rt, tmp_path, encoding):
    english_units = ["Code ", "NAME", "category", "Parent Code", "branch_code"]
    english_people = ["username", "name", "unit_code", "position", "party_status", "roles"]
    codes = {"组织": "organisation", "党支部": "party_branch"}
    units = [[code, name, codes.get(kind, kind), parent, branch]
             for code, name, kind, parent, branch in UNITS]
    people = [["p01_head", "陈伟", "P01", "head", "member", "unit_head, staff"],
              ["p01_staff", "黄娜", "P01", "staff", "activist", "staff"],
              ["n01_staff", "赵敏", "N01", "", "", ""]]
    # People first: a CSV file's table is decided by its header, not by the order of the files.
    import_org(rt, [csv_file(tmp_path / "p.csv", english_people, people, encoding=encoding),
                    csv_file(tmp_path / "u.csv", english_units, units, encoding=encoding)], SYSTEM)
    units_now, people_now = snapshot(rt)
    assert ("P01", "采油一队", "production", "ORG", "B01") in units_now and len(units_now) == 5
    assert [p[:6] for p in people_now] == [
        ("n01_staff", "赵敏", "N01", "staff", "none", []),
        ("p01_head", "陈伟", "P01", "head", "member", ["staff", "unit_head"]),
        ("p01_staff", "黄娜", "P01", "staff", "activist", ["staff"])]


def test_a_gbk_csv_is_refused_naming_the_file_and_asking_for_utf8(rt, tmp_path):
    [problem] = rejected(rt, csv_file(tmp_path / "单位.csv", UNIT_HEADER, UNITS, encoding="gbk"))
    assert "单位.csv" in problem and "UTF-8" in problem and "save it as" in problem


def test_other_file_types_are_refused(rt, tmp_path):
    old_excel = tmp_path / "org.xls"
    old_excel.write_bytes(b"\xd0\xcf\x11\xe0")
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(b"not a zip")
    problems = rejected(rt, old_excel, damaged)
    assert "org.xls：只能导入 .xlsx 或 .csv 文件" in problems[0]
    assert "damaged.xlsx: cannot be read as an .xlsx workbook" in problems[1]


def test_the_sample_organisation_imports_the_same_from_xlsx_and_csv(rt):
    assert counts(import_org(rt, [SAMPLE / "demo-org.xlsx"], SYSTEM)) == (9, 0, 0, 22, 0, 0)
    from_xlsx = snapshot(rt)
    again = import_org(rt, [SAMPLE / "demo-org-units.csv", SAMPLE / "demo-org-people.csv"], SYSTEM)
    assert counts(again) == (0, 0, 9, 0, 0, 22)
    assert snapshot(rt) == from_xlsx


# case: (units rows, people rows, sheet, row, column, Chinese text, English text) of the one problem
ROW_ERRORS = {
    "missing code": ([["", "无编码", "组织", "", ""]], [], "单位", 2, "单位编码", "必填", "required"),
    "missing name": ([["X1", "", "组织", "", ""]], [], "单位", 2, "单位名称", "必填", "required"),
    "missing category of a branch in use": ([["B9", "支部", "", "", ""], ["X1", "甲", "生产型", "", "B9"]], [],
                                            "单位", 2, "类别", "必填", "required"),
    "unknown category": ([["X1", "某单位", "机关", "", ""]], [], "单位", 2, "类别", "未知的类别「机关」",
                         "unknown category '机关'"),
    "unknown parent": ([["X1", "某单位", "组织", "NOPE", ""]], [], "单位", 2, "上级单位编码",
                       "上级单位 NOPE 不存在", "parent unit NOPE does not exist"),
    "unknown branch": ([["X1", "某单位", "生产型", "", "B99"]], [], "单位", 2, "所属党支部编码",
                       "党支部 B99 不存在", "party branch B99 does not exist"),
    "branch not a party branch": ([["X1", "某单位", "生产型", "", "ORG"]], [], "单位", 2, "所属党支部编码",
                                  "ORG 的类别是组织，不是党支部",
                                  "ORG is not a party branch (its category is organisation)"),
    "duplicate code": ([["X1", "甲", "组织", "", ""], ["X1", "乙", "组织", "", ""]], [], "单位", 3,
                       "单位编码", "单位编码 X1 重复（第 2 行已有）", "duplicate unit code X1 (already in row 2)"),
    "code too long": ([["X" * 65, "甲", "组织", "", ""]], [], "单位", 2, "单位编码", "最多 64 个字符",
                      "at most 64 characters"),
    "missing username": ([], [["", "某人", "", "", "", ""]], "人员", 2, "用户名", "必填", "required"),
    "unknown position": ([], [["u1", "某人", "", "主任", "", ""]], "人员", 2, "职务", "未知的职务「主任」",
                         "unknown position '主任'"),
    "unknown party status": ([], [["u1", "某人", "", "", "团员", ""]], "人员", 2, "政治面貌",
                             "未知的政治面貌「团员」", "unknown party status '团员'"),
    "unknown role": ([], [["u1", "某人", "", "", "", "员工，超级用户"]], "人员", 2, "角色",
                     "未知的角色「超级用户」", "unknown role '超级用户'"),
    "unknown unit": ([], [["u1", "某人", "Z9", "", "", ""]], "人员", 2, "所属单位编码", "单位 Z9 不存在",
                     "unit Z9 does not exist"),
    "duplicate username": ([], [["u1", "某人", "", "", "", ""], ["u1", "某某", "", "", "", ""]], "人员", 3,
                           "用户名", "用户名 u1 重复（第 2 行已有）", "duplicate username u1 (already in row 2)"),
}


@pytest.mark.parametrize("case", ROW_ERRORS, ids=list(ROW_ERRORS))
def test_each_kind_of_row_error_names_sheet_row_and_column_and_writes_nothing(rt, tmp_path, case):
    import_org(rt, [xlsx(tmp_path / "base.xlsx", UNITS, PEOPLE)], SYSTEM)
    units, people, sheet, row, column, zh, en = ROW_ERRORS[case]
    [problem] = rejected(rt, xlsx(tmp_path / "bad.xlsx", units, people))
    assert f"bad.xlsx，工作表「{sheet}」，第 {row} 行，列「{column}」：" in problem and zh in problem
    assert f"bad.xlsx, sheet '{sheet}', row {row}, column '{column}': " in problem and en in problem


def test_every_problem_of_a_file_is_reported_at_once_in_reading_order(rt, tmp_path):
    units = [["A1", "", "组织", "", ""], ["A2", "乙", "组织", "NOPE", ""], ["A3", "丙", "乙类", "", ""]]
    people = [["u1", "某人", "Z9", "主任", "", ""], ["", "", "", "", "", ""], ["u2", "", "A1", "", "", "x"]]
    problems = rejected(rt, xlsx(tmp_path / "bad.xlsx", units, people))
    places = [p.split("：")[0].removeprefix("bad.xlsx，工作表") for p in problems]
    assert places == ["「单位」，第 2 行，列「单位名称」", "「单位」，第 3 行，列「上级单位编码」",
                      "「单位」，第 4 行，列「类别」", "「人员」，第 2 行，列「职务」",
                      "「人员」，第 2 行，列「所属单位编码」", "「人员」，第 4 行，列「姓名」",
                      "「人员」，第 4 行，列「角色」"]  # the empty people row 3 is skipped, not reported


def test_a_cycle_in_the_tree_names_the_codes_in_it(rt, tmp_path):
    units = [["C1", "甲", "组织", "C3", ""], ["C2", "乙", "组织", "C1", ""], ["C3", "丙", "组织", "C2", ""],
             ["SELF", "自己", "组织", "SELF", ""]]
    problems = rejected(rt, xlsx(tmp_path / "cycle.xlsx", units))
    assert len(problems) == 2
    assert "第 2 行，列「上级单位编码」：上级单位形成循环：C1 → C3 → C2 → C1" in problems[0]
    assert "the parent units form a cycle: SELF → SELF" in problems[1]


def test_a_cycle_through_a_unit_already_in_the_database_is_found(rt, tmp_path):
    import_org(rt, [xlsx(tmp_path / "base.xlsx", UNITS)], SYSTEM)
    [problem] = rejected(rt, xlsx(tmp_path / "move.xlsx", [["ORG", "集团", "组织", "P01", ""]]))
    assert "ORG → P01 → ORG" in problem


def test_header_problems_name_the_column(rt, tmp_path):
    typo = xlsx(tmp_path / "typo.xlsx", [["X1", "甲", "组织", "", ""]],
                unit_header=["单位编码", "单位名称", "类别", "上级单位编玛", "code"])
    problems = rejected(rt, typo)
    assert "typo.xlsx，工作表「单位」，第 1 行：未知的列「上级单位编玛」" in problems[0]
    assert "columns '单位编码' and 'code' are the same column" in problems[1]
    missing = rejected(rt, csv_file(tmp_path / "u.csv", ["code", "name"], [["X1", "甲"]]))
    assert "缺少必填列「类别」" in missing[0] and "the required column 'category'" in missing[0]
    unknown = rejected(rt, csv_file(tmp_path / "what.csv", ["名称", "备注"], [["甲", "乙"]]))
    assert "what.csv，第 1 行：无法从表头判断" in unknown[0]
    stray = rejected(rt, csv_file(tmp_path / "stray.csv", ["code", "name", "category"],
                                  [["X1", "甲", "组织", "?"]]))
    assert "stray.csv, row 2: column 4 holds data but has no header" in stray[0]


def test_reimport_updates_by_code_and_username_and_leaves_the_rest_alone(rt, tmp_path, people):
    import_org(rt, [xlsx(tmp_path / "first.xlsx", UNITS, PEOPLE)], SYSTEM)
    units = [["P01", "采油一队（新）", "生产型", "ORG", "B01"], ["N01", "办公室", "非生产型", "ORG", "B01"]]
    changed = [["p01_staff", "黄娜", "N01", "副职", "党员", "部门副职 staff"],
               ["newbie", "新人", "P01", "", "", ""]]
    report = import_org(rt, [xlsx(tmp_path / "second.xlsx", units, changed)], SYSTEM)
    assert counts(report) == (0, 1, 1, 1, 1, 0)
    units_now, people_now = snapshot(rt)
    assert len(units_now) == 7 and ("P01", "采油一队（新）", "production", "ORG", "B01") in units_now
    assert ("p01_staff", "黄娜", "N01", "deputy", "member", ["staff", "unit_deputy"], False) in people_now
    not_in_file = ("p01_head", "陈伟", "P01", "head", "member", ["staff", "unit_head"], False)
    assert not_in_file in people_now
    assert ("owner", "王绩效", None, "staff", "none", ["process_owner"], True) in people_now  # password kept


def test_leaving_out_an_optional_column_keeps_existing_values(rt, tmp_path):
    import_org(rt, [xlsx(tmp_path / "first.xlsx", UNITS, PEOPLE)], SYSTEM)
    only_names = csv_file(tmp_path / "names.csv", ["用户名", "姓名"], [["p01_head", "陈伟伟"]])
    assert import_org(rt, [only_names], SYSTEM).people_updated == 1
    assert ("p01_head", "陈伟伟", "P01", "head", "member", ["staff", "unit_head"], False) in snapshot(rt)[1]


def test_a_party_branch_still_in_use_cannot_become_another_category(rt, tmp_path):
    import_org(rt, [xlsx(tmp_path / "first.xlsx", UNITS)], SYSTEM)
    [problem] = rejected(rt, xlsx(tmp_path / "b.xlsx", [["B01", "第一党支部", "组织", "PC", ""]]))
    assert "B01 仍是这些单位的党支部：N01、P01" in problem


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_export_then_import_changes_nothing(rt, tmp_path, people, suffix):
    import_org(rt, [xlsx(tmp_path / "org.xlsx", UNITS, PEOPLE)], SYSTEM)
    before = snapshot(rt)
    written = export_org(rt, tmp_path / f"export{suffix}")
    expected = ["export.xlsx"] if suffix == ".xlsx" else ["export-units.csv", "export-people.csv"]
    assert [p.name for p in written] == expected
    assert counts(import_org(rt, written, SYSTEM)) == (0, 0, 7, 0, 0, 8)
    assert snapshot(rt) == before


def test_export_sorts_rows_and_writes_a_bold_frozen_header(rt, tmp_path):
    import_org(rt, [xlsx(tmp_path / "org.xlsx", UNITS, PEOPLE)], SYSTEM)
    [path] = export_org(rt, tmp_path / "out.xlsx")
    workbook = load_workbook(path)
    units, people = workbook["单位"], workbook["人员"]
    assert [c.value for c in units[1]] == UNIT_HEADER and units["A1"].font.b and units.freeze_panes == "A2"
    codes = [row[0] for row in units.iter_rows(min_row=2, values_only=True)]
    assert codes == ["B01", "N01", "ORG", "P01", "PC"]
    assert [c.value for c in people[2]] == ["n01_staff", "赵敏", "N01", "员工", "群众", None]
    assert [c.value for c in people[3]] == ["p01_head", "陈伟", "P01", "正职", "党员", "部门正职、员工"]
    assert people.column_dimensions["C"].width >= 14  # "所属单位编码" is six wide characters
    [english] = export_org(rt, tmp_path / "en.xlsx", language="en")
    assert [c.value for c in load_workbook(english)["people"][3]] == [
        "p01_head", "陈伟", "P01", "head", "member", "unit_head, staff"]
    [units_csv, _] = export_org(rt, tmp_path / "org.csv")
    assert units_csv.read_bytes().startswith("\ufeff单位编码,单位名称".encode())  # a BOM, for Excel


def test_template_has_empty_sheets_and_an_explanation_of_every_column(tmp_path):
    workbook = load_workbook(write_template(tmp_path / "template.xlsx"))
    assert workbook.sheetnames == ["单位", "人员", "说明"]
    assert [c.value for c in workbook["单位"][1]] == UNIT_HEADER and workbook["单位"].max_row == 1
    rows = list(workbook["说明"].iter_rows(min_row=2, values_only=True))
    explained = [(row[1], row[2]) for row in rows if row[2]]
    assert explained == [(c.zh, c.key) for c in (*UNIT_COLUMNS, *PEOPLE_COLUMNS)]
    text = "\n".join(str(row[4] or row[0]) for row in rows if row[0])
    assert "生产型、非生产型、党支部、组织，也可填写编码（one of production, non_production" in text
    assert "导入从不删除（units and people not in the file are left alone" in text


def test_an_empty_template_imports_nothing(rt, tmp_path):
    assert counts(import_org(rt, [write_template(tmp_path / "t.xlsx")], SYSTEM)) == (0, 0, 0, 0, 0, 0)


def test_numbers_typed_as_numbers_are_read_as_codes(rt, tmp_path):
    units = [[1001, "一号", "组织", None, None], [1002, "二号", "组织", 1001.0, None]]
    import_org(rt, [xlsx(tmp_path / "n.xlsx", units)], SYSTEM)
    assert ("1002", "二号", "organisation", "1001", None) in snapshot(rt)[0]


def test_only_process_owners_and_admins_may_import(rt, tmp_path, people):
    path = xlsx(tmp_path / "org.xlsx", UNITS, PEOPLE)
    with pytest.raises(PermissionDenied):
        import_org(rt, [path], people.alice)
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(OrgUnit)) == 2
    # The web hands over an upload as (file name, bytes).
    assert import_org(rt, [("upload.xlsx", path.read_bytes())], people.owner).units_created == 5
    with rt.db.reading() as session:
        assert session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "org_import")) == "owner"


@pytest.fixture
def kaohe(kaohe):
    """The command on a fresh SQLite file with only the schema: these tests need no workflows."""
    upgrade(f"sqlite:///{kaohe.database}")
    return kaohe


@pytest.mark.parametrize("command", ["org", "org import", "org export", "org template"])
def test_every_org_command_has_help(kaohe, command):
    result = kaohe(*command.split(), "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout and result.stderr == ""


def test_cli_template_import_export_end_to_end(kaohe, tmp_path):
    template = kaohe("org", "template", str(tmp_path / "t.xlsx"))
    assert template.returncode == 0 and (tmp_path / "t.xlsx").exists()
    imported = kaohe("org", "import", str(SAMPLE / "demo-org-units.csv"), str(SAMPLE / "demo-org-people.csv"))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines() == ["单位：新建 9，更新 0，未变 0", "人员：新建 22，更新 0，未变 0",
                                            "新建的 22 人没有密码：管理员为其设置密码后才能登录"]
    exported = kaohe("org", "export", str(tmp_path / "org.csv"))
    assert exported.returncode == 0
    units_csv, people_csv = tmp_path / "org-units.csv", tmp_path / "org-people.csv"
    assert units_csv.exists() and people_csv.exists()
    again = kaohe("org", "import", str(units_csv), str(people_csv), language="en")
    assert again.returncode == 0 and "units: 0 created, 0 updated, 9 unchanged" in again.stdout
    with sqlite3.connect(kaohe.database) as db:
        assert db.execute("select count(*) from person").fetchone() == (22,)
    assert "NAME-units.csv" in kaohe("org", "export", "--help").stdout


def test_cli_refuses_a_bad_file_listing_every_problem_and_exits_1(kaohe, tmp_path):
    bad = xlsx(tmp_path / "bad.xlsx", [["X1", "甲", "组织", "NOPE", ""], ["X1", "乙", "机关", "", ""]])
    result = kaohe("org", "import", str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert "导入被拒绝：发现 3 个问题" in lines[0] and len(lines) == 4
    assert all(line.startswith("  - bad.xlsx，工作表「单位」，第 ") for line in lines[1:])
    with sqlite3.connect(kaohe.database) as db:
        assert db.execute("select count(*) from org_unit").fetchone() == (0,)
    unsupported = kaohe("org", "export", str(tmp_path / "org.txt"), language="en")
    assert unsupported.returncode == 1 and "can only export to .xlsx or .csv" in unsupported.stderr
