"""Evaluation schemes and what is recorded against them each period: scores, adjustments,
individual ratings and political-quality findings."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base

# The six evaluation areas of seed 004, each scored by the evaluation group of the same code.
AREAS: dict[str, tuple[str, str]] = {
    "party": ("党务", "party affairs"), "operations": ("经营", "operations"), "safety": ("安全", "safety"),
    "environment": ("环境", "environment"), "service": ("服务", "service"), "tertiary": ("三产", "tertiary business"),
}
SCORE = Numeric(9, 2)


class EvaluationScheme(Base):
    """One version of a scheme; the version in force for a period is the latest with valid_from <= period."""

    __tablename__ = "evaluation_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[str] = mapped_column(String(7))  # first period (YYYY-MM) it applies to
    own_weight: Mapped[Decimal] = mapped_column(Numeric(4, 3))  # 3:7 fusion: the unit's own share
    rater_weights: Mapped[str] = mapped_column(Text)  # JSON {rater role: percent}
    full_marks_months: Mapped[int] = mapped_column(Integer, default=3)
    political_fail_threshold: Mapped[Decimal] = mapped_column(SCORE)
    negative_list: Mapped[str] = mapped_column(Text)  # JSON list of political-quality items
    source: Mapped[str] = mapped_column(Text)  # the JSON document it was imported from
    source_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))

    areas: Mapped[list["SchemeArea"]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                     order_by="SchemeArea.position")

    __table_args__ = (UniqueConstraint("code", "version"),)


class SchemeArea(Base):
    __tablename__ = "scheme_area"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("evaluation_scheme.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    weight: Mapped[Decimal] = mapped_column(Numeric(5, 2))  # percent of the own score
    categories: Mapped[str] = mapped_column(Text)  # JSON list of unit categories this area scores
    position: Mapped[int] = mapped_column(Integer)

    indicators: Mapped[list["SchemeIndicator"]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                               order_by="SchemeIndicator.position")


class SchemeIndicator(Base):
    __tablename__ = "scheme_indicator"

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("scheme_area.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    weight: Mapped[Decimal] = mapped_column(Numeric(5, 2))  # percent of its area
    max_score: Mapped[Decimal] = mapped_column(SCORE)
    method: Mapped[str] = mapped_column(String(16))  # points / deduction / pass_fail
    description: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)


class EvaluationGroup(Base):
    """One of the six evaluation groups, led by a member of the leadership."""

    __tablename__ = "evaluation_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # = the area it scores
    name: Mapped[str] = mapped_column(String(100))
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))


class EvaluationGroupMember(Base):
    __tablename__ = "evaluation_group_member"

    group_id: Mapped[int] = mapped_column(ForeignKey("evaluation_group.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)


class ScoreEntry(Base):
    """The score an evaluation group gave one unit on one indicator in one period."""

    __tablename__ = "score_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("scheme_indicator.id"))
    value: Mapped[Decimal] = mapped_column(SCORE)
    note: Mapped[str | None] = mapped_column(Text)
    entered_by: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("period", "unit_id", "indicator_id"),
                      Index("ix_score_entry_period_unit", "period", "unit_id"))


class ScoreAdjustment(Base):
    """A like (点赞, positive points) or error notice (错情, negative) against a unit or a person."""

    __tablename__ = "score_adjustment"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(String(8))  # like / error
    points: Mapped[Decimal] = mapped_column(SCORE)  # signed: likes > 0, error notices < 0
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(128))  # e.g. an instruction card or a check record
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_score_adjustment_period", "period", "unit_id"),)


class PersonRating(Base):
    """One rater's score for one person in one period."""

    __tablename__ = "person_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    rater_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    rater_role: Mapped[str] = mapped_column(String(32))
    score: Mapped[Decimal] = mapped_column(SCORE)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("period", "person_id", "rater_id"),
                      Index("ix_person_rating_period_person", "period", "person_id"))


class PoliticalFinding(Base):
    """An observed behaviour from the political-quality negative list (checked before scoring)."""

    __tablename__ = "political_finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    item_code: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]

    __table_args__ = (Index("ix_political_finding_period_person", "period", "person_id"),)


class AchievementItem(Base):
    """One item of a person's monthly achievement declaration (实绩申报, at most 5), with the
    rating of their direct leader; items rated 优秀/良好 are publicly displayed each quarter."""

    __tablename__ = "achievement_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    position: Mapped[int] = mapped_column(Integer)  # 1..5, as declared
    title: Mapped[str] = mapped_column(String(200))
    task_source: Mapped[str] = mapped_column(String(400))
    self_rating: Mapped[str] = mapped_column(String(8))
    detail: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[str] = mapped_column(String(8))
    rating_reason: Mapped[str] = mapped_column(Text)
    rated_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    rated_at: Mapped[datetime]
    instance_id: Mapped[int | None] = mapped_column(Integer)  # the declaration it came from
    published_at: Mapped[datetime | None]  # when it went on public display (公示)

    __table_args__ = (UniqueConstraint("period", "person_id", "position"),
                      Index("ix_achievement_item_period_rating", "period", "rating"))


class FeedbackInterview(Base):
    """The one-on-one feedback interview after a quarterly (or monthly) evaluation (seed 002):
    result, strengths, weaknesses, root causes and plan, with the four topics covered."""

    __tablename__ = "feedback_interview"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(7))  # "2026Q4" or "2026-12"
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    interviewer_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    held_on: Mapped[str] = mapped_column(String(10))
    content: Mapped[str] = mapped_column(Text)  # JSON: the interview form as filled in
    instance_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("label", "person_id"),)
