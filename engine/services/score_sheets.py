"""Score entry in bulk: the workbook an evaluation group fills in (one sheet per group, one row per
unit and indicator, a sheet of likes and error notices, a sheet explaining it all) and the rules
shared with reading it back (`score_sheets_import`).

Excel itself should catch most slips before the file comes back, so score cells carry a number
format and a data-validation rule, and the cells that identify a row are greyed and locked."""
from __future__ import annotations

import io
import json
import re
from copy import copy
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import MultiCellRange
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound, PermissionDenied, ValidationFailed
from engine.models import EvaluationGroup, EvaluationGroupMember, OrgUnit, ScoreEntry
from engine.models.org import UNIT_CATEGORIES
from engine.models.scoring import AREAS, EvaluationScheme, SchemeArea
from engine.runtime import Actor, Runtime
from engine.services.progress import Report, counted, step
from engine.services.schemes import METHODS, PERIOD_PATTERN, scheme_for_period


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    width: int

    @property
    def header(self) -> str:
        return f"{self.zh}\n{self.en}"  # two lines: the importer reads the Chinese first line


SCORE_COLUMNS = (
    Column("period", "期间", "period", 10), Column("group", "考核组", "group", 12),
    Column("unit_code", "单位编码", "unit code", 12), Column("unit_name", "单位名称", "unit name", 22),
    Column("category", "类别", "category", 10), Column("indicator_code", "指标编码", "indicator code", 18),
    Column("indicator_name", "指标名称", "indicator name", 18), Column("method", "计分方式", "method", 10),
    Column("max", "满分", "max", 8), Column("score", "得分", "score", 10), Column("note", "说明", "note", 40),
)
ADJUSTMENT_COLUMNS = (
    Column("period", "期间", "period", 10), Column("unit_code", "单位编码", "unit code", 12),
    Column("kind", "类型", "type", 10), Column("points", "分值", "points", 10),
    Column("reason", "事由", "reason", 40), Column("evidence", "佐证", "evidence", 40),
)
# Columns the importer cannot do without; the others are for the reader's eyes (or optional).
REQUIRED_SCORE_KEYS = ("period", "unit_code", "indicator_code", "score")
REQUIRED_ADJUSTMENT_KEYS = ("period", "unit_code", "kind", "points", "reason")
EDITABLE_SCORE_KEYS = ("score", "note")
ADJUSTMENT_SHEET = "加减分"
GUIDE_SHEET = "说明"
ADJUSTMENT_KINDS = {"like": ("点赞", "like"), "error": ("错情", "error notice")}
ADJUSTMENT_TEMPLATE_ROWS = 500  # rows of the adjustments sheet that carry validation rules
MAX_ADJUSTMENT_POINTS = Decimal(1000)

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_LOCKED_FILL = PatternFill("solid", fgColor="EDEDED")
_EDITABLE_FILL = PatternFill("solid", fgColor="FFF9E5")
_SCORE_FORMAT = "0.00"
_TEXT_FORMAT = "@"  # keeps Excel from turning 2026-03 into a date or 001 into 1


def valid_period(period: str) -> bool:
    return bool(re.fullmatch(PERIOD_PATTERN, period or ""))


def sheet_title(area_code: str) -> str:
    """The sheet of an area's evaluation group: its short Chinese name (党务, 经营, ...)."""
    return AREAS[area_code][0] if area_code in AREAS else area_code[:31]


def area_categories(area: SchemeArea) -> set[str]:
    return set(json.loads(area.categories))


def permitted_groups(session: Session, actor: Actor) -> set[str] | None:
    """The group codes whose scores the actor may enter; None means every group.

    Process owners and admins enter everything; a group's leader and members only their own group."""
    if actor.has_role("process_owner", "admin"):
        return None
    led = session.scalars(select(EvaluationGroup.code).where(EvaluationGroup.leader_id == actor.person_id))
    joined = session.scalars(select(EvaluationGroup.code).join(
        EvaluationGroupMember, EvaluationGroupMember.group_id == EvaluationGroup.id)
        .where(EvaluationGroupMember.person_id == actor.person_id))
    codes = set(led) | set(joined)
    if not codes:
        raise PermissionDenied("只有绩效办公室和考核组成员可以录入考核得分",
                               "only the performance office and evaluation group members may enter scores")
    return codes


def write_template(rt: Runtime, period: str, actor: Actor, group: str | None = None,
                   progress: Report | None = None) -> bytes:
    """The .xlsx workbook for `period`: every group the actor may score (or only `group`), pre-filled
    with the scores already entered so it can be corrected and imported again."""
    if not valid_period(period):
        raise ValidationFailed(f"期间 {period} 无效，应为 YYYY-MM", f"period {period} is not a valid YYYY-MM")
    with rt.db.reading() as session:
        allowed = permitted_groups(session, actor)
        scheme = scheme_for_period(session, period)
        areas = _chosen_areas(scheme, allowed, group)
        units = session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.category)
                                .where(OrgUnit.active.is_(True)).order_by(OrgUnit.code)).all()
        indicator_ids = [i.id for area in areas for i in area.indicators]
        query = (select(ScoreEntry.unit_id, ScoreEntry.indicator_id, ScoreEntry.value, ScoreEntry.note)
                 .where(ScoreEntry.period == period, ScoreEntry.indicator_id.in_(indicator_ids)))
        entered = {(unit_id, indicator_id): (value, note)
                   for unit_id, indicator_id, value, note in session.execute(query)}
        workbook = Workbook()
        workbook.remove(workbook.active)
        for area in counted(areas, progress, len(areas), "正在生成考核组工作表", "writing the group sheets", every=1):
            _write_area_sheet(workbook.create_sheet(sheet_title(area.code)), period, area, units, entered)
        _write_adjustment_sheet(workbook.create_sheet(ADJUSTMENT_SHEET))
        _write_guide(workbook.create_sheet(GUIDE_SHEET), period, scheme)
    step(progress, "正在保存工作簿", "saving the workbook")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _chosen_areas(scheme: EvaluationScheme, allowed: set[str] | None, group: str | None) -> list[SchemeArea]:
    areas = [a for a in scheme.areas if allowed is None or a.code in allowed]
    if group is None:
        return areas
    chosen = [a for a in areas if group in (a.code, sheet_title(a.code))]
    if chosen:
        return chosen
    if any(group in (a.code, sheet_title(a.code)) for a in scheme.areas):
        raise PermissionDenied(f"您不是考核组 {group} 的成员", f"you are not a member of evaluation group {group}")
    raise NotFound(f"方案 {scheme.name} 中没有考核组 {group}",
                   f"scheme {scheme.code} has no evaluation group {group}")


def _write_header(sheet: Worksheet, columns: tuple[Column, ...]) -> None:
    sheet.append([c.header for c in columns])
    for n, column in enumerate(columns, 1):
        cell = sheet.cell(row=1, column=n)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        sheet.column_dimensions[get_column_letter(n)].width = column.width
    sheet.row_dimensions[1].height = 32
    sheet.freeze_panes = "A2"


def _write_area_sheet(sheet: Worksheet, period: str, area: SchemeArea, units, entered: dict) -> None:
    _write_header(sheet, SCORE_COLUMNS)
    in_scope = area_categories(area)
    rules: dict[tuple[str, Decimal], list[int]] = {}  # (method, max) -> rows that follow that rule
    row = 1
    for unit_id, code, name, category in units:
        if category not in in_scope:
            continue
        for indicator in area.indicators:
            row += 1
            value, note = entered.get((unit_id, indicator.id), (None, None))
            sheet.append([period, area.code, code, name, UNIT_CATEGORIES.get(category, (category,))[0],
                          indicator.code, indicator.name, METHODS[indicator.method][0], indicator.max_score,
                          value, note])
            rules.setdefault((indicator.method, indicator.max_score), []).append(row)
    _style_rows(sheet, row)
    for (method, maximum), rows in rules.items():
        sheet.add_data_validation(_score_rule(method, maximum, _runs(rows)))
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(SCORE_COLUMNS))}{max(row, 2)}"
    # No password: protection only guards against slips; the greyed columns must come back unchanged.
    sheet.protection.sheet = True
    sheet.protection.autoFilter = sheet.protection.sort = sheet.protection.formatColumns = False


def _style_rows(sheet: Worksheet, last_row: int) -> None:
    """Grey locked identifying cells, yellow unlocked score and note cells, number and text formats."""
    if last_row < 2:
        return
    for n, column in enumerate(SCORE_COLUMNS, 1):
        cell = sheet.cell(row=2, column=n)
        if column.key in EDITABLE_SCORE_KEYS:
            cell.fill, cell.protection = _EDITABLE_FILL, Protection(locked=False)
        else:
            cell.fill = _LOCKED_FILL
        if column.key in ("max", "score"):
            cell.number_format = _SCORE_FORMAT
        elif column.key in ("period", "unit_code", "indicator_code"):
            cell.number_format = _TEXT_FORMAT
    # Setting styles through openpyxl's descriptors costs seconds for 15,000 rows; every cell of a column
    # looks the same, so the rows below copy row 2's style array (openpyxl's own copy_worksheet does this).
    prototypes = [copy(cell._style) for cell in sheet[2][:len(SCORE_COLUMNS)]]
    for cells in sheet.iter_rows(min_row=3, max_row=last_row, max_col=len(SCORE_COLUMNS)):
        for cell, style in zip(cells, prototypes):
            cell._style = copy(style)


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive row numbers folded into (first, last) ranges, so a rule's range list stays short."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _score_rule(method: str, maximum: Decimal, runs: list[tuple[int, int]]) -> DataValidation:
    top = _number(maximum)
    if method == "pass_fail":
        rule = DataValidation(type="list", formula1=f'"0,{top}"', allow_blank=True)
        rule.error = f"达标制只能填 0 或 {top}（pass/fail: 0 or {top} only）"
    else:
        rule = DataValidation(type="decimal", operator="between", formula1="0", formula2=top,
                              allow_blank=True)
        what = "扣减的分数" if method == "deduction" else "得分"
        rule.error = f"请填写{what}，0 至 {top}（a number from 0 to {top}）"
    rule.errorTitle, rule.showErrorMessage = "得分无效 invalid score", True
    letter = get_column_letter(next(n for n, c in enumerate(SCORE_COLUMNS, 1) if c.key == "score"))
    # One range string at once: adding ranges one by one checks each against all before it (quadratic).
    rule.sqref = MultiCellRange(" ".join(f"{letter}{first}:{letter}{last}" if last > first
                                         else f"{letter}{first}" for first, last in runs))
    return rule


def _write_adjustment_sheet(sheet: Worksheet) -> None:
    _write_header(sheet, ADJUSTMENT_COLUMNS)
    last = ADJUSTMENT_TEMPLATE_ROWS + 1
    kinds = ",".join(zh for zh, _ in ADJUSTMENT_KINDS.values())
    kind_rule = DataValidation(type="list", formula1=f'"{kinds}"', allow_blank=True)
    kind_rule.error = f"类型只能是 {kinds}（type: like 点赞 or error notice 错情）"
    points_rule = DataValidation(type="decimal", operator="between", formula1="0.01",
                                 formula2=_number(MAX_ADJUSTMENT_POINTS), allow_blank=True)
    points_rule.error = "分值填正数；错情会按负分记录（a positive number; error notices are stored negative）"
    for rule, letter in ((kind_rule, "C"), (points_rule, "D")):
        rule.errorTitle, rule.showErrorMessage = "输入无效 invalid value", True
        rule.add(f"{letter}2:{letter}{last}")
        sheet.add_data_validation(rule)
    # Column formats rather than formatted empty cells, so rows appended later start right under the header.
    for letter, number_format in (("A", _TEXT_FORMAT), ("B", _TEXT_FORMAT), ("D", _SCORE_FORMAT)):
        sheet.column_dimensions[letter].number_format = number_format


def _guide_lines(period: str, scheme: EvaluationScheme) -> list[str]:
    kinds = "、".join(zh for zh, _ in ADJUSTMENT_KINDS.values())
    return [
        f"{period} 考核得分录入表（score entry workbook for {period}）——方案：{scheme.name} v{scheme.version}",
        "每个考核组一张工作表，每行是一个单位的一项指标，只列出该考核组考核范围内的单位。"
        "（one sheet per evaluation group; one row per unit and indicator, only units the group scores.）",
        "只填写黄色的「得分」和「说明」两列；灰色列标识这一行，请勿修改，也不要改工作表名称和表头。"
        "（fill in only the yellow columns 得分 score and 说明 note; the grey columns identify the row: "
        "do not change them, nor the sheet names or headers.）",
        "得分制：填写得分，0 至满分；扣分制：填写扣减的分数，0 至满分；达标制：只能填 0 或满分。"
        "（points: the score, 0 to max; deduction: the points deducted, 0 to max; pass/fail: 0 or max only.）",
        "得分最多两位小数。（scores have at most two decimals.）",
        "得分为空表示尚未评分：这一行不检查、不导入，也不会清除已录入的分数。"
        "（an empty score means not yet scored: the row is skipped and never clears a score already entered.）",
        "已录入的分数和说明会预先填入，可修改后再次导入；再次导入只更新原记录，不会重复。"
        "（scores already entered are filled in; correct them and import again: entries are updated, "
        "never duplicated.）",
        f"「{ADJUSTMENT_SHEET}」表：每行一条点赞或错情，期间、单位编码、类型（{kinds}）、分值、事由必填，佐证选填；"
        "分值填正数，错情按负分记录。（adjustments sheet: one like or error notice per row; period, unit code, "
        "type, points and reason are required, evidence optional; points are positive, error notices are "
        "stored as negative points.）",
        "加减分按（期间、单位、类型、分值、事由）识别：再次导入同一文件不会重复添加；从表中删除一行不会删除已导入的"
        "加减分，如需撤销请在系统中处理。（an adjustment is identified by period, unit, type, points and reason: "
        "importing the same file again adds nothing twice; deleting a row does not delete an imported "
        "adjustment.）",
        "整个工作簿只能有一个期间。（the whole workbook holds one period.）",
        "导入是全有或全无：只要有一处错误，整个文件都不导入，并列出每处问题的工作表、行号和列。"
        "（import is all-or-nothing: if anything is wrong nothing is written, and every problem is listed "
        "with its sheet, row and column.）",
        "考核组组长和成员只能导入本组的工作表（以及加减分）；请使用本组的模板，或删除其他组的工作表。"
        "（group leaders and members may import only their own group's sheet (and adjustments); use your "
        "group's template or delete the other sheets.）",
        "工作表受保护但没有密码，只为防止误改。（the sheets are protected without a password, against slips only.）",
    ]


def _write_guide(sheet: Worksheet, period: str, scheme: EvaluationScheme) -> None:
    sheet.column_dimensions["A"].width = 120
    for line in _guide_lines(period, scheme):
        sheet.append([line])
        sheet.cell(row=sheet.max_row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.cell(row=1, column=1).font = _HEADER_FONT


def import_scores(rt: Runtime, data: bytes, filename: str, actor: Actor, progress: Report | None = None):
    """Read a filled-in workbook back, all-or-nothing; returns a ScoreImportReport.
    (The reading and writing live in score_sheets_import; this is the entry point callers know.)"""
    from engine.services.score_sheets_import import import_workbook
    return import_workbook(rt, data, filename, actor, progress)
