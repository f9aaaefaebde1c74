"""An evaluation group's month (考核组, seed 004), one instance per group: the group leader publishes
the month's evaluation focus by the 3rd, scoring opens at midnight on the 1st of the next month, and
the leader confirms once the group's score workbook is uploaded. kaohe checks that every unit the
group's area covers has a score on every indicator; units still missing are listed and the task comes
back. Late focus or scoring is escalated to the performance office (once each); finishing withdraws
whatever escalation is still open."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import HumanTask, OrgUnit, ProcessInstance, ScoreEntry
from engine.runtime import SCHEDULER, SYSTEM, Runtime
from engine.services import instances, schemes, tasks
from engine.services.demo import PRODUCTION
from tests.workflows.steps import at, do, names, only, status, trail, wake

PERIOD = "2026-12"
START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)       # 10:00 on 30 November in Beijing
FOCUS_DUE = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)    # end of 3 December in Beijing
OPENS = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)       # 1 January 00:00 in Beijing
SCORING_DUE = datetime(2027, 1, 7, 16, 0, tzinfo=UTC)   # end of 7 January in Beijing
FOCUS, SCORING = "发布本月考核重点", "考核组评分"
FOCUS_LATE, SCORING_LATE = "督办：考核重点逾期未发布", "督办：考核组评分逾期"
POINTS = {"focus_points": ["冬季保供期间多种经营收入完成情况", "外委项目结算及时性"], "note": "月末随机抽查两个单位台账"}
UPLOADED = {"scores_uploaded": True}


def task_rows(rt) -> list[tuple[str, str]]:
    with rt.db.reading() as session:
        return [tuple(r) for r in session.execute(select(HumanTask.element_id, HumanTask.status)
                                                   .where(HumanTask.instance_id == rt.case)
                                                   .order_by(HumanTask.id)).all()]


def score(rt, area: str, unit_codes: list[str], moment: datetime) -> None:
    """What uploading the group's workbook leaves behind: a score per indicator of the area and unit."""
    with rt.db.unit_of_work() as session:
        scheme = schemes.scheme_for_period(session, PERIOD)
        [indicators] = [a.indicators for a in scheme.areas if a.code == area]
        units = session.execute(select(OrgUnit.code, OrgUnit.id).where(OrgUnit.code.in_(unit_codes))).all()
        session.execute(insert(ScoreEntry), [
            {"period": PERIOD, "unit_id": unit_id, "indicator_id": indicator.id, "value": Decimal(8),
             "entered_by": "leader_tertiary", "entered_at": moment}
            for _code, unit_id in units for indicator in indicators])


def group(rt, code: str = "tertiary", name: str = "三产评价小组", leader: str | None = "leader_tertiary") -> Runtime:
    day = at(rt, START)
    day.case = instances.start(day, "evaluation_group", rt.actor("owner"), data={
        "period": PERIOD, "group_code": code, "group_name": name, "area": code, "leader": leader},
        title=f"{name} {PERIOD}")
    return day


PRODUCTION_UNITS = [f"P{n:02d}" for n in range(1, len(PRODUCTION) + 1)]  # the units 三产 scores


@pytest.fixture
def tertiary(demo):
    schemes.import_scheme(demo, schemes.DEFAULT_SCHEME_FILE.read_text(encoding="utf-8"), SYSTEM)
    return group(demo)


def test_the_leader_publishes_the_focus_then_scores_when_the_month_is_over(tertiary):
    assert names(tertiary, "leader_tertiary") == [FOCUS]
    for other in ("leader_party", "eval_tertiary_1", "owner", "p01_head"):
        assert names(tertiary, other) == []
    assert only(tertiary, "leader_tertiary").due_at == FOCUS_DUE
    assert do(tertiary, "leader_tertiary", FOCUS, POINTS) == "waiting_timer"
    assert names(tertiary, "leader_tertiary") == []
    with tertiary.db.reading() as session:
        assert session.get(ProcessInstance, tertiary.case).next_timer_at == OPENS
    assert tertiary.case not in instances.due_instance_ids(at(tertiary, OPENS - timedelta(minutes=1)))

    jan1 = wake(tertiary, OPENS + timedelta(seconds=1))
    assert names(jan1, "leader_tertiary") == [SCORING]
    scoring = only(jan1, "leader_tertiary")
    assert scoring.due_at == SCORING_DUE and "/scores" in scoring.instructions
    view = tasks.get(jan1, scoring.id, jan1.actor("leader_tertiary"))
    assert view.data["focus_points"] == POINTS["focus_points"] and view.data["missing_units"] == []
    score(jan1, "tertiary", PRODUCTION_UNITS, OPENS + timedelta(days=2))
    jan3 = at(jan1, OPENS + timedelta(days=2, hours=1))
    assert do(jan3, "leader_tertiary", SCORING, {**UPLOADED, "note": "全部按台账评分"}) == "completed"
    with jan3.db.reading() as session:
        instance = session.get(ProcessInstance, jan3.case)
        assert instance.completed_at == OPENS + timedelta(days=2, hours=1)
    assert trail(jan3) == [("start", "owner", "evaluation_group"), ("complete", "leader_tertiary", "focus"),
                           ("timer_fired", SCHEDULER.username, None), ("complete", "leader_tertiary", "scoring"),
                           ("complete_instance", "leader_tertiary", None)]


def test_units_still_unscored_are_listed_and_the_task_comes_back(tertiary):
    do(tertiary, "leader_tertiary", FOCUS, POINTS)
    jan2 = wake(tertiary, OPENS + timedelta(days=1))
    score(jan2, "tertiary", PRODUCTION_UNITS[:10], jan2.clock.now())
    assert do(jan2, "leader_tertiary", SCORING, UPLOADED) == "waiting_person"
    assert names(jan2, "leader_tertiary") == [SCORING]
    again = tasks.get(jan2, only(jan2, "leader_tertiary").id, jan2.actor("leader_tertiary")).data
    assert again["missing_units"] == PRODUCTION[10:]  # 供电队 … by name, as the leader knows them
    assert again["scoring_status"] == "本组负责的 13 个单位中已评完 10 个，还有 3 个未评完（最多列出 20 个）。"
    assert again["progress"] == {"units": 13, "scored": 10, "missing": 3, "missing_units": PRODUCTION[10:]}
    score(jan2, "tertiary", PRODUCTION_UNITS[10:], jan2.clock.now())
    assert do(jan2, "leader_tertiary", SCORING, UPLOADED) == "completed"
    assert [s for a, _u, s in trail(jan2) if a == "complete"] == ["focus", "scoring", "scoring"]


def test_an_area_with_several_indicators_counts_a_unit_scored_only_when_all_have_a_score(demo):
    schemes.import_scheme(demo, schemes.DEFAULT_SCHEME_FILE.read_text(encoding="utf-8"), SYSTEM)
    safety = group(demo, "safety", "安全评价小组", "leader_safety")
    do(safety, "leader_safety", FOCUS, POINTS)
    jan2 = wake(safety, OPENS + timedelta(days=1))
    with jan2.db.unit_of_work() as session:
        codes = session.scalars(select(OrgUnit.code).where(OrgUnit.category.in_(("production", "non_production")))
                                .order_by(OrgUnit.code)).all()
    assert len(codes) == 33
    score(jan2, "safety", codes, jan2.clock.now())
    with jan2.db.unit_of_work() as session:  # one indicator of 采油一队 not scored after all
        p01 = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "P01"))
        entry = session.scalars(select(ScoreEntry).where(ScoreEntry.unit_id == p01, ScoreEntry.period == PERIOD)).first()
        indicator_id = entry.indicator_id
        session.delete(entry)
    do(jan2, "leader_safety", SCORING, UPLOADED)
    again = tasks.get(jan2, only(jan2, "leader_safety").id, jan2.actor("leader_safety")).data
    assert again["missing_units"] == ["采油一队"]
    with jan2.db.unit_of_work() as session:
        session.add(ScoreEntry(period=PERIOD, unit_id=p01, indicator_id=indicator_id, value=Decimal(5),
                               entered_by="leader_safety", entered_at=jan2.clock.now()))
    assert do(jan2, "leader_safety", SCORING, UPLOADED) == "completed"


def test_late_focus_and_late_scoring_are_escalated_to_the_office(tertiary):
    dec4 = wake(tertiary, FOCUS_DUE + timedelta(seconds=1))
    assert names(dec4, "owner") == [FOCUS_LATE]
    assert names(dec4, "leader_tertiary") == [FOCUS]  # the focus stays with the leader
    do(dec4, "owner", FOCUS_LATE, {"escalation_action": "电话督办", "escalation_note": "已提醒组长当天发布"})
    do(dec4, "leader_tertiary", FOCUS, POINTS)
    assert names(dec4, "owner") == []

    jan1 = wake(dec4, OPENS + timedelta(seconds=1))
    with jan1.db.reading() as session:
        assert session.get(ProcessInstance, jan1.case).next_timer_at == SCORING_DUE
    jan8 = wake(jan1, SCORING_DUE + timedelta(seconds=1))
    assert names(jan8, "owner") == [SCORING_LATE]
    assert names(jan8, "leader_tertiary") == [SCORING]
    # a round that comes back after the deadline raises no second escalation
    do(jan8, "leader_tertiary", SCORING, UPLOADED)
    assert names(jan8, "owner") == [SCORING_LATE] and names(jan8, "leader_tertiary") == [SCORING]
    assert jan8.case not in instances.due_instance_ids(at(jan8, SCORING_DUE + timedelta(days=5)))
    score(jan8, "tertiary", PRODUCTION_UNITS, jan8.clock.now())
    assert do(jan8, "leader_tertiary", SCORING, UPLOADED) == "completed"
    assert names(jan8, "owner") == []  # finishing withdrew the escalation nobody handled
    assert task_rows(jan8) == [("focus", "completed"), ("focus_escalate", "completed"), ("scoring", "completed"),
                               ("scoring_escalate", "cancelled"), ("scoring", "completed")]


def test_an_unhandled_focus_escalation_stays_open_until_scoring_ends(tertiary):
    dec5 = wake(tertiary, FOCUS_DUE + timedelta(days=1))
    do(dec5, "leader_tertiary", FOCUS, POINTS)
    assert names(dec5, "owner") == [FOCUS_LATE]
    assert status(dec5) == "waiting_person"
    jan1 = wake(dec5, OPENS + timedelta(seconds=1))
    score(jan1, "tertiary", PRODUCTION_UNITS, jan1.clock.now())
    do(jan1, "leader_tertiary", SCORING, UPLOADED)
    assert status(jan1) == "completed" and names(jan1, "owner") == []
    assert ("focus_escalate", "cancelled") in task_rows(jan1)


def test_only_the_groups_leader_acts(tertiary):
    focus = only(tertiary, "leader_tertiary")
    for intruder in ("leader_party", "eval_tertiary_1", "p01_head", "auditor"):
        with pytest.raises(PermissionDenied):
            tasks.complete(tertiary, focus.id, tertiary.actor(intruder), POINTS)
    do(tertiary, "leader_tertiary", FOCUS, POINTS)
    jan1 = wake(tertiary, OPENS + timedelta(seconds=1))
    with pytest.raises(PermissionDenied):
        tasks.complete(jan1, only(jan1, "leader_tertiary").id, jan1.actor("leader_operations"), UPLOADED)


def test_a_group_without_a_leader_is_offered_to_the_evaluation_group_leaders(demo):
    schemes.import_scheme(demo, schemes.DEFAULT_SCHEME_FILE.read_text(encoding="utf-8"), SYSTEM)
    leaderless = group(demo, leader=None)
    assert names(leaderless, "leader_party") == [FOCUS] and names(leaderless, "leader_tertiary") == [FOCUS]
    assert names(leaderless, "eval_tertiary_1") == []


def test_the_forms_refuse_empty_or_overlong_focus_and_an_unconfirmed_upload(tertiary):
    leader = tertiary.actor("leader_tertiary")
    focus = only(tertiary, "leader_tertiary").id
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(tertiary, focus, leader, {"focus_points": []})
    assert {k: v.zh for k, v in caught.value.field_errors.items()} == {"focus_points": "至少需要 1 项"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(tertiary, focus, leader, {"focus_points": [f"重点 {n}" for n in range(11)]})
    assert caught.value.field_errors["focus_points"].zh == "最多 10 项"
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(tertiary, focus, leader, {"focus_points": ["好", "x" * 201], "note": "y" * 501})
    assert {k: v.zh for k, v in caught.value.field_errors.items()} == {
        "focus_points.0": "至少需要 2 个字符", "focus_points.1": "最多 200 个字符", "note": "最多 500 个字符"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(tertiary, focus, leader, {"note": "无"})
    assert set(caught.value.field_errors) == {"focus_points"}
    do(tertiary, "leader_tertiary", FOCUS, POINTS)
    jan1 = wake(tertiary, OPENS + timedelta(seconds=1))
    scoring = only(jan1, "leader_tertiary").id
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(jan1, scoring, leader, {"scores_uploaded": False})
    assert set(caught.value.field_errors) == {"scores_uploaded"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(jan1, scoring, leader, {})
    assert caught.value.field_errors["scores_uploaded"].zh == "此项为必填项"
    with pytest.raises(ValidationFailed) as caught:  # the area scored is not the leader's to change
        tasks.complete(jan1, scoring, leader, {**UPLOADED, "area": "party"})
    assert caught.value.field_errors["_form"].zh == "包含不允许的字段"
    assert names(jan1, "leader_tertiary") == [SCORING]
