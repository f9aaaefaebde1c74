"""The in-process scheduler wakes each waiting instance once, when due, without polling."""
from __future__ import annotations

import time

from engine.bpmn.bundle import SourceFile
from engine.models import ProcessInstance
from engine.scheduling import TimerScheduler
from engine.services import audit, deploy, instances, tasks
from tests.integration.test_instances import TIMER_PROCESS


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def fired_count(rt, instance_id) -> int:
    with rt.db.reading() as session:
        return [e.action for e in audit.instance_trail(session, instance_id)].count("timer_fired")


def test_a_started_timer_fires_on_time_and_once(rt, people):
    deploy.deploy(rt, [SourceFile("waiter.bpmn", TIMER_PROCESS)], people.owner)
    scheduler = TimerScheduler(rt)
    scheduler.start()
    try:
        instance_id = instances.start(rt, "waiter", people.owner)
        with rt.db.reading() as session:
            due = session.get(ProcessInstance, instance_id).next_timer_at
        assert [j.id for j in scheduler.scheduler.get_jobs() if j.id.startswith("instance-")] == \
            [f"instance-{instance_id}"]
        assert wait_for(lambda: [t.name for t in tasks.inbox(rt, people.owner)] == ["确认"])
        lateness = (rt.clock.now() - due).total_seconds()
        assert lateness < 1.0
        time.sleep(0.3)
        assert fired_count(rt, instance_id) == 1
        assert not [j for j in scheduler.scheduler.get_jobs() if j.id.startswith("instance-")]  # none waiting
    finally:
        scheduler.shutdown()


def test_wake_ups_are_rebuilt_from_the_database_after_a_restart(rt, people):
    deploy.deploy(rt, [SourceFile("waiter.bpmn", TIMER_PROCESS)], people.owner)
    instance_id = instances.start(rt, "waiter", people.owner)  # no scheduler running: as if the process died
    time.sleep(0.4)  # the timer falls due while nothing runs
    scheduler = TimerScheduler(rt)
    scheduler.start()  # catches up from next_timer_at
    try:
        assert wait_for(lambda: fired_count(rt, instance_id) == 1)
        time.sleep(0.2)
        assert fired_count(rt, instance_id) == 1
    finally:
        scheduler.shutdown()


def test_only_timers_due_within_the_horizon_are_held_and_later_ones_are_picked_up_when_near(rt, people):
    """A month's declarations wait weeks for their deadline: the scheduler holds no job for them
    until the deadline comes within the horizon, then wakes each on time."""
    from datetime import timedelta
    from engine import scheduling
    deploy.deploy(rt, [SourceFile("waiter.bpmn", TIMER_PROCESS.replace('"PT0.3S"', '"P14D"'))], people.owner)
    scheduler = TimerScheduler(rt)
    scheduler.start()
    try:
        far = instances.start(rt, "waiter", people.owner)
        jobs = lambda: [j.id for j in scheduler.scheduler.get_jobs() if j.id.startswith("instance-")]  # noqa: E731
        assert jobs() == []  # fourteen days away: nothing held
        with rt.db.unit_of_work() as session:  # the deadline comes near (as time passes)
            session.get(ProcessInstance, far).next_timer_at = rt.clock.now() + timedelta(minutes=30)
        assert scheduler.rebuild(within=scheduling.HORIZON) == 1  # what the horizon job does every 10 minutes
        assert jobs() == [f"instance-{far}"]
    finally:
        scheduler.shutdown()
