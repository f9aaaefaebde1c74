"""The organisation spreadsheet layout (a units table and a people table) and reading it from .xlsx
or .csv (org_sheets_write.py writes it). This module knows columns, headers and cells, and checks
each row on its own; what the rows mean against the database is org_io's business. Reading never
stops at the first problem: each one is collected, so a person fixes a file in one pass."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from engine.limits import too_many_rows
from engine.models.org import ROLES, UNIT_CATEGORIES
from engine.services.progress import Report, counted

# Candidates for engine/models/org.py next to ROLES; kept here until the model owns them.
POSITIONS = {"head": ("正职", "head"), "deputy": ("副职", "deputy"), "staff": ("员工", "staff")}
PARTY_STATUSES = {"member": ("党员", "member"), "activist": ("入党积极分子", "activist"), "none": ("群众", "none")}
ROLE_SEPARATORS = re.compile(r"[、,，;；\s]+")
TABLE_NAMES = {"units": ("单位", "units"), "people": ("人员", "people")}
EXPLANATION_SHEET = ("说明", "explanation")
# The model's column sizes: a longer value would fail in the database (PostgreSQL) instead of here.
MAX_LENGTHS = {("units", "code"): 64, ("units", "name"): 200, ("people", "username"): 64,
               ("people", "name"): 100}


def _lookup(vocabulary: dict[str, tuple[str, str]]) -> dict[str, str]:
    """What a cell may say -> code: the code, the Chinese or the English name, in any case."""
    return {text.casefold(): code for code, names in vocabulary.items() for text in (code, *names)}


CATEGORY_BY_TEXT, POSITION_BY_TEXT = _lookup(UNIT_CATEGORIES), _lookup(POSITIONS)
PARTY_BY_TEXT = _lookup(PARTY_STATUSES)
# Roles are separated by spaces, so English role names with a space ("unit head") cannot be read.
ROLE_BY_TEXT = {text: code for text, code in _lookup(ROLES).items() if " " not in text}


@dataclass(frozen=True)
class Column:
    key: str          # the English header, also the field name the importer uses
    zh: str           # the Chinese header
    required: bool
    explain_zh: str
    explain_en: str


def _choices(vocabulary) -> str:
    return "、".join(zh for zh, _ in vocabulary.values())


UNIT_COLUMNS = (
    Column("code", "单位编码", True, "单位的唯一编码，最多 64 个字符；再次导入时按编码更新该单位",
           "the unit's unique code, at most 64 characters; importing again updates the unit with this code"),
    Column("name", "单位名称", True, "单位名称，最多 200 个字符", "the unit's name, at most 200 characters"),
    Column("category", "类别", True, f"{_choices(UNIT_CATEGORIES)}，也可填写编码",
           f"one of {', '.join(UNIT_CATEGORIES)}, or the Chinese name"),
    Column("parent_code", "上级单位编码", False,
           "上级单位的编码，须在本文件或系统中已有；留空表示最上级单位；上下级不能形成循环",
           "code of the parent unit, in this file or already in the system; empty for a top unit; no cycles"),
    Column("branch_code", "所属党支部编码", False,
           "该单位所属党支部的编码（生产型、非生产型单位填写），须是类别为“党支部”的单位",
           "code of the party branch the unit belongs to (for production and non-production units); "
           "it must be a unit of category party_branch"),
)
PEOPLE_COLUMNS = (
    Column("username", "用户名", True, "登录名，唯一，最多 64 个字符；再次导入时按用户名更新该人员",
           "login name, unique, at most 64 characters; importing again updates the person with this "
           "username"),
    Column("name", "姓名", True, "姓名，最多 100 个字符", "the person's name, at most 100 characters"),
    Column("unit_code", "所属单位编码", False, "所属单位的编码，须在本文件或系统中已有；留空表示不属于任何单位",
           "code of the person's unit, in this file or already in the system; empty for none"),
    Column("position", "职务", False, f"{_choices(POSITIONS)}；留空为员工",
           f"one of {', '.join(POSITIONS)}; empty means staff"),
    Column("party_status", "政治面貌", False, f"{_choices(PARTY_STATUSES)}；留空为群众",
           f"one of {', '.join(PARTY_STATUSES)}; empty means none"),
    Column("roles", "角色", False, "可填多个，用、，；或空格分隔，填名称或编码："
           + "、".join(f"{zh}（{code}）" for code, (zh, _) in ROLES.items()) + "。表中的角色取代此人原有的角色",
           "several allowed, separated by 、 , ; or spaces, by Chinese name or code (see the Chinese list). "
           "The roles in the sheet replace the person's roles"),
)
COLUMNS = {"units": UNIT_COLUMNS, "people": PEOPLE_COLUMNS}
GENERAL_NOTES = (
    ("第 1 行是表头，中文或英文列名均可；列的顺序不限，选填列可以省略",
     "row 1 is the header, in Chinese or English; columns in any order; optional columns may be left out"),
    ("省略某个选填列时，已有单位和人员的这一项保持不变",
     "leaving out an optional column keeps that value unchanged for existing units and people"),
    ("导入要么全部成功，要么什么都不写入：任何一行有错，都会列出所有问题",
     "import is all-or-nothing: if any row is wrong, every problem is listed and nothing is written"),
    ("文件中没有的单位和人员保持不变，导入从不删除",
     "units and people not in the file are left alone; import never deletes"),
    ("表格中没有密码：新导入的人员由管理员设置密码后才能登录",
     "passwords are never in the sheet: new people cannot log in until an administrator sets a password"),
    ("CSV 文件每个只能放一张表（单位或人员），须为 UTF-8 编码",
     "a CSV file holds one table (units or people) and must be saved as UTF-8"),
)


def _normalise(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.strip()).casefold()


# Header text (normalised) -> column key, per table. The English label "Parent Code" reads as parent_code.
_HEADER_KEYS = {table: {**{_normalise(c.zh): c.key for c in columns}, **{c.key: c.key for c in columns}}
                for table, columns in COLUMNS.items()}
_HEADER_KEYS["people"]["display_name"] = "name"


@dataclass(frozen=True)
class SheetProblem:
    """One thing wrong in a file: where (file, sheet, row as a spreadsheet counts, column header) and what."""

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    zh: str
    en: str

    def where(self, language: str = "zh") -> str:
        english = language.startswith("en")
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'" if english else f"工作表「{self.sheet}」")
        if self.row:
            parts.append(f"row {self.row}" if english else f"第 {self.row} 行")
        if self.column:
            parts.append(f"column '{self.column}'" if english else f"列「{self.column}」")
        return ", ".join(parts) if english else "，".join(parts)

    def text(self, language: str = "zh") -> str:
        if language.startswith("en"):
            return f"{self.where(language)}: {self.en}"
        return f"{self.where()}：{self.zh}"


@dataclass
class Table:
    """One units or people table as read: the header as written and the non-empty rows, as text."""

    kind: str
    file: str
    sheet: str | None
    headers: dict[str, str]                     # column key -> header as the file wrote it
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (row number, key -> value)

    def problem(self, row: int | None, key: str | None, zh: str, en: str) -> SheetProblem:
        return SheetProblem(self.file, self.sheet, row, self.headers.get(key, key) if key else None, zh, en)


def cell_text(value) -> str:
    """A cell as the text a person sees: 1001.0 typed as a number still means code "1001"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.isoformat() if hasattr(value, "isoformat") else str(value).strip()


def read_tables(name: str, content: bytes | Path, problems: list[SheetProblem],
                progress: Report | None = None, max_rows: int | None = None) -> list[Table]:
    """The tables in one .xlsx or .csv file (content as bytes or a path); problems go into `problems`.
    A sheet with more than `max_rows` rows is a problem, found without reading the rest."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        data = content if isinstance(content, bytes) else Path(content).read_bytes()
        return _read_csv(name, data, problems, progress, max_rows)
    if suffix == ".xlsx":
        return _read_xlsx(name, content, problems, progress, max_rows)
    problems.append(SheetProblem(name, None, None, None, "只能导入 .xlsx 或 .csv 文件（.xls 请另存为 .xlsx）",
                                 "only .xlsx and .csv files can be imported (save .xls files as .xlsx)"))
    return []


def _read_csv(name: str, data: bytes, problems: list[SheetProblem], progress: Report | None = None,
              max_rows: int | None = None) -> list[Table]:
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        problems.append(SheetProblem(
            name, None, None, None, "文件不是 UTF-8 编码（可能是 GBK）；请在 Excel 中另存为“CSV UTF-8（逗号分隔）”",
            "the file is not UTF-8 (perhaps GBK); save it as 'CSV UTF-8 (Comma delimited)'"))
        return []
    rows = enumerate(csv.reader(io.StringIO(text, newline="")), 1)
    rows = counted(rows, progress, text.count("\n"), f"正在读取 {name}", f"reading {name}")
    table = _table_from_rows(name, None, _bounded(rows, max_rows, name, None, problems), str, problems)
    return [table] if table else []


def _read_xlsx(name: str, content: bytes | Path, problems: list[SheetProblem],
               progress: Report | None = None, max_rows: int | None = None) -> list[Table]:
    try:
        # read_only streams rows instead of building every cell object: 100,000 people stay affordable.
        workbook = load_workbook(io.BytesIO(content) if isinstance(content, bytes) else content,
                                 read_only=True, data_only=True)
    except Exception:  # openpyxl raises zip, XML and key errors alike for a file that is not a workbook
        problems.append(SheetProblem(name, None, None, None, "无法作为 .xlsx 工作簿读取，文件可能已损坏",
                                     "cannot be read as an .xlsx workbook; the file may be damaged"))
        return []
    try:
        tables = []
        for sheet in workbook.worksheets:
            if _normalise(sheet.title) in EXPLANATION_SHEET:
                continue
            expected = sheet.max_row or 0  # as the writer recorded it: good enough for a progress bar
            sheet.reset_dimensions()  # some writers record wrong sizes; read what is really there
            rows = counted(enumerate(sheet.iter_rows(values_only=True), 1), progress, expected,
                           f"正在读取工作表「{sheet.title}」", f"reading sheet {sheet.title}")
            table = _table_from_rows(name, sheet.title, _bounded(rows, max_rows, name, sheet.title, problems),
                                     get_column_letter, problems)
            if table:
                tables.append(table)
        return tables
    finally:
        workbook.close()


def _bounded(numbered_rows, max_rows: int | None, name: str, sheet: str | None, problems: list[SheetProblem]):
    """The rows, stopping with a problem after `max_rows` (KAOHE_MAX_SHEET_ROWS): a file of a million
    rows, empty ones included, is refused without being read to its end."""
    for number, cells in numbered_rows:
        if max_rows is not None and number > max_rows + 1:  # the header row is not counted
            refused = too_many_rows(max_rows)
            problems.append(SheetProblem(name, sheet, number, None, refused.zh, refused.en))
            return
        yield number, cells


def _table_from_rows(name, sheet, numbered_rows, column_label, problems) -> Table | None:
    """Read the header row, decide which table it is, then collect the non-empty rows."""
    header_row = next((cells for _, cells in numbered_rows), None)
    if header_row is None or not any(cell_text(c) for c in header_row):
        return None  # an empty sheet or file holds nothing to import
    headers = [cell_text(c) for c in header_row]
    kind = _table_kind(headers)
    if kind is None:
        problems.append(SheetProblem(
            name, sheet, 1, None, "无法从表头判断这是单位表还是人员表（单位表须有“单位编码”列，人员表须有“用户名”列）",
            "cannot tell from the header whether this is the units table (it needs a 'code' column) or the "
            "people table (it needs 'username')"))
        return None
    table, positions, before = Table(kind, name, sheet, {}), {}, len(problems)
    for index, header in enumerate(headers):
        key = _HEADER_KEYS[kind].get(_normalise(header)) if header else None
        if header and key is None:
            problems.append(table.problem(1, None, f"未知的列「{header}」；可用的列见模板的说明页",
                                          f"unknown column '{header}'; the template's explanation sheet "
                                          "lists the columns"))
        elif key in table.headers:
            first = table.headers[key]
            problems.append(table.problem(1, None, f"列「{first}」和「{header}」是同一列，出现了两次",
                                          f"columns '{first}' and '{header}' are the same column"))
        elif key:
            table.headers[key], positions[index] = header, key
    for column in COLUMNS[kind]:
        if column.required and column.key not in table.headers:
            problems.append(table.problem(1, None, f"缺少必填列「{column.zh}」（{column.key}）",
                                          f"the required column '{column.key}' ({column.zh}) is missing"))
    if len(problems) > before:
        return table  # rows under a wrong header would only repeat the same problem on every line
    for number, cells in numbered_rows:
        values = [cell_text(c) for c in cells]
        if not any(values):
            continue
        for index, value in enumerate(values):
            if value and index not in positions:
                letter = column_label(index + 1)
                problems.append(table.problem(number, None, f"第 {letter} 列有数据但没有表头",
                                              f"column {letter} holds data but has no header"))
        table.rows.append((number, {key: values[i] if i < len(values) else ""
                                    for i, key in positions.items()}))
    return table


def _table_kind(headers: list[str]) -> str | None:
    """The table whose columns the header names most; a tie (e.g. only "name") decides nothing."""
    scores = {kind: sum(_normalise(h) in keys for h in headers) for kind, keys in _HEADER_KEYS.items()}
    units, people = scores["units"], scores["people"]
    return None if units == people else ("units" if units > people else "people")


class SheetContents:
    """What the files say, each row checked on its own: required cells, lengths, known values, codes or
    usernames given twice. A column left out of the file is left out of `wanted`."""

    def __init__(self, tables: list[Table], problems: list[SheetProblem]):
        self.problems = problems
        # code -> (table, row number, wanted values); username -> the same for people
        self.units: dict[str, tuple[Table, int, dict]] = {}
        self.people: dict[str, tuple[Table, int, dict]] = {}
        for table in tables:
            for number, values in table.rows:
                (self._read_unit if table.kind == "units" else self._read_person)(table, number, values)

    def _text(self, table: Table, number: int, values: dict, key: str) -> str | None:
        text, limit = values.get(key, ""), MAX_LENGTHS[table.kind, key]
        if not text:
            self.problems.append(table.problem(number, key, "必填，不能为空", "required; must not be empty"))
        elif len(text) > limit:
            self.problems.append(table.problem(number, key, f"太长：最多 {limit} 个字符",
                                               f"too long: at most {limit} characters"))
        return text if text and len(text) <= limit else None

    def _code(self, table: Table, number: int, key: str, lookup: dict[str, str], what_zh: str,
              what_en: str, text: str) -> str | None:
        code = lookup.get(text.casefold())
        if code is None:
            self.problems.append(table.problem(number, key, f"未知的{what_zh}「{text}」",
                                               f"unknown {what_en} '{text}'"))
        return code

    def _first_row(self, table: Table, number: int, key: str, value: str, seen: dict, what_zh: str,
                   what_en: str) -> bool:
        """True if the code or username is new in the files; else report the row that has it already."""
        if value in seen:
            first = seen[value][1]
            self.problems.append(table.problem(number, key, f"{what_zh} {value} 重复（第 {first} 行已有）",
                                               f"duplicate {what_en} {value} (already in row {first})"))
        return bool(value) and value not in seen

    def _read_unit(self, table: Table, number: int, values: dict) -> None:
        code, name = self._text(table, number, values, "code"), self._text(table, number, values, "name")
        category = values.get("category", "")
        if not category:
            self.problems.append(table.problem(number, "category", "必填，不能为空", "required; must not be empty"))
        wanted = {"name": name, "category": self._code(table, number, "category", CATEGORY_BY_TEXT, "类别",
                                                       "category", category) if category else None}
        wanted.update({key: values[key] or None for key in ("parent_code", "branch_code") if key in values})
        if self._first_row(table, number, "code", code, self.units, "单位编码", "unit code"):
            self.units[code] = (table, number, wanted)

    def _read_person(self, table: Table, number: int, values: dict) -> None:
        username = self._text(table, number, values, "username")
        wanted = {"display_name": self._text(table, number, values, "name")}
        if "unit_code" in values:
            wanted["unit_code"] = values["unit_code"] or None
        if "position" in values:
            text = values["position"]
            wanted["position"] = self._code(table, number, "position", POSITION_BY_TEXT, "职务", "position",
                                            text) if text else "staff"
        if "party_status" in values:
            text = values["party_status"]
            wanted["party_status"] = self._code(table, number, "party_status", PARTY_BY_TEXT, "政治面貌",
                                                "party status", text) if text else "none"
        if "roles" in values:
            wanted["roles"] = {self._code(table, number, "roles", ROLE_BY_TEXT, "角色", "role", text)
                               for text in ROLE_SEPARATORS.split(values["roles"]) if text} - {None}
        if self._first_row(table, number, "username", username, self.people, "用户名", "username"):
            self.people[username] = (table, number, wanted)
