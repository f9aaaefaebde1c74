"""A web server and the scheduler are killed (SIGKILL) in the middle of a batch of completions while
timers fall due. After a restart, and a retry of every completion that got no answer, nothing was
lost or applied twice, every due timer fired exactly once, and `kaohe audit verify` and
`kaohe check` pass."""
from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter

import pytest
from sqlalchemy import select

from engine.bpmn.bundle import SourceFile
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.services import deploy, instances
from tests.reliability.clients import ApiClient, Recorder, add_staff, api_token, succeeded, wait_until
from tests.support import servers
from tests.support.cli import ROOT
from tests.support.files import review_bundle

TASKS = 32
CLIENTS = 4
TIMERS = 10
# A timer of its own length per instance (the duration is an expression read from the data).
WAITER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="waiter" name="等待" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait" name="等一会">
      <bpmn:timerEventDefinition><bpmn:timeDuration>wait_for</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="confirm"/>
    <bpmn:userTask id="confirm" name="确认"/>
    <bpmn:sequenceFlow id="f3" sourceRef="confirm" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def _kaohe(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def _submit(client: ApiClient, bases: list[str], mine: list[int], may_go_on: threading.Event) -> None:
    """Complete my tasks in turn, alternating servers; hold the last quarter back until the kill, so
    some completions always go out while a server is down."""
    for n, task_id in enumerate(mine):
        if n == len(mine) * 3 // 4:
            may_go_on.wait(timeout=60)
        client.complete(bases[n % 2], task_id)


@pytest.mark.timeout(180)
def test_killed_web_server_and_scheduler_lose_nothing_and_apply_nothing_twice(rt, people, tmp_path):
    usernames = add_staff(rt, CLIENTS)
    deploy.deploy(rt, [*review_bundle(), SourceFile("waiter.bpmn", WAITER)], people.owner)
    reviews = [instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1"})
               for _ in range(TASKS)]
    with rt.db.reading() as session:
        task_ids = session.scalars(select(HumanTask.id).where(HumanTask.status == "open").order_by(HumanTask.id)).all()
    env = servers.kaohe_env(rt.settings.database_url, tmp_path / "files")
    web_a = servers.web(env, tmp_path, workers=2, name="web_a").start(timeout=60)
    web_b = servers.web(env, tmp_path, workers=2, name="web_b").start(timeout=60)
    timers = servers.scheduler(env, tmp_path, poll=0.5).start()
    try:
        # Timers falling due over the next seconds: before, during and after the scheduler is down.
        waiters = [instances.start(rt, "waiter", people.owner, data={"wait_for": f"PT{2 + n % 5}S"})
                   for n in range(TIMERS)]
        recorder, may_go_on = Recorder(), threading.Event()
        clients = [ApiClient(name, api_token(rt, name), recorder) for name in usernames]
        threads = [threading.Thread(target=_submit, args=(client, [web_a.base, web_b.base],
                                                          task_ids[n::CLIENTS], may_go_on))
                   for n, client in enumerate(clients)]
        for thread in threads:
            thread.start()
        wait_until(lambda: sum(succeeded(a) for a in recorder.answers) >= TASKS // 3, 90, "a third of the batch")
        web_a.kill()
        timers.kill()
        may_go_on.set()
        for thread in threads:
            thread.join(timeout=90)
        assert not any(thread.is_alive() for thread in threads)

        first_pass = list(recorder.answers)
        acknowledged = {a.task_id for a in first_pass if succeeded(a)}
        unanswered = [a for a in first_pass if a.status == 0]
        assert unanswered, "no completion went unanswered: the kill did not hit the batch"
        assert not [a for a in first_pass if a.status not in (0, 200)], Counter(a.status for a in first_pass)

        web_a.start(timeout=60)
        timers.start()
        # A client retries what got no answer: it goes through now, or was applied before the kill.
        by_name = {client.name: client for client in clients}
        retries = [by_name[a.client].complete(web_a.base, a.task_id) for a in unanswered]
        for retry in retries:
            assert retry.status == 200 or (retry.status == 409 and "已经完成" in retry.text), retry
        assert acknowledged | {r.task_id for r in retries} == set(task_ids)

        def all_timers_fired():
            with rt.db.reading() as session:
                return set(session.scalars(select(ProcessInstance.status).where(
                    ProcessInstance.id.in_(waiters)))) == {"waiting_person"}
        wait_until(all_timers_fired, 60, "every due timer to fire after the restart")
    finally:
        servers.stop_all(web_a, web_b, timers)

    with rt.db.reading() as session:
        events = session.execute(select(AuditEvent.instance_id, AuditEvent.action).where(
            AuditEvent.action.in_(("complete", "timer_fired")))).all()
        states = Counter(session.scalars(select(ProcessInstance.status).where(ProcessInstance.id.in_(reviews))))
    assert Counter(i for i, action in events if action == "complete") == Counter(reviews)  # once each
    assert Counter(i for i, action in events if action == "timer_fired") == Counter(waiters)  # once each
    assert states == {"waiting_person": TASKS}

    verified = _kaohe(env, "audit", "verify")
    assert verified.returncode == 0 and "audit chain intact" in verified.stdout, verified.stderr
    checked = _kaohe(env, "check")
    assert checked.returncode == 0 and "consistent" in checked.stdout, checked.stderr
