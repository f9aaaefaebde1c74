"""Deployed definitions: content-addressed files and the process versions built from them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base


class DefinitionFile(Base):
    """A BPMN, DMN or form file, stored once per distinct content."""

    __tablename__ = "definition_file"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # bpmn / dmn / form
    content: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class ProcessVersion(Base):
    """One deployed version of one process; its files are everything needed to run it."""

    __tablename__ = "process_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 over the (file name, file digest) pairs this process depends on.
    bundle_hash: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(64))

    files: Mapped[list["ProcessVersionFile"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ProcessVersionFile.filename")

    __table_args__ = (
        UniqueConstraint("process_id", "version"),
        UniqueConstraint("process_id", "bundle_hash", name="uq_process_version_bundle"),
    )


class ProcessVersionFile(Base):
    __tablename__ = "process_version_file"

    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id", ondelete="CASCADE"),
                                            primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("definition_file.sha256"))

    file: Mapped[DefinitionFile] = relationship(lazy="joined")


class DecisionVersion(Base):
    """One deployed version of a DMN decision table (reward rules and the like), by content."""

    __tablename__ = "decision_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(ForeignKey("definition_file.sha256"))
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(64))

    file: Mapped[DefinitionFile] = relationship(lazy="joined")

    __table_args__ = (UniqueConstraint("decision_id", "version"),
                      UniqueConstraint("decision_id", "sha256", name="uq_decision_version_content"))
