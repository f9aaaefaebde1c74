"""Reminders before a task falls due, once each; deadlines moved to the next working day."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from engine.bpmn.bundle import SourceFile
from engine.clock import FixedClock
from engine.models import AuditEvent
from engine.runtime import Runtime
from engine.services import deploy, instances, tasks
from engine.services.reminders import send_due_reminders
from engine.services.working_days import add_non_working_day
from tests.integration.test_time_travel import DEADLINE_PROCESS, START
from tests.support.cli import cli_runner


def at(rt, moment):
    return Runtime(rt.settings, database=rt.db, clock=FixedClock(moment))


def reminders(rt) -> list:
    with rt.db.reading() as session:
        return session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "task_reminder")).all()


def test_a_task_is_reminded_once_a_day_before_it_falls_due(rt, people):
    deploy.deploy(at(rt, START), [SourceFile("deadline.bpmn", DEADLINE_PROCESS)], people.owner)
    instances.start(at(rt, START), "deadline", people.owner)  # due in three days
    assert send_due_reminders(at(rt, START + timedelta(days=1))) == 0
    assert send_due_reminders(at(rt, START + timedelta(days=2, hours=1))) == 1
    assert send_due_reminders(at(rt, START + timedelta(days=2, hours=2))) == 0  # once
    [detail] = reminders(rt)
    assert '"overdue":false' in detail


WEEKEND_DEADLINE = DEADLINE_PROCESS.replace('<bpmn:timeDuration>"P3D"</bpmn:timeDuration>',
                                            '<bpmn:timeDate>next_working_day(deadline) + "T09:00:00+08:00"</bpmn:timeDate>')


def test_a_deadline_on_a_holiday_moves_to_the_next_working_day(rt, people):
    add_non_working_day(rt, date(2027, 10, 4), "国庆节", people.owner)
    deploy.deploy(rt, [SourceFile("deadline.bpmn", WEEKEND_DEADLINE)], people.owner)
    instances.start(rt, "deadline", people.owner, data={"deadline": "2027-10-02"})  # a Saturday
    [task] = tasks.inbox(rt, people.owner)
    assert task.due_at == datetime(2027, 10, 5, 1, 0, tzinfo=timezone.utc)  # Tuesday 09:00 in Shanghai


def test_holidays_from_the_command_line(rt):
    kaohe = cli_runner(rt.settings.database_url)
    assert kaohe("holidays", "add", "2026-10-01", "国庆节").returncode == 0
    listed = kaohe("holidays", "list", "--year", "2026")
    assert "2026-10-01  国庆节" in listed.stdout
    assert kaohe("holidays", "add", "2026-13-01", "错").returncode == 2
