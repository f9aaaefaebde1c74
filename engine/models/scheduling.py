"""Calendar firings, each claimed once in the database before it acts (exactly once)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class ScheduledFiring(Base):
    __tablename__ = "scheduled_firing"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime]
    fired_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # done / skipped / anchor
    late_seconds: Mapped[int] = mapped_column(default=0)
    detail: Mapped[str] = mapped_column(Text, default="{}")

    # The claim: a second scheduler, a restart or a catch-up inserting the same firing fails here.
    __table_args__ = (UniqueConstraint("job", "scheduled_for"),)
