"""Days on which nobody works: public holidays and the like, maintained by the performance office."""
from __future__ import annotations

from datetime import date

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class NonWorkingDay(Base):
    __tablename__ = "non_working_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
