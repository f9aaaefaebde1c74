"""Reading a filled-in score workbook back: every problem collected with its sheet, row and column,
then all of it written in one unit of work, or nothing at all.

Built for a sheet of 1,000 units x 15 indicators: units, indicators and the period's existing
entries are loaded into dicts once, and entries are written with one bulk upsert."""
from __future__ import annotations

import io
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine import limits
from engine.errors import Message, NotFound, ValidationFailed
from engine.models import EvaluationGroup, OrgUnit, ScoreAdjustment, ScoreEntry
from engine.models.scoring import AREAS
from engine.runtime import Actor, Runtime
from engine.services import audit
from engine.services.progress import Report, step
from engine.services.result_inputs import inputs_changed
from engine.services.schemes import scheme_for_period
from engine.services.score_sheets import (ADJUSTMENT_COLUMNS, ADJUSTMENT_SHEET, GUIDE_SHEET,
                                          REQUIRED_ADJUSTMENT_KEYS, REQUIRED_SCORE_KEYS, SCORE_COLUMNS,
                                          permitted_groups, sheet_title, valid_period)
from engine.services.score_sheets_rows import (ReadRows, SheetProblem, cell_text, check_adjustment_row,
                                               check_score_row)

SOURCE_PREFIX = "score_sheet:"


class ScoreSheetRejected(ValidationFailed):
    """The workbook was refused; `problems` lists every problem, `field_errors` keys them as 党务!J5."""

    def __init__(self, problems: list[SheetProblem]):
        field_errors: dict[str, Message] = {}
        for problem in problems:
            key, n = problem.key, 1
            while key in field_errors:
                n += 1
                key = f"{problem.key}#{n}"
            field_errors[key] = problem.message
        super().__init__(f"成绩表有 {len(problems)} 处问题，未导入任何数据",
                         f"the score workbook has {len(problems)} problem(s); nothing was imported",
                         field_errors=field_errors)
        self.problems = problems


@dataclass
class EntryCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    blank: int = 0  # rows left without a score: not scored yet


@dataclass
class ScoreImportReport:
    filename: str
    period: str | None
    groups: dict[str, EntryCounts] = field(default_factory=dict)
    adjustments_new: int = 0
    adjustments_existing: int = 0  # already imported before (same period, unit, type, points, reason)

    def lines(self, language: str = "zh") -> list[str]:
        english = language.startswith("en")
        lines = [f"{self.filename}: period {self.period or '-'}" if english
                 else f"{self.filename}：期间 {self.period or '-'}"]
        for code, c in self.groups.items():
            if english:
                lines.append(f"  {AREAS.get(code, (code, code))[1]}: {c.new} new, {c.updated} updated, "
                             f"{c.unchanged} unchanged, {c.blank} blank")
            else:
                lines.append(f"  {AREAS.get(code, (code, code))[0]}：新增 {c.new}，更新 {c.updated}，"
                             f"未变 {c.unchanged}，未评分 {c.blank}")
        new, existing = self.adjustments_new, self.adjustments_existing
        lines.append(f"  adjustments: {new} new, {existing} already imported" if english
                     else f"  加减分：新增 {new}，已导入过 {existing}")
        return lines


@dataclass(frozen=True)
class _Unit:
    id: int
    category: str
    active: bool


def import_workbook(rt: Runtime, data: bytes, filename: str, actor: Actor,
                    progress: Report | None = None) -> ScoreImportReport:
    now = rt.clock.now()
    with rt.db.reading() as session:
        allowed = permitted_groups(session, actor)  # outsiders are refused before the file is even read
        group_names = dict(session.execute(select(EvaluationGroup.name, EvaluationGroup.code)).all())
    # Parse the file outside the write transaction: on SQLite that transaction holds the database lock.
    refused = limits.workbook_problem(rt.settings, filename, data)  # a zip bomb is never opened
    if refused is not None:
        raise ScoreSheetRejected([SheetProblem(filename, None, None, None, refused.zh, refused.en)])
    rows = ReadRows(_open(data), progress, max_rows=rt.settings.max_sheet_rows)
    try:
        sheets = _classify_sheets(rows, group_names, allowed)
    finally:
        rows.close()  # every row is in memory now; let go of the file
    period = _workbook_period(rows)
    step(progress, "正在核对并写入成绩", "checking and writing the scores")
    with rt.db.unit_of_work() as session:
        scheme = _scheme(session, period, rows)
        units = {code: _Unit(i, category, active) for i, code, category, active in session.execute(
            select(OrgUnit.id, OrgUnit.code, OrgUnit.category, OrgUnit.active))}
        scores = _check_scores(rows, sheets, scheme, units)
        adjustments = _check_adjustments(rows, units)
        if rows.problems:
            raise ScoreSheetRejected(rows.problems)
        report = ScoreImportReport(filename, period,
                                   {code: EntryCounts(blank=rows.blank[code]) for code in sheets.values()})
        if period is not None:
            _write_scores(session, period, scores, report, actor.username, now)
            _write_adjustments(session, period, adjustments, report, actor.username, now, filename)
            inputs_changed(session, period)
        audit.record(session, at=now, actor=actor, action="scores_import", subject=filename,
                     detail={"period": period, "groups": {k: vars(v) for k, v in report.groups.items()},
                             "adjustments": {"new": report.adjustments_new,
                                             "existing": report.adjustments_existing}},
                     data=[list(row.digest_row()) for row in [*scores, *adjustments]])
    return report


def _open(data: bytes):
    try:
        with warnings.catch_warnings():
            # Excel-made files carry extensions openpyxl cannot keep (and says so); values need none of them.
            warnings.simplefilter("ignore")
            # read_only streams rows instead of building a cell object per cell: 15,000 rows stay cheap.
            return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors alike for what is not a workbook
        raise ValidationFailed("无法作为 .xlsx 工作簿读取（.xls 请另存为 .xlsx），未导入任何数据",
                               "cannot be read as an .xlsx workbook (save .xls files as .xlsx); "
                               "nothing was imported") from exc


def _classify_sheets(rows: ReadRows, group_names: dict[str, str], allowed: set[str] | None) -> dict[str, str]:
    """Sheet title -> the area code it scores, for the sheets that are group sheets and may be imported."""
    by_title = {**{sheet_title(code): code for code in AREAS}, **{code: code for code in AREAS},
                **group_names}
    accepted = {}
    for title in rows.titles:
        if title == GUIDE_SHEET:
            continue
        if title == ADJUSTMENT_SHEET:
            rows.read(title, ADJUSTMENT_COLUMNS, REQUIRED_ADJUSTMENT_KEYS)
            continue
        code = by_title.get(title.strip())
        if code is None:
            rows.sheet_problem(title, f"不是考核组的表，也不是「{ADJUSTMENT_SHEET}」或「{GUIDE_SHEET}」",
                               f"neither an evaluation group's sheet nor '{ADJUSTMENT_SHEET}' or "
                               f"'{GUIDE_SHEET}'")
        elif allowed is not None and code not in allowed:
            rows.sheet_problem(title, f"您不是考核组「{sheet_title(code)}」的成员，不能导入这张工作表",
                               f"you are not a member of the {AREAS[code][1]} group and may not import "
                               "this sheet")
        elif rows.read(title, SCORE_COLUMNS, REQUIRED_SCORE_KEYS):
            accepted[title] = code
    return accepted


def _counted_rows(rows: ReadRows):
    """The rows that carry data: score rows with a score, and every non-empty adjustment row."""
    for title, table in rows.tables.items():
        for number, values in table.rows:
            if title == ADJUSTMENT_SHEET or table.value(values, "score") is not None:
                yield table, number, values


def _workbook_period(rows: ReadRows) -> str | None:
    """The one period of the workbook: the first valid one; any other period is a problem."""
    period = None
    for table, number, values in _counted_rows(rows):
        raw = table.value(values, "period")
        text = f"{raw.year:04d}-{raw.month:02d}" if isinstance(raw, date) else cell_text(raw)
        if not valid_period(text):
            table.problem(number, "period", f"期间「{text}」无效，应为 YYYY-MM（如 2026-03）",
                          f"period '{text}' is not a valid YYYY-MM (e.g. 2026-03)")
        elif period is None:
            period, rows.period_cell = text, (table, number)
        elif text != period:
            table.problem(number, "period", f"期间 {text} 与本工作簿的期间 {period} 不同；一个工作簿只能有一个期间",
                          f"period {text} differs from the workbook's period {period}; "
                          "a workbook holds one period")
    return period


def _scheme(session: Session, period: str | None, rows: ReadRows):
    if period is None:
        return None
    try:
        return scheme_for_period(session, period)
    except NotFound:
        table, number = rows.period_cell
        table.problem(number, "period", f"{period} 没有适用的考核方案", f"no evaluation scheme applies to {period}")
        return None


@dataclass(frozen=True)
class _ScoreRow:
    group: str
    unit_id: int
    unit_code: str
    indicator_id: int
    indicator_code: str
    value: Decimal
    note: str | None

    def digest_row(self) -> tuple:
        return ("score", self.group, self.unit_code, self.indicator_code, str(self.value), self.note)


def _check_scores(rows: ReadRows, sheets: dict[str, str], scheme, units: dict[str, _Unit]) -> list[_ScoreRow]:
    if scheme is None:
        return []
    indicators = {i.code: (area, i) for area in scheme.areas for i in area.indicators}
    areas = {area.code: area for area in scheme.areas}
    accepted: list[_ScoreRow] = []
    first_row: dict[tuple[int, int], tuple[str, int]] = {}  # (unit, indicator) -> (sheet, row) first seen
    for title, code in sheets.items():
        table = rows.tables[title]
        if code not in areas:
            rows.sheet_problem(title, f"{scheme.name} 中没有考核组「{sheet_title(code)}」",
                               f"the scheme {scheme.code} has no {AREAS[code][1]} group")
            continue
        for number, values in table.rows:
            checked = check_score_row(table, number, values, areas[code], indicators, units)
            if checked is None:
                if table.value(values, "score") is None:
                    rows.blank[code] += 1
                continue
            unit, indicator, value, note = checked
            key = (unit.id, indicator.id)
            if key in first_row:
                sheet, row = first_row[key]
                unit_code = table.text(values, "unit_code")
                table.problem(number, "indicator_code",
                              f"单位 {unit_code} 的指标 {indicator.code} 重复，与「{sheet}」第 {row} 行相同",
                              f"unit {unit_code}, indicator {indicator.code} repeated "
                              f"(first on sheet {sheet}, row {row})")
                continue
            first_row[key] = (title, number)
            accepted.append(_ScoreRow(code, unit.id, table.text(values, "unit_code"), indicator.id,
                                      indicator.code, value, note))
    return accepted


@dataclass(frozen=True)
class _AdjustmentRow:
    unit_id: int
    unit_code: str
    kind: str
    points: Decimal  # signed: error notices negative
    reason: str
    evidence: str | None

    @property
    def identity(self) -> tuple:
        return (self.unit_id, self.kind, self.points, self.reason)

    def digest_row(self) -> tuple:
        return ("adjustment", self.unit_code, self.kind, str(self.points), self.reason, self.evidence)


def _check_adjustments(rows: ReadRows, units: dict[str, _Unit]) -> list[_AdjustmentRow]:
    table = rows.tables.get(ADJUSTMENT_SHEET)
    if table is None:
        return []
    accepted = []
    for number, values in table.rows:
        checked = check_adjustment_row(table, number, values, units)
        if checked is not None:
            unit, kind, points, reason, evidence = checked
            signed = points if kind == "like" else -points  # an error notice is stored as negative points
            accepted.append(_AdjustmentRow(unit.id, table.text(values, "unit_code"), kind, signed, reason,
                                           evidence))
    return accepted


def _upsert(session: Session):
    """INSERT ... ON CONFLICT (period, unit, indicator) DO UPDATE: two imports racing for the same
    entries both succeed (the later one wins) instead of one failing on the unique constraint."""
    table = ScoreEntry.__table__
    dialect = session.get_bind().dialect.name
    statement = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[dialect](table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.period, table.c.unit_id, table.c.indicator_id],
        set_={name: statement.excluded[name] for name in ("value", "note", "entered_by", "entered_at")})


def _write_scores(session: Session, period: str, scores: list[_ScoreRow], report: ScoreImportReport,
                  username: str, now) -> None:
    indicator_ids = sorted({s.indicator_id for s in scores})
    query = (select(ScoreEntry.unit_id, ScoreEntry.indicator_id, ScoreEntry.value, ScoreEntry.note)
             .where(ScoreEntry.period == period, ScoreEntry.indicator_id.in_(indicator_ids)))
    existing = {(unit_id, indicator_id): (Decimal(value), note)
                for unit_id, indicator_id, value, note in session.execute(query)}
    changed = []
    for score in scores:
        counts = report.groups.setdefault(score.group, EntryCounts())
        before = existing.get((score.unit_id, score.indicator_id))
        if before == (score.value, score.note):
            counts.unchanged += 1
            continue
        if before is None:
            counts.new += 1
        else:
            counts.updated += 1
        changed.append({"period": period, "unit_id": score.unit_id, "indicator_id": score.indicator_id,
                        "value": score.value, "note": score.note, "entered_by": username, "entered_at": now})
    if changed:
        session.connection().execute(_upsert(session), changed)


def _write_adjustments(session: Session, period: str, adjustments: list[_AdjustmentRow],
                       report: ScoreImportReport, username: str, now, filename: str) -> None:
    # Multiset semantics: a sheet with two identical rows adds two, and importing it again adds none.
    query = (select(ScoreAdjustment.unit_id, ScoreAdjustment.kind, ScoreAdjustment.points,
                    ScoreAdjustment.reason)
             .where(ScoreAdjustment.period == period, ScoreAdjustment.person_id.is_(None)))
    already = Counter((unit_id, kind, Decimal(points), reason)
                      for unit_id, kind, points, reason in session.execute(query))
    new = []
    for adjustment in adjustments:
        if already[adjustment.identity] > 0:
            already[adjustment.identity] -= 1
            report.adjustments_existing += 1
            continue
        new.append({"period": period, "unit_id": adjustment.unit_id, "person_id": None,
                    "kind": adjustment.kind, "points": adjustment.points, "reason": adjustment.reason,
                    "evidence": adjustment.evidence, "source": (SOURCE_PREFIX + filename)[:128],
                    "created_by": username, "created_at": now})
    if new:
        session.connection().execute(insert(ScoreAdjustment.__table__), new)
    report.adjustments_new = len(new)
