"""The evaluation calendar of seed 004: when each meeting and check falls, in KAOHE_TIMEZONE.

* task-issuing meeting (月度任务下达会): the 30th, or the last day of a month without one;
* results report meeting (考核通报会): the 15th;
* 旬 spot checks (旬抽查): the 10th, the 20th and the last day;
* quarter end (季评价): the last day of March, June, September and December.

All at the configured time of day (KAOHE_CALENDAR_TIME, default 09:00 local). Pure functions:
the scheduler, `kaohe run-due` and `kaohe schedule list` all ask these.
"""
from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

JOBS = {
    "task_issuing_meeting": ("月度任务下达会", "task-issuing meeting"),
    "results_report_meeting": ("考核通报会", "results report meeting"),
    "xun_spot_check": ("旬抽查提醒", "旬 spot-check reminder"),
    "quarter_end": ("季度评价", "quarterly evaluation"),
}


@dataclass(frozen=True, order=True)
class Firing:
    scheduled_for: datetime  # aware UTC
    job: str


def _last_day(year: int, month: int) -> int:
    return month_calendar.monthrange(year, month)[1]


def days_of(job: str, year: int, month: int) -> list[int]:
    """The days of a month on which `job` falls."""
    last = _last_day(year, month)
    if job == "task_issuing_meeting":
        return [min(30, last)]
    if job == "results_report_meeting":
        return [15]
    if job == "xun_spot_check":
        return [10, 20, last]
    if job == "quarter_end":
        return [last] if month in (3, 6, 9, 12) else []
    raise KeyError(job)


def firings_between(start: datetime, end: datetime, zone: str, at: time = time(9, 0)) -> list[Firing]:
    """Every firing with start < scheduled_for <= end (aware datetimes), oldest first."""
    tz = ZoneInfo(zone)
    local_start = start.astimezone(tz)
    year, month = local_start.year, local_start.month
    result = []
    while True:
        first_of_month = datetime(year, month, 1, tzinfo=tz)
        if first_of_month.astimezone(timezone.utc) > end:
            break
        for job in JOBS:
            for day in days_of(job, year, month):
                moment = datetime.combine(date(year, month, day), at, tzinfo=tz).astimezone(timezone.utc)
                if start < moment <= end:
                    result.append(Firing(moment, job))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(result)


def next_firings(now: datetime, zone: str, count: int = 12, at: time = time(9, 0)) -> list[Firing]:
    """The next `count` firings after `now`."""
    horizon = now + timedelta(days=62)
    firings = firings_between(now, horizon, zone, at)
    while len(firings) < count:
        horizon += timedelta(days=62)
        firings = firings_between(now, horizon, zone, at)
    return firings[:count]


def parse_time_of_day(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
