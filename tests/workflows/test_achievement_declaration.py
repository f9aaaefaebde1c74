"""Achievement declaration (实绩申报, seed 002), one instance per person and month: the person declares
at most 5 items, each with its task source and a self-rating; their direct leader rates each item with
a reason and gives an overall score (a unit head's direct leader is the performance office). The
rating lands in the achievement ledger and as the direct head's person rating. A late declaration
brings the unit head's reminder on the due day and the office's escalation two days later, without
taking the declaration away; finishing withdraws whatever reminder is still open."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import AchievementItem, HumanTask, Person, PersonRating, ProcessInstance
from engine.runtime import SCHEDULER, Runtime
from engine.services import audit, instances, tasks
from tests.workflows.steps import at, do, names, only, status, trail, wake

PERIOD = "2026-12"
START = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)         # 09:00 on 1 January in Beijing
DUE = datetime(2027, 1, 5, 16, 0, tzinfo=UTC)          # end of 5 January in Beijing
ESCALATE = datetime(2027, 1, 7, 16, 0, tzinfo=UTC)     # end of 7 January in Beijing
DECLARE, RATE = "填报工作实绩", "评价工作实绩"
REMIND, ESCALATION = "催办：实绩申报", "督办：实绩申报逾期"
ITEMS = [{"title": "完成 3 号集输管线保温改造", "task_source": "单位考核指标：冬季保供", "self_rating": "优秀",
          "detail": "提前 5 天完成，试运行无冻堵"},
         {"title": "整理 11 月巡检台账", "task_source": "岗位职责：巡检记录", "self_rating": "一般"}]
RATED = [{**ITEMS[0], "rating": "优秀", "rating_reason": "提前完成且经试运行验证，保障了冬季保供"},
         {**ITEMS[1], "rating": "一般", "rating_reason": "按时完成，属常规工作"}]
PEOPLE = {"p01_staff1": ("staff", "采油一队"), "p01_deputy": ("deputy", "采油一队"), "p01_head": ("head", "采油一队")}


def task_rows(rt) -> dict[str, str]:
    with rt.db.reading() as session:
        return dict(session.execute(select(HumanTask.element_id, HumanTask.status)
                                    .where(HumanTask.instance_id == rt.case)).all())


def declaration(rt, username: str, moment: datetime = START) -> Runtime:
    position, unit_name = PEOPLE[username]
    day = at(rt, moment)
    with rt.db.reading() as session:
        person_name = session.scalar(select(Person.display_name).where(Person.username == username))
    day.case = instances.start(day, "achievement_declaration", rt.actor("owner"), data={
        "period": PERIOD, "username": username, "person_name": person_name, "unit_code": "P01",
        "unit_name": unit_name, "branch_code": "B01", "position": position}, title=f"实绩申报 {PERIOD} · {person_name}")
    return day


def recorded(rt, username: str) -> tuple[list[tuple], list[tuple]]:
    with rt.db.reading() as session:
        person_id = session.scalar(select(Person.id).where(Person.username == username))
        items = session.execute(select(AchievementItem.position, AchievementItem.title, AchievementItem.rating,
                                       AchievementItem.rating_reason, Person.username)
                                .join(Person, Person.id == AchievementItem.rated_by_id)
                                .where(AchievementItem.period == PERIOD, AchievementItem.person_id == person_id)
                                .order_by(AchievementItem.position)).all()
        ratings = session.execute(select(PersonRating.rater_role, PersonRating.score, PersonRating.comment,
                                         Person.username)
                                  .join(Person, Person.id == PersonRating.rater_id)
                                  .where(PersonRating.period == PERIOD, PersonRating.person_id == person_id)).all()
    return [tuple(i) for i in items], [tuple(r) for r in ratings]


@pytest.fixture
def staff(demo):
    return declaration(demo, "p01_staff1")


def test_staff_declares_the_unit_head_rates_and_the_ledger_records_it(staff):
    assert names(staff, "p01_staff1") == [DECLARE]
    assert names(staff, "p01_staff2") == [] and names(staff, "p01_head") == [] and names(staff, "owner") == []
    declare = only(staff, "p01_staff1")
    assert declare.due_at == DUE  # the person's own reminder comes from the deadline
    assert "最多 5 项" in declare.instructions and "15 分钟" in declare.instructions
    assert do(staff, "p01_staff1", DECLARE, {"items": ITEMS}) == "waiting_person"

    assert names(staff, "p01_staff1") == []
    assert names(staff, "p01_head") == [RATE] and names(staff, "owner") == []
    rate = tasks.get(staff, only(staff, "p01_head").id, staff.actor("p01_head"))
    assert rate.data["items"] == ITEMS and rate.data["person_name"]  # the head rates what was declared
    assert do(staff, "p01_head", RATE, {"items": RATED, "score": 88.5, "comment": "保供任务完成突出"}) == "completed"

    items, ratings = recorded(staff, "p01_staff1")
    assert items == [(1, ITEMS[0]["title"], "优秀", RATED[0]["rating_reason"], "p01_head"),
                     (2, ITEMS[1]["title"], "一般", RATED[1]["rating_reason"], "p01_head")]
    assert ratings == [("direct_head", Decimal("88.5"), "保供任务完成突出", "p01_head")]
    with staff.db.reading() as session:
        data = session.get(ProcessInstance, staff.case)
        assert data.completed_at == START
    assert trail(staff) == [("start", "owner", "achievement_declaration"),
                            ("complete", "p01_staff1", "declare"), ("complete", "p01_head", "rate_by_head"),
                            ("complete_instance", "p01_head", None)]
    with staff.db.reading() as session:
        events = audit.instance_trail(session, staff.case)
        assert audit.verify(session).ok
    assert [e.data_digest for e in events if e.action == "complete"][0] == audit.digest({"items": ITEMS})


def test_a_deputy_is_rated_by_the_unit_head_too(demo):
    deputy = declaration(demo, "p01_deputy")
    do(deputy, "p01_deputy", DECLARE, {"items": ITEMS[:1]})
    assert names(deputy, "p01_head") == [RATE] and names(deputy, "owner") == []
    do(deputy, "p01_head", RATE, {"items": RATED[:1], "score": 92})
    items, ratings = recorded(deputy, "p01_deputy")
    assert [(i[2], i[4]) for i in items] == [("优秀", "p01_head")]
    assert ratings == [("direct_head", Decimal("92"), None, "p01_head")]  # no comment given


def test_a_unit_heads_declaration_is_rated_by_the_office(demo):
    head = declaration(demo, "p01_head")
    assert names(head, "p01_head") == [DECLARE]
    do(head, "p01_head", DECLARE, {"items": ITEMS})
    assert names(head, "p01_head") == []  # a head never rates their own achievements
    assert names(head, "owner") == [RATE]
    rate = only(head, "owner")
    assert "绩效办公室" in rate.instructions
    with pytest.raises(PermissionDenied):
        tasks.complete(head, rate.id, head.actor("p01_head"), {"items": RATED, "score": 99})
    assert do(head, "owner", RATE, {"items": RATED, "score": 90}) == "completed"
    items, ratings = recorded(head, "p01_head")
    assert {i[4] for i in items} == {"owner"}
    assert ratings == [("direct_head", Decimal("90"), None, "owner")]
    assert [(a, u, s) for a, u, s in trail(head) if a == "complete"] == [
        ("complete", "p01_head", "declare"), ("complete", "owner", "rate_by_office")]


def test_only_the_declarant_declares_and_only_their_head_rates(staff):
    declare = only(staff, "p01_staff1")
    for intruder in ("p01_staff2", "p01_head", "p02_staff1", "auditor"):
        with pytest.raises(PermissionDenied):
            tasks.complete(staff, declare.id, staff.actor(intruder), {"items": ITEMS})
    do(staff, "p01_staff1", DECLARE, {"items": ITEMS})
    rate = only(staff, "p01_head")
    for intruder in ("p02_head", "p01_deputy", "p01_staff1"):
        with pytest.raises(PermissionDenied):
            tasks.complete(staff, rate.id, staff.actor(intruder), {"items": RATED, "score": 100})
    assert names(staff, "p02_head") == []
    assert status(staff) == "waiting_person"


def test_the_form_refuses_a_sixth_item_and_missing_fields(staff):
    staff1 = staff.actor("p01_staff1")
    declare = only(staff, "p01_staff1").id
    six = [{"title": f"实绩 {n}", "task_source": "岗位职责", "self_rating": "良好"} for n in range(1, 7)]
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(staff, declare, staff1, {"items": six})
    assert {k: v.zh for k, v in caught.value.field_errors.items()} == {"items": "最多 5 项"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(staff, declare, staff1, {})
    assert {k: v.zh for k, v in caught.value.field_errors.items()} == {"items": "此项为必填项"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(staff, declare, staff1, {"items": []})
    assert caught.value.field_errors["items"].zh == "至少需要 1 项"
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(staff, declare, staff1, {"items": [{"title": "改"}, {**ITEMS[1], "self_rating": "很好"}]})
    assert {k: v.zh for k, v in caught.value.field_errors.items()} == {
        "items.0.title": "至少需要 2 个字符", "items.0.task_source": "此项为必填项",
        "items.0.self_rating": "此项为必填项", "items.1.self_rating": "请从给定选项中选择"}
    # a declarant cannot rate themselves nor redirect the rating through extra fields
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(staff, declare, staff1, {"items": [{**ITEMS[0], "rating": "优秀"}]})
    assert set(caught.value.field_errors) == {"items.0"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(staff, declare, staff1, {"items": ITEMS, "position": "head",
                                                "lane_owners": {"部门正职": ["p01_staff1"]}})
    assert caught.value.field_errors["_form"].zh == "包含不允许的字段"
    assert names(staff, "p01_staff1") == [DECLARE]  # nothing moved
    five = six[:5]
    do(staff, "p01_staff1", DECLARE, {"items": five})

    rate = only(staff, "p01_head").id
    head = staff.actor("p01_head")
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(staff, rate, head, {"items": five, "score": 101})
    errors = {k: v.zh for k, v in caught.value.field_errors.items()}
    assert errors["score"] == "不能大于 100"
    assert {f"items.{n}.rating" for n in range(5)} <= set(errors)
    assert {f"items.{n}.rating_reason" for n in range(5)} <= set(errors)
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(staff, rate, head, {"items": [{**i, "rating": "良好", "rating_reason": "好"} for i in five]})
    errors = {k: v.zh for k, v in caught.value.field_errors.items()}
    assert errors == {"score": "此项为必填项", **{f"items.{n}.rating_reason": "至少需要 2 个字符" for n in range(5)}}
    rated = [{**i, "rating": "良好", "rating_reason": "按计划完成"} for i in five]
    assert do(staff, "p01_head", RATE, {"items": rated, "score": 0}) == "completed"
    items, ratings = recorded(staff, "p01_staff1")
    assert len(items) == 5 and ratings[0][1] == Decimal("0")


def test_a_late_declaration_is_urged_by_the_head_then_escalated_to_the_office(staff):
    with staff.db.reading() as session:
        assert session.get(ProcessInstance, staff.case).next_timer_at == DUE
    assert staff.case not in instances.due_instance_ids(at(staff, DUE - timedelta(minutes=1)))
    day6 = wake(staff, DUE + timedelta(seconds=1))
    assert names(day6, "p01_head") == [REMIND]
    assert names(day6, "p01_staff1") == [DECLARE]  # non-interrupting: the declaration stays with the person
    assert names(day6, "owner") == []
    with pytest.raises(ValidationFailed) as caught:
        do(day6, "p01_head", REMIND, {"remind_method": "托梦", "remind_note": ""})
    assert set(caught.value.field_errors) == {"remind_method", "remind_note"}
    do(day6, "p01_head", REMIND, {"remind_method": "当面提醒", "remind_note": "本人出差，承诺 7 日前补报"})
    assert names(day6, "p01_head") == []

    day8 = wake(day6, ESCALATE + timedelta(seconds=1))
    assert names(day8, "owner") == [ESCALATION]
    assert names(day8, "p01_head") == [] and names(day8, "p01_staff1") == [DECLARE]
    with pytest.raises(PermissionDenied):
        tasks.complete(day8, only(day8, "owner").id, day8.actor("p01_head"),
                       {"escalation_action": "电话督办", "escalation_note": "已电话督促"})
    do(day8, "owner", ESCALATION, {"escalation_action": "电话督办", "escalation_note": "已电话督促本人当天补报"})
    do(day8, "p01_staff1", DECLARE, {"items": ITEMS})
    assert do(day8, "p01_head", RATE, {"items": RATED, "score": 80}) == "completed"
    assert [(a, u, s) for a, u, s in trail(day8)] == [
        ("start", "owner", "achievement_declaration"),
        ("timer_fired", SCHEDULER.username, None), ("complete", "p01_head", "remind"),
        ("timer_fired", SCHEDULER.username, None), ("complete", "owner", "escalate"),
        ("complete", "p01_staff1", "declare"), ("complete", "p01_head", "rate_by_head"),
        ("complete_instance", "p01_head", None)]


def test_finishing_withdraws_the_reminder_and_escalation_nobody_handled(staff):
    day9 = wake(staff, ESCALATE + timedelta(days=1))  # both deadlines passed, nobody reacted
    assert names(day9, "p01_head") == [REMIND]
    assert names(day9, "owner") == [ESCALATION]
    do(day9, "p01_staff1", DECLARE, {"items": ITEMS})
    assert names(day9, "p01_head") == [REMIND, RATE]  # still open until the declaration is rated
    assert names(day9, "owner") == [ESCALATION]
    assert do(day9, "p01_head", RATE, {"items": RATED, "score": 75}) == "completed"
    assert names(day9, "p01_head") == [] and names(day9, "owner") == []
    rows = task_rows(day9)
    assert rows == {"declare": "completed", "remind": "cancelled", "escalate": "cancelled",
                    "rate_by_head": "completed"}


def test_a_late_unit_head_is_not_asked_to_urge_themselves(demo):
    head = declaration(demo, "p01_head")
    day6 = wake(head, DUE + timedelta(seconds=1))
    assert names(day6, "p01_head") == [DECLARE]  # no 催办 addressed to the late head themself
    assert names(day6, "owner") == []
    day8 = wake(day6, ESCALATE + timedelta(seconds=1))
    assert names(day8, "owner") == [ESCALATION]
    do(day8, "p01_head", DECLARE, {"items": ITEMS})
    assert names(day8, "owner") == [ESCALATION, RATE]
    do(day8, "owner", RATE, {"items": RATED, "score": 85})
    assert task_rows(day8)["escalate"] == "cancelled"
    assert "remind" not in task_rows(day8)


def test_declaring_again_for_the_same_month_replaces_the_earlier_record(staff):
    do(staff, "p01_staff1", DECLARE, {"items": ITEMS})
    do(staff, "p01_head", RATE, {"items": RATED, "score": 70})
    again = declaration(staff, "p01_staff1", START + timedelta(days=1))
    do(again, "p01_staff1", DECLARE, {"items": ITEMS[:1]})
    do(again, "p01_head", RATE, {"items": [{**RATED[0], "rating": "良好"}], "score": 82})
    items, ratings = recorded(again, "p01_staff1")
    assert [(i[0], i[2]) for i in items] == [(1, "良好")]
    assert ratings == [("direct_head", Decimal("82"), None, "p01_head")]


def test_a_rater_cannot_rewrite_what_was_declared_even_through_the_service(demo):
    """The rating form shows the declared items read-only; a client posting other titles changes nothing."""
    case = declaration(demo, "p01_staff1")
    do(case, "p01_staff1", DECLARE, {"items": ITEMS})
    forged = [{**item, "title": "伪造的实绩", "rating": "优秀", "rating_reason": "很好很好"} for item in ITEMS]
    forged.append({**forged[0], "task_source": "凭空添加"})
    do(case, "p01_head", RATE, {"items": forged, "score": 90})
    with case.db.reading() as session:
        titles = session.scalars(select(AchievementItem.title).order_by(AchievementItem.position)).all()
    assert titles == [item["title"] for item in ITEMS]
