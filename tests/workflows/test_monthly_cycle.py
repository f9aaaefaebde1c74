"""The monthly cycle (计划—执行—评价—反馈): started at the task-issuing meeting on the 30th for the
next month, it hands every unit, person and evaluation group their own child instance and only
waits for them, runs the three 旬 spot checks, opens the evaluation at month end (political check
first, then everyone's achievements), computes the results for the office to review, publishes
them at the report meeting on the 15th and closes the loop when the last places have presented
and every unit has fed its results back."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.errors import PermissionDenied, ValidationFailed
from engine.models import AuditEvent, ProcessInstance, ScoreAdjustment
from engine.runtime import SCHEDULER, Runtime
from engine.services import instances, tasks
from engine.services.calendar_jobs import run_calendar
from tests.workflows.monthly_steps import (
    ACK, CST, DECLARE, FEEDBACK, FEED_BACK, FOCUS_TASK, HEADS, LEADERS, MEETING_OK, PERIOD, PLAN,
    POLITICAL, POLITICAL_TASK, PRESENT, PRESENTATION, REVIEW, SCORE, SECRETARIES, SPOT,
    SPOT_ERROR, SPOT_LIKE, START, UNITS, at, children, cycle_data, cycle_record, declare_and_rate,
    do, enter_scores, import_scheme, inbox, keep_only, names, publish_focus, sign_task_books,
    start_cycle, terminate_children, wake)


@pytest.fixture
def cycle(demo):
    import_scheme(demo)
    return start_cycle(demo)


@pytest.fixture
def small(demo):
    """The cycle of a small organisation: 采油一队 (P01, branch B01) and 办公室 (N01, branch B01)."""
    keep_only(demo, {"P01", "N01", "B01"})
    import_scheme(demo)
    return start_cycle(demo)


SMALL_PEOPLE = [f"{unit}_{role}" for unit in ("n01", "p01")
                for role in ("deputy", "head", "staff1", "staff2", "staff3", "staff4")]


def to_month_end(rt) -> Runtime:
    """Plan signed, focus published, three empty spot checks: the evaluation opens."""
    sign_task_books(rt, ["p01_head", "n01_head"], ["b01_secretary"])
    publish_focus(rt)
    for moment in (datetime(2026, 12, 11, 0, 0, 1, tzinfo=CST), datetime(2026, 12, 21, 0, 0, 1, tzinfo=CST)):
        rt = wake(rt, moment)
        do(rt, "owner", SPOT, {"records": []})
    rt = wake(rt, datetime(2027, 1, 1, 0, 0, 1, tzinfo=CST))
    do(rt, "owner", SPOT, {"records": []})
    return wake(rt, datetime(2027, 1, 1, 0, 0, 2, tzinfo=CST))


def to_review(rt) -> Runtime:
    """The small organisation evaluated: political check, declarations rated, every unit scored."""
    rt = to_month_end(rt)
    do(rt, "b01_secretary", POLITICAL_TASK, POLITICAL)
    declare_and_rate(rt, SMALL_PEOPLE)
    enter_scores(rt)
    for leader in LEADERS:
        do(rt, leader, SCORE, {"scores_uploaded": True})
    return rt


# ----------------------------------------------------------------------------- tests
def test_the_cycle_hands_out_the_task_books_and_the_groups_focus_and_waits(cycle):
    for head in HEADS:
        assert names(cycle, head) == [PLAN], head
    for leader in LEADERS:
        assert names(cycle, leader) == [FOCUS_TASK], leader
    assert names(cycle, "owner") == [] and names(cycle, "p01_staff1") == []
    record = cycle_record(cycle)
    assert record.status == "running" and record.business_key == "monthly_cycle:2026-12"
    assert len(children(cycle, "plan_units")) == len(UNITS) and len(children(cycle, "groups")) == len(LEADERS)
    plan = tasks.get(cycle, inbox(cycle, "p01_head")[0].id, cycle.actor("p01_head")).data
    assert plan["period"] == PERIOD and plan["unit_code"] == "P01" and plan["branch_code"] == "B01"
    focus = tasks.get(cycle, inbox(cycle, "leader_party")[0].id, cycle.actor("leader_party")).data
    assert focus["period"] == PERIOD and focus["group_code"] == "party"
    deadlines = cycle_data(cycle)["deadlines"]
    assert deadlines == {"spot_1": "2026-12-11T00:00:00+08:00", "spot_2": "2026-12-21T00:00:00+08:00",
                         "spot_3": "2027-01-01T00:00:00+08:00", "evaluation_opens": "2027-01-01T00:00:00+08:00",
                         "report_meeting": "2027-01-15T09:00:00+08:00"}


def test_the_cycle_state_holds_counts_not_the_organisation(cycle):
    with cycle.db.reading() as session:
        state = session.scalar(select(ProcessInstance.state).where(ProcessInstance.id == cycle.cycle))
    assert "P01" not in state and "p01_head" not in state and "采油一队" not in state
    assert cycle_data(cycle)["plan_units_started"] == {"started": len(UNITS)}


def test_spot_checks_run_once_per_xun_and_each_record_goes_to_its_unit(small):
    rt = small
    sign_task_books(rt, ["p01_head", "n01_head"], ["b01_secretary"])
    publish_focus(rt)
    assert cycle_record(rt).next_timer_at == datetime(2026, 12, 11, tzinfo=CST)
    assert names(at(rt, datetime(2026, 12, 10, 23, 59, tzinfo=CST)), "owner") == []
    rt = wake(rt, datetime(2026, 12, 11, 0, 0, 1, tzinfo=CST))
    [spot] = inbox(rt, "owner", SPOT)
    view = tasks.get(rt, spot.id, rt.actor("owner"))
    assert view.schema["title"] == "旬抽查记录" and view.data["xun"] == 1 and view.data["records"] == []
    do(rt, "owner", SPOT, {"records": [SPOT_ERROR]})
    assert names(rt, "p01_head") == [ACK] and names(rt, "n01_head") == []
    [record] = children(rt, "record_checks")
    assert record.process_id == "check_record" and record.status == "waiting_person"
    assert cycle_record(rt).next_timer_at == datetime(2026, 12, 21, tzinfo=CST)  # the cycle did not wait

    rt = wake(rt, datetime(2026, 12, 21, 0, 0, 1, tzinfo=CST))
    [spot] = inbox(rt, "owner", SPOT)
    second = tasks.get(rt, spot.id, rt.actor("owner")).data
    assert second["xun"] == 2 and second["records"] == []  # last 旬's records are not offered again
    do(rt, "owner", SPOT, {"records": [SPOT_LIKE, {**SPOT_ERROR, "points": 1.5}]})
    assert sorted(names(rt, "p01_head")) == [ACK, ACK] and names(rt, "n01_head") == [ACK]
    rt = wake(rt, datetime(2027, 1, 1, 0, 0, 1, tzinfo=CST))
    assert tasks.get(rt, inbox(rt, "owner", SPOT)[0].id, rt.actor("owner")).data["xun"] == 3
    do(rt, "owner", SPOT, {"records": []})
    assert len(children(rt, "record_checks")) == 3
    rt = wake(rt, datetime(2027, 1, 1, 0, 0, 2, tzinfo=CST))
    assert names(rt, "b01_secretary") == [POLITICAL_TASK]
    assert names(rt, "owner") == []  # no fourth spot check
    completed = [t.name for t in instances.view(rt, rt.cycle, rt.actor("owner")).tasks]
    assert completed == [SPOT, SPOT, SPOT]


def test_the_spot_check_form_refuses_what_a_careful_inspector_would(small):
    rt = small
    sign_task_books(rt, ["p01_head", "n01_head"], ["b01_secretary"])
    rt = wake(rt, datetime(2026, 12, 11, 0, 0, 1, tzinfo=CST))
    [spot] = inbox(rt, "owner", SPOT)
    owner = rt.actor("owner")
    bad = [
        ({"records": [{**SPOT_ERROR, "points": 0}]}, "records.0.points"),
        ({"records": [{**SPOT_ERROR, "points": 101}]}, "records.0.points"),
        ({"records": [{**SPOT_ERROR, "kind": "bonus"}]}, "records.0.kind"),
        ({"records": [{**SPOT_ERROR, "reason": "差"}]}, "records.0.reason"),
        ({"records": [{**SPOT_ERROR, "evidence": []}]}, "records.0.evidence"),
        ({"records": [{**SPOT_ERROR, "evidence": [f"材料 {n}" for n in range(11)]}]}, "records.0.evidence"),
        ({"records": [{**SPOT_ERROR, "lane_owners": {"部门正职": ["owner"]}}]}, "records.0"),
        ({"records": [SPOT_LIKE] * 51}, "records"),
        ({}, "records"),
        ({"records": [], "xun": 3}, "_form"),
    ]
    for form, field in bad:
        with pytest.raises(ValidationFailed) as caught:
            tasks.complete(rt, spot.id, owner, form)
        assert field in caught.value.field_errors, (form, caught.value.field_errors)
    assert children(rt, "record_checks") == []
    do(rt, "owner", SPOT, {"records": [SPOT_LIKE] * 50})
    assert len(children(rt, "record_checks")) == 50


def test_political_check_comes_before_the_declarations(small):
    rt = to_month_end(small)
    assert names(rt, "b01_secretary") == [POLITICAL_TASK]
    for person in SMALL_PEOPLE:
        assert DECLARE not in names(rt, person)
    assert children(rt, "declarations") == []
    do(rt, "b01_secretary", POLITICAL_TASK, POLITICAL)
    for person in SMALL_PEOPLE:
        assert names(rt, person) == [DECLARE], person
    declaration = tasks.get(rt, inbox(rt, "p01_staff1")[0].id, rt.actor("p01_staff1")).data
    assert (declaration["period"], declaration["username"], declaration["unit_code"]) == (PERIOD, "p01_staff1", "P01")


def test_the_review_form_needs_an_explicit_confirmation(small):
    rt = to_review(small)
    [review] = inbox(rt, "owner", REVIEW)
    view = tasks.get(rt, review.id, rt.actor("owner"))
    assert view.schema["title"] == REVIEW and view.data["results"]["label"] == PERIOD
    for form in ({}, {"confirmed": False}, {"confirmed": True, "note": "x" * 1001},
                 {"confirmed": True, "results": {"units_ranked": 99}}):
        with pytest.raises(ValidationFailed):
            tasks.complete(rt, review.id, rt.actor("owner"), form)
    with pytest.raises(PermissionDenied):
        tasks.complete(rt, review.id, rt.actor("p01_head"), {"confirmed": True})
    do(rt, "owner", REVIEW, {"confirmed": True})
    assert cycle_record(rt).status == "waiting_timer"


def test_a_malformed_period_stops_the_cycle_with_a_clear_error(demo):
    import_scheme(demo)
    rt = at(demo, START)
    rt.cycle = instances.start(rt, "monthly_cycle", demo.actor("owner"), data={"period": "2026-13"})
    record = cycle_record(rt)
    assert record.status == "error" and record.error_element == "set_deadlines"
    assert children(rt) == []


def test_without_a_last_place_the_loop_closes_when_every_unit_fed_back(small):
    """One unit per category: nobody is last (a unit is never both top and bottom), so no
    presentation is started and the cycle does not wait for one."""
    rt = to_review(small)
    results = cycle_data(rt)["results"]
    assert (results["units_ranked"], results["units_missing"], results["last_places"]) == (3, 0, [])
    do(rt, "owner", REVIEW, {"confirmed": True})
    assert names(at(rt, datetime(2027, 1, 15, 8, 59, tzinfo=CST)), "p01_head") == []  # not before the meeting
    rt = wake(rt, datetime(2027, 1, 15, 9, 0, 1, tzinfo=CST))
    assert children(rt, "presentations") == []
    assert names(rt, "p01_head") == [FEED_BACK] and names(rt, "n01_head") == [FEED_BACK]
    assert names(rt, "b01_secretary") == []
    do(rt, "p01_head", FEED_BACK, FEEDBACK)
    assert cycle_record(rt).status == "running"
    do(rt, "n01_head", FEED_BACK, FEEDBACK)
    assert cycle_record(rt).status == "completed"
    data = cycle_data(rt)
    assert data["presentations_started"] == {"started": 0} and data["feedback_started"] == {"started": 2}
    with rt.db.reading() as session:
        computed = session.scalars(select(AuditEvent.subject).where(AuditEvent.instance_id == rt.cycle,
                                                                    AuditEvent.action == "results_computed")).all()
    assert computed == [PERIOD, PERIOD]  # reviewed, then published at the meeting


def test_the_calendar_starts_next_months_cycle_at_the_task_issuing_meeting(demo):
    import_scheme(demo)
    run_calendar(at(demo, datetime(2026, 11, 29, 12, 0, tzinfo=CST)))  # installation: the calendar starts
    outcomes = run_calendar(at(demo, datetime(2026, 11, 30, 9, 0, 30, tzinfo=CST)))
    assert ("task_issuing_meeting", "done", {"period": PERIOD, "monthly_cycle": True}) in [
        (o.firing.job, o.status, o.detail) for o in outcomes]
    with demo.db.reading() as session:
        cycle = session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == f"monthly_cycle:{PERIOD}"))
    assert cycle.started_by == SCHEDULER.username and cycle.status == "running"
    rt = at(demo, datetime(2026, 11, 30, 9, 1, tzinfo=CST))
    rt.cycle = cycle.id
    assert names(rt, "p01_head") == [PLAN] and names(rt, "leader_safety") == [FOCUS_TASK]
    assert cycle_data(rt)["period"] == PERIOD


# The two tests below run every child to its end; they are last so that `-x` runs the others first.


def test_a_month_runs_from_the_task_issuing_meeting_to_the_closed_loop(cycle):
    rt = cycle
    # PLAN: every unit's task book drafted and co-signed; the groups publish their focus points
    sign_task_books(rt, HEADS, SECRETARIES)
    publish_focus(rt)
    assert all(c.status == "completed" for c in children(rt, "plan_units"))
    record = cycle_record(rt)
    assert record.status == "waiting_timer"
    assert record.next_timer_at == datetime(2026, 12, 11, tzinfo=CST)

    # EXECUTE: three spot checks; each record goes to the inspected unit's head on its own
    rt = wake(rt, datetime(2026, 12, 11, 0, 0, 1, tzinfo=CST))
    assert names(rt, "owner") == [SPOT]
    do(rt, "owner", SPOT, {"records": [SPOT_ERROR, SPOT_LIKE]})
    assert names(rt, "p01_head") == [ACK] and names(rt, "n01_head") == [ACK] and names(rt, "p02_head") == []
    ack = tasks.get(rt, inbox(rt, "p01_head")[0].id, rt.actor("p01_head")).data
    assert (ack["kind"], ack["points"], ack["check_type"], ack["period"]) == ("error", 2, "旬抽查", PERIOD)
    do(rt, "p01_head", ACK, {"accepted": True})
    do(rt, "n01_head", ACK, {"accepted": True})
    with rt.db.reading() as session:
        points = sorted(session.scalars(select(ScoreAdjustment.points).where(ScoreAdjustment.period == PERIOD)))
    assert points == [Decimal(-2), Decimal(3)]
    rt = wake(rt, datetime(2026, 12, 21, 0, 0, 1, tzinfo=CST))
    do(rt, "owner", SPOT, {"records": []})
    assert cycle_record(rt).next_timer_at == datetime(2027, 1, 1, tzinfo=CST)

    # EVALUATE: at month end the third spot check, then the political check comes first
    rt = wake(rt, datetime(2027, 1, 1, 0, 0, 1, tzinfo=CST))
    do(rt, "owner", SPOT, {"records": []})
    rt = wake(rt, datetime(2027, 1, 1, 0, 0, 2, tzinfo=CST))
    for secretary in SECRETARIES:
        assert names(rt, secretary) == [POLITICAL_TASK], secretary
    assert names(rt, "p01_staff1") == []  # nobody declares before the political check is done
    for secretary in SECRETARIES:
        do(rt, secretary, POLITICAL_TASK, POLITICAL)
    people = [f"{unit}_{role}" for unit in UNITS for role in ("head", "deputy", "staff1", "staff2", "staff3", "staff4")]
    for person in people:
        assert DECLARE in names(rt, person), person
    declare_and_rate(rt, people)
    assert all(c.status == "completed" for c in children(rt, "declarations"))
    assert names(rt, "owner") == []  # the groups are still scoring

    # the groups score every unit (workbooks uploaded) and confirm
    enter_scores(rt)
    for leader in LEADERS:
        do(rt, leader, SCORE, {"scores_uploaded": True})
    assert names(rt, "owner") == [REVIEW]
    results = cycle_data(rt)["results"]
    assert results["label"] == PERIOD and results["units_ranked"] == 43 and results["units_missing"] == 0
    assert sorted(u["category"] for u in results["last_places"]) == ["non_production", "party_branch", "production"]
    do(rt, "owner", REVIEW, {"confirmed": True, "note": "已核对"})
    assert cycle_record(rt).status == "waiting_timer"
    assert cycle_record(rt).next_timer_at == datetime(2027, 1, 15, 9, 0, tzinfo=CST)

    # FEEDBACK: the report meeting publishes; the last places present, every unit feeds back
    rt = wake(rt, datetime(2027, 1, 15, 9, 0, 1, tzinfo=CST))
    last = {u["category"]: u["unit_code"] for u in cycle_data(rt)["results"]["last_places"]}
    presenters = {"production": last["production"].lower() + "_head",
                  "non_production": last["non_production"].lower() + "_head",
                  "party_branch": last["party_branch"].lower() + "_secretary"}  # a branch presents through its secretary
    for category, presenter in presenters.items():
        assert names(rt, presenter).count(PRESENT) == 1, f"{PRESENT} of the last {category} should reach {presenter}"
    for head in HEADS:
        assert FEED_BACK in names(rt, head), head
    assert len(children(rt, "presentations")) == 3 and len(children(rt, "feedback")) == len(UNITS)
    for presenter in presenters.values():
        do(rt, presenter, PRESENT, PRESENTATION)
    do(rt, "owner", MEETING_OK, {"accepted": True})
    assert all(c.status == "completed" for c in children(rt, "presentations"))
    assert cycle_record(rt).status == "running"  # the units' feedback is still open
    for head in HEADS:
        do(rt, head, FEED_BACK, FEEDBACK)
    assert cycle_record(rt).status == "completed"
    view = instances.view(rt, rt.cycle, rt.actor("auditor"))
    assert "end" in view.completed_elements
    assert [t.name for t in view.tasks] == [SPOT, SPOT, SPOT, REVIEW]


def test_terminated_children_count_as_finished(small):
    rt = small
    assert terminate_children(rt, "plan_units") == 2
    assert cycle_record(rt).next_timer_at == datetime(2026, 12, 11, tzinfo=CST)  # on to the spot checks
    for moment in (datetime(2026, 12, 11, 0, 0, 1, tzinfo=CST), datetime(2026, 12, 21, 0, 0, 1, tzinfo=CST),
                   datetime(2027, 1, 1, 0, 0, 1, tzinfo=CST)):
        rt = wake(rt, moment)
        do(rt, "owner", SPOT, {"records": []})
    rt = wake(rt, datetime(2027, 1, 1, 0, 0, 2, tzinfo=CST))
    assert terminate_children(rt, "political") == 1
    assert terminate_children(rt, "declarations") == len(SMALL_PEOPLE)
    assert inbox(rt, "owner", REVIEW) == []  # the groups' branch is still open
    assert terminate_children(rt, "groups") == len(LEADERS)
    assert len(inbox(rt, "owner", REVIEW)) == 1
    # without scores, nobody is ranked, so there is no last place: no presentation is waited for
    results = cycle_data(rt)["results"]
    assert results["units_ranked"] == 0 and results["last_places"] == []
    do(rt, "owner", REVIEW, {"confirmed": True})
    rt = wake(rt, datetime(2027, 1, 15, 9, 0, 1, tzinfo=CST))
    assert children(rt, "presentations") == []
    assert names(rt, "p01_head") == [FEED_BACK] and names(rt, "n01_head") == [FEED_BACK]
    do(rt, "p01_head", FEED_BACK, FEEDBACK)
    assert cycle_record(rt).status == "running"
    assert terminate_children(rt, "feedback") == 1
    assert cycle_record(rt).status == "completed"
