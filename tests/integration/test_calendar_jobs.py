"""A year of the calendar: every meeting fires once, on its day, also across restarts, catch-ups
and two scheduler processes."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from engine.clock import FixedClock
from engine.models import AuditEvent, ProcessInstance, ScheduledFiring
from engine.runtime import SYSTEM, Runtime
from engine.services import deploy
from engine.services.calendar_jobs import run_calendar
from tests.support.cli import cli_runner



def at(rt, moment: datetime) -> Runtime:
    return Runtime(rt.settings, database=rt.db, clock=FixedClock(moment))


def fired(rt) -> Counter:
    with rt.db.reading() as session:
        return Counter(job for job, in session.execute(
            select(ScheduledFiring.job).where(ScheduledFiring.status != "anchor")))


@pytest.mark.parametrize("year", [2026, 2028], ids=["2026", "leap year 2028"])
def test_a_year_day_by_day_fires_each_meeting_once(rt, year):
    start = datetime(year - 1, 12, 31, 16, 0, tzinfo=timezone.utc)  # 1 January 00:00 in Shanghai
    run_calendar(at(rt, start))  # installation: the calendar starts now
    moment = start
    for _ in range(367 if year == 2028 else 366):
        moment += timedelta(hours=24)
        run_calendar(at(rt, moment))
        run_calendar(at(rt, moment))  # a restart right after: nothing twice
    assert fired(rt) == {"task_issuing_meeting": 12, "results_report_meeting": 12, "xun_spot_check": 36,
                         "quarter_end": 4}
    with rt.db.reading() as session:
        late = session.scalars(select(ScheduledFiring.late_seconds)).all()
        february = session.scalars(select(ScheduledFiring.scheduled_for).where(
            ScheduledFiring.job == "task_issuing_meeting")).all()
    assert max(late) < 24 * 3600  # each fired at the first run after its moment
    assert datetime(year, 2, 29 if year == 2028 else 28, 1, 0, tzinfo=timezone.utc) in february


def test_downtime_is_caught_up_once_in_order_and_marked_late(rt):
    run_calendar(at(rt, datetime(2026, 3, 1, tzinfo=timezone.utc)))
    outcomes = run_calendar(at(rt, datetime(2026, 3, 25, tzinfo=timezone.utc)))  # down for 24 days
    assert [o.firing.job for o in outcomes] == ["xun_spot_check", "results_report_meeting", "xun_spot_check"]
    assert [o.firing.scheduled_for for o in outcomes] == sorted(o.firing.scheduled_for for o in outcomes)
    with rt.db.reading() as session:
        details = session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "calendar_fired")).all()
    assert all('"late":true' in d for d in details)
    assert run_calendar(at(rt, datetime(2026, 3, 25, tzinfo=timezone.utc))) == []


def test_the_30th_issues_next_months_task_books_for_every_unit(rt, people):
    deploy.deploy(rt, deploy.read_files([rt.settings.workflows_dir / "task_book.bpmn",
                                         rt.settings.workflows_dir / "forms"]), SYSTEM)
    run_calendar(at(rt, datetime(2026, 4, 29, tzinfo=timezone.utc)))
    outcomes = run_calendar(at(rt, datetime(2026, 4, 30, 2, 0, tzinfo=timezone.utc)))  # 10:00 in Shanghai
    # April 30th is both the task-issuing meeting and the last 旬 check
    assert sorted(o.firing.job for o in outcomes) == ["task_issuing_meeting", "xun_spot_check"]
    [outcome] = [o for o in outcomes if o.firing.job == "task_issuing_meeting"]
    assert outcome.status == "done" and outcome.detail["period"] == "2026-05"
    with rt.db.reading() as session:
        keys = sorted(session.scalars(select(ProcessInstance.business_key)))
    assert keys == ["task_book:2026-05:U1", "task_book:2026-05:U2"]


def test_two_schedulers_at_once_fire_each_firing_once(rt):
    run_calendar(at(rt, datetime(2026, 5, 1, tzinfo=timezone.utc)))
    barrier = threading.Barrier(2)

    def scheduler():
        runtime = at(rt, datetime(2026, 6, 1, tzinfo=timezone.utc))
        barrier.wait()
        run_calendar(runtime)
    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert fired(rt) == {"xun_spot_check": 3, "results_report_meeting": 1, "task_issuing_meeting": 1}
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "calendar_fired")) == 5


def test_schedule_list_shows_the_next_twelve_firings_in_local_time(rt):
    result = cli_runner(rt.settings.database_url)("schedule", "list", "--from", "2026-02-01T00:00+08:00")
    lines = [line for line in result.stdout.splitlines() if line.startswith("2026")]
    assert result.returncode == 0 and len(lines) == 12
    assert lines[0].startswith("2026-02-10 09:00") and "旬抽查提醒" in lines[0]
    assert any(line.startswith("2026-02-28 09:00") and "月度任务下达会" in line for line in lines)
