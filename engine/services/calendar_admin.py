"""The calendar as the administration page shows it: a year's non-working days and what fires next."""
from __future__ import annotations

from dataclasses import dataclass

from engine.calendar import Firing, next_firings, parse_time_of_day
from engine.models import NonWorkingDay
from engine.runtime import Actor, Runtime
from engine.services.admin_access import require_reader
from engine.services.working_days import non_working_days


@dataclass(frozen=True)
class CalendarOverview:
    year: int
    holidays: list[NonWorkingDay]
    upcoming: list[Firing]


def overview(rt: Runtime, actor: Actor, year: int | None = None, count: int = 6) -> CalendarOverview:
    require_reader(actor)
    now = rt.clock.now()
    year = year or now.year
    upcoming = next_firings(now, rt.settings.timezone, count, parse_time_of_day(rt.settings.calendar_time))
    return CalendarOverview(year, non_working_days(rt, year), upcoming)
