"""Launches: the children a parent's service task starts (one per unit, person or group), started
in chunks, each chunk in its own transaction, by whichever process takes it (engine/services/fan_out.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base

FAN_OUT_STATUSES = {"running": ("启动中", "starting"), "done": ("已全部启动", "all started"),
                    "cancelled": ("已取消（父流程已终止）", "cancelled (parent terminated)")}


class FanOut(Base):
    __tablename__ = "fan_out"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    element: Mapped[str] = mapped_column(String(128))  # the parent's service task
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    started_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer)
    started: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    # Moved by every chunk: a launch that has not moved for a while is taken up again (a crashed worker).
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_fan_out_parent_element", "parent_instance_id", "element", "status"),
                      Index("ix_fan_out_status_updated", "status", "updated_at"))


class FanOutItem(Base):
    """One child still to start; deleted in the transaction that starts it, so what is left is the rest."""

    __tablename__ = "fan_out_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    fan_out_id: Mapped[int] = mapped_column(ForeignKey("fan_out.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(300))
    data: Mapped[str] = mapped_column(Text)  # the child's start data, JSON

    __table_args__ = (Index("ix_fan_out_item_order", "fan_out_id", "seq"),)
