"""Running processes and the human-task projection that inboxes read."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base
from engine.models.process import ProcessVersion

INSTANCE_STATUSES = {
    "running": ("运行中", "running"),
    "waiting_person": ("等待人工处理", "waiting for a person"),
    "waiting_timer": ("等待定时器", "waiting for a timer"),
    "completed": ("已完成", "completed"),
    "error": ("出错", "error"),
    "suspended": ("已挂起", "suspended"),
    "terminated": ("已终止", "terminated"),
}
ACTIVE_STATUSES = ("running", "waiting_person", "waiting_timer")


class ProcessInstance(Base):
    __tablename__ = "process_instance"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(300))
    business_key: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(20))
    # SpiffWorkflow state without the spec, as JSON text (parsed only by the serializer).
    state: Mapped[str] = mapped_column(Text, deferred=True, deferred_raiseload=True)
    serializer_version: Mapped[str] = mapped_column(String(16))
    # Optimistic lock: SQLAlchemy adds "WHERE version = :old" to every UPDATE.
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    error_element: Mapped[str | None] = mapped_column(String(128))
    error_message: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # Per-unit and per-person work runs in instances of its own, started by a service task of a
    # parent (e.g. the monthly cycle) and joined when all of them are done (engine/services/children.py).
    parent_instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    spawned_by: Mapped[str | None] = mapped_column(String(128))  # the parent's service task element
    # Copied from the start data (data["period"], data["unit_code"]) so the instance list can filter
    # 100,000 rows by month and unit without reading any state JSON.
    period: Mapped[str | None] = mapped_column(String(16))
    unit_code: Mapped[str | None] = mapped_column(String(64))

    process_version: Mapped[ProcessVersion] = relationship(lazy="select")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_process_instance_process_status", "process_id", "status"),
                      Index("ix_process_instance_parent", "parent_instance_id", "spawned_by", "status"),
                      Index("ix_process_instance_period", "period"),
                      Index("ix_process_instance_unit_code", "unit_code"))


class HumanTask(Base):
    """A READY user or manual task, as the inbox sees it; kept in step with the instance state."""

    __tablename__ = "human_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_guid: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(128))
    form_file: Mapped[str | None] = mapped_column(String(255))
    instructions: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open / completed / cancelled
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    due_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]  # when the "due soon" reminder was recorded
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # Copied from the instance and its case data when the row is written, so the inbox can filter and
    # show process, unit and period without opening any instance's state.
    process_id: Mapped[str | None] = mapped_column(String(128))
    unit_code: Mapped[str | None] = mapped_column(String(64))
    period: Mapped[str | None] = mapped_column(String(32))

    instance: Mapped[ProcessInstance] = relationship(lazy="select")
    candidates: Mapped[list["TaskCandidate"]] = relationship(cascade="all, delete-orphan", lazy="select")

    __table_args__ = (
        Index("ix_human_task_instance_status", "instance_id", "status"),
        Index("ix_human_task_assignee_status", "assignee_id", "status"),
        # The inbox reads pages along these in order (keyset: due time or creation time, then id).
        Index("ix_human_task_status_due", "status", "due_at", "id"),
        # The instance list asks "which instances did this person complete a task of?"
        Index("ix_human_task_completed_by", "completed_by_id"),
        # The inbox's filters, each followed by its default order (due time).
        Index("ix_human_task_status_process_due", "status", "process_id", "due_at"),
        Index("ix_human_task_status_unit_due", "status", "unit_code", "due_at"),
        Index("ix_human_task_status_period_due", "status", "period", "due_at"),
        Index("ix_human_task_status_created", "status", "created_at", "id"),
    )


class TaskCandidate(Base):
    """Who may take a task: a person, a role (optionally within one unit), or a whole unit."""

    __tablename__ = "task_candidate"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    role: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))

    __table_args__ = (
        # One index per way a task is offered (inbox.candidate_match's three terms), each ending in
        # task_id so collecting a person's offers reads the index alone. The unit one names all three
        # columns: with only unit_id, SQLite answered "person_id IS NULL" from the person index,
        # i.e. every row offered to a role or unit.
        Index("ix_task_candidate_person", "person_id", "task_id"),
        Index("ix_task_candidate_role_unit", "role", "unit_id", "task_id"),
        Index("ix_task_candidate_unit", "unit_id", "role", "person_id", "task_id"),
    )
