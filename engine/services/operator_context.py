"""What every kaohe service-task operator needs: the instance it runs for, a clear refusal, and
who really did a step (read from the task table, never from data a person could type)."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import HumanTask, Person
from engine.services.children import _SPAWN

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class OperatorRefused(ValueError):
    """A call the operator will not carry out; the message is "中文 / English"."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


def operator_context():
    """(runtime, session, instance) of the step being run; refused outside kaohe's services."""
    spawn = _SPAWN.get()
    if spawn is None:
        raise OperatorRefused("只能在 kaohe 服务中运行此服务任务", "this service task runs only inside kaohe's services")
    return spawn


def period_param(value, name: str = "period") -> str:
    if not isinstance(value, str) or not _PERIOD.match(value):
        raise OperatorRefused(f"{name} 格式应为 2026-03，收到 {value!r}", f"{name} must look like 2026-03, not {value!r}")
    return value


def person_param(session: Session, value, name: str = "username") -> Person:
    if not isinstance(value, str) or not value.strip():
        raise OperatorRefused(f"{name} 须为用户名", f"{name} must be a username")
    person = session.scalar(select(Person).where(Person.username == value.strip()))
    if person is None:
        raise OperatorRefused(f"用户 {value} 不存在", f"user {value} does not exist")
    return person


def completed_by(session: Session, instance_id: int, element_id) -> tuple[Person, datetime]:
    """Who completed the latest `element_id` task of the instance, and when."""
    if not isinstance(element_id, str) or not element_id:
        raise OperatorRefused("须指明完成该步骤的任务编号", "the id of the user task that did this step is required")
    row = session.execute(select(Person, HumanTask.completed_at)
                          .join(HumanTask, HumanTask.completed_by_id == Person.id)
                          .where(HumanTask.instance_id == instance_id, HumanTask.element_id == element_id,
                                 HumanTask.status == "completed")
                          .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc()).limit(1)).first()
    if row is None:
        raise OperatorRefused(f"任务 {element_id} 尚无人完成", f"nobody has completed task {element_id} yet")
    return row[0], row[1]
