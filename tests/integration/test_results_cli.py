"""`kaohe results` as an operator uses it: a readable table, JSON, CSV for Excel, and a spreadsheet."""
from __future__ import annotations

import csv
import json

from openpyxl import load_workbook
from wcwidth import wcswidth

from tests.support.cli import cli_runner
from tests.support.scoring import MARCH, score


def kaohe(org, *args):
    """`kaohe results ARGS` against the test database."""
    return cli_runner(org.settings.database_url)("results", *args)


def test_table_is_aligned_in_a_terminal_with_chinese_text(org):
    score(org, "2026-03", MARCH)
    result = kaohe(org, "--period", "2026-03")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("单位编码"))
    rows = [line for line in lines if line.startswith(("D1 ", "E2 "))]
    assert "融合得分" in header and "90.80" in rows[0] and "是" in rows[1]  # D1's fused score; E2 last place
    # columns line up on screen: the fused score starts where its header does (Chinese counts double)
    assert wcswidth(rows[0][:rows[0].index("90.80")]) == wcswidth(header[:header.index("融合得分")])


def test_json_and_english_headers(org):
    score(org, "2026-03", MARCH)
    document = json.loads(kaohe(org, "--period", "2026-03", "--format", "json", "--lang", "en").stdout)
    d1 = next(u for u in document["units"] if u["unit"] == "D1")
    assert (d1["fused score"], d1["rank in category"], d1["head %"]) == ("90.80", 1, "20")
    assert document["scheme"] == {"code": "simple", "version": 1}


def test_csv_opens_in_excel_and_xlsx_has_headers_and_number_formats(org, tmp_path):
    score(org, "2026-03", MARCH)
    target = tmp_path / "march.csv"
    assert kaohe(org, "--period", "2026-03", "--format", "csv", "-o", str(target)).returncode == 0
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8 Chinese
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert {r["单位编码"]: r["融合得分"] for r in rows}["D2"] == "82.40"
    book_path = tmp_path / "march.xlsx"
    assert kaohe(org, "--period", "2026-03", "--format", "xlsx", "-o", str(book_path)).returncode == 0
    sheet = load_workbook(book_path).active
    headers = [c.value for c in sheet[1]]
    fused = headers.index("融合得分") + 1
    d1 = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "D1")
    assert sheet[1][0].font.bold and sheet.freeze_panes == "A2"
    assert d1[fused - 1].value == 90.8 and d1[fused - 1].number_format == "0.00"


def test_a_quarter_and_bad_input(org):
    for month in ("2026-01", "2026-02", "2026-03"):
        score(org, month, MARCH)
    quarter = kaohe(org, "--quarter", "2026Q1")
    assert quarter.returncode == 0 and "正职奖罚(元)" in quarter.stdout
    wrong = kaohe(org, "--period", "2026-13")
    assert wrong.returncode == 1 and "2026-03 或 2026Q1" in wrong.stderr and "Traceback" not in wrong.stderr
    both = kaohe(org, "--period", "2026-03", "--quarter", "2026Q1")
    assert both.returncode == 2 and "exactly one" in both.stderr
