"""Results as a terminal table, JSON, CSV or a spreadsheet: one set of columns for every format."""
from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from tabulate import tabulate

from engine.models.org import UNIT_CATEGORIES
from engine.models.scoring import AREAS
from engine.services.progress import Report, counted, step
from engine.services.results import PersonResult, Results, UnitResult
from engine.services.xlsx_text import row_as_text

YES = {"zh": "是", "en": "yes"}


def _pick(pair: tuple[str, str], language: str) -> str:
    return pair[1] if language.startswith("en") else pair[0]


def _flag(value: bool, language: str) -> str:
    return YES["en" if language.startswith("en") else "zh"] if value else ""


def unit_columns(results: Results, language: str = "zh") -> list[str]:
    quarter = len(results.months) > 1
    headers = [("单位编码", "unit"), ("单位名称", "name"), ("类别", "category")]
    headers += [(f"{zh}得分", f"{en} score") for zh, en in AREAS.values()]
    headers += [("加减分", "adjustments"), ("自身得分", "own score"), ("融合得分", "fused score"),
                ("类别内排名", "rank in category"), ("参评单位数", "units ranked")]
    if quarter:
        headers += [("正职奖罚(元)", "head (yuan)"), ("副职奖罚(元)", "deputy (yuan)"), ("员工奖金浮动%", "staff %")]
    else:
        headers += [("正职奖金浮动%", "head %"), ("副职奖金浮动%", "deputy %")]
    headers += [("末位讲评", "last place"), ("择优入围", "shortlisted"), ("连续满分", "full marks streak"),
                ("未评指标", "not yet scored")]
    return [_pick(h, language) for h in headers]


def unit_row(result: UnitResult, quarter: bool, language: str = "zh") -> list:
    ranked = result.ranked
    row = [result.code, result.name, _pick(UNIT_CATEGORIES.get(result.category, (result.category,) * 2), language)]
    row += [result.area_scores.get(code) for code in AREAS]
    row += [result.adjustments, result.own, result.fused, ranked.rank if ranked else None,
            ranked.size if ranked else None]
    if quarter:
        reward = result.quarterly
        row += [reward.head_yuan, reward.deputy_yuan, reward.staff_pct] if reward else [None] * 3
    else:
        reward = result.monthly
        row += [reward.head_pct, reward.deputy_pct] if reward else [None] * 2
    row += [_flag(bool(ranked and ranked.last_place), language), _flag(result.shortlisted, language),
            _flag(result.full_marks_streak, language), len(result.missing) or None]
    return row


def person_columns(language: str = "zh") -> list[str]:
    headers = [("用户名", "username"), ("姓名", "name"), ("单位编码", "unit"), ("评价得分", "rated score"),
               ("评价完整", "complete"), ("缺少的评价人", "missing raters"), ("政治素质扣分", "political deduction"),
               ("政治素质不合格", "failed political check"), ("加减分", "adjustments"), ("个人得分", "score"),
               ("择优入围", "shortlisted"), ("连续满分", "full marks streak")]
    return [_pick(h, language) for h in headers]


def person_row(result: PersonResult, language: str = "zh") -> list:
    return [result.username, result.name, result.unit_code, result.rating.score,
            _flag(result.rating.complete, language), "、".join(result.rating.missing_roles) or None,
            result.political.deduction or None, _flag(result.political.failed, language), result.adjustments or None,
            result.score, _flag(result.shortlisted, language), _flag(result.full_marks_streak, language)]


def _tables(results: Results, language: str):
    quarter = len(results.months) > 1
    units = [unit_row(u, quarter, language) for u in sorted(results.units, key=_unit_order)]
    people = [person_row(p, language) for p in results.people]
    return (unit_columns(results, language), units), (person_columns(language), people)


def _unit_order(result: UnitResult):
    return (list(UNIT_CATEGORIES).index(result.category) if result.category in UNIT_CATEGORIES else 9,
            result.ranked.rank if result.ranked else 10**9, result.code)


def render_table(results: Results, language: str = "zh") -> str:
    """Aligned text for a terminal (Chinese characters count double width)."""
    (unit_head, units), (person_head, people) = _tables(results, language)
    units, people = _two_places(units), _two_places(people)
    title = f"{results.label} · {results.scheme_code} v{results.scheme_version}"
    parts = [title, tabulate(units, unit_head, tablefmt="simple", missingval="-", disable_numparse=True,
                             floatfmt=".2f")]
    if people:
        parts.append(tabulate(people, person_head, tablefmt="simple", missingval="-", disable_numparse=True))
    return "\n\n".join(parts) + "\n"


def _two_places(rows: list[list]) -> list[list]:
    return [[f"{v:.2f}" if isinstance(v, Decimal) else v for v in row] for row in rows]


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


def to_json(results: Results, language: str = "zh") -> str:
    (unit_head, units), (person_head, people) = _tables(results, language)
    document = {"period": results.label, "months": results.months,
                "scheme": {"code": results.scheme_code, "version": results.scheme_version},
                "units": [dict(zip(unit_head, map(_plain, row))) for row in units],
                "people": [dict(zip(person_head, map(_plain, row))) for row in people]}
    return json.dumps(document, ensure_ascii=False, indent=2)


def write_csv(results: Results, path: Path, language: str = "zh") -> list[Path]:
    """Units to PATH; people, if any, to PATH-people.csv. UTF-8 with a BOM so Excel reads Chinese."""
    (unit_head, units), (person_head, people) = _tables(results, language)
    written = []
    for target, head, rows in ((path, unit_head, units),
                               (path.with_name(f"{path.stem}-people{path.suffix}"), person_head, people)):
        if target != path and not rows:
            continue
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(head)
        writer.writerows([[_plain(v) for v in row] for row in rows])
        target.write_text(buffer.getvalue(), encoding="utf-8-sig")
        written.append(target)
    return written


def write_xlsx(results: Results, path: Path, language: str = "zh", progress: Report | None = None) -> Path:
    (unit_head, units), (person_head, people) = _tables(results, language)
    book = Workbook()
    sheets = [(book.active, _pick(("单位", "units"), language), unit_head, units)]
    if people:
        sheets.append((book.create_sheet(), _pick(("个人", "people"), language), person_head, people))
    for sheet, title, head, rows in sheets:
        sheet.title = title
        sheet.append(head)
        for row in counted(rows, progress, len(rows), f"正在写入工作表「{title}」", f"writing sheet {title}"):
            sheet.append(row_as_text(float(v) if isinstance(v, Decimal) else v for v in row))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for index, header in enumerate(head, 1):
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = max(10, len(header) * 2 + 2)
            for cell in sheet[letter][1:]:
                if isinstance(cell.value, float):
                    cell.number_format = "0.00"
    step(progress, "正在保存工作簿", "saving the workbook")
    book.save(path)
    return path
