"""Many people across two web servers race for the same tasks: each task is completed exactly once,
every loser is told clearly (409 with a message, on the page or in the API), nobody sees a 5xx,
and afterwards the states, the task rows and the audit trail agree."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from engine.models import AuditEvent, HumanTask, Person, ProcessInstance
from engine.services import consistency, deploy, instances
from tests.reliability.clients import (CLAIMED_BY_OTHER, ApiClient, PageClient, Recorder, add_staff, api_token,
                                       succeeded, told_completed_elsewhere)
from tests.support import servers
from tests.support.files import review_bundle

INSTANCES = 30
API_CLIENTS = 8
PAGE_CLIENTS = 4


@pytest.fixture
def two_servers(rt, tmp_path):
    env = servers.kaohe_env(rt.settings.database_url, tmp_path / "files")
    started = []
    try:
        for name in ("web_a", "web_b"):
            started.append(servers.web(env, tmp_path, workers=2, name=name).start(timeout=60))
        yield started
    finally:
        servers.stop_all(*started)


def _race(client, bases: list[str], task_ids: list[int], seed: int, deadline_event: threading.Event,
          usernames: list[str]) -> None:
    """Work through every task until told it is done (by me or by someone else): claim, release,
    hand over or complete, each on either server."""
    chance = random.Random(seed)
    remaining = list(task_ids)
    while remaining and not deadline_event.is_set():
        if len(remaining) < len(task_ids):
            time.sleep(0.05 * chance.random())  # the rest is held by others: let them finish, do not spin
        chance.shuffle(remaining)
        for task_id in list(remaining):
            base = chance.choice(bases)
            if isinstance(client, ApiClient):
                roll = chance.random()
                if roll < 0.15:
                    answer = client.post(base, "api-claim", task_id, "claim")
                    if answer.status == 200:
                        client.post(chance.choice(bases), "api-unclaim", task_id, "unclaim")
                    continue
                if roll < 0.25:
                    client.post(base, "api-delegate", task_id, "delegate",
                                {"to": chance.choice(usernames), "note": "你来吧"})
                    continue
                if roll < 0.5:
                    client.post(base, "api-claim", task_id, "claim")
            answer = client.complete(chance.choice(bases), task_id)
            if succeeded(answer) or told_completed_elsewhere(answer):
                remaining.remove(task_id)


@pytest.mark.timeout(180)
def test_racing_people_on_two_servers_complete_each_task_exactly_once(rt, people, two_servers):
    usernames = add_staff(rt, API_CLIENTS + PAGE_CLIENTS)  # one door per person: each is told about others
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_ids = [instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1"})
                    for _ in range(INSTANCES)]
    with rt.db.reading() as session:
        task_ids = session.scalars(select(HumanTask.id).where(HumanTask.status == "open")).all()
    assert len(task_ids) == INSTANCES
    recorder = Recorder()
    bases = [server.base for server in two_servers]
    clients = [ApiClient(name, api_token(rt, name), recorder) for name in usernames[:API_CLIENTS]]
    for n, name in enumerate(usernames[API_CLIENTS:]):
        page = PageClient(name, recorder)
        page.sign_in(bases[n % 2])  # signed in on one server, submitting on both (a shared secret key)
        clients.append(page)

    give_up = threading.Event()
    threads = [threading.Thread(target=_race, args=(client, bases, task_ids, n, give_up, usernames))
               for n, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    for thread in threads:
        thread.join(timeout=max(0.1, 120 - (time.monotonic() - started)))
    give_up.set()
    assert not any(thread.is_alive() for thread in threads), \
        f"clients still racing after 120 s: {Counter((a.kind, a.status) for a in recorder.answers)}"

    answers = recorder.answers
    statuses = Counter(answer.status for answer in answers)
    server_logs = "\n".join(server.log()[-3000:] for server in two_servers)
    assert not [a for a in answers if a.server_error or a.status == 0], (statuses, server_logs)
    # Every refusal is a conflict with a message saying why; nothing is refused as "not yours".
    refused = [a for a in answers if a.status >= 400]
    assert {a.status for a in refused} <= {409}, statuses
    for answer in refused:
        assert told_completed_elsewhere(answer) or CLAIMED_BY_OTHER in answer.text, answer
    assert any(a.kind == "page-complete" and told_completed_elsewhere(a) for a in answers), \
        "no page submit lost a race: the test did not race"
    assert sum(told_completed_elsewhere(a) for a in answers) >= INSTANCES, statuses

    # Exactly one success per task, by the person the trail names.
    winners = [a for a in answers if a.kind.endswith("complete") and succeeded(a)]
    assert sorted(a.task_id for a in winners) == sorted(task_ids)
    with rt.db.reading() as session:
        completed_by = dict(session.execute(select(HumanTask.id, Person.username)
                                            .join(Person, Person.id == HumanTask.completed_by_id)
                                            .where(HumanTask.id.in_(task_ids))).all())
        completions = Counter(session.scalars(select(AuditEvent.instance_id).where(AuditEvent.action == "complete")))
        states = Counter(session.scalars(select(ProcessInstance.status)))
        next_tasks = Counter(session.scalars(select(HumanTask.name).where(HumanTask.status == "open")))
    assert completed_by == {a.task_id: a.client for a in winners}
    assert completions == Counter(instance_ids)  # one `complete` event per instance
    assert states == {"waiting_person": INSTANCES} and next_tasks == {"正职审核": INSTANCES}
    assert consistency.check(rt) == []


@pytest.mark.timeout(120)
def test_the_consistency_check_names_a_task_row_that_disagrees_with_the_state(rt, people):
    deploy.deploy(rt, review_bundle(), people.owner)
    instance_id = instances.start(rt, "review", people.owner, data={"weight": 1, "unit_code": "U1"})
    assert consistency.check(rt) == []
    with rt.db.unit_of_work() as session:  # as if a crash had lost the projection's update
        session.scalars(select(HumanTask).where(HumanTask.instance_id == instance_id)).one().status = "cancelled"
    problems = consistency.check(rt)
    assert [p.instance_id for p in problems] == [instance_id] and "task rows" in problems[0].what
