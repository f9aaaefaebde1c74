"""Writing the organisation spreadsheets (engine/services/org_sheets.py reads them): the CSV per
table, and the workbook with a bold frozen header, column widths that fit Chinese text and the
explanation sheet; rows are streamed so 100,000 people do not fill memory."""
from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from wcwidth import wcswidth

from engine.services.org_sheets import COLUMNS, EXPLANATION_SHEET, GENERAL_NOTES, TABLE_NAMES
from engine.services.progress import Report, counted, step


def header_texts(kind: str, language: str) -> list[str]:
    return [c.key if language.startswith("en") else c.zh for c in COLUMNS[kind]]


def write_csv(path: Path, headers: list[str], rows: list[list[str]], progress: Report | None = None) -> None:
    # With a byte-order mark, so Excel shows the Chinese instead of guessing an ANSI code page.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(counted(rows, progress, len(rows), f"正在写入 {path.name}", f"writing {path.name}"))


def write_xlsx(path: Path, sheets: list[tuple[str, list[str], list[list[str]]]], *,
               explanation: bool, progress: Report | None = None) -> None:
    """One sheet per (title, headers, rows): bold frozen header, widths that fit the text."""
    workbook = Workbook(write_only=True)  # streams rows to disk; 100,000 people do not fill memory
    for title, headers, rows in sheets:
        _write_sheet(workbook.create_sheet(title), headers,
                     counted(rows, progress, len(rows), f"正在写入工作表「{title}」", f"writing sheet {title}"),
                     rows)
    if explanation:
        _write_explanation(workbook.create_sheet(EXPLANATION_SHEET[0]))
    step(progress, "正在保存工作簿", "saving the workbook")
    workbook.save(path)


def _bold_row(sheet, texts: list[str]) -> list[WriteOnlyCell]:
    cells = [WriteOnlyCell(sheet, value=text) for text in texts]
    for cell in cells:
        cell.font = Font(bold=True)
    return cells


def _write_sheet(sheet, headers: list[str], rows, measured: list[list[str]]) -> None:
    """`rows` are written (an iterator that reports progress); `measured` sizes the columns."""
    for index, header in enumerate(headers):
        # Display width: a Chinese character takes two columns. Capped so one long name does not dominate.
        widest = max([wcswidth(header)] + [wcswidth(row[index]) for row in measured])
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(widest + 2, 10), 60)
    sheet.freeze_panes = "A2"
    sheet.append(_bold_row(sheet, headers))
    for row in rows:
        sheet.append(row)


def _write_explanation(sheet) -> None:
    """Table, header, English header, required, explanation (in Chinese, English in brackets); then notes."""
    for letter, width in zip("ABCDE", (16, 16, 16, 18, 100), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    sheet.append(_bold_row(sheet, ["表（table）", "列名（header）", "英文列名（English header）", "必填（required）",
                                   "说明（explanation）"]))
    wrapped = Alignment(wrap_text=True, vertical="top")
    for kind, columns in COLUMNS.items():
        for c in columns:
            required = "必填（required）" if c.required else "选填（optional）"
            table = "{}（{}）".format(*TABLE_NAMES[kind])
            cells = [WriteOnlyCell(sheet, value=value)
                     for value in (table, c.zh, c.key, required, f"{c.explain_zh}（{c.explain_en}）")]
            cells[-1].alignment = wrapped
            sheet.append(cells)
    sheet.append([])
    sheet.append(_bold_row(sheet, ["注意事项（notes）"]))
    for zh, en in GENERAL_NOTES:
        sheet.append([f"{zh}（{en}）"])
