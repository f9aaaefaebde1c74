"""Organisation: units in a tree, people, and the roles people hold."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base

# Role codes are stable identifiers; lanes in diagrams name them by code or by Chinese name.
ROLES: dict[str, tuple[str, str]] = {
    "admin": ("系统管理员", "administrator"),
    "process_owner": ("绩效办公室", "process owner"),
    "auditor": ("审计员", "auditor"),
    "inspector": ("检查组成员", "inspector"),
    "eval_leader": ("考核组组长", "evaluation group leader"),
    "eval_member": ("考核组成员", "evaluation group member"),
    "branch_secretary": ("支部书记", "branch secretary"),
    "unit_head": ("部门正职", "unit head"),
    "unit_deputy": ("部门副职", "unit deputy"),
    "staff": ("员工", "staff"),
}

UNIT_CATEGORIES = {
    "production": ("生产型", "production"),
    "non_production": ("非生产型", "non-production"),
    "party_branch": ("党支部", "party branch"),
    "organisation": ("组织", "organisation"),
}


class OrgUnit(Base):
    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), default="organisation")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    # The party branch an administrative unit belongs to (3:7 score fusion pairs them).
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped["OrgUnit | None"] = relationship(remote_side=[id], foreign_keys=[parent_id])
    branch: Mapped["OrgUnit | None"] = relationship(remote_side=[id], foreign_keys=[branch_id])


class Person(Base):
    """Someone who may log in and be assigned tasks."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    position: Mapped[str] = mapped_column(String(16), default="staff")  # head / deputy / staff
    party_status: Mapped[str] = mapped_column(String(16), default="none")  # member / activist / none
    language: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime | None]

    unit: Mapped[OrgUnit | None] = relationship()
    roles: Mapped[list["PersonRole"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_codes(self) -> set[str]:
        return {r.role for r in self.roles}


class PersonRole(Base):
    __tablename__ = "person_role"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = (Index("ix_person_role_role", "role"),)
