"""What the quarterly cycle shows everyone: the public display (公示) of achievements rated good,
with who rated them and why, and how far the one-on-one feedback interviews have got."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from engine.models import AchievementItem, FeedbackInterview, OrgUnit, Person
from engine.periods import months_of
from engine.errors import PermissionDenied
from engine.runtime import Actor, Runtime
from engine.services.children import DEFAULT_PERSON_CATEGORIES
from engine.services.org_units import active_people


@dataclass(frozen=True)
class PublishedAchievement:
    period: str
    unit_name: str
    person_name: str
    username: str
    title: str
    task_source: str
    detail: str | None
    rating: str
    rating_reason: str
    rated_by: str
    published_at: datetime


def publicity(rt: Runtime, quarter: str, unit_code: str | None = None) -> list[PublishedAchievement]:
    """The quarter's published items, by unit, person, month and the order they were declared."""
    months = months_of(quarter)
    rater = aliased(Person)
    query = (select(AchievementItem.period, OrgUnit.name, Person.display_name, Person.username,
                    AchievementItem.title, AchievementItem.task_source, AchievementItem.detail,
                    AchievementItem.rating, AchievementItem.rating_reason, rater.display_name,
                    AchievementItem.published_at)
             .join(Person, Person.id == AchievementItem.person_id)
             .join(rater, rater.id == AchievementItem.rated_by_id)
             .outerjoin(OrgUnit, OrgUnit.id == Person.unit_id)
             .where(AchievementItem.period.in_(months), AchievementItem.published_at.is_not(None))
             .order_by(OrgUnit.code, Person.username, AchievementItem.period, AchievementItem.position))
    if unit_code:
        query = query.where(OrgUnit.code == unit_code)
    with rt.db.reading() as session:
        return [PublishedAchievement(period, unit or "", *rest) for period, unit, *rest in session.execute(query)]


@dataclass(frozen=True)
class InterviewProgress:
    label: str
    total: int
    done: int
    missing: list[tuple[str, str, str]]  # (unit name, person name, username) still without an interview

    @property
    def percent(self) -> float:
        return round(100 * self.done / self.total, 2) if self.total else 100.0


def interview_progress(rt: Runtime, label: str, unit_code: str | None = None) -> InterviewProgress:
    """Everyone the quarterly cycle interviews (active people of production and non-production
    units) against the interviews recorded for `label`."""
    months_of(label)  # refuses a malformed label with a clear message
    with rt.db.reading() as session:
        people = active_people(session, None, DEFAULT_PERSON_CATEGORIES, unit_code)
        done = set(session.scalars(select(Person.username).join(FeedbackInterview,
                                                                FeedbackInterview.person_id == Person.id)
                                   .where(FeedbackInterview.label == label)))
    missing = [(p.unit_name, p.person_name, p.username) for p in people if p.username not in done]
    return InterviewProgress(label, len(people), len(people) - len(missing), missing)


def interview_progress_for(rt: Runtime, actor: Actor, label: str) -> InterviewProgress:
    """Interview progress as `actor` may see it: the office, administrators and auditors everyone,
    a unit head their own unit; anyone else is refused."""
    if actor.has_role("process_owner", "admin", "auditor"):
        return interview_progress(rt, label)
    if not actor.has_role("unit_head") or actor.unit_id is None:
        raise PermissionDenied("只有绩效办公室、审计员和部门正职可以查看面谈进度",
                               "only the performance office, auditors and unit heads see interview progress")
    with rt.db.reading() as session:
        unit_code = session.scalar(select(OrgUnit.code).where(OrgUnit.id == actor.unit_id))
    return interview_progress(rt, label, unit_code)

