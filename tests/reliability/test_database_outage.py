"""Issue 9, item 3: PostgreSQL stops (a crash-like immediate stop) for 30 s while people keep using
kaohe. Every request answers within seconds with 503 "service unavailable" (page and API), nothing
is half-written, the same web processes serve again by themselves once the database is back, and
the scheduler fires every timer that fell due in the outage, once.

The outage needs a server the test may stop: a private PostgreSQL cluster
(tests/support/private_postgres.py), whatever KAOHE_TEST_DATABASE_URL says, so both CI passes run
it. The small tests at the end show the 503 answer and the scheduler's retries on their own,
against a port where no database listens."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from engine.bpmn.bundle import SourceFile
from engine.migrate import upgrade
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.runtime import SYSTEM, Runtime
from engine.services import api_tokens, deploy, instances
from engine.services.execution import fetch_instance, load_workflow
from engine.services.projection import ready_tasks
from engine.settings import Settings
from tests.support import servers
from tests.support.cli import ROOT, cli_runner
from tests.support.load_clients import Answer, HttpClient, Recorder
from tests.support.people import make_people
from tests.support.private_postgres import PrivatePostgres

OUTAGE_SECONDS = 30
FAST_ENOUGH = 5.0        # seconds within which every request must answer during the outage
RECOVERS_WITHIN = 10.0   # seconds after the database is back within which pages and API serve again
ZH_MESSAGE = "服务暂时不可用（数据库无法连接），请稍后再试"
EN_MESSAGE = "temporarily unavailable (the database cannot be reached)"

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_{pid}" targetNamespace="t">
  <bpmn:process id="{pid}" name="{name}" isExecutable="true">{body}</bpmn:process>
</bpmn:definitions>"""
# Work the clients do: two forms in a row.
WORK = BPMN.format(pid="outage_work", name="停机演练 填报", body="""
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="report"/>
    <bpmn:userTask id="report" name="填报"/>
    <bpmn:sequenceFlow id="f2" sourceRef="report" targetRef="check"/>
    <bpmn:userTask id="check" name="核对"/>
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end"/>
    <bpmn:endEvent id="end"/>""")
# An intermediate timer at the moment in the start data's `due`.
WAIT = BPMN.format(pid="outage_wait", name="停机演练 等待", body="""
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait" name="等到期">
      <bpmn:timerEventDefinition><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="confirm"/>
    <bpmn:userTask id="confirm" name="确认"/>
    <bpmn:sequenceFlow id="f3" sourceRef="confirm" targetRef="end"/>
    <bpmn:endEvent id="end"/>""")
# A deadline (non-interrupting boundary timer) on a task nobody does before it passes.
DEADLINE = BPMN.format(pid="outage_deadline", name="停机演练 期限", body="""
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="submit"/>
    <bpmn:userTask id="submit" name="报送"/>
    <bpmn:boundaryEvent id="late" name="超期" attachedToRef="submit" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDate>due</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="late" targetRef="remind"/>
    <bpmn:userTask id="remind" name="催办"/>
    <bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="end_remind"/>
    <bpmn:endEvent id="end_remind"/>
    <bpmn:sequenceFlow id="f4" sourceRef="submit" targetRef="end"/>
    <bpmn:endEvent id="end"/>""")


@pytest.fixture
def private_pg():
    pg = PrivatePostgres()
    try:
        yield pg.start()
    finally:
        pg.destroy()


class Worker(threading.Thread):
    """Completes, through the API, the open `outage_work` tasks of every `count`-th instance: one
    every `pace` seconds. A completion answered 503 is kept and retried until it is answered."""

    def __init__(self, client: HttpClient, index: int, count: int, stop: threading.Event, pace: float = 0.8):
        super().__init__(name=client.name, daemon=True)
        self.client, self.index, self.count, self.stop, self.pace = client, index, count, stop, pace
        self.known: list[int] = []           # open tasks of mine from the last inbox that answered
        self.pending: list[int] = []         # completions answered 503: to be tried again
        self.acknowledged: list[int] = []    # completions answered 200
        self.conflicts: list[int] = []       # 409 on a retry: the first try may have committed after all
        self.finished = False

    def run(self) -> None:
        while not self.stop.is_set():
            inbox = self.client.get("api", "/api/v1/tasks?process=outage_work&per_page=100&sort=oldest")
            if inbox.status == 200:
                done = set(self.acknowledged) | set(self.conflicts)
                self.known = [row["id"] for row in inbox.json()["items"]
                              if row["instance_id"] % self.count == self.index and row["id"] not in done]
            task_id = self.pending[0] if self.pending else next(iter(self.known), None)
            if task_id is None:
                self.finished = inbox.status == 200
                self.stop.wait(self.pace)
                continue
            self.finished = False
            answer = self.client.post_json("complete", f"/api/v1/tasks/{task_id}/complete", {"data": {}})
            if task_id in self.pending:
                self.pending.remove(task_id)
            self.known = [t for t in self.known if t != task_id]
            if answer.status == 200:
                self.acknowledged.append(task_id)
            elif answer.status == 409:
                self.conflicts.append(task_id)
            else:
                self.pending.append(task_id)
            self.stop.wait(self.pace)


def browse(client: HttpClient, stop: threading.Event) -> None:
    """A signed-in person reloading the inbox page (in Chinese and in English), the API's inbox and
    a static file, over and over."""
    while not stop.is_set():
        for lang in ("zh", "en"):
            client.get("page", f"/tasks?lang={lang}")
            client.get("api", "/api/v1/tasks", headers={"Accept-Language": lang})
        client.get("static", "/static/kaohe.css")
        stop.wait(0.3)


def in_outage(answer: Answer, down: float, restarting: float) -> bool:
    """Asked after the stop had taken effect and answered before the database was started again."""
    return answer.started > down + 0.2 and answer.ended < restarting


def audit_count(session, action: str, **where) -> int:
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return session.scalar(query)


def assert_projection_matches_state(rt: Runtime) -> None:
    """Open inbox rows are exactly the READY user tasks of each instance's saved workflow."""
    with rt.db.reading() as session:
        for instance_id in session.scalars(select(ProcessInstance.id)):
            workflow, _loaded = load_workflow(rt, session, fetch_instance(session, instance_id))
            open_rows = set(session.scalars(select(HumanTask.task_guid).where(
                HumanTask.instance_id == instance_id, HumanTask.status == "open")))
            assert open_rows == set(ready_tasks(workflow)), f"instance {instance_id}: projection differs from state"


@pytest.mark.timeout(180)
def test_a_30_second_database_outage_under_load(private_pg, tmp_path):
    pg = private_pg
    upgrade(pg.url)
    rt = Runtime(Settings(database_url=pg.url, workflows_dir=ROOT / "workflows", files_dir=tmp_path / "files"))
    people = make_people(rt)
    deploy.deploy(rt, [SourceFile(f"{pid}.bpmn", xml) for pid, xml in
                       (("outage_work", WORK), ("outage_wait", WAIT), ("outage_deadline", DEADLINE))], SYSTEM)
    token = api_tokens.create(rt, SYSTEM, name="outage-drill", scope=["process_owner"], account="owner").secret
    work_ids = [instances.start(rt, "outage_work", people.owner, title=f"填报 {n}") for n in range(18)]

    env = servers.kaohe_env(pg.url, tmp_path / "files")
    web, scheduler = servers.web(env, tmp_path, workers=2), servers.scheduler(env, tmp_path)
    recorder, stop = Recorder(), threading.Event()
    try:
        web.start()
        scheduler.start()
        person = HttpClient(web.base, "browser", recorder)
        person.sign_in("owner")
        # Timers: one due before the outage (the ordinary path), the rest due in the middle of it.
        stop_at = time.time() + 8
        dues = {"before": stop_at - 2, **{f"wait{n}": stop_at + 4 + 4 * n for n in range(5)},
                "deadline0": stop_at + 6, "deadline1": stop_at + 14}
        timer_ids = {}
        for name, due in dues.items():
            moment = datetime.fromtimestamp(due, timezone.utc).isoformat()
            timer_ids[name] = instances.start(rt, "outage_deadline" if name.startswith("deadline") else "outage_wait",
                                              people.owner, data={"due": moment}, title=name)
        rt.db.dispose()  # the test's own pool must not hold connections across the crash

        workers = [Worker(HttpClient(web.base, f"worker{i}", recorder, token=token), i, 3, stop) for i in range(3)]
        browser = threading.Thread(target=browse, args=(person, stop), daemon=True)
        for thread in (*workers, browser):
            thread.start()
        time.sleep(max(0.0, stop_at - time.time()))
        pg.stop("immediate")
        down, down_wall = time.monotonic(), time.time()
        time.sleep(OUTAGE_SECONDS)
        restarting, restarting_wall = time.monotonic(), time.time()
        pg.start()
        up = time.monotonic()
        deadline = up + 60
        while time.monotonic() < deadline and not all(w.finished and not w.pending for w in workers):
            time.sleep(0.5)
        time.sleep(1)
        stop.set()
        for thread in (*workers, browser):
            thread.join(timeout=30)
        assert web.popen.poll() is None and scheduler.popen.poll() is None, "a kaohe process died"
        answers = recorder.snapshot()

        # The outage was real and the timers fell due inside it.
        assert restarting_wall - down_wall >= OUTAGE_SECONDS
        assert all(down_wall < due < restarting_wall for name, due in dues.items() if name != "before")

        # During the outage: 503 with the message, fast, for pages and the API; static files still served.
        during = [a for a in answers if in_outage(a, down, restarting)]
        kinds = {kind: [a for a in during if a.kind == kind] for kind in ("page", "api", "complete", "static")}
        assert all(len(found) >= 3 for found in kinds.values()), {k: len(v) for k, v in kinds.items()}
        assert all(a.status == 200 for a in kinds["static"])
        for answer in kinds["page"] + kinds["api"] + kinds["complete"]:
            assert answer.status == 503, (answer.url, answer.status, answer.body[:300])
            assert answer.headers.get("Retry-After"), answer.url
            assert "Traceback" not in answer.body
        slowest = max(a.seconds for a in during)
        assert slowest < FAST_ENOUGH, f"slowest answer in the outage: {slowest:.1f} s"
        pages = kinds["page"]
        assert any(ZH_MESSAGE in a.body for a in pages if "lang=zh" in a.url)
        assert all(EN_MESSAGE in a.body for a in pages if "lang=en" in a.url)
        for answer in kinds["api"] + kinds["complete"]:
            body = answer.json()
            assert body["status"] == 503 and body["code"] == "database_unavailable" and body["message"]
        assert any(EN_MESSAGE in a.json()["message"].lower() for a in kinds["api"])

        # Never any other server error; after the restart pages and API serve again, by themselves: the
        # same gunicorn workers (none restarted), within seconds.
        assert not [a for a in answers if a.status >= 500 and a.status != 503 or a.status == 0]
        assert web.log().count("Booting worker") == 2, "a web worker was restarted"
        for kind in ("page", "api"):
            first_ok = min(a.ended for a in answers if a.kind == kind and a.started >= restarting and a.status == 200)
            assert first_ok - restarting < RECOVERS_WITHIN, f"{kind} back {first_ok - restarting:.1f} s after restart"
            late_failures = [a for a in answers if a.kind == kind and a.started > first_ok and a.status != 200]
            assert not late_failures, late_failures[:3]

        # Every completion happened exactly once: those acknowledged, and those answered 503 and retried.
        assert all(not w.pending for w in workers), "completions still waiting for an answer"
        assert any(a.kind == "complete" and a.status == 503 for a in answers)
        acknowledged = [t for w in workers for t in w.acknowledged]
        conflicts = [t for w in workers for t in w.conflicts]
        tried = {t: [a.status for a in answers if a.url == f"/api/v1/tasks/{t}/complete"] for t in conflicts}
        # A 409 only where an earlier try got no 2xx: its commit landed just as the database went down.
        assert all(statuses[0] != 200 for statuses in tried.values()), tried
        assert len(acknowledged + conflicts) == len(set(acknowledged + conflicts)) == 2 * len(work_ids)
        with rt.db.reading() as session:
            lost = [t for t in acknowledged if session.get(HumanTask, t).status != "completed"]
            assert not lost, f"acknowledged completions not saved: {lost}"
            for task_id in acknowledged + conflicts:
                assert audit_count(session, "complete", task_guid=session.get(HumanTask, task_id).task_guid) == 1
            statuses = session.scalars(select(ProcessInstance.status).where(ProcessInstance.id.in_(work_ids)))
            assert set(statuses) == {"completed"}

        # The scheduler fired each timer due in the outage once, after the database came back.
        wait_until = time.monotonic() + 30
        while time.monotonic() < wait_until:
            with rt.db.reading() as session:
                if all(audit_count(session, "timer_fired", instance_id=i) for i in timer_ids.values()):
                    break
            time.sleep(0.5)
        with rt.db.reading() as session:
            for name, instance_id in timer_ids.items():
                fired = session.scalars(select(AuditEvent.occurred_at).where(
                    AuditEvent.action == "timer_fired", AuditEvent.instance_id == instance_id)).all()
                assert len(fired) == 1, f"{name}: fired {len(fired)} times"
                expected_after = dues[name] if name == "before" else restarting_wall
                assert fired[0].timestamp() >= expected_after - 0.5, name
                assert session.scalars(select(HumanTask.name).where(
                    HumanTask.instance_id == instance_id, HumanTask.status == "open")).all()
            assert audit_count(session, "timer_fired") == len(timer_ids)

        assert_projection_matches_state(rt)
        verify = cli_runner(pg.url)("audit", "verify")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        # Operators see the outage in the logs as warnings, not as crashes or unhandled errors.
        assert "database unavailable" in web.log() and "unhandled error" not in web.log()
        assert "database unavailable" in scheduler.log() and "Traceback" not in scheduler.log()
    finally:
        stop.set()
        servers.stop_all(web, scheduler)
        rt.db.dispose()


# --- the pieces alone, against a port where no database listens -----------------------------------------

@pytest.fixture
def unreachable_rt(tmp_path) -> Runtime:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{servers.free_port()}/kaohe"
    rt = Runtime(Settings(database_url=url, workflows_dir=ROOT / "workflows", files_dir=tmp_path / "files"))
    yield rt
    rt.db.dispose()


@pytest.mark.timeout(60)
def test_pages_and_api_answer_503_with_a_message_when_the_database_cannot_be_reached(unreachable_rt):
    from web import create_app
    app = create_app({"KAOHE_RUNTIME": unreachable_rt, "TESTING": True, "START_SCHEDULER": False})
    client = app.test_client()
    assert client.get("/login").status_code == 200  # a visitor's sign-in page needs no database
    with client.session_transaction() as session:  # a signed-in person: their next page must load them
        session.update({"_user_id": "1", "_fresh": True, "signed_in_at": time.time()})
    for lang, text in (("zh", ZH_MESSAGE), ("en", EN_MESSAGE)):
        started = time.monotonic()
        page = client.get(f"/tasks?lang={lang}")
        assert time.monotonic() - started < FAST_ENOUGH
        assert page.status_code == 503 and page.headers["Retry-After"]
        assert text in page.get_data(as_text=True)
    token = f"Bearer {api_tokens.SECRET_PREFIX}any-token-needs-the-database"
    api = app.test_client().get("/api/v1/tasks", headers={"Authorization": token, "Accept-Language": "en"})
    assert api.status_code == 503 and api.headers["Retry-After"]
    body = api.get_json()
    assert body["status"] == 503 and body["code"] == "database_unavailable"
    assert EN_MESSAGE in body["message"].lower()


@pytest.mark.timeout(60)
def test_the_scheduler_retries_soon_what_it_could_not_do_for_want_of_a_database(unreachable_rt):
    from engine.scheduling import RETRY_AFTER, TimerScheduler
    timers = TimerScheduler(unreachable_rt)
    timers.start()  # loading the timers fails: logged, retried, the scheduler runs on
    try:
        timers._wake(42)  # a timer due now: its wake-up must not be dropped
        time.sleep(1)     # the calendar's first run (at start) fails meanwhile
        soon = datetime.now(timezone.utc) + RETRY_AFTER + timedelta(seconds=2)
        assert timers.scheduler.running
        for job_id in ("instance-42", "calendar", "rebuild-retry"):
            job = timers.scheduler.get_job(job_id)
            assert job is not None and job.next_run_time <= soon, job_id  # seconds away, not tomorrow
    finally:
        timers.shutdown()
