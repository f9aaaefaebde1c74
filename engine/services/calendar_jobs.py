"""Fire the calendar's meetings and checks exactly once, in order, catching up after downtime.

Each firing inserts its (job, scheduled time) row and does its work in ONE transaction: a second
scheduler process, a restart or a repeated `kaohe run-due` finds the row (unique constraint)
and does nothing; a firing whose work fails leaves no row and is tried again next time, before
any later firing. Firings missed while nothing ran are caught up at the next run (at most
CATCH_UP_LIMIT back) and recorded as late in the audit trail.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from engine.calendar import Firing, firings_between, parse_time_of_day
from engine.errors import KaoheError
from engine.models import ProcessInstance, ScheduledFiring
from engine.periods import last_month, month_of, quarter_of, shift_month
from engine.runtime import SCHEDULER, Runtime
from engine.services.deploy import find_latest_version
from engine.services.org_units import active_units
from engine.services import audit

log = logging.getLogger(__name__)
CATCH_UP_LIMIT = timedelta(days=92)
LATE_AFTER = timedelta(minutes=1)
ANCHOR = "calendar_started"


@dataclass(frozen=True)
class Outcome:
    firing: Firing
    status: str  # done / skipped / claimed_elsewhere
    detail: dict


def _start_once(rt: Runtime, session, version, business_key: str, data: dict, title: str) -> bool:
    from engine.services.instances import start_in_session
    if session.scalar(select(ProcessInstance.id).where(ProcessInstance.business_key == business_key)):
        return False
    start_in_session(rt, session, version, SCHEDULER.username, data=data, title=title, business_key=business_key)
    return True


def _issue_tasks(rt: Runtime, session, firing: Firing) -> tuple[str, dict]:
    """The 30th: next month's cycle, or (until it ships) each unit's task book, starts."""
    month = shift_month(month_of(firing.scheduled_for, rt.settings.timezone), 1)
    cycle = find_latest_version(session, "monthly_cycle")
    if cycle is not None:
        started = _start_once(rt, session, cycle, f"monthly_cycle:{month}", {"period": month}, f"{month} 月度考核")
        return "done", {"period": month, "monthly_cycle": started}
    task_book = find_latest_version(session, "task_book")
    if task_book is None:
        return "skipped", {"period": month, "reason": "neither monthly_cycle nor task_book is deployed"}
    units = active_units(session, ("production", "non_production"))
    started = sum(_start_once(rt, session, task_book, f"task_book:{month}:{u.code}",
                              {"unit_code": u.code, "branch_code": u.branch_code, "period": month},
                              f"{u.name} {month} 月度任务书") for u in units)
    return "done", {"period": month, "task_books_started": started}


def _publish_results(rt: Runtime, session, firing: Firing) -> tuple[str, dict]:
    """The 15th: last month's results are published (recorded with a digest and the last places)."""
    from engine.services import results
    month = last_month(firing.scheduled_for, rt.settings.timezone)
    try:
        computed = results.compute(rt, month)
    except KaoheError as error:
        return "skipped", {"period": month, "reason": error.text("en")}
    last = sorted(u.code for u in computed.units if u.ranked and u.ranked.last_place)
    ranked = sum(1 for u in computed.units if u.ranked)
    return "done", {"period": month, "units_ranked": ranked, "last_places": last,
                    "digest": audit.digest([(u.code, str(u.fused)) for u in computed.units])}


def _start_quarter(rt: Runtime, session, firing: Firing) -> tuple[str, dict]:
    quarter = quarter_of(firing.scheduled_for, rt.settings.timezone)
    cycle = find_latest_version(session, "quarterly_cycle")
    if cycle is None:
        return "skipped", {"quarter": quarter, "reason": "quarterly_cycle is not deployed"}
    started = _start_once(rt, session, cycle, f"quarterly_cycle:{quarter}", {"quarter": quarter}, f"{quarter} 季度评价")
    return "done", {"quarter": quarter, "quarterly_cycle": started}


def _xun_reminder(rt: Runtime, session, firing: Firing) -> tuple[str, dict]:
    local = firing.scheduled_for.astimezone(ZoneInfo(rt.settings.timezone))
    return "done", {"date": local.date().isoformat()}


ACTIONS = {"task_issuing_meeting": _issue_tasks, "results_report_meeting": _publish_results,
           "quarter_end": _start_quarter, "xun_spot_check": _xun_reminder}


def _fire(rt: Runtime, firing: Firing, now: datetime) -> Outcome:
    late = max(0, int((now - firing.scheduled_for).total_seconds()))
    try:
        with rt.db.unit_of_work() as session:
            # The claim first: a concurrent claimer blocks here (PostgreSQL) or queued before us (SQLite).
            row_id = session.execute(insert(ScheduledFiring).values(
                job=firing.job, scheduled_for=firing.scheduled_for, fired_at=now, status="claimed",
                late_seconds=late, detail="{}").returning(ScheduledFiring.id)).scalar_one()
            status, detail = ACTIONS[firing.job](rt, session, firing)
            session.execute(ScheduledFiring.__table__.update().where(ScheduledFiring.id == row_id)
                            .values(status=status, detail=json.dumps(detail, ensure_ascii=False)))
            audit.record(session, at=now, actor=SCHEDULER.username, action="calendar_fired", subject=firing.job,
                         detail={"scheduled_for": firing.scheduled_for.isoformat(), "status": status,
                                 "late": late > LATE_AFTER.total_seconds(), "late_seconds": late, **detail})
    except IntegrityError:
        return Outcome(firing, "claimed_elsewhere", {})
    return Outcome(firing, status, detail)


def run_calendar(rt: Runtime) -> list[Outcome]:
    """Fire, in order, every calendar firing due since the last one and not later than now."""
    now = rt.clock.now()
    with rt.db.reading() as session:
        last = session.scalar(select(func.max(ScheduledFiring.scheduled_for)))
    if last is None:  # a new installation starts its calendar now, without firing the past
        try:
            with rt.db.unit_of_work() as session:
                session.execute(insert(ScheduledFiring).values(job=ANCHOR, scheduled_for=now, fired_at=now,
                                                               status="anchor", detail="{}"))
        except IntegrityError:
            pass
        return []
    at = parse_time_of_day(rt.settings.calendar_time)
    # From just before the latest claim: two jobs can share a moment (the 30th is also the last day).
    start = max(last - timedelta(seconds=1), now - CATCH_UP_LIMIT)
    with rt.db.reading() as session:
        claimed = set(session.execute(select(ScheduledFiring.job, ScheduledFiring.scheduled_for)
                                      .where(ScheduledFiring.scheduled_for > start)).all())
    outcomes = []
    for firing in firings_between(start, now, rt.settings.timezone, at):
        if (firing.job, firing.scheduled_for) in claimed:
            continue
        outcomes.append(_fire(rt, firing, now))  # an exception stops here: later firings wait their turn
    return outcomes
