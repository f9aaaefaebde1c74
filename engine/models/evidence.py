"""Evidence files uploaded to a process instance: one row per upload, the content stored once by digest."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class EvidenceFile(Base):
    """Who uploaded which content, under which name, to which instance and task.

    The bytes live in the content-addressed store under `sha256`; the same content uploaded
    twice is stored once on disk and recorded twice here."""

    __tablename__ = "evidence_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(128))
    original_name: Mapped[str] = mapped_column(String(255))
    field: Mapped[str] = mapped_column(String(128))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[int | None] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]

    __table_args__ = (Index("ix_evidence_file_instance_sha256", "instance_id", "sha256"),)
