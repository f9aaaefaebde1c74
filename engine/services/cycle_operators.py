"""Service-task operators of the monthly and quarterly cycles: deadlines from the calendar,
scoring progress, results, and the public display of good achievements.

`kaohe/month_deadlines` turns "the 5th of next month" into a moment timers can use:

    <spiffworkflow:serviceTaskOperator id="kaohe/month_deadlines" resultVariable="deadlines">
      <spiffworkflow:parameters>
        <spiffworkflow:parameter id="period" type="str" value="period"/>
        <spiffworkflow:parameter id="deadlines" type="dict"
                                 value='{"declare_due": [1, 5], "report_meeting": [1, 15, "09:00"]}'/>
      </spiffworkflow:parameters>
    </spiffworkflow:serviceTaskOperator>

Each deadline is [months after `period`, day] (a day past the month's end is its last day, so
"the 30th" is 28 February) and means the END of that day; [months, day, "HH:MM"] is that
moment. Times are in KAOHE_TIMEZONE; the result maps each name to an ISO-8601 string with its
offset, e.g. {"declare_due": "2027-01-06T00:00:00+08:00"}, ready for a `timeDate` timer.
The offsets live in the diagram, so a process owner moves a deadline without a programmer.

`kaohe/score_progress` (period, area): how many units an evaluation group has scored completely.
`kaohe/compute_results` (label): a month's or quarter's results, summarised (the last places by
name, counts and a digest), recorded in the audit trail.
`kaohe/publish_achievements` (quarter): puts the quarter's achievement items rated 优秀/良好 on
public display (公示), with who rated them and why.
"""
from __future__ import annotations

import calendar
import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select, update

from engine.bpmn import service_operators
from engine.calendar import parse_time_of_day
from engine.errors import KaoheError
from engine.models import AchievementItem, OrgUnit, ScoreEntry
from engine.periods import months_of, shift_month
from engine.services import audit
from engine.services.operator_context import OperatorRefused, operator_context, period_param
from engine.services.org_units import active_units
from engine.services.schemes import scheme_for_period

GOOD_RATINGS = ("优秀", "良好")
MAX_DEADLINES = 50
CATEGORY_NAMES = {"production": "生产型", "non_production": "非生产型", "party_branch": "党支部"}


def _deadline(period: str, spec, zone: ZoneInfo, name: str) -> str:
    valid = (isinstance(spec, (list, tuple)) and len(spec) in (2, 3)
             and all(isinstance(n, int) and not isinstance(n, bool) for n in spec[:2])
             and -12 <= spec[0] <= 12 and 1 <= spec[1] <= 31 and (len(spec) == 2 or isinstance(spec[2], str)))
    if not valid:
        raise OperatorRefused(f"期限 {name} 应写成 [相对月数, 日] 或 [相对月数, 日, \"09:00\"]，收到 {spec!r}",
                              f"deadline {name} must be [months, day] or [months, day, \"09:00\"], not {spec!r}")
    month = shift_month(period, spec[0])
    year, number = int(month[:4]), int(month[5:])
    day = date(year, number, min(spec[1], calendar.monthrange(year, number)[1]))
    if len(spec) == 3:
        try:
            at = parse_time_of_day(spec[2])
        except ValueError:
            raise OperatorRefused(f"期限 {name} 的时刻应写成 09:00，收到 {spec[2]!r}",
                                  f"the time of deadline {name} must look like 09:00, not {spec[2]!r}") from None
        return datetime.combine(day, at, tzinfo=zone).isoformat()
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).isoformat()


@service_operators.register("kaohe/month_deadlines")
def month_deadlines(task, params: dict) -> dict:
    rt, _session, _instance = operator_context()
    period = period_param(params.get("period"))
    deadlines = params.get("deadlines")
    if not isinstance(deadlines, dict) or not deadlines or len(deadlines) > MAX_DEADLINES:
        raise OperatorRefused(f"deadlines 须为 1–{MAX_DEADLINES} 个期限的字典",
                              f"deadlines must be a dict of 1-{MAX_DEADLINES} deadlines")
    zone = ZoneInfo(rt.settings.timezone)
    return {str(name): _deadline(period, spec, zone, str(name)) for name, spec in deadlines.items()}


@service_operators.register("kaohe/score_progress")
def score_progress(task, params: dict) -> dict:
    """Units of the categories an area scores, and which of them still lack an indicator's score."""
    _rt, session, _instance = operator_context()
    period = period_param(params.get("period"))
    try:
        scheme = scheme_for_period(session, period)
    except KaoheError as error:
        raise OperatorRefused(error.text("zh"), error.text("en")) from None
    area = next((a for a in scheme.areas if a.code == params.get("area")), None)
    if area is None:
        raise OperatorRefused(f"考核方案中没有领域 {params.get('area')!r}",
                              f"the scheme has no area {params.get('area')!r}")
    units = active_units(session, json.loads(area.categories))
    indicator_ids = [indicator.id for indicator in area.indicators]
    scored = dict(session.execute(
        select(OrgUnit.code, func.count(distinct(ScoreEntry.indicator_id)))
        .join(ScoreEntry, ScoreEntry.unit_id == OrgUnit.id)
        .where(ScoreEntry.period == period, ScoreEntry.indicator_id.in_(indicator_ids))
        .group_by(OrgUnit.code)).all()) if indicator_ids else {}
    missing = [u for u in units if scored.get(u.code, 0) < len(indicator_ids)]
    return {"units": len(units), "scored": len(units) - len(missing), "missing": len(missing),
            "missing_units": [u.name for u in missing[:20]]}


@service_operators.register("kaohe/compute_results")
def compute_results(task, params: dict) -> dict:
    from engine.services import results
    rt, session, instance = operator_context()
    label = params.get("label")
    try:
        months_of(label if isinstance(label, str) else "")
        computed = results.compute(rt, label)
    except KaoheError as error:
        raise OperatorRefused(error.text("zh"), error.text("en")) from None
    last_places = [{"unit_code": u.code, "unit_name": u.name, "category": u.category,
                    "category_name": CATEGORY_NAMES.get(u.category, u.category), "branch_code": u.branch_code}
                   for u in computed.units if u.ranked and u.ranked.last_place]
    summary = {"label": label, "units_ranked": sum(1 for u in computed.units if u.ranked),
               "units_missing": sum(1 for u in computed.units if u.missing), "last_places": last_places,
               "people": len(computed.people), "shortlisted": sum(1 for p in computed.people if p.shortlisted),
               "political_failed": sum(1 for p in computed.people if p.political.failed),
               "digest": audit.digest([(u.code, str(u.fused)) for u in computed.units])}
    audit.record(session, at=rt.clock.now(), actor="system", action="results_computed", instance_id=instance.id,
                 subject=label, detail=summary)
    return summary


@service_operators.register("kaohe/publish_achievements")
def publish_achievements(task, params: dict) -> dict:
    rt, session, instance = operator_context()
    quarter = params.get("quarter")
    if not isinstance(quarter, str) or len(quarter) != 6 or quarter[4] != "Q":
        raise OperatorRefused(f"quarter 格式应为 2026Q4，收到 {quarter!r}", f"quarter must look like 2026Q4, not {quarter!r}")
    try:
        months = months_of(quarter)
    except KaoheError:
        raise OperatorRefused(f"quarter 格式应为 2026Q4，收到 {quarter!r}",
                              f"quarter must look like 2026Q4, not {quarter!r}") from None
    good = (AchievementItem.period.in_(months), AchievementItem.rating.in_(GOOD_RATINGS))
    now = rt.clock.now()
    session.execute(update(AchievementItem).where(*good, AchievementItem.published_at.is_(None))
                    .values(published_at=now))
    items, people = session.execute(select(func.count(), func.count(distinct(AchievementItem.person_id)))
                                    .where(*good)).one()
    summary = {"quarter": quarter, "items": int(items), "people": int(people)}
    audit.record(session, at=now, actor="system", action="achievements_published", instance_id=instance.id,
                 subject=quarter, detail=summary)
    return summary
