"""Timer wake-ups and the calendar with APScheduler: one date job per waiting instance and one
for the next calendar firing, no polling.

The database column process_instance.next_timer_at is the truth; jobs are rebuilt from it
at start and replaced after every commit that changes it.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from engine.db import is_unavailable
from engine.models import ProcessInstance
from engine.models.instance import ACTIVE_STATUSES
from engine.runtime import Runtime

log = logging.getLogger(__name__)
# SpiffWorkflow fires a timer only once its own clock has passed the due time; wake just after.
WAKE_MARGIN = timedelta(milliseconds=20)
# Only timers due within this horizon are held as jobs (a month's 100,000 declarations each wait for
# a deadline weeks away: holding them all would cost memory and seconds at every start); a job every
# HORIZON / 6 picks up those that have come within it, so each still wakes at its moment.
HORIZON = timedelta(hours=1)
# A job that could not reach the database is tried again this much later (not at its next regular
# moment, which for the calendar is a day away): what fell due in an outage fires once it is over.
RETRY_AFTER = timedelta(seconds=3)


class TimerScheduler:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.scheduler = BackgroundScheduler(timezone=timezone.utc)

    def start(self) -> None:
        self.rt.db.after_commit_hooks.append(self._after_commit)
        self.scheduler.start()
        self._rebuild_guarded(HORIZON)
        self.scheduler.add_job(self._rebuild_guarded, "interval", args=[HORIZON], seconds=HORIZON.total_seconds() / 6,
                               id="horizon", replace_existing=True, coalesce=True)
        # Reminders for tasks falling due within a day: an index range every minute.
        self.scheduler.add_job(self._remind, "interval", seconds=60, id="reminders", replace_existing=True,
                               coalesce=True, next_run_time=self.rt.clock.now())
        # Launches of child instances: those of a worker that died, or all of them when this process
        # is the one that runs them (KAOHE_WORK_QUEUE=scheduler).
        self.scheduler.add_job(self._sweep_launches, "interval", seconds=5, id="launches", replace_existing=True,
                               coalesce=True, max_instances=1)
        # Background jobs (exports, imports) the same way, and their result files once expired.
        self.scheduler.add_job(self._sweep_jobs, "interval", seconds=5, id="jobs", replace_existing=True,
                               coalesce=True, max_instances=1)
        # Catch up the calendar (meetings missed while down), then wait for the next firing.
        self.scheduler.add_job(self._run_calendar, id="calendar", replace_existing=True,
                               misfire_grace_time=None, coalesce=True)

    def shutdown(self) -> None:
        if self._after_commit in self.rt.db.after_commit_hooks:
            self.rt.db.after_commit_hooks.remove(self._after_commit)
        self.scheduler.shutdown(wait=False)

    def watch_database(self, interval: float = 2.0) -> None:
        """For a scheduler in its own process (`kaohe scheduler`): web workers' commits do not reach
        its after-commit hook, so every `interval` seconds it picks up the timers falling due within
        the next two intervals (an index range on next_timer_at, not a scan of all instances)."""
        self.scheduler.add_job(self._rebuild_guarded, "interval", args=[timedelta(seconds=2 * interval)],
                               seconds=interval, id="watch", replace_existing=True, coalesce=True)

    def _rebuild_guarded(self, within: timedelta) -> None:
        """rebuild() as a job: a database outage is logged and, at start, retried shortly."""
        try:
            self.rebuild(within=within)
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.warning("database unavailable, timers not reloaded; retrying: %s", _first_line(error))
            self.scheduler.add_job(self._rebuild_guarded, "date", args=[within], id="rebuild-retry",
                                   run_date=self.rt.clock.now() + RETRY_AFTER, replace_existing=True,
                                   misfire_grace_time=None, coalesce=True)

    def rebuild(self, within: timedelta | None = None) -> int:
        query = select(ProcessInstance.id, ProcessInstance.next_timer_at).where(
            ProcessInstance.next_timer_at.is_not(None), ProcessInstance.status.in_(ACTIVE_STATUSES))
        if within is not None:
            query = query.where(ProcessInstance.next_timer_at < self.rt.clock.now() + within)
        with self.rt.db.reading() as session:
            rows = session.execute(query).all()
        for instance_id, due in rows:
            self.schedule(instance_id, due)
        return len(rows)

    def schedule(self, instance_id: int, due: datetime | None) -> None:
        job_id = f"instance-{instance_id}"
        if due is None:
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)
            return
        self.scheduler.add_job(self._wake, "date", run_date=due + WAKE_MARGIN, args=[instance_id], id=job_id,
                               replace_existing=True, misfire_grace_time=None, coalesce=True)

    def _remind(self) -> None:
        from engine.services.reminders import send_due_reminders
        try:
            send_due_reminders(self.rt)
        except Exception as error:  # tried again in a minute; never kill the scheduler thread
            _log_failure("due reminders failed", error)

    def _sweep_launches(self) -> None:
        from engine.services import fan_out
        try:
            fan_out.sweep(self.rt, stalled_only=self.rt.settings.work_queue != "scheduler")
        except Exception as error:  # tried again in a few seconds; never kill the scheduler thread
            _log_failure("resuming launches failed", error)

    def _sweep_jobs(self) -> None:
        from engine.services import jobs
        try:
            jobs.sweep(self.rt)
        except Exception as error:  # tried again in a few seconds; never kill the scheduler thread
            _log_failure("resuming background jobs failed", error)

    def _run_calendar(self) -> None:
        from engine.calendar import next_firings, parse_time_of_day
        from engine.services.calendar_jobs import run_calendar
        retry_soon = False
        try:
            run_calendar(self.rt)
        except Exception as error:  # never kill the scheduler thread
            _log_failure("calendar run failed", error)
            # A meeting due in an outage is held as soon as the database is back; any other failure
            # is retried at the next arming.
            retry_soon = is_unavailable(error)
        settings = self.rt.settings
        if retry_soon:
            run_at = self.rt.clock.now() + RETRY_AFTER
        else:
            [upcoming] = next_firings(self.rt.clock.now(), settings.timezone, 1,
                                      parse_time_of_day(settings.calendar_time))
            run_at = upcoming.scheduled_for + WAKE_MARGIN
        self.scheduler.add_job(self._run_calendar, "date", run_date=run_at,
                               id="calendar", replace_existing=True, misfire_grace_time=None, coalesce=True)

    def _after_commit(self, session) -> None:
        beyond = self.rt.clock.now() + HORIZON
        for instance_id, due in session.info.pop("timer_changes", {}).items():
            self.schedule(instance_id, due if due is None or due < beyond else None)

    def _wake(self, instance_id: int) -> None:
        from engine.services import instances
        try:
            if not instances.wake(self.rt, instance_id):
                with self.rt.db.reading() as session:
                    row = session.get(ProcessInstance, instance_id)
                    if row is not None and row.status in ACTIVE_STATUSES:
                        self.schedule(instance_id, row.next_timer_at)
        except Exception as error:  # one broken instance must not stop the scheduler thread
            _log_failure(f"waking instance {instance_id} failed", error)
            if is_unavailable(error):  # nothing was fired (the transaction never committed): try again
                self.scheduler.add_job(self._wake, "date", run_date=self.rt.clock.now() + RETRY_AFTER,
                                       args=[instance_id], id=f"instance-{instance_id}", replace_existing=True,
                                       misfire_grace_time=None, coalesce=True)


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def _log_failure(what: str, error: Exception) -> None:
    """An outage is expected and retried: one line, not a traceback every few seconds."""
    if is_unavailable(error):
        log.warning("%s: database unavailable, will retry: %s", what, _first_line(error))
    else:
        log.exception(what)
