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
