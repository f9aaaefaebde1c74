"""The quarter's public display (公示) and the interview tracker, as people see them in the browser's
HTML: rated-good achievements with who rated them and why; interview progress to 100%."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine.clock import FixedClock
from engine.runtime import Runtime
from engine.services.demo import DEMO_PASSWORD
from tests.support.probes import probe, run
from tests.web.conftest import login
from web import create_app

NOW = datetime(2027, 1, 20, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def january_app(demo_org):
    """The app at 20 January 2027. December 2026: p01_staff1 declared two items, one rated 优秀 by p01_head; the display is out;
    p01_staff2 has had the quarter's interview."""
    rt = Runtime(demo_org.settings, database=demo_org.db, clock=FixedClock(NOW))
    rt.actor = demo_org.actor
    declare = probe(rt, "kaohe/record_declaration", ["period", "username", "items", "score", "rated_in"],
                    fill_first=True)
    item = {"title": "完成注水井<b>改造</b>", "task_source": "任务书第 2 项", "self_rating": "优秀",
            "rating": "优秀", "rating_reason": "提前 5 天完成，节约成本 8 万元"}
    run(rt, declare, {"period": "2026-12", "username": "p01_staff1", "score": 95, "rated_in": "fill",
                      "items": [item, {**item, "title": "日常巡检", "rating": "一般"}]}, filled_by="p01_head")
    run(rt, probe(rt, "kaohe/publish_achievements", ["quarter"]), {"quarter": "2026Q4"})
    interview = probe(rt, "kaohe/record_interview", ["label", "username", "form", "recorded_in"], fill_first=True)
    run(rt, interview, {"label": "2026Q4", "username": "p01_staff2", "form": {"held_on": "2027-01-15"},
                        "recorded_in": "fill"}, filled_by="p01_head")
    return create_app({"TESTING": True, "KAOHE_RUNTIME": rt, "START_SCHEDULER": False})


def test_everyone_sees_the_good_achievements_with_rater_and_reason(january_app):
    client = january_app.test_client()
    login(client, "n05_staff3", DEMO_PASSWORD)
    page = client.get("/publicity").get_data(as_text=True)  # last month was December: 2026Q4
    assert "2026Q4" in page and "提前 5 天完成，节约成本 8 万元" in page
    assert "完成注水井&lt;b&gt;改造&lt;/b&gt;" in page  # what a person typed is shown, never rendered
    assert "日常巡检" not in page  # rated 一般: not on display


def test_a_malformed_quarter_is_a_clear_error(january_app):
    client = january_app.test_client()
    login(client, "n05_staff3", DEMO_PASSWORD)
    response = client.get("/publicity?quarter=2026Q5")
    assert response.status_code == 422 and "2026Q5" in response.get_data(as_text=True)


def test_the_office_sees_interview_progress_and_a_head_only_their_unit(january_app):
    office, head = january_app.test_client(), january_app.test_client()
    login(office, "owner", DEMO_PASSWORD)
    page = office.get("/interviews?quarter=2026Q4").get_data(as_text=True)
    assert "已面谈 1 / 198 人" in page and "p01_staff1" in page and "p01_staff2)" not in page
    login(head, "p02_head", DEMO_PASSWORD)
    page = head.get("/interviews?quarter=2026Q4").get_data(as_text=True)
    assert "已面谈 0 / 6 人" in page and "p02_staff1" in page and "p01_staff1" not in page


def test_staff_may_not_see_the_interview_tracker(january_app):
    client = january_app.test_client()
    login(client, "p01_staff1", DEMO_PASSWORD)
    assert client.get("/interviews").status_code == 403
