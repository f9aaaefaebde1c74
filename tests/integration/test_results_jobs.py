"""Results recomputed as background jobs (engine/services/result_jobs.py): with a work queue other
than `inline`, a results page or the API never computes in the request. Stale stored results are shown
with the notice "结果正在更新（NN%）…" while one job (however many requests come) recomputes them;
nothing stored shows the progress instead (202); once the job is done the fresh results show. With
`inline` the page computes as before. The job is the system's: nobody starts it through /jobs, and its
status tells a visitor how far it is, never a figure."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from engine.errors import PermissionDenied
from engine.models import OrgUnit, ResultSnapshot, ScoreAdjustment
from engine.models.job import Job
from engine.runtime import SYSTEM
from engine.services import api_tokens, jobs, result_jobs, result_store, result_views, results
from engine.services.demo import DEMO_PASSWORD
from engine.services.result_inputs import inputs_changed
from tests.support.scoring import ON_10_APRIL
from tests.web.conftest import login
from web import create_app

MARCH = "2026-03"


def queue(rt, mode: str) -> None:
    rt.settings = replace(rt.settings, work_queue=mode)


def like_p01(rt, points: int = 7) -> None:
    """A like for P01 in March, written as the adjustment services write it (inputs bumped)."""
    with rt.db.unit_of_work() as session:
        unit = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "P01"))
        session.add(ScoreAdjustment(period=MARCH, unit_id=unit, kind="like", points=Decimal(points),
                                    reason="表扬", created_by="owner", created_at=ON_10_APRIL))
        inputs_changed(session, MARCH)


def fused(rt, code: str = "P01") -> Decimal:
    return next(u.fused for u in results.compute(rt, MARCH).units if u.code == code)


def compute_jobs(rt) -> list[Job]:
    with rt.db.reading() as session:
        return list(session.scalars(select(Job).where(Job.kind == result_jobs.KIND).order_by(Job.id)))


def wait_until_done(rt, label: str = MARCH, seconds: float = 60) -> result_jobs.Updating:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = result_jobs.status(rt, label)
        if seen is not None and seen.finished:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"the recompute of {label} did not finish in {seconds} s: {seen}")


@pytest.fixture
def app(scored):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": scored, "START_SCHEDULER": False})


def signed_in(app, username: str):
    client = app.test_client()
    assert login(client, username, DEMO_PASSWORD).status_code == 302, username
    return client


def api(app, rt, username: str):
    actor = rt.actor(username)
    secret = api_tokens.create(rt, SYSTEM, name=f"t-{username}", scope=sorted(actor.roles) or ["staff"],
                               account=username).secret
    client = app.test_client()
    return lambda path: client.get(path, headers={"Authorization": f"Bearer {secret}"})


def row_of(page: str, code: str) -> str:
    start = page.index(f'data-unit="{code}"')
    return page[start:page.index("</tr>", start)]


@pytest.mark.timeout(180)
def test_stale_results_show_as_stored_with_a_notice_and_one_job_then_fresh(scored, app):
    before = fused(scored)
    result_store.snapshot(scored, MARCH)  # stored, current
    like_p01(scored)
    after = fused(scored)
    assert after != before
    queue(scored, "scheduler")  # jobs wait for the sweep: what the requests do is seen alone
    owner, staff = signed_in(app, "owner"), signed_in(app, "p01_staff1")
    for _ in range(3):
        page = owner.get(f"/results?period={MARCH}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "结果正在更新（0%）…" in html and "results_updating.js" in html
        assert f">{before:.2f}<" in row_of(html, "P01") and f">{after:.2f}<" not in row_of(html, "P01")
    assert "结果正在更新（0%）…" in staff.get(f"/results?period={MARCH}").get_data(as_text=True)
    assert owner.get(f"/results/units/P01?period={MARCH}&months=1").status_code == 200
    assert [job.status for job in compute_jobs(scored)] == ["queued"]  # one job for every request
    status = owner.get(f"/results/updating?period={MARCH}").get_json()
    assert status["status"] == "queued" and status["finished"] is False and status["percent"] == 0
    assert status["message"] == "结果正在更新（0%）…" and set(status) == {
        "label", "status", "finished", "percent", "stage", "message"}  # progress only, no figure

    assert jobs.sweep(scored) == [compute_jobs(scored)[0].id]
    assert staff.get(f"/results/updating?period={MARCH}").get_json()["finished"] is True
    html = owner.get(f"/results?period={MARCH}").get_data(as_text=True)
    assert "结果正在更新" not in html and f">{after:.2f}<" in row_of(html, "P01")
    assert [job.status for job in compute_jobs(scored)] == ["done"]


@pytest.mark.timeout(180)
def test_many_requests_at_once_start_one_job_and_the_thread_queue_brings_the_fresh_result(scored):
    result_store.snapshot(scored, MARCH)
    like_p01(scored, 9)
    after = fused(scored)
    queue(scored, "thread")
    pages, barrier = [], threading.Barrier(6)

    def visit(username):
        barrier.wait()
        pages.append(result_views.results_page(scored, scored.actor(username), MARCH))
    visitors = [threading.Thread(target=visit, args=(u,)) for u in ("owner", "p01_staff1", "auditor") * 2]
    for thread in visitors:
        thread.start()
    for thread in visitors:
        thread.join(60)
    assert len(pages) == 6
    assert len({page.updating.job_id for page in pages if page.updating}) <= 1
    assert wait_until_done(scored).status == "done"
    assert len(compute_jobs(scored)) == 1
    page = result_views.results_page(scored, scored.actor("owner"), MARCH)
    assert page.updating is None
    assert next(r for t in page.tables for r in t.rows if r.unit.code == "P01").unit.fused == after


@pytest.mark.timeout(180)
def test_a_period_with_nothing_stored_shows_the_progress_instead_then_the_results(scored, app):
    with scored.db.unit_of_work() as session:
        session.execute(delete(ResultSnapshot))
    queue(scored, "scheduler")
    owner = signed_in(app, "owner")
    page = owner.get(f"/results?period={MARCH}")
    html = page.get_data(as_text=True)
    assert page.status_code == 202 and 'id="results-pending"' in html and "<progress" in html
    assert "结果正在更新（0%）…" in html and 'data-unit="P01"' not in html
    assert owner.get(f"/results/units/P01?period={MARCH}").status_code == 202
    assert owner.get(f"/results/people/p01_staff1?period={MARCH}").status_code == 202
    english = signed_in(app, "owner").get(f"/results?period={MARCH}&lang=en").get_data(as_text=True)
    assert "Results are being updated (0%)…" in english
    assert len(compute_jobs(scored)) == 1
    with scored.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ResultSnapshot)) == 0  # nothing computed

    jobs.sweep(scored)
    page = owner.get(f"/results?period={MARCH}")
    assert page.status_code == 200 and 'data-unit="P01"' in page.get_data(as_text=True)


@pytest.mark.timeout(120)
def test_the_recompute_reports_the_units_and_people_it_computed(scored):
    like_p01(scored)
    reports = []
    outcome = result_jobs.run(scored, result_jobs.RESULTS_ACTOR, {"label": MARCH}, None,
                              lambda done, total, zh, en: reports.append((done, total, zh)))
    computed = results.compute(scored, MARCH)
    units, people = len(computed.units), len(computed.people)
    assert outcome.summary == {"label": MARCH, "units": units, "people": people}
    counting = [(d, t) for d, t, zh in reports if zh == "正在计算考核结果"]
    saving = [(d, t) for d, t, zh in reports if zh == "正在保存考核结果"]
    assert counting[0] == (0, units + people) and counting[-1] == (units + people, units + people)
    assert saving[-1] == (units + people, units + people)
    assert [d for d, _t in counting] == sorted(d for d, _t in counting)  # it only moves forward


@pytest.mark.timeout(120)
def test_inline_still_computes_in_the_request_and_starts_no_job(scored, app):
    result_store.snapshot(scored, MARCH)
    like_p01(scored)
    html = signed_in(app, "owner").get(f"/results?period={MARCH}").get_data(as_text=True)
    assert "结果正在更新" not in html and f">{fused(scored):.2f}<" in row_of(html, "P01")
    assert compute_jobs(scored) == []


@pytest.mark.timeout(180)
def test_the_api_answers_stored_results_with_updating_or_202_with_the_job(scored, app):
    result_store.snapshot(scored, MARCH)
    before = fused(scored)
    like_p01(scored)
    queue(scored, "scheduler")
    get = api(app, scored, "owner")
    body = get(f"/api/v1/results?period={MARCH}").get_json()
    job_id = compute_jobs(scored)[0].id
    assert body["updating"] is True and body["job"] == {"label": MARCH, "job_id": job_id, "status": "queued",
                                                        "percent": 0, "stage": "排队中"}
    p01 = next(r for t in body["tables"] for r in t["rows"] if r["code"] == "P01")
    assert Decimal(p01["fused"]) == before
    unit = get(f"/api/v1/results/units/P01?period={MARCH}&months=1").get_json()
    assert unit["updating"] is True and unit["job"]["job_id"] == job_id
    jobs.sweep(scored)
    body = get(f"/api/v1/results?period={MARCH}").get_json()
    assert body["updating"] is False and body["job"] is None
    assert Decimal(next(r for t in body["tables"] for r in t["rows"] if r["code"] == "P01")["fused"]) != before

    with scored.db.unit_of_work() as session:
        session.execute(delete(ResultSnapshot))
    answer = get(f"/api/v1/results/people/p01_staff1?period={MARCH}")
    assert answer.status_code == 202 and answer.headers["Retry-After"] == "2"
    assert answer.get_json()["status"] == "queued" and answer.get_json()["percent"] == 0
    assert len(compute_jobs(scored)) == 2  # the done one and the new one


@pytest.mark.timeout(120)
def test_the_recompute_is_the_systems_job_nobody_starts_or_reads_it_through_jobs(scored, app):
    with pytest.raises(PermissionDenied):
        jobs.start(scored, result_jobs.KIND, scored.actor("owner"), {"label": MARCH})
    like_p01(scored)
    queue(scored, "scheduler")
    staff = signed_in(app, "p01_staff1")
    assert staff.get(f"/results?period={MARCH}").status_code == 202  # visiting starts it for them
    job_id = compute_jobs(scored)[0].id
    assert staff.get(f"/jobs/{job_id}").status_code == 403
    assert signed_in(app, "owner").get(f"/jobs/{job_id}/status").status_code == 403
    jobs.sweep(scored)
    status = staff.get(f"/results/updating?period={MARCH}").get_json()
    assert status == {"label": MARCH, "status": "done", "finished": True, "percent": 100,
                      "stage": "已完成", "message": ""}
    with scored.db.reading() as session:  # a recompute is nobody's action: no line in the trail
        from engine.models import AuditEvent
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "job_submitted")) == 0


@pytest.mark.timeout(120)
def test_a_failed_recompute_keeps_the_stored_results_and_says_why(scored, app, monkeypatch):
    result_store.snapshot(scored, MARCH)
    before = fused(scored)
    like_p01(scored)
    queue(scored, "scheduler")
    owner = signed_in(app, "owner")
    assert owner.get(f"/results?period={MARCH}").status_code == 200
    monkeypatch.setattr(result_store, "compute", lambda *args, **kwargs: 1 / 0)
    jobs.sweep(scored)
    status = owner.get(f"/results/updating?period={MARCH}").get_json()
    assert status["status"] == "failed" and status["finished"] is True
    assert status["message"].startswith("任务意外出错") and "服务器日志" in status["message"]
    html = owner.get(f"/results?period={MARCH}").get_data(as_text=True)  # the stored ones, and a new try
    assert f">{before:.2f}<" in row_of(html, "P01") and "结果正在更新（0%）…" in html
    assert [job.status for job in compute_jobs(scored)] == ["failed", "queued"]
