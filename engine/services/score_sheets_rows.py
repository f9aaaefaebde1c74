"""Cells and rows of a score workbook as read back: headers found by name, values parsed, and each row
of a group's sheet checked against the scheme and the organisation. Problems are collected, never
raised, so a person fixes the whole file in one pass."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from openpyxl.utils import get_column_letter

from engine.errors import Message
from engine.limits import too_many_rows
from engine.services.progress import counted
from engine.models.org import UNIT_CATEGORIES
from engine.models.scoring import AREAS, SchemeArea, SchemeIndicator
from engine.services.score_sheets import (ADJUSTMENT_KINDS, MAX_ADJUSTMENT_POINTS, Column, area_categories,
                                          sheet_title)

_TWO_PLACES = -2


@dataclass(frozen=True)
class SheetProblem:
    """One thing wrong: where (sheet, row as Excel counts it, column letter and header) and what."""

    sheet: str
    row: int | None
    column: str | None
    header: tuple[str, str] | None
    zh: str
    en: str

    @property
    def key(self) -> str:
        """Excel's own way to name a cell: 党务!J5 (or 党务!5, or just 党务 for the whole sheet)."""
        if self.row is None:
            return self.sheet
        return f"{self.sheet}!{self.column or ''}{self.row}"

    @property
    def message(self) -> Message:
        zh, en = f"工作表「{self.sheet}」", f"sheet {self.sheet}"
        if self.row is not None:
            zh, en = f"{zh}第 {self.row} 行", f"{en}, row {self.row}"
        if self.column:
            zh += f" {self.column} 列（{self.header[0]}）"
            en += f", column {self.column} ({self.header[1]})"
        return Message(f"{zh}：{self.zh}", f"{en}: {self.en}")


def cell_text(value) -> str:
    """A cell as the text a person sees: a code typed as the number 1001 still means "1001"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_decimal(value) -> tuple[Decimal | None, tuple[str, str] | None]:
    """(number, None), or (None, (zh, en) problem): a number with at most two decimals."""
    shown = cell_text(value)
    if value is None or shown == "":
        return None, ("未填写", "missing")
    if isinstance(value, (bool, date, datetime, time)):
        return None, (f"「{shown}」不是数字", f"'{shown}' is not a number")
    if isinstance(value, float):
        value = round(value, 9)  # sheds binary noise of formulas: 0.1 + 0.2 reads as 0.30000000000000004
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        return None, (f"「{shown}」不是数字", f"'{shown}' is not a number")
    if number.as_tuple().exponent < _TWO_PLACES and number.normalize().as_tuple().exponent < _TWO_PLACES:
        return None, (f"{shown} 超过两位小数", f"{shown} has more than two decimals")
    return number, None


@dataclass
class Table:
    """One sheet as read: where each known column is, and its non-empty rows as (row number, values)."""

    title: str
    columns: dict[str, Column]
    positions: dict[str, int]
    letters: dict[str, str]
    problems: list[SheetProblem]
    rows: list[tuple[int, tuple]] = field(default_factory=list)

    def value(self, values: tuple, key: str):
        """The cell's value, None when the column is absent or the cell is empty or only spaces."""
        index = self.positions.get(key)
        if index is None or index >= len(values):
            return None
        value = values[index]
        return None if isinstance(value, str) and not value.strip() else value

    def text(self, values: tuple, key: str) -> str:
        return cell_text(self.value(values, key))

    def problem(self, row: int, key: str, zh: str, en: str) -> None:
        header = (self.columns[key].zh, self.columns[key].en)
        self.problems.append(SheetProblem(self.title, row, self.letters.get(key), header, zh, en))


class ReadRows:
    """Everything read from one workbook, with the problems found so far."""

    def __init__(self, workbook, progress=None, *, max_rows: int | None = None):
        self.workbook = workbook
        self.max_rows = max_rows  # KAOHE_MAX_SHEET_ROWS: a sheet of a million empty rows is not read to its end
        self.progress = progress  # engine/services/progress.py: rows read, sheet by sheet
        self.titles: list[str] = list(workbook.sheetnames)
        self.tables: dict[str, Table] = {}
        self.problems: list[SheetProblem] = []
        self.blank: Counter[str] = Counter()  # area code -> rows left without a score
        self.period_cell: tuple[Table, int] | None = None  # where the workbook's period was first read

    def sheet_problem(self, title: str, zh: str, en: str, row: int | None = None) -> None:
        self.problems.append(SheetProblem(title, row, None, None, zh, en))

    def read(self, title: str, columns: tuple[Column, ...], required: tuple[str, ...]) -> bool:
        """Read a sheet's header and rows; False (and a problem) when a required column is missing."""
        sheet = self.workbook[title]
        expected = sheet.max_row or 0  # as the writer recorded it: good enough for a progress bar
        sheet.reset_dimensions()  # some writers record a wrong size; read what is really there
        lines = counted(sheet.iter_rows(values_only=True), self.progress, expected,
                        f"正在读取工作表「{title}」", f"reading sheet {title}")
        header = next(lines, ()) or ()
        rows = []
        for number, values in enumerate(lines, 2):
            if self.max_rows is not None and number > self.max_rows + 1:
                refused = too_many_rows(self.max_rows)
                self.sheet_problem(title, refused.zh, refused.en, row=number)
                return False
            if _has_content(values):
                rows.append((number, values))
        positions = _locate_columns(header, columns)
        missing = [c for c in columns if c.key in required and c.key not in positions]
        if missing:
            if rows or _has_content(header):  # a sheet left wholly empty is no mistake
                names_zh = "、".join(c.zh for c in missing)
                names_en = ", ".join(f"{c.zh} ({c.en})" for c in missing)
                self.sheet_problem(title, f"缺少列：{names_zh}", f"missing columns: {names_en}", row=1)
            return False
        self.tables[title] = Table(title, {c.key: c for c in columns}, positions,
                                   {key: get_column_letter(i + 1) for key, i in positions.items()},
                                   self.problems, rows)
        return True

    def close(self) -> None:
        self.workbook.close()


def _has_content(values: tuple) -> bool:
    return any(v is not None and not (isinstance(v, str) and not v.strip()) for v in values)


def _locate_columns(header: tuple, columns: tuple[Column, ...]) -> dict[str, int]:
    """Column key -> index, by the header's Chinese first line or its English name; order is free."""
    names = {}
    for column in columns:
        names[column.zh] = names[column.en.casefold()] = names[column.key] = column.key
    positions: dict[str, int] = {}
    for index, cell in enumerate(header):
        text = cell_text(cell)
        first = text.split()[0] if text.split() else ""
        key = names.get(first) or names.get(" ".join(text.split()).casefold())
        if key and key not in positions:
            positions[key] = index
    return positions


def _unit_problem(code: str, unit, area: SchemeArea) -> tuple[str, str] | None:
    if not code:
        return "单位编码为空", "the unit code is empty"
    if unit is None:
        return f"单位编码 {code} 不存在", f"unknown unit {code}"
    if not unit.active:
        return f"单位 {code} 已停用", f"unit {code} is inactive"
    if unit.category not in area_categories(area):
        category_zh, category_en = UNIT_CATEGORIES.get(unit.category, (unit.category, unit.category))
        return (f"单位 {code}（{category_zh}）不在考核组「{sheet_title(area.code)}」的考核范围内",
                f"unit {code} ({category_en}) is outside the scope of the {AREAS[area.code][1]} group")
    return None


def _indicator_problem(code: str, found, area: SchemeArea) -> tuple[str, str] | None:
    if not code:
        return "指标编码为空", "the indicator code is empty"
    if found is None:
        return f"指标编码 {code} 不在本期适用的考核方案中", f"indicator {code} is not in the scheme for this period"
    if found[0].code != area.code:
        return (f"指标 {code} 属于考核组「{sheet_title(found[0].code)}」，不属于本表「{sheet_title(area.code)}」",
                f"indicator {code} belongs to the {AREAS[found[0].code][1]} group, not to this sheet's "
                f"{AREAS[area.code][1]} group")
    return None


def _score_problem(value: Decimal, indicator: SchemeIndicator) -> tuple[str, str] | None:
    top = format(indicator.max_score.normalize(), "f")
    if indicator.method == "pass_fail" and value not in (0, indicator.max_score):
        return f"达标制指标只能填 0 或 {top}，不能填 {value}", f"a pass/fail indicator takes 0 or {top}, not {value}"
    if value < 0:
        return f"得分 {value} 小于 0", f"score {value} is below 0"
    if value > indicator.max_score:
        return f"得分 {value} 超过满分 {top}", f"score {value} is above the maximum {top}"
    return None


def check_score_row(table: Table, number: int, values: tuple, area: SchemeArea,
                    indicators: dict[str, tuple[SchemeArea, SchemeIndicator]], units: dict):
    """(unit, indicator, value, note) for a scored row that is right, None for a blank or wrong one."""
    raw = table.value(values, "score")
    if raw is None:
        return None  # not scored yet: neither checked nor written
    problems: list[tuple[str, tuple[str, str]]] = []
    group = table.text(values, "group")
    if group and group not in (area.code, sheet_title(area.code)):
        problems.append(("group", (f"考核组 {group} 与工作表「{table.title}」不符",
                                   f"group {group} does not match sheet {table.title}")))
    unit_code, indicator_code = table.text(values, "unit_code"), table.text(values, "indicator_code")
    unit, found = units.get(unit_code), indicators.get(indicator_code)
    if problem := _unit_problem(unit_code, unit, area):
        problems.append(("unit_code", problem))
    if problem := _indicator_problem(indicator_code, found, area):
        problems.append(("indicator_code", problem))
        found = None
    value, problem = parse_decimal(raw)
    if problem is None and found is not None:
        problem = _score_problem(value, found[1])
    if problem:
        problems.append(("score", problem))
    for key, (zh, en) in problems:
        table.problem(number, key, zh, en)
    if problems:
        return None
    return unit, found[1], value, table.text(values, "note") or None


_KINDS = {name: kind for kind, names in ADJUSTMENT_KINDS.items() for name in (kind, *names)}


def check_adjustment_row(table: Table, number: int, values: tuple, units: dict):
    """(unit, kind, points, reason, evidence) for a right row of the adjustments sheet, else None.
    Points are as written (positive); the caller signs them."""
    problems: list[tuple[str, tuple[str, str]]] = []
    code = table.text(values, "unit_code")
    unit = units.get(code)
    if not code:
        problems.append(("unit_code", ("单位编码为空", "the unit code is empty")))
    elif unit is None or not unit.active:
        problems.append(("unit_code", (f"单位编码 {code} 不存在或已停用", f"unknown or inactive unit {code}")))
    written_kind = table.text(values, "kind")
    kind = _KINDS.get(written_kind)
    if kind is None:
        problems.append(("kind", (f"类型「{written_kind}」无效，应为 点赞 或 错情",
                                  f"type '{written_kind}' is invalid; use 点赞 (like) or 错情 (error notice)")))
    points, problem = parse_decimal(table.value(values, "points"))
    if problem is None and not 0 < points <= MAX_ADJUSTMENT_POINTS:
        problem = (f"分值须为正数（错情也填正数），且不超过 {MAX_ADJUSTMENT_POINTS}",
                   f"points must be positive (error notices too) and at most {MAX_ADJUSTMENT_POINTS}")
    if problem:
        problems.append(("points", problem))
    reason = table.text(values, "reason")
    if not reason:
        problems.append(("reason", ("事由为空", "the reason is empty")))
    for key, (zh, en) in problems:
        table.problem(number, key, zh, en)
    if problems:
        return None
    return unit, kind, points, reason, table.text(values, "evidence") or None
