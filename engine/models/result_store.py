"""Stored results of a month or a quarter, so the results pages read what results.compute worked out
instead of computing it on every request (2 s and more at 100,000 people).

A snapshot is current while the "inputs changed" generations it was computed from are unchanged:
every write of something results depend on (scores, adjustments, ratings, political findings in a
month; schemes, reward tables and the organisation for every month) bumps a generation in the same
transaction (engine/services/result_store.py)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class ResultInputGeneration(Base):
    """How often the inputs of one month (scope "2026-03") or of every month (scope "*") changed.
    Rows only ever grow: a snapshot compares the generations it was computed from with these."""

    __tablename__ = "result_input_generation"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)


class ResultSnapshot(Base):
    """One period's stored results (one row per label, replaced in place when recomputed)."""

    __tablename__ = "result_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(7), unique=True)   # "2026-03" or "2026Q1"
    inputs: Mapped[str] = mapped_column(String(200))             # the generations it was computed from
    token: Mapped[str] = mapped_column(String(32))               # new at every store: names this content
    # None: nothing to show for the period (no scheme applies, or the reward tables are not deployed)
    scheme_code: Mapped[str | None] = mapped_column(String(64))
    scheme_version: Mapped[int | None] = mapped_column(Integer)
    own_weight: Mapped[Decimal | None] = mapped_column(Numeric(4, 3))
    rater_weights: Mapped[str | None] = mapped_column(Text)       # JSON, as in the scheme
    areas: Mapped[str | None] = mapped_column(Text)               # JSON [[code, weight, [categories]], ...]
    computed_at: Mapped[datetime]
    unit_count: Mapped[int] = mapped_column(Integer)
    person_count: Mapped[int] = mapped_column(Integer)


class ResultUnitRow(Base):
    """One unit's result in a snapshot; `data` is the exact figures as JSON (decimals as strings)."""

    __tablename__ = "result_unit_row"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("result_snapshot.id", ondelete="CASCADE"),
                                             primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)                # results.compute's order
    category: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)


class ResultPersonRow(Base):
    """One rated person's result in a snapshot."""

    __tablename__ = "result_person_row"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("result_snapshot.id", ondelete="CASCADE"),
                                             primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    unit_code: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_result_person_row_snapshot_unit", "snapshot_id", "unit_code"),)
