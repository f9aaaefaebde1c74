"""The instruction card (指令卡, seed 004): multi-department work with one responsible unit, assisting
units each with its duty, a goal, a deadline and reward/penalty terms. Each assisting head confirms
its duty, the responsible head reports completion, the issuer accepts or returns it; on acceptance a
like (on time) or an error notice (late) lands on the responsible unit's monthly score. A missed
deadline sends the responsible head a reminder. Time is kaohe's clock, moved by the test."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.clock import FixedClock
from engine.errors import PermissionDenied, ValidationFailed
from engine.models import OrgUnit, ScoreAdjustment
from engine.runtime import SYSTEM, Runtime
from engine.services import children, instances, results, schemes, tasks
from engine.services.adjustment_operator import (
    AdjustmentRefused,
    calendar_day,
    record_adjustment,
)
from engine.services.demo_scores import load_demo_scores
from engine.services.execution import fetch_instance

START = datetime(2026, 3, 12, 1, 0, tzinfo=UTC)           # 09:00 in Beijing
DEADLINE_PASSED = datetime(2026, 3, 20, 16, 0, tzinfo=UTC)  # 2026-03-21 00:00 in Beijing
CARD = {
    "title": "冬季保供管线保温改造", "goal": "3 月 20 日前完成 3 条集输管线保温改造，零冻堵",
    "responsible_unit": "P02",
    "assisting": [{"unit_code": "N01", "duty": "协调办公用车和现场后勤保障"},
                  {"unit_code": "N03", "duty": "落实改造资金，3 日内完成拨付"}],
    "deadline": "2026-03-20", "reward_points": 3, "penalty_points": 2, "period": "2026-03", "issuer": "owner",
}
REPORT = {"achievement": "三条管线保温改造全部完成，经试运行无冻堵",
          "evidence": ["改造验收单 YS-2026-031", "试运行记录 3 月 18 日", "现场照片 12 张"]}


@pytest.fixture
def card(demo):
    """A card issued by the office at START, on a clock the test moves; `card.case` is its id."""
    clock = FixedClock(START)
    rt = Runtime(demo.settings, database=demo.db, clock=clock)
    rt.actor = demo.actor
    rt.case = instances.start(rt, "instruction_card", demo.actor("owner"), data=CARD, title=CARD["title"])
    return rt


def mine(rt, username: str) -> list:
    return [t for t in tasks.inbox(rt, rt.actor(username)) if t.instance_id == rt.case]


def names(rt, username: str) -> list[str]:
    return sorted(t.name for t in mine(rt, username))


def only(rt, username: str, name: str):
    [task] = [t for t in mine(rt, username) if t.name == name]
    return task


def do(rt, username: str, name: str, submitted: dict) -> str:
    return tasks.complete(rt, only(rt, username, name).id, rt.actor(username), submitted)


def confirm_all(rt) -> None:
    do(rt, "n01_head", "协办单位确认职责", {"confirmed": True})
    do(rt, "n03_head", "协办单位确认职责", {"confirmed": True, "concern": "资金需党委会审议，拨付可能晚 1 天"})


def status(rt) -> tuple[str, str | None]:
    with rt.db.reading() as session:
        instance = fetch_instance(session, rt.case)
        return instance.status, instance.error_message


def adjustments(rt) -> list[tuple[str, str, str, Decimal, str]]:
    with rt.db.reading() as session:
        return [(code, period, kind, Decimal(points), source) for code, period, kind, points, source in session.execute(
            select(OrgUnit.code, ScoreAdjustment.period, ScoreAdjustment.kind, ScoreAdjustment.points,
                   ScoreAdjustment.source).join(OrgUnit, OrgUnit.id == ScoreAdjustment.unit_id)
            .where(ScoreAdjustment.source.like("instruction_card:%")))]


def test_each_assisting_head_confirms_only_their_own_duty(card):
    assert names(card, "n01_head") == ["协办单位确认职责"]
    assert names(card, "n03_head") == ["协办单位确认职责"]
    for other in ("p02_head", "n02_head", "n01_deputy", "n01_staff1", "owner"):
        assert names(card, other) == []
    n01 = tasks.get(card, only(card, "n01_head", "协办单位确认职责").id, card.actor("n01_head"))
    n03 = tasks.get(card, only(card, "n03_head", "协办单位确认职责").id, card.actor("n03_head"))
    assert (n01.data["unit_code"], n01.data["duty"]) == ("N01", "协调办公用车和现场后勤保障")
    assert (n03.data["unit_code"], n03.data["duty"]) == ("N03", "落实改造资金，3 日内完成拨付")
    assert n01.schema["properties"]["duty"]["readOnly"] is True
    with pytest.raises(ValidationFailed) as caught:  # confirming is the point of the task
        tasks.complete(card, n01.task.id, card.actor("n01_head"), {"confirmed": False})
    assert "confirmed" in caught.value.field_errors
    with pytest.raises(ValidationFailed):  # the office's terms are shown, not rewritten
        tasks.complete(card, n01.task.id, card.actor("n01_head"), {"confirmed": True, "duty": "无"})
    confirm_all(card)
    assert names(card, "p02_head") == ["办理并报告完成情况"]  # only after every assisting unit confirmed
    report = tasks.get(card, only(card, "p02_head", "办理并报告完成情况").id, card.actor("p02_head"))
    assert report.data["assisting_concerns"] == "N03：资金需党委会审议，拨付可能晚 1 天"
    assert report.data["unit_code"] == "P02"


def test_a_wrong_user_cannot_complete_another_units_task(card):
    n03_task = only(card, "n03_head", "协办单位确认职责")
    for intruder in ("n01_head", "p02_head", "n03_staff1"):
        with pytest.raises(PermissionDenied):
            tasks.complete(card, n03_task.id, card.actor(intruder), {"confirmed": True})
    confirm_all(card)
    report = only(card, "p02_head", "办理并报告完成情况")
    for intruder in ("p01_head", "n01_head", "p02_deputy", "owner"):
        with pytest.raises(PermissionDenied):
            tasks.complete(card, report.id, card.actor(intruder), REPORT)
    do(card, "p02_head", "办理并报告完成情况", REPORT)
    assert names(card, "owner") == ["验收完成情况"]  # the issuer named in the card
    accept = only(card, "owner", "验收完成情况")
    for intruder in ("p02_head", "leader_party", "auditor"):
        with pytest.raises(PermissionDenied):
            tasks.complete(card, accept.id, card.actor(intruder), {"accepted": True})


def test_completed_on_time_earns_the_reward_as_a_like(card):
    confirm_all(card)
    card.clock.move_to(datetime(2026, 3, 20, 15, 59, tzinfo=UTC))  # 23:59 on the deadline day
    do(card, "p02_head", "办理并报告完成情况", REPORT)
    card.clock.move_to(datetime(2026, 3, 23, 2, 0, tzinfo=UTC))   # accepted days later: still on time
    accept = tasks.get(card, only(card, "owner", "验收完成情况").id, card.actor("owner"))
    assert accept.data["reported_on"] == "2026-03-20"
    assert do(card, "owner", "验收完成情况", {"accepted": True}) == "completed"
    assert adjustments(card) == [("P02", "2026-03", "like", Decimal("3.00"), f"instruction_card:{card.case}")]
    with card.db.reading() as session:
        row = session.scalar(select(ScoreAdjustment).where(ScoreAdjustment.source == f"instruction_card:{card.case}"))
    assert "冬季保供管线保温改造" in row.reason and "按期" in row.reason
    assert "改造验收单 YS-2026-031" in row.evidence and row.created_by == "owner"


def test_the_like_shows_in_the_units_monthly_results(card):
    schemes.import_scheme(card, (card.settings.workflows_dir / "schemes" / "default.scheme.json")
                          .read_text(encoding="utf-8"), SYSTEM)
    april = Runtime(card.settings, database=card.db, clock=FixedClock(datetime(2026, 4, 2, tzinfo=UTC)))
    assert load_demo_scores(april) == "2026-03"  # a scored March for every unit
    before = {u.code: u for u in results.compute(card, "2026-03").units}["P02"]
    confirm_all(card)
    do(card, "p02_head", "办理并报告完成情况", REPORT)
    do(card, "owner", "验收完成情况", {"accepted": True})
    after = {u.code: u for u in results.compute(card, "2026-03").units}["P02"]
    assert after.adjustments - before.adjustments == Decimal(3)
    assert after.own - before.own == Decimal(3)


def test_completed_late_costs_the_penalty_as_an_error_notice(card):
    confirm_all(card)
    card.clock.move_to(DEADLINE_PASSED + timedelta(days=1))
    instances.wake(card, card.case)
    do(card, "p02_head", "办理并报告完成情况", REPORT)
    accept = tasks.get(card, only(card, "owner", "验收完成情况").id, card.actor("owner"))
    assert accept.data["reported_on"] == "2026-03-22"
    assert do(card, "owner", "验收完成情况", {"accepted": True}) == "completed"
    assert adjustments(card) == [("P02", "2026-03", "error", Decimal("-2.00"), f"instruction_card:{card.case}")]
    assert names(card, "p02_head") == []  # the unanswered reminder ended with the card


def test_a_returned_report_needs_a_reason_and_counts_from_the_accepted_report(card):
    confirm_all(card)
    do(card, "p02_head", "办理并报告完成情况", {"achievement": "已完成两条", "evidence": ["照片"]})
    with pytest.raises(ValidationFailed) as caught:
        do(card, "owner", "验收完成情况", {"accepted": False})
    assert "accept_comment" in caught.value.field_errors
    with pytest.raises(ValidationFailed):
        do(card, "owner", "验收完成情况", {"accepted": False, "accept_comment": "   "})
    do(card, "owner", "验收完成情况", {"accepted": False, "accept_comment": "第三条管线未完成，佐证不足"})
    assert names(card, "owner") == [] and names(card, "p02_head") == ["办理并报告完成情况"]
    again = tasks.get(card, only(card, "p02_head", "办理并报告完成情况").id, card.actor("p02_head"))
    assert again.data["accept_comment"] == "第三条管线未完成，佐证不足"
    assert again.data["achievement"] == "已完成两条"  # the earlier report is there to revise
    assert adjustments(card) == []
    card.clock.move_to(datetime(2026, 3, 19, 2, 0, tzinfo=UTC))
    do(card, "p02_head", "办理并报告完成情况", REPORT)
    assert do(card, "owner", "验收完成情况", {"accepted": True, "accept_comment": "同意"}) == "completed"
    assert [a[2:4] for a in adjustments(card)] == [("like", Decimal("3.00"))]


def test_report_validation(card):
    confirm_all(card)
    report = only(card, "p02_head", "办理并报告完成情况")
    head = card.actor("p02_head")
    for bad, field in [({"evidence": ["照片"]}, "achievement"), ({"achievement": "    ", "evidence": ["照片"]}, "achievement"),
                       ({"achievement": "全部完成"}, "evidence"), ({"achievement": "全部完成", "evidence": []}, "evidence"),
                       ({"achievement": "全部完成", "evidence": ["x"]}, "evidence"),
                       ({"achievement": "全部完成", "evidence": [f"第{n}项" for n in range(11)]}, "evidence")]:
        with pytest.raises(ValidationFailed) as caught:
            tasks.complete(card, report.id, head, bad)
        assert field in " ".join(caught.value.field_errors), bad


def test_a_missed_deadline_sends_the_responsible_head_a_reminder(card):
    confirm_all(card)
    with card.db.reading() as session:
        assert fetch_instance(session, card.case).next_timer_at.replace(tzinfo=UTC) == DEADLINE_PASSED
    card.clock.move_to(DEADLINE_PASSED - timedelta(minutes=1))  # 23:59 on the deadline day: not yet
    assert instances.due_instance_ids(card) == [] and instances.wake(card, card.case) is False
    card.clock.move_to(DEADLINE_PASSED + timedelta(seconds=1))
    assert instances.due_instance_ids(card) == [card.case]
    assert instances.wake(card, card.case) is True
    assert names(card, "p02_head") == ["办理并报告完成情况", "逾期催办"]  # non-interrupting: the report stays open
    assert names(card, "p01_head") == [] and names(card, "n01_head") == []
    with pytest.raises(ValidationFailed) as caught:
        do(card, "p02_head", "逾期催办", {"delay_reason": "资金晚到", "expected_on": "3 月 25 日"})
    assert "expected_on" in caught.value.field_errors
    do(card, "p02_head", "逾期催办", {"delay_reason": "资金晚到两天", "expected_on": "2026-03-25"})
    assert names(card, "p02_head") == ["办理并报告完成情况"]
    assert status(card)[0] == "waiting_person"


def test_a_card_with_bad_terms_stops_at_the_start_with_the_reason(demo):
    bad = {**CARD, "reward_points": 0, "assisting": [{"unit_code": "P02", "duty": "协助"}], "deadline": "3月20日"}
    case = instances.start(demo, "instruction_card", demo.actor("owner"), data=bad)
    with demo.db.reading() as session:
        instance = fetch_instance(session, case)
    assert instance.status == "error" and instance.error_element == "prepare"
    for words in ("reward_points", "不能是责任单位", "完成期限格式"):
        assert words in instance.error_message


def _in_engine(rt, fn, params):
    """Call an operator as the engine does: inside a unit of work with the instance in context."""
    with rt.db.unit_of_work() as session:
        instance = fetch_instance(session, rt.case)
        with children.spawning_from((rt, session, instance)):
            return fn(None, params)


GOOD = {"unit_code": "P02", "period": "2026-03", "points": 1.5, "kind": "like", "reason": "抢修及时"}


@pytest.mark.parametrize("patch, words", [
    ({"kind": "bonus"}, "like"), ({"kind": ["like"]}, "like"), ({"period": "2026-13"}, "2026-03"), ({"period": 202603}, "period"),
    ({"points": "多"}, "number"), ({"points": True}, "number"), ({"points": float("nan")}, "finite"),
    ({"points": 0}, "positive"), ({"points": -1}, "positive"), ({"kind": "error", "points": 2}, "negative"),
    ({"points": 101}, "100"), ({"points": 1.234}, "two decimal"), ({"reason": "  "}, "reason"),
    ({"unit_code": "X99"}, "X99"), ({"created_by": "nobody"}, "nobody"), ({"colour": "red"}, "colour"),
])
def test_record_adjustment_refuses_bad_params_in_both_languages(card, patch, words):
    with pytest.raises(AdjustmentRefused) as caught:
        _in_engine(card, record_adjustment, {**GOOD, **patch})
    assert words in caught.value.en and caught.value.zh and " / " in str(caught.value)
    assert adjustments(card) == []


def test_record_adjustment_writes_once_per_instance(card):
    first = _in_engine(card, record_adjustment, GOOD)
    second = _in_engine(card, record_adjustment, {**GOOD, "points": 2})
    assert first["created"] is True and second["created"] is False and second["id"] == first["id"]
    assert adjustments(card) == [("P02", "2026-03", "like", Decimal("1.50"), f"instruction_card:{card.case}")]
    with pytest.raises(AdjustmentRefused):  # outside the engine there is no instance to record it for
        record_adjustment(None, GOOD)


def test_calendar_day_follows_kaohes_clock_and_zone(card):
    card.clock.move_to(datetime(2026, 3, 20, 16, 30, tzinfo=UTC))  # already the 21st in Beijing
    assert _in_engine(card, calendar_day, {"date": None}) == {
        "date": "2026-03-21", "starts_at": "2026-03-21T00:00:00+08:00", "ends_at": "2026-03-22T00:00:00+08:00"}
    assert _in_engine(card, calendar_day, {"date": "2026-02-28"})["ends_at"] == "2026-03-01T00:00:00+08:00"
    with pytest.raises(AdjustmentRefused):
        _in_engine(card, calendar_day, {"date": "28/02/2026"})


def test_a_card_without_assisting_units_goes_straight_to_the_responsible_head(demo):
    rt = Runtime(demo.settings, database=demo.db, clock=FixedClock(START))
    rt.actor = demo.actor
    rt.case = instances.start(rt, "instruction_card", rt.actor("owner"), data={**CARD, "assisting": []})
    assert names(rt, "p02_head") == ["办理并报告完成情况"]
    assert names(rt, "n01_head") == []


def test_a_card_issued_after_its_deadline_reminds_at_once(demo):
    """The demo runs on the real clock, long after March 2026: the deadline has passed already."""
    demo.case = instances.start(demo, "instruction_card", demo.actor("owner"), data={**CARD, "assisting": []})
    assert names(demo, "p02_head") == ["办理并报告完成情况", "逾期催办"]


# Started on demand (发起流程 page): no data, so the starter fills the card in first.
ISSUED = {k: v for k, v in CARD.items() if k != "issuer"}


@pytest.fixture
def blank(demo):
    """A card started by the office with no data at START, as the 发起流程 page starts it."""
    rt = Runtime(demo.settings, database=demo.db, clock=FixedClock(START))
    rt.actor = demo.actor
    rt.case = instances.start(rt, "instruction_card", demo.actor("owner"), data={})
    return rt


def test_the_office_may_start_a_card_on_demand(demo):
    from engine.services import on_demand
    assert "instruction_card" in [p.process_id for p in on_demand.startable(demo, demo.actor("owner"))]
    assert "instruction_card" not in [p.process_id for p in on_demand.startable(demo, demo.actor("p02_head"))]
    case = on_demand.start(demo, "instruction_card", demo.actor("owner"))
    assert [t.name for t in tasks.inbox(demo, demo.actor("owner")) if t.instance_id == case] == ["填写指令卡"]


def test_a_card_started_without_data_asks_its_starter_to_fill_it_in(blank):
    assert status(blank)[0] == "waiting_person"
    assert names(blank, "owner") == ["填写指令卡"]
    for other in ("p02_head", "n01_head", "n03_head"):
        assert names(blank, other) == []
    form = tasks.get(blank, only(blank, "owner", "填写指令卡").id, blank.actor("owner"))
    assert "issuer" not in form.schema["properties"]  # the issuer is whoever submits, never typed
    assert set(form.schema["required"]) == set(ISSUED)


@pytest.mark.parametrize("patch, field", [
    ({"title": None}, "title"), ({"title": "改"}, "title"), ({"goal": None}, "goal"), ({"goal": "   "}, "goal"),
    ({"responsible_unit": None}, "responsible_unit"), ({"responsible_unit": ""}, "responsible_unit"),
    ({"assisting": None}, "assisting"), ({"assisting": []}, "assisting"),
    ({"assisting": [{"unit_code": "N01"}]}, "assisting.0.duty"),
    ({"assisting": [{"unit_code": "N01", "duty": "协"}]}, "assisting.0.duty"),
    ({"assisting": [{"unit_code": f"N{n:02}", "duty": "协助办理"} for n in range(21)]}, "assisting"),
    ({"deadline": None}, "deadline"), ({"deadline": "3月20日"}, "deadline"), ({"deadline": "2026-02-30"}, "deadline"),
    ({"reward_points": None}, "reward_points"), ({"reward_points": 0}, "reward_points"),
    ({"reward_points": 101}, "reward_points"), ({"penalty_points": None}, "penalty_points"),
    ({"penalty_points": -2}, "penalty_points"), ({"period": None}, "period"), ({"period": "2026-13"}, "period"),
    ({"issuer": "leader_party"}, "_form"), ({"lane_owners": {"绩效办公室": ["p02_head"]}}, "_form"),
])
def test_the_card_form_refuses_what_is_missing_or_wrong(blank, patch, field):
    submitted = {k: v for k, v in {**ISSUED, **patch}.items() if v is not None}
    with pytest.raises(ValidationFailed) as caught:
        do(blank, "owner", "填写指令卡", submitted)
    assert field in caught.value.field_errors, caught.value.field_errors
    assert names(blank, "owner") == ["填写指令卡"]


def test_an_empty_card_form_names_every_field(blank):
    with pytest.raises(ValidationFailed) as caught:
        do(blank, "owner", "填写指令卡", {})
    assert set(caught.value.field_errors) == set(ISSUED)


def test_a_card_filled_in_on_demand_runs_as_if_started_with_data(blank):
    issue = only(blank, "owner", "填写指令卡")
    with pytest.raises(PermissionDenied):  # the office's task, not a unit head's
        tasks.complete(blank, issue.id, blank.actor("p02_head"), ISSUED)
    do(blank, "owner", "填写指令卡", ISSUED)
    assert status(blank)[0] == "waiting_person"
    assert names(blank, "owner") == []
    assert names(blank, "n01_head") == ["协办单位确认职责"]
    assert names(blank, "n03_head") == ["协办单位确认职责"]
    n03 = tasks.get(blank, only(blank, "n03_head", "协办单位确认职责").id, blank.actor("n03_head"))
    assert (n03.data["unit_code"], n03.data["duty"], n03.data["issuer"]) == ("N03", "落实改造资金，3 日内完成拨付", "owner")
    assert n03.data["issued_by"]["username"] == "owner"
    confirm_all(blank)
    blank.clock.move_to(datetime(2026, 3, 19, 2, 0, tzinfo=UTC))
    do(blank, "p02_head", "办理并报告完成情况", REPORT)
    assert names(blank, "owner") == ["验收完成情况"]  # the issuer is who filled the card in
    accept = only(blank, "owner", "验收完成情况")
    for intruder in ("p02_head", "leader_party"):
        with pytest.raises(PermissionDenied):
            tasks.complete(blank, accept.id, blank.actor(intruder), {"accepted": True})
    assert do(blank, "owner", "验收完成情况", {"accepted": True}) == "completed"
    assert adjustments(blank) == [("P02", "2026-03", "like", Decimal("3.00"), f"instruction_card:{blank.case}")]
    with blank.db.reading() as session:
        row = session.scalar(select(ScoreAdjustment).where(ScoreAdjustment.source == f"instruction_card:{blank.case}"))
    assert row.created_by == "owner"


def test_a_card_filled_in_with_a_bad_combination_stops_at_prepare(blank):
    do(blank, "owner", "填写指令卡", {**ISSUED, "assisting": [{"unit_code": "P02", "duty": "协助办理"}]})
    state, message = status(blank)
    assert state == "error" and "不能是责任单位" in message


def test_start_data_without_an_issuer_is_still_refused(demo):
    case = instances.start(demo, "instruction_card", demo.actor("owner"), data=ISSUED)
    with demo.db.reading() as session:
        instance = fetch_instance(session, case)
    assert instance.status == "error" and instance.error_element == "prepare"
    assert "issuer" in instance.error_message
