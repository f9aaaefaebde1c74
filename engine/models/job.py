"""Background jobs: long exports and imports run outside the page request, reporting their progress
here (engine/services/jobs.py), and leave a file or a summary for the person who asked."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base

JOB_STATUSES = {"queued": ("排队中", "queued"), "running": ("进行中", "running"), "done": ("已完成", "done"),
                "failed": ("失败", "failed")}


class Job(Base):
    __tablename__ = "job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[str] = mapped_column(Text)  # JSON: the work's inputs, and who asked (their roles then)
    requested_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    stage_zh: Mapped[str | None] = mapped_column(String(200))
    stage_en: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The result: a file under settings.files_dir (relative path), its download name and type ...
    result_path: Mapped[str | None] = mapped_column(String(300))
    result_name: Mapped[str | None] = mapped_column(String(200))
    result_type: Mapped[str | None] = mapped_column(String(120))
    # ... and/or a JSON summary (an import's counts, or a refused import's row problems).
    summary: Mapped[str | None] = mapped_column(Text)
    error_zh: Mapped[str | None] = mapped_column(Text)
    error_en: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    # The heartbeat: moved by every progress report; a running job that stops moving lost its worker.
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_job_status_updated", "status", "updated_at"),
                      Index("ix_job_requested_by", "requested_by", "id"))
