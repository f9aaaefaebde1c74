"""Results recomputed by a background job, in a real browser: a stale ranking shows the notice and
then, with no click, the fresh figures once the job is done; a period with nothing stored shows the
job's progress and then its ranking. No script error, no Content-Security-Policy violation."""
from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from engine.models import OrgUnit, ResultSnapshot, ScoreAdjustment
from engine.services import jobs, result_store, results
from engine.services.demo import DEMO_PASSWORD
from engine.services.result_inputs import inputs_changed
from tests.support.scoring import ON_10_APRIL
from web import create_app

MARCH = "2026-03"


@pytest.fixture
def live_scored(scored):
    """The scored demo organisation served with KAOHE_WORK_QUEUE=scheduler: jobs wait for a sweep."""
    scored.settings = replace(scored.settings, work_queue="scheduler")
    app = create_app({"TESTING": True, "KAOHE_RUNTIME": scored, "START_SCHEDULER": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kaohe-results-jobs-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def sign_in_owner(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill("owner")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()


def p01_fused(rt) -> Decimal:
    return next(u.fused for u in results.compute(rt, MARCH).units if u.code == "P01")


@pytest.mark.timeout(120)
def test_the_stale_ranking_updates_itself_when_the_job_is_done(scored, live_scored, page, problems):
    result_store.refresh(scored, MARCH)
    before = p01_fused(scored)
    with scored.db.unit_of_work() as session:
        unit = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "P01"))
        session.add(ScoreAdjustment(period=MARCH, unit_id=unit, kind="like", points=Decimal(8), reason="表扬",
                                    created_by="owner", created_at=ON_10_APRIL))
        inputs_changed(session, MARCH)
    after = p01_fused(scored)
    sign_in_owner(page, live_scored)
    page.goto(f"{live_scored}/results?period={MARCH}")
    notice = page.locator("#results-updating")
    expect(notice).to_contain_text("结果正在更新（0%）…")
    p01 = page.locator('tr[data-unit="P01"]')
    expect(p01).to_contain_text(f"{before:.2f}")
    jobs.sweep(scored)  # the scheduler's sweep runs the recompute
    expect(notice).to_have_count(0, timeout=15000)  # the page loaded itself again
    expect(p01).to_contain_text(f"{after:.2f}")
    assert problems == []


@pytest.mark.timeout(120)
def test_nothing_stored_shows_the_progress_then_the_ranking(scored, live_scored, page, problems):
    with scored.db.unit_of_work() as session:
        session.execute(delete(ResultSnapshot))
    sign_in_owner(page, live_scored)
    page.goto(f"{live_scored}/results?period={MARCH}")
    expect(page.locator("#results-pending")).to_contain_text("结果正在更新（0%）…")
    expect(page.locator("#results-updating-bar")).to_have_attribute("value", "0")
    jobs.sweep(scored)
    expect(page.locator('tr[data-unit="P01"]')).to_have_count(1, timeout=15000)
    expect(page.locator("#results-pending")).to_have_count(0)
    assert problems == []
