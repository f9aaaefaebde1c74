"""Service task operators for processes that end in points: likes (点赞) and error notices (错情).

`kaohe/record_adjustment` writes one ScoreAdjustment in the same transaction as the instance's
step, so the points and the step that earned them are saved together or not at all:

    <bpmn:serviceTask id="record_reward" name="记录点赞加分">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="kaohe/record_adjustment" resultVariable="adjustment">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="unit_code" type="str" value="responsible_unit"/>
            <spiffworkflow:parameter id="period" type="str" value="period"/>
            <spiffworkflow:parameter id="points" type="float" value="reward_points"/>
            <spiffworkflow:parameter id="kind" type="str" value="'like'"/>
            <spiffworkflow:parameter id="reason" type="str" value="'指令卡按期完成：' + title"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>

Parameters: unit_code (an active unit), period (YYYY-MM), points (signed: a like > 0, an error
notice < 0, at most 100 either way), kind ("like" / "error"), reason (text); optional evidence
(text or a list of texts) and created_by (a username; default: who started the instance).
The row's source is "<process id>:<instance id>" (e.g. "instruction_card:42"); an instance
records at most one adjustment, so running the task again (a retry, a second pass) returns
the row already written instead of adding points twice.

`kaohe/calendar_day` gives diagrams the date, because scripts cannot read a clock: with no
parameter it is today by kaohe's clock (the clock tests and `kaohe run-due --now` move) in
KAOHE_TIMEZONE; with `date` (YYYY-MM-DD) that day. The result is
{"date": "2026-03-20", "starts_at": "...T00:00:00+08:00", "ends_at": "<next day>T00:00:00+08:00"},
so a timer can fire when a calendar deadline has passed (`timeDate`: `deadline_day["ends_at"]`)
and a gateway can compare dates with `days_between(deadline, today["date"])`.
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.bpmn import service_operators
from engine.models import OrgUnit, Person, ScoreAdjustment
from engine.services.operator_context import OperatorRefused, operator_context
from engine.services.result_inputs import inputs_changed

KINDS = {"like": ("点赞", "like"), "error": ("错情", "error notice")}
MAX_POINTS = Decimal(100)
MAX_REASON = 2000
MAX_EVIDENCE = 8000
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# The name the instruction card's tests and documentation know.
AdjustmentRefused = OperatorRefused
_context = operator_context


def _points(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise AdjustmentRefused(f"分值须为数字，收到 {value!r}", f"points must be a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise AdjustmentRefused("分值须为有限数字", "points must be a finite number")
    try:
        points = Decimal(str(value).strip())
    except InvalidOperation:
        raise AdjustmentRefused(f"分值须为数字，收到「{value}」", f"points must be a number, not '{value}'") from None
    if not points.is_finite():
        raise AdjustmentRefused("分值须为有限数字", "points must be a finite number")
    if abs(points) > MAX_POINTS:
        raise AdjustmentRefused(f"分值绝对值不能超过 {MAX_POINTS}", f"points must be within ±{MAX_POINTS}")
    if points != points.quantize(Decimal("0.01")):
        raise AdjustmentRefused("分值最多保留两位小数", "points may have at most two decimal places")
    return points.quantize(Decimal("0.01"))


def _text(value, name: str, zh_name: str, limit: int, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()) or value == []:
        if required:
            raise AdjustmentRefused(f"{zh_name}不能为空", f"{name} is required")
        return None
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        value = "\n".join(v.strip() for v in value if v.strip())
    if not isinstance(value, str):
        raise AdjustmentRefused(f"{zh_name}须为文字", f"{name} must be text")
    value = value.strip()
    if len(value) > limit:
        raise AdjustmentRefused(f"{zh_name}最多 {limit} 个字符", f"{name} must be at most {limit} characters")
    return value


@service_operators.register("kaohe/record_adjustment")
def record_adjustment(task, params: dict) -> dict:
    """Write a like or an error notice for a unit; see the module docstring for the parameters."""
    rt, session, instance = _context()
    unexpected = sorted(set(params) - {"unit_code", "period", "points", "kind", "reason", "evidence", "created_by"})
    if unexpected:
        raise AdjustmentRefused(f"未知参数：{'、'.join(unexpected)}", f"unknown parameters: {', '.join(unexpected)}")
    kind = params.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise AdjustmentRefused(f"类型须为 like（点赞）或 error（错情），收到 {kind!r}",
                                f"kind must be 'like' or 'error', not {kind!r}")
    period = params.get("period")
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise AdjustmentRefused(f"期间格式应为 2026-03，收到 {period!r}", f"period must look like 2026-03, not {period!r}")
    points = _points(params.get("points"))
    if kind == "like" and points <= 0:
        raise AdjustmentRefused(f"点赞分值须为正数，收到 {points}", f"a like must have positive points, not {points}")
    if kind == "error" and points >= 0:
        raise AdjustmentRefused(f"错情分值须为负数，收到 {points}",
                                f"an error notice must have negative points, not {points}")
    reason = _text(params.get("reason"), "reason", "事由", MAX_REASON, required=True)
    evidence = _text(params.get("evidence"), "evidence", "佐证", MAX_EVIDENCE, required=False)
    unit_code = params.get("unit_code")
    if not isinstance(unit_code, str) or not unit_code.strip():
        raise AdjustmentRefused("单位编码不能为空", "unit_code is required")
    unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == unit_code.strip(), OrgUnit.active.is_(True)))
    if unit_id is None:
        raise AdjustmentRefused(f"单位 {unit_code} 不存在或已停用", f"unit {unit_code} does not exist or is inactive")
    created_by = params.get("created_by") or instance.started_by
    if not isinstance(created_by, str) or len(created_by) > 64:
        raise AdjustmentRefused("记录人须为用户名", "created_by must be a username")
    if params.get("created_by") and session.scalar(select(Person.id).where(Person.username == created_by)) is None:
        raise AdjustmentRefused(f"用户 {created_by} 不存在", f"user {created_by} does not exist")

    source = f"{instance.process_id}:{instance.id}"[:128]
    existing = session.scalar(select(ScoreAdjustment).where(ScoreAdjustment.source == source)
                              .order_by(ScoreAdjustment.id).limit(1))
    if existing is not None:  # the same instance ran this step again: never count the points twice
        return _result(existing, created=False)
    row = ScoreAdjustment(period=period, unit_id=unit_id, person_id=None, kind=kind, points=points, reason=reason,
                          evidence=evidence, source=source, created_by=created_by, created_at=rt.clock.now())
    session.add(row)
    inputs_changed(session, period)
    session.flush()
    return _result(row, created=True)


def _result(row: ScoreAdjustment, *, created: bool) -> dict:
    return {"id": row.id, "kind": row.kind, "points": str(Decimal(row.points).quantize(Decimal("0.01"))),
            "period": row.period, "source": row.source, "created": created}


@service_operators.register("kaohe/calendar_day")
def calendar_day(task, params: dict) -> dict:
    """A calendar day in KAOHE_TIMEZONE: today by kaohe's clock, or the given `date`."""
    rt, _session, _instance = _context()
    zone = ZoneInfo(rt.settings.timezone)
    given = params.get("date")
    if given in (None, ""):
        day = rt.clock.now().astimezone(zone).date()
    else:
        try:
            day = given if isinstance(given, date) and not isinstance(given, datetime) else date.fromisoformat(str(given))
        except ValueError:
            raise AdjustmentRefused(f"日期格式应为 2026-03-20，收到 {given!r}",
                                    f"a date looks like 2026-03-20, not {given!r}") from None
    starts = datetime.combine(day, time(0), tzinfo=zone)
    ends = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return {"date": day.isoformat(), "starts_at": starts.isoformat(), "ends_at": ends.isoformat()}
