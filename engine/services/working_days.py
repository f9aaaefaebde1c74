"""Working days: weekends and the non-working days the performance office lists (holidays).
A diagram moves a deadline to the next working day with the script helper next_working_day."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import NonWorkingDay
from engine.runtime import Actor, Runtime
from engine.services import audit

MAX_SEARCH_DAYS = 370


def _holidays(session: Session | None, start: date) -> set[date]:
    if session is None:
        return set()
    return set(session.scalars(select(NonWorkingDay.day).where(
        NonWorkingDay.day >= start, NonWorkingDay.day <= start + timedelta(days=MAX_SEARCH_DAYS))))


def next_working_day(session: Session | None, day: date) -> date:
    """`day` itself if people work that day, else the next day they do."""
    holidays = _holidays(session, day)
    for offset in range(MAX_SEARCH_DAYS):
        candidate = day + timedelta(days=offset)
        if candidate.weekday() < 5 and candidate not in holidays:
            return candidate
    raise ValidationFailed("一年内找不到工作日", "no working day within a year")


def add_non_working_day(rt: Runtime, day: date, name: str, actor: Actor) -> None:
    if not actor.has_role("process_owner", "admin"):
        raise PermissionDenied("只有绩效办公室可以维护节假日", "only the performance office maintains holidays")
    if not name.strip():
        raise ValidationFailed("请填写节假日名称", "give the non-working day a name")
    with rt.db.unit_of_work() as session:
        row = session.get(NonWorkingDay, day)
        if row is None:
            session.add(NonWorkingDay(day=day, name=name.strip()))
        else:
            row.name = name.strip()
        audit.record(session, at=rt.clock.now(), actor=actor, action="holiday_set",
                     subject=day.isoformat(), detail={"name": name.strip()})


def non_working_days(rt: Runtime, year: int) -> list[NonWorkingDay]:
    with rt.db.reading() as session:
        return list(session.scalars(select(NonWorkingDay).where(
            NonWorkingDay.day >= date(year, 1, 1), NonWorkingDay.day <= date(year, 12, 31)).order_by(NonWorkingDay.day)))


def remove_non_working_day(rt: Runtime, day: date, actor: Actor) -> bool:
    """Make `day` a working day again (unless it is a weekend); False if it was not listed."""
    if not actor.has_role("process_owner", "admin"):
        raise PermissionDenied("只有绩效办公室可以维护节假日", "only the performance office maintains holidays")
    with rt.db.unit_of_work() as session:
        row = session.get(NonWorkingDay, day)
        if row is None:
            return False
        session.delete(row)
        audit.record(session, at=rt.clock.now(), actor=actor, action="holiday_removed",
                     subject=day.isoformat(), detail={"name": row.name})
        return True
