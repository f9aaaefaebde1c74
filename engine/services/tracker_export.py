"""The rectification tracker as a workbook: one row per problem, and every step of every problem.

Reads only the tracker's tables (no instance state), in write-only mode, so exporting 10,000
problems with their steps stays a matter of seconds and bounded memory."""
from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import func, select

from engine.models import OrgUnit
from engine.models.tracking import STAGES, RectificationCase as Case, RectificationStep as Step
from engine.runtime import Actor, Runtime
from engine.services.tracker import Filters, titles_of, overdue_days, visible
from engine.services.progress import Report, counted
from engine.services.xlsx_text import row_as_text

PROBLEM_HEADERS = [("编号", "no."), ("问题", "problem"), ("责任单位", "unit"), ("单位编码", "unit code"),
                   ("严重程度", "severity"), ("来源", "source"), ("检查轮次", "round"), ("审核验收人", "inspector"),
                   ("状态", "state"), ("期限", "deadline"), ("逾期天数", "days overdue"), ("佐证数", "evidence items"),
                   ("最近验收", "last verification"), ("退回次数", "reopened"), ("立项时间", "opened"),
                   ("闭环时间", "closed")]
STEP_HEADERS = [("编号", "no."), ("问题", "problem"), ("步骤", "step"), ("办理人", "who"), ("用户名", "username"),
                ("时间", "when"), ("意见及内容", "comment and content"), ("文件", "files")]
VERIFIED = {True: ("通过", "passed"), False: ("不通过", "not passed"), None: ("", "")}


def _pick(pair: tuple[str, str], language: str) -> str:
    return pair[1] if language.startswith("en") else pair[0]


def _is_file(value) -> bool:
    return isinstance(value, dict) and "sha256" in value and "name" in value


def files_of(fields: list) -> list[dict]:
    """The file references among a step's fields (one file, or a list of them)."""
    found = []
    for _key, _title, value in fields:
        for item in (value if isinstance(value, list) else [value]):
            if _is_file(item):
                found.append(item)
    return found


def text_value(value, language: str = "zh") -> str:
    """A submitted value as one line of text: yes/no, list items joined, files left out."""
    if isinstance(value, bool):
        return _pick(("是", "yes") if value else ("否", "no"), language)
    if isinstance(value, list):
        return "；".join(text_value(v, language) for v in value if not _is_file(v))
    if _is_file(value):
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def step_text(fields: list, language: str = "zh") -> str:
    lines = []
    for _key, title, value in fields:
        shown = text_value(value, language)
        if shown:
            lines.append(f"{title}：{shown}")
    return "\n".join(lines)


def export_xlsx(rt: Runtime, actor: Actor, filters: Filters | None = None, language: str = "zh",
                progress: Report | None = None) -> bytes:
    """Every problem the actor may see under the filters (all pages), then all their steps."""
    now = rt.clock.now()
    where = visible(actor, filters or Filters(), now)
    zone = ZoneInfo(rt.settings.timezone)

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    book = Workbook(write_only=True)
    problems = book.create_sheet(_pick(("整改问题", "problems"), language))
    steps = book.create_sheet(_pick(("整改步骤", "steps"), language))
    bold = Font(bold=True)

    def header(sheet, headers):
        cells = []
        for pair in headers:
            cell = WriteOnlyCell(sheet, value=_pick(pair, language))
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)

    header(problems, PROBLEM_HEADERS)
    header(steps, STEP_HEADERS)
    with rt.db.reading() as session:
        cases = session.execute(select(Case, OrgUnit.name).outerjoin(OrgUnit, OrgUnit.id == Case.unit_id)
                                .where(*where).order_by(Case.instance_id)).all()
        titles = titles_of(session, [c.round_instance_id for c, _name in cases])
        problem_of = {}
        for case, unit_name in counted(cases, progress, len(cases), "正在写入整改问题", "writing the problems"):
            problem_of[case.instance_id] = case.problem
            problems.append(row_as_text([case.instance_id, case.problem, unit_name or "", case.unit_code or "",
                             case.severity or "", case.source or "", titles.get(case.round_instance_id, ""),
                             case.inspector or "", _pick(STAGES[case.stage], language), local(case.due_at),
                             overdue_days(case.due_at, case.closed_at, now), case.evidence_count,
                             _pick(VERIFIED[case.verified], language), case.reopened, local(case.opened_at),
                             local(case.closed_at)]))
        query = (select(Step).join(Case, Case.instance_id == Step.instance_id).where(*where)
                 .order_by(Step.instance_id, Step.id).execution_options(yield_per=2000))
        steps_total = session.scalar(select(func.count()).select_from(Step).join(Case, Case.instance_id == Step.instance_id)
                                     .where(*where)) if progress else 0
        for step in counted(session.scalars(query), progress, steps_total, "正在写入整改步骤", "writing the steps"):
            fields = json.loads(step.fields)
            steps.append(row_as_text([step.instance_id, problem_of.get(step.instance_id, ""), step.name,
                                      step.actor_name or step.actor or "", step.actor or "", local(step.at),
                                      step_text(fields, language), "；".join(f["name"] for f in files_of(fields))]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
