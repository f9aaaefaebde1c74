"""The rectification tracker's read model: one row per problem and one per step taken on it.

Written by engine/services/tracking.py in the same transaction as each step of a `rectification`
instance, so the tracker (10,000 problems) never parses instance state to list, filter or export."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base

# Where a problem stands, in the order it moves; the escalation and reminder tasks run beside
# the main one and never change the stage.
STAGES = {
    "plan": ("计划", "planning"),
    "review": ("审核", "plan review"),
    "fix": ("整改", "fixing"),
    "verify": ("验收", "verification"),
    "follow_up": ("巩固", "consolidation"),
    "closed": ("闭环", "closed"),
    "terminated": ("终止", "terminated"),
}


class RectificationCase(Base):
    __tablename__ = "rectification_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), unique=True)
    problem: Mapped[str] = mapped_column(Text)
    unit_code: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    source: Mapped[str | None] = mapped_column(String(300))
    severity: Mapped[str | None] = mapped_column(String(32))
    inspector: Mapped[str | None] = mapped_column(String(64))  # username of who reviews and verifies
    round_instance_id: Mapped[int | None] = mapped_column(Integer)  # the instance that opened it, if any
    stage: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20))  # the instance's status
    due_at: Mapped[datetime | None]  # earliest due time of its open tasks
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    reopened: Mapped[int] = mapped_column(Integer, default=0)  # verification failed or problem came back
    evidence_count: Mapped[int] = mapped_column(Integer, default=0)  # items and files of the last report
    verified: Mapped[bool | None]  # the last verification's result
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_rectification_case_unit", "unit_id", "id"),
        Index("ix_rectification_case_branch", "branch_id", "id"),
        Index("ix_rectification_case_round", "round_instance_id", "id"),
        Index("ix_rectification_case_stage", "stage", "id"),
        Index("ix_rectification_case_inspector", "inspector", "id"),
        # The tracker's pages, read in order by keyset (engine/services/tracker.py SEGMENTS): the open
        # problems by deadline: everyone's, a unit's (its head; also its overdue count) and an inspector's.
        Index("ix_rectification_case_open_due", "closed_at", "due_at", "id"),
        Index("ix_rectification_case_unit_open_due", "unit_id", "closed_at", "due_at", "id"),
        Index("ix_rectification_case_inspector_open_due", "inspector", "closed_at", "due_at", "id"),
    )


class RectificationStep(Base):
    """One thing done on a problem: its opening, or a completed task with the fields submitted
    (as [key, form title, value] triples, files as their references)."""

    __tablename__ = "rectification_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(Integer, unique=True)  # human_task.id; None for the opening
    element_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300))
    actor: Mapped[str | None] = mapped_column(String(64))  # username
    actor_name: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime]
    fields: Mapped[str] = mapped_column(Text)  # JSON, as the rest of kaohe keeps documents

    __table_args__ = (Index("ix_rectification_step_instance", "instance_id", "id"),)
