"""Check records (检查记录：点赞与错情, DOMAIN.md §2 "execute"): a like or an error notice against a unit,
with reason and evidence, confirmed by the unit head, who may appeal to the office. Started with
the record in the start data (the cycle's 旬抽查) or empty, in which case whoever started it fills
it in. The points land on the unit's month as a ScoreAdjustment (an error notice negative)."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import HumanTask, OrgUnit, ScoreAdjustment
from engine.runtime import Runtime
from engine.services import audit, instances, tasks
from engine.services.people import ensure_person
from tests.workflows.steps import at, do, names, only, trail

START = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # 09:00 on 8 December in Beijing
RECORD = {"period": "2026-12", "unit_code": "P01", "kind": "error", "points": 1.5,
          "reason": "12 月 7 日抽查 3 号计量间，巡检记录缺 12 月 5–6 日两天",
          "evidence": ["巡检记录本第 23 页照片", "抽查记录 XC-2026-1207"], "check_type": "旬抽查"}
LIKE = {"unit_code": "P01", "check_type": "日常检查", "kind": "like", "points": 2,
        "reason": "冬季抢修 2 小时内恢复供液，获作业区通报表扬", "evidence": ["作业区通报 2026-45 号"]}
FILL, ACK, RULING = "填写检查记录", "确认检查记录", "裁定申诉"


def start(demo, data: dict, starter: str = "owner") -> Runtime:
    day0 = at(demo, START)
    day0.actor = demo.actor
    day0.case = instances.start(day0, "check_record", demo.actor(starter), data=data, title="检查记录")
    return day0


def adjustments(rt) -> list[tuple[str, str, str, Decimal, str]]:
    with rt.db.reading() as session:
        return [(code, period, kind, Decimal(points), created_by) for code, period, kind, points, created_by in
                session.execute(select(OrgUnit.code, ScoreAdjustment.period, ScoreAdjustment.kind,
                                       ScoreAdjustment.points, ScoreAdjustment.created_by)
                                .join(OrgUnit, OrgUnit.id == ScoreAdjustment.unit_id)
                                .where(ScoreAdjustment.source == f"check_record:{rt.case}"))]


def the_adjustment(rt) -> ScoreAdjustment:
    with rt.db.reading() as session:
        return session.scalar(select(ScoreAdjustment).where(ScoreAdjustment.source == f"check_record:{rt.case}"))


def test_a_prefilled_error_notice_goes_straight_to_the_unit_head_and_is_recorded_negative(demo):
    rt = start(demo, dict(RECORD))
    assert names(rt, "owner") == []  # nothing to fill in
    assert names(rt, "p01_head") == [ACK]
    for other in ("p02_head", "p01_deputy", "p01_staff1", "b01_secretary"):
        assert names(rt, other) == []
    ack = tasks.get(rt, only(rt, "p01_head").id, rt.actor("p01_head"))
    assert ack.schema["title"] == "确认检查记录"
    assert (ack.data["checked_on"], ack.data["period"], ack.data["record_problems"]) == ("2026-12-08", "2026-12", [])
    assert do(rt, "p01_head", ACK, {"accepted": True}) == "completed"
    assert adjustments(rt) == [("P01", "2026-12", "error", Decimal("-1.50"), "owner")]
    row = the_adjustment(rt)
    assert row.reason == "旬抽查（2026-12-08）：" + RECORD["reason"]
    assert row.evidence == "巡检记录本第 23 页照片\n抽查记录 XC-2026-1207"
    view = instances.view(rt, rt.case, rt.actor("auditor"))
    assert "recorded" in view.completed_elements and view.data["adjustment"]["points"] == "-1.50"
    assert trail(rt) == [("start", "owner", "check_record"), ("complete", "p01_head", "acknowledge"),
                         ("complete_instance", "p01_head", None)]


def test_an_empty_start_asks_the_starter_to_fill_it_in_and_the_month_defaults_to_today(demo):
    with demo.db.unit_of_work() as session:
        ensure_person(session, "office_zhang", "张检查", unit_code="ORG", roles=("process_owner", "inspector"))
    rt = start(demo, {}, starter="office_zhang")
    assert names(rt, "office_zhang") == [FILL]
    assert names(rt, "owner") == []  # the starter's task, not the office's
    form = tasks.get(rt, only(rt, "office_zhang").id, rt.actor("office_zhang"))
    assert form.schema["title"] == "填写检查记录" and form.data["record_problems"] == []
    assert do(rt, "office_zhang", FILL, dict(LIKE)) == "waiting_person"
    ack = tasks.get(rt, only(rt, "p01_head").id, rt.actor("p01_head")).data
    assert ack["period"] == "2026-12" and ack["kind"] == "like"
    do(rt, "p01_head", ACK, {"accepted": True})
    assert adjustments(rt) == [("P01", "2026-12", "like", Decimal("2.00"), "office_zhang")]
    assert [(a, u, s) for a, u, s in trail(rt)][:3] == [("start", "office_zhang", "check_record"),
                                                       ("complete", "office_zhang", "fill"),
                                                       ("complete", "p01_head", "acknowledge")]


def test_the_fill_in_form_checks_the_record(demo):
    rt = start(demo, {})
    owner, fill = rt.actor("owner"), only(rt, "owner").id
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(rt, fill, owner, {"unit_code": "P01", "check_type": "周检查", "kind": "bonus", "points": 0,
                                         "reason": "好", "evidence": [], "period": "2026-13"})
    assert set(caught.value.field_errors) == {"check_type", "kind", "points", "reason", "evidence", "period"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(rt, fill, owner, {**LIKE, "points": 101, "evidence": ["x"]})
    assert set(caught.value.field_errors) == {"points", "evidence.0"}
    with pytest.raises(ValidationFailed) as caught:
        tasks.complete(rt, fill, owner, {k: v for k, v in LIKE.items() if k != "unit_code"})
    assert caught.value.field_errors["unit_code"].zh == "此项为必填项"
    # three decimals pass the form but not the record check: the task comes back saying why
    assert do(rt, "owner", FILL, {**LIKE, "points": 1.255}) == "waiting_person"
    again = tasks.get(rt, only(rt, "owner", FILL).id, owner)
    assert len(again.data["record_problems"]) == 1 and "两位小数" in again.data["record_problems"][0]
    do(rt, "owner", FILL, {**LIKE, "points": 1.25})
    assert names(rt, "p01_head") == [ACK]


def test_an_incomplete_or_invalid_prefill_is_completed_by_the_starter(demo):
    rt = start(demo, {**RECORD, "kind": "penalty", "evidence": []})
    assert names(rt, "p01_head") == []
    fill = tasks.get(rt, only(rt, "owner", FILL).id, rt.actor("owner"))
    problems = fill.data["record_problems"]
    assert len(problems) == 2 and any("错情" in p for p in problems) and any("佐证" in p for p in problems)
    assert fill.data["reason"] == RECORD["reason"]  # what was given is there to correct
    do(rt, "owner", FILL, dict(RECORD))
    do(rt, "p01_head", ACK, {"accepted": True})
    assert [a[2:4] for a in adjustments(rt)] == [("error", Decimal("-1.50"))]


def test_an_appeal_the_office_rejects_keeps_the_record_with_the_ruling(demo):
    rt = start(demo, dict(RECORD))
    head = rt.actor("p01_head")
    for refused in ({"accepted": False}, {"accepted": False, "appeal_reason": "   "}):
        with pytest.raises(ValidationFailed) as caught:
            tasks.complete(rt, only(rt, "p01_head").id, head, refused)
        assert set(caught.value.field_errors) == {"appeal_reason"}
    do(rt, "p01_head", ACK, {"accepted": False, "appeal_reason": "12 月 5–6 日停井检修，无需巡检"})
    assert names(rt, "p01_head") == [] and names(rt, "owner") == [RULING]
    ruling = tasks.get(rt, only(rt, "owner").id, rt.actor("owner"))
    assert ruling.data["appeal_reason"] == "12 月 5–6 日停井检修，无需巡检"
    with pytest.raises(ValidationFailed) as caught:
        do(rt, "owner", RULING, {"upheld": True})
    assert set(caught.value.field_errors) == {"ruling"}
    assert do(rt, "owner", RULING, {"upheld": True, "ruling": "停井期间仍需巡检井口，记录维持"}) == "completed"
    assert [a[2:4] for a in adjustments(rt)] == [("error", Decimal("-1.50"))]
    assert the_adjustment(rt).reason.endswith("（经申诉裁定维持：停井期间仍需巡检井口，记录维持）")
    assert [(a, u, s) for a, u, s in trail(rt) if a == "complete"] == [
        ("complete", "p01_head", "acknowledge"), ("complete", "owner", "ruling")]


def test_an_appeal_the_office_accepts_withdraws_the_record(demo):
    rt = start(demo, dict(RECORD))
    do(rt, "p01_head", ACK, {"accepted": False, "appeal_reason": "12 月 5–6 日停井检修，有停井通知为证"})
    assert do(rt, "owner", RULING, {"upheld": False, "ruling": "停井通知属实，撤销该错情"}) == "completed"
    assert adjustments(rt) == []
    view = instances.view(rt, rt.case, rt.actor("auditor"))
    assert "revoked" in view.completed_elements and "record" not in view.completed_elements
    assert view.data["ruling"] == "停井通知属实，撤销该错情"
    with rt.db.reading() as session:
        events = audit.instance_trail(session, rt.case)
        assert audit.verify(session).ok
    assert [(e.action, e.actor, e.subject) for e in events] == [
        ("start", "owner", "check_record"), ("complete", "p01_head", "acknowledge"),
        ("complete", "owner", "ruling"), ("complete_instance", "owner", None)]
    assert events[1].data_digest == audit.digest({"accepted": False, "appeal_reason": "12 月 5–6 日停井检修，有停井通知为证"})


def test_only_the_units_head_confirms_and_only_the_office_rules(demo):
    rt = start(demo, dict(RECORD))
    ack = only(rt, "p01_head")
    for intruder in ("p02_head", "p01_deputy", "p01_staff1", "owner"):
        with pytest.raises(PermissionDenied):
            tasks.complete(rt, ack.id, rt.actor(intruder), {"accepted": True})
    do(rt, "p01_head", ACK, {"accepted": False, "appeal_reason": "数据有误"})
    ruling = only(rt, "owner")
    for intruder in ("p01_head", "auditor", "p02_head"):
        with pytest.raises(PermissionDenied):
            tasks.complete(rt, ruling.id, rt.actor(intruder), {"upheld": False, "ruling": "自己裁定自己"})
    assert adjustments(rt) == []


def test_the_head_sees_the_record_but_cannot_rewrite_it(demo):
    rt = start(demo, dict(RECORD))
    with pytest.raises(ValidationFailed):
        do(rt, "p01_head", ACK, {"accepted": True, "points": 0.5})
    with pytest.raises(ValidationFailed):
        do(rt, "p01_head", ACK, {"accepted": True, "kind": "like"})
    assert names(rt, "p01_head") == [ACK]
    with rt.db.reading() as session:
        assert session.scalars(select(HumanTask.status).where(HumanTask.instance_id == rt.case)).all() == ["open"]


def test_an_inspector_starts_a_check_record_on_demand_and_fills_it_in(demo):
    from engine.services import on_demand
    with demo.db.unit_of_work() as session:
        ensure_person(session, "insp_li", "李检查", unit_code="ORG", roles=("inspector", "staff"))
    rt = at(demo, START)
    rt.actor = demo.actor
    assert "check_record" in [p.process_id for p in on_demand.startable(rt, rt.actor("insp_li"))]
    with pytest.raises(PermissionDenied):  # a member of staff records no likes or error notices
        on_demand.start(rt, "check_record", rt.actor("p01_staff1"))
    rt.case = on_demand.start(rt, "check_record", rt.actor("insp_li"), "李检查")
    assert names(rt, "insp_li") == [FILL] and names(rt, "owner") == []
    do(rt, "insp_li", FILL, dict(LIKE))
    assert names(rt, "p01_head") == [ACK]
    do(rt, "p01_head", ACK, {"accepted": True})
    assert adjustments(rt) == [("P01", "2026-12", "like", Decimal("2.00"), "insp_li")]
