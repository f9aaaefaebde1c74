"""The quarterly evaluation (季度评价): started on the quarter's last day, it waits until the last
month is scored, computes the quarter's ranking and rewards for the office to review, then puts
the good achievements on public display (公示) until the 17th and holds a one-on-one feedback
interview with every member of staff; it ends only when every interview is done."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engine.errors import ValidationFailed
from engine.models import AchievementItem, FeedbackInterview, Person, ProcessInstance
from engine.services import instances, tasks
from engine.services.calendar_jobs import run_calendar
from tests.workflows.test_monthly_cycle import (
    UNITS,
    at,
    children,
    cycle_data,
    cycle_record,
    do,
    enter_scores,
    import_scheme,
    inbox,
    keep_only,
    names,
    wake,
)

CST = timezone(timedelta(hours=8))
QUARTER = "2026Q4"
START = datetime(2026, 12, 31, 9, 0, tzinfo=CST)  # the calendar's quarter_end firing
RESULTS_READY = datetime(2027, 1, 10, 9, 0, tzinfo=CST)
PUBLICITY_ENDS = datetime(2027, 1, 18, 0, 0, tzinfo=CST)
REVIEW, CLOSE, INTERVIEW = "审核季度排名与奖惩", "公示期满确认", "一对一反馈面谈"
INTERVIEW_FORM = {
    "result": "本季度考核良好，单位排名第 5", "strengths": "任务完成及时，主动承担抢修任务",
    "weaknesses": "班组学习记录不够规范", "root_causes": "对学习记录要求理解不到位",
    "improvement_plan": "下季度每周检查一次学习记录",
    "topics": {"thinking": "思想稳定，工作积极", "achievements": "完成冬季检修 12 台",
               "abilities": "设备故障判断能力强", "conduct": "遵守劳动纪律，作风扎实"},
    "order_followed": True, "held_on": "2027-01-15"}


def start_quarter(rt, quarter: str = QUARTER):
    first = at(rt, START)
    first.cycle = instances.start(first, "quarterly_cycle", rt.actor("owner"), data={"quarter": quarter},
                                  title=f"{quarter} 季度评价", business_key=f"quarterly_cycle:{quarter}")
    return first


def progress(rt) -> tuple[int, int]:
    """Interviews done (completed or terminated) of all interviews started: N of M."""
    started = children(rt, "interviews")
    return sum(1 for c in started if c.status in ("completed", "terminated")), len(started)


def interviewer_of(username: str) -> str:
    unit, role = username.split("_")
    return "owner" if role == "head" else f"{unit}_head"


def reviewed(rt):
    """Past the results and the office's review: publicity and interviews are under way."""
    enter_scores(rt, "2026-12")
    rt = wake(rt, RESULTS_READY + timedelta(seconds=1))
    do(rt, "owner", REVIEW, {"confirmed": True})
    return rt


@pytest.fixture
def quarter(demo):
    import_scheme(demo)
    return start_quarter(demo)


@pytest.fixture
def small(demo):
    keep_only(demo, {"P01", "N01", "B01"})
    import_scheme(demo)
    return start_quarter(demo)


def test_the_quarter_waits_for_the_months_scores_then_the_office_reviews(small):
    rt = small
    assert cycle_record(rt).status == "waiting_timer"
    assert cycle_record(rt).next_timer_at == RESULTS_READY
    data = cycle_data(rt)
    assert data["period"] == "2026-12"  # the quarter's last month
    assert data["deadlines"] == {"results_ready": "2027-01-10T09:00:00+08:00",
                                 "publicity_ends": "2027-01-18T00:00:00+08:00"}
    assert names(rt, "owner") == [] and children(rt) == []
    enter_scores(rt, "2026-12")
    rt = wake(rt, RESULTS_READY + timedelta(seconds=1))
    [review] = inbox(rt, "owner", REVIEW)
    view = tasks.get(rt, review.id, rt.actor("owner"))
    assert view.data["results"]["label"] == QUARTER and view.schema["title"] == REVIEW
    assert children(rt) == []  # nothing is published or interviewed before the review
    for form in ({}, {"confirmed": False}):
        with pytest.raises(ValidationFailed):
            tasks.complete(rt, review.id, rt.actor("owner"), form)
    do(rt, "owner", REVIEW, {"confirmed": True, "note": "排名无异议"})
    assert progress(rt) == (0, 12)
    assert names(rt, "p01_head") == [INTERVIEW] * 5  # the deputy and four staff
    assert names(rt, "owner") == [INTERVIEW] * 2  # the two heads are interviewed by the office
    interview = tasks.get(rt, inbox(rt, "p01_head")[0].id, rt.actor("p01_head")).data
    assert (interview["quarter"], interview["period"], interview["unit_code"]) == (QUARTER, "2026-12", "P01")


@pytest.mark.parametrize("quarter, period", [("2026Q1", "2026-03"), ("2026Q2", "2026-06"), ("2026Q3", "2026-09")])
def test_the_quarter_names_its_last_month(demo, quarter, period):
    rt = start_quarter(demo, quarter)
    assert cycle_data(rt)["period"] == period


def test_a_malformed_quarter_is_refused(demo):
    rt = start_quarter(demo, "2026Q5")
    record = cycle_record(rt)
    assert record.status == "error" and record.error_element == "quarter_month"
    assert "2026Q4" in record.error_message


def test_the_quarter_ends_only_when_every_interview_is_done(quarter):
    rt = reviewed(quarter)
    people = [f"{unit}_{role}" for unit in UNITS for role in ("head", "deputy", "staff1", "staff2", "staff3", "staff4")]
    total = len(people)
    assert progress(rt) == (0, total)
    assert len(inbox(rt, "owner", INTERVIEW)) == len(UNITS)  # every head, by the office
    for head in (f"{unit}_head" for unit in UNITS):
        assert names(rt, head) == [INTERVIEW] * 5, head
    last = "n20_staff4"  # interviewed last
    for interviewer in ["owner"] + [f"{unit}_head" for unit in UNITS]:
        for task in inbox(rt, interviewer, INTERVIEW):
            if task_user(rt, task, interviewer) != last:
                tasks.complete(rt, task.id, rt.actor(interviewer), INTERVIEW_FORM)
    assert progress(rt) == (total - 1, total)
    # the publicity ends meanwhile; the quarter still waits for the last interview
    rt = wake(rt, PUBLICITY_ENDS + timedelta(seconds=1))
    do(rt, "owner", CLOSE, {"objections": [], "concluded": True})
    assert cycle_record(rt).status == "running"
    do(rt, "n20_head", INTERVIEW, INTERVIEW_FORM)
    assert progress(rt) == (total, total)
    assert cycle_record(rt).status == "completed"
    with rt.db.reading() as session:
        assert len(session.scalars(select(FeedbackInterview).where(FeedbackInterview.label == QUARTER)).all()) == total


def task_user(rt, task, interviewer: str | None = None) -> str:
    return tasks.get(rt, task.id, rt.actor(interviewer or "owner")).data["username"]


def test_the_good_achievements_are_published_and_the_publicity_closes_with_its_objections(small):
    with small.db.unit_of_work() as session:
        staff = session.scalar(select(Person).where(Person.username == "p01_staff1"))
        head = session.scalar(select(Person).where(Person.username == "p01_head"))
        for n, (period, rating) in enumerate([("2026-10", "优秀"), ("2026-11", "良好"), ("2026-12", "一般"),
                                              ("2026-09", "优秀")], 1):
            session.add(AchievementItem(period=period, person_id=staff.id, position=n, title=f"实绩 {n}",
                                        task_source="月度任务书", self_rating="良好", rating=rating,
                                        rating_reason="按期高质量完成", rated_by_id=head.id, rated_at=START))
    rt = reviewed(small)
    assert cycle_data(rt)["publicity"] == {"quarter": QUARTER, "items": 2, "people": 1}
    with rt.db.reading() as session:
        published = sorted((i.period, i.published_at is not None) for i in session.scalars(select(AchievementItem)))
    assert published == [("2026-09", False), ("2026-10", True), ("2026-11", True), ("2026-12", False)]
    assert cycle_record(rt).next_timer_at == PUBLICITY_ENDS
    assert names(at(rt, PUBLICITY_ENDS - timedelta(minutes=1)), "owner").count(CLOSE) == 0
    rt = wake(rt, PUBLICITY_ENDS + timedelta(seconds=1))
    [close] = inbox(rt, "owner", CLOSE)
    assert tasks.get(rt, close.id, rt.actor("owner")).data["publicity"]["items"] == 2
    for form in ({"objections": [], "concluded": False},
                 {"objections": [{"content": "异议", "handling": ""}], "concluded": True},
                 {"objections": [{"content": "对实绩 1 的评价有异议"}], "concluded": True},
                 {"objections": [{"content": "异议内容", "handling": "已处理", "by": "x"}], "concluded": True},
                 {"objections": [{"content": "异议内容", "handling": "已处理"}] * 51, "concluded": True}):
        with pytest.raises(ValidationFailed):
            tasks.complete(rt, close.id, rt.actor("owner"), form)
    do(rt, "owner", CLOSE, {"objections": [{"content": "实绩 1 的数量与台账不一致",
                                            "handling": "经核对台账，数量无误，已答复"}], "concluded": True})
    assert cycle_record(rt).status == "running"  # the interviews are not done yet
    assert progress(rt) == (0, 12)
    for interviewer in ("owner", "p01_head", "n01_head"):
        do(rt, interviewer, INTERVIEW, INTERVIEW_FORM)
    assert progress(rt) == (12, 12)
    assert cycle_record(rt).status == "completed"


def test_the_calendar_starts_the_quarter_on_its_last_day(demo):
    run_calendar(at(demo, datetime(2026, 12, 31, 8, 0, tzinfo=CST)))  # installation: the calendar starts
    outcomes = run_calendar(at(demo, datetime(2026, 12, 31, 9, 0, 30, tzinfo=CST)))
    assert ("quarter_end", "done", {"quarter": QUARTER, "quarterly_cycle": True}) in [
        (o.firing.job, o.status, o.detail) for o in outcomes]
    with demo.db.reading() as session:
        started = session.scalar(select(ProcessInstance).where(
            ProcessInstance.business_key == f"quarterly_cycle:{QUARTER}"))
    rt = at(demo, START)
    rt.cycle = started.id
    assert started.status == "waiting_timer" and cycle_data(rt)["period"] == "2026-12"
