"""Launches of child instances run in chunks after the parent commits: interrupted half-way, they
resume where they stopped and start nothing twice; the page and the command line show progress."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.models import FanOut, FanOutItem, OrgUnit, ProcessInstance
from engine.services import fan_out, instances, tasks
from engine.services.execution import fetch_instance
from tests.integration.test_children import deploy_cycle
from tests.support.cli import cli_runner
from tests.web.conftest import login
from web import create_app

UNITS = [f"X{n:02d}" for n in range(7)]


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(fan_out, "CHUNK_SIZE", 2)


@pytest.fixture
def seven_units(rt):
    with rt.db.unit_of_work() as session:
        session.add_all([OrgUnit(code=code, name=f"单位{code}", category="production") for code in UNITS])


def children_of(rt, parent: int) -> list[tuple[str, str]]:
    with rt.db.reading() as session:
        return session.execute(select(ProcessInstance.business_key, ProcessInstance.status)
                               .where(ProcessInstance.parent_instance_id == parent)
                               .order_by(ProcessInstance.business_key)).all()


def launch_of(rt, parent: int) -> FanOut:
    with rt.db.reading() as session:
        return session.scalars(select(FanOut).where(FanOut.parent_instance_id == parent)).one()


def crash_after(monkeypatch, chunks: int) -> None:
    """The process dies (as far as this launch knows) while starting chunk `chunks + 1`."""
    from engine.services import start_many as module
    real, calls = module.start_many, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > chunks:
            raise ConnectionError("数据库连接中断")
        return real(*args, **kwargs)
    monkeypatch.setattr(module, "start_many", failing)


def test_an_interrupted_launch_resumes_and_starts_nobody_twice(rt, people, small_chunks, seven_units, monkeypatch):
    deploy_cycle(rt, people.owner)
    crash_after(monkeypatch, 2)
    parent = instances.start(rt, "cycle", people.owner, data={"units": UNITS, "period": "2026-03"})

    # the parent is saved and waits; two chunks (four children) exist, the rest is still to start
    assert fetch_instance_status(rt, parent) == "running"
    assert [key for key, _ in children_of(rt, parent)] == [f"{parent}:{code}" for code in UNITS[:4]]
    launch = launch_of(rt, parent)
    assert (launch.status, launch.started, launch.total) == ("running", 4, 7)
    assert "数据库连接中断" in launch.last_error

    monkeypatch.undo()  # the database is back; the scheduler's sweep (or `kaohe launches resume`) runs it
    monkeypatch.setattr(fan_out, "CHUNK_SIZE", 2)
    assert fan_out.sweep(rt, stalled_only=False) == [launch.id]
    assert [key for key, _ in children_of(rt, parent)] == [f"{parent}:{code}" for code in UNITS]
    launch = launch_of(rt, parent)
    assert (launch.status, launch.started, launch.last_error) == ("done", 7, None)
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(FanOutItem)) == 0
    assert fan_out.sweep(rt, stalled_only=False) == []  # nothing left: running it again does nothing
    assert len(children_of(rt, parent)) == 7


def fetch_instance_status(rt, instance_id: int) -> str:
    with rt.db.reading() as session:
        return fetch_instance(session, instance_id).status


def test_children_finishing_before_the_launch_ends_do_not_release_the_parent_early(rt, people, small_chunks,
                                                                                     seven_units, monkeypatch):
    deploy_cycle(rt, people.owner, child="instant")  # each child completes as soon as it starts
    crash_after(monkeypatch, 1)
    parent = instances.start(rt, "cycle", people.owner, data={"units": UNITS, "period": "2026-03"})
    assert [status for _, status in children_of(rt, parent)] == ["completed", "completed"]
    assert fetch_instance_status(rt, parent) == "running"  # five more to come: still waiting
    monkeypatch.undo()
    fan_out.run(rt, launch_of(rt, parent).id)
    assert fetch_instance_status(rt, parent) == "waiting_person"
    [summary] = [t for t in tasks.inbox(rt, people.owner) if t.instance_id == parent]
    assert tasks.get(rt, summary.id, people.owner).data["plan"] == {"started": 7}


def test_the_instance_page_shows_a_running_launch_and_refreshes_until_it_is_done(rt, people, small_chunks,
                                                                                   seven_units, monkeypatch):
    deploy_cycle(rt, people.owner)
    crash_after(monkeypatch, 1)
    parent = instances.start(rt, "cycle", people.owner, data={"units": UNITS, "period": "2026-03"})
    client = create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False}).test_client()
    login(client, "owner")
    page = client.get(f"/instances/{parent}").get_data(as_text=True)
    assert "子流程启动进度" in page and "已启动 2 / 7" in page and 'value="2"' in page and 'max="7"' in page
    assert 'http-equiv="refresh"' in page and "启动中断，将自动继续" in page
    monkeypatch.undo()
    fan_out.run(rt, launch_of(rt, parent).id)
    page = client.get(f"/instances/{parent}").get_data(as_text=True)
    assert "已启动 7 / 7" in page and "已全部启动" in page and 'http-equiv="refresh"' not in page


def test_the_instance_api_reports_how_far_a_launch_has_come(rt, people, small_chunks, seven_units, monkeypatch):
    from tests.api.conftest import ApiClient, token_for
    deploy_cycle(rt, people.owner)
    crash_after(monkeypatch, 1)
    parent = instances.start(rt, "cycle", people.owner, data={"units": UNITS, "period": "2026-03"})
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})
    api = ApiClient(app.test_client(), token_for(rt, people.owner))
    [launch] = api.get(f"/api/v1/instances/{parent}").get_json()["launches"]
    assert {key: launch[key] for key in ("status", "total", "started", "percent")} == {
        "status": "running", "total": 7, "started": 2, "percent": 28}
    monkeypatch.undo()
    fan_out.run(rt, launch["id"])
    [launch] = api.get(f"/api/v1/instances/{parent}").get_json()["launches"]
    assert (launch["status"], launch["started"], launch["percent"]) == ("done", 7, 100)


def test_the_command_line_lists_launches_and_finishes_one_with_a_progress_bar(rt, people, seven_units, monkeypatch):
    deploy_cycle(rt, people.owner)
    crash_after(monkeypatch, 0)  # nothing started in this process
    parent = instances.start(rt, "cycle", people.owner, data={"units": UNITS, "period": "2026-03"})
    monkeypatch.undo()
    launch_id = launch_of(rt, parent).id
    run = cli_runner(rt.settings.database_url)
    listed = run("launches", "list")
    assert listed.returncode == 0 and "启动中" in listed.stdout and "0" in listed.stdout.split()
    finished = run("launches", "run", str(launch_id))
    assert finished.returncode == 0, finished.stderr
    assert "plan_units (" in finished.stderr  # the bar's label (click draws the bar itself on a terminal only)
    assert "7/7 done" in finished.stdout
    assert len(children_of(rt, parent)) == 7
    english = run("launches", "list", language="en")
    assert "all started" in english.stdout
    again = run("launches", "run", str(launch_id))
    assert again.returncode == 0 and len(children_of(rt, parent)) == 7
    missing = run("launches", "run", "999")
    assert missing.returncode == 1 and "没有启动批次 999" in missing.stderr


def test_in_thread_mode_the_start_answers_at_once_and_a_background_thread_starts_the_children(rt, people,
                                                                                              seven_units):
    import dataclasses
    import time
    from engine.runtime import Runtime
    threaded = Runtime(dataclasses.replace(rt.settings, work_queue="thread"), database=rt.db)
    deploy_cycle(threaded, people.owner)
    parent = instances.start(threaded, "cycle", people.owner, data={"units": UNITS, "period": "2026-03"})
    deadline = time.monotonic() + 30
    while launch_of(rt, parent).status != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [key for key, _ in children_of(rt, parent)] == [f"{parent}:{code}" for code in UNITS]


def test_a_launch_whose_parent_is_terminated_starts_nothing_more(rt, people, small_chunks, seven_units, monkeypatch):
    deploy_cycle(rt, people.owner)
    crash_after(monkeypatch, 1)
    parent = instances.start(rt, "cycle", people.owner, data={"units": UNITS, "period": "2026-03"})
    monkeypatch.undo()
    instances.terminate(rt, parent, people.owner, reason="本月考核取消")
    assert fan_out.sweep(rt, stalled_only=False) == [launch_of(rt, parent).id]
    launch = launch_of(rt, parent)
    assert (launch.status, launch.started) == ("cancelled", 2)
    assert len(children_of(rt, parent)) == 2
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(FanOutItem)) == 0
