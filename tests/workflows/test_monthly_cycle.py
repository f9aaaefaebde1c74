"""The monthly cycle (计划—执行—评价—反馈): started at the task-issuing meeting on the 30th for the
next month, it hands every unit, person and evaluation group their own child instance and only
waits for them, runs the three 旬 spot checks, opens the evaluation at month end (political check
first, then everyone's achievements), computes the results for the office to review, publishes
them at the report meeting on the 15th and closes the loop when the last places have presented
and every unit has fed its results back."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.clock import FixedClock
from engine.errors import PermissionDenied, ValidationFailed
from engine.models import (
    AuditEvent,
    HumanTask,
    OrgUnit,
    ProcessInstance,
    ScoreAdjustment,
    ScoreEntry,
)
from engine.runtime import SCHEDULER, SYSTEM, Runtime
from engine.services import instances, schemes, tasks
from engine.services.calendar_jobs import run_calendar
from engine.services.demo import NON_PRODUCTION, PRODUCTION
from engine.services.execution import fetch_instance, load_workflow
from engine.services.schemes import scheme_for_period
from engine.services.unit_scores import areas_by_category

CST = timezone(timedelta(hours=8))
PERIOD = "2026-12"
START = datetime(2026, 11, 30, 9, 0, tzinfo=CST)  # the task-issuing meeting for December
UNITS = [f"p{n:02d}" for n in range(1, len(PRODUCTION) + 1)] + [f"n{n:02d}" for n in range(1, len(NON_PRODUCTION) + 1)]
HEADS = [f"{code}_head" for code in UNITS]
SECRETARIES = [f"b{n:02d}_secretary" for n in range(1, 11)]
LEADERS = [f"leader_{code}" for code in ("party", "operations", "safety", "environment", "service", "tertiary")]

DRAFT = {"key_tasks": "1. 完成月度生产任务\n2. 安全检查零隐患", "indicators": "产量 40%，安全 30%，党建 30%"}
FOCUS = {"focus_points": ["冬季安全生产", "三会一课记录完整"]}
SPOT_ERROR = {"unit_code": "P01", "kind": "error", "points": 2, "reason": "交接班记录缺 12 月 8 日夜班",
              "evidence": ["交接班记录本第 31 页"]}
SPOT_LIKE = {"unit_code": "N01", "kind": "like", "points": 3, "reason": "主动协调解决供暖故障",
             "evidence": ["值班记录", "现场照片 2 张"]}
DECLARATION = {"items": [{"title": "完成冬季设备检修", "task_source": "月度任务书第 2 项：设备完好率",
                          "self_rating": "良好", "detail": "提前 3 天完成 12 台抽油机检修"}]}
POLITICAL = {"findings": [], "checked_all": True}
PRESENTATION = {"problem_analysis": "安全基础管理薄弱，交接班记录不规范，班组学习流于形式",
                "measures": "1. 每周检查交接班记录\n2. 班组学习纳入月度任务书考核", "commitment": "2027-02-28"}
FEEDBACK = {"meeting_held": True, "meeting_date": "2027-01-18", "interviews": []}

PLAN, FOCUS_TASK, SPOT, ACK = "编制月度任务书", "发布本月考核重点", "旬抽查", "确认检查记录"
POLITICAL_TASK, DECLARE, RATE, SCORE = "政治素质负面清单评价", "填报工作实绩", "评价工作实绩", "考核组评分"
REVIEW, PRESENT, MEETING_OK, FEED_BACK = "审核月度考核结果", "末位表态发言", "会议确认", "反馈考核结果"


# ----------------------------------------------------------------------------- helpers
def at(rt, moment: datetime) -> Runtime:
    """The same database seen by a runtime whose clock reads `moment` (keeps actor and cycle)."""
    later = Runtime(rt.settings, database=rt.db, clock=FixedClock(moment))
    later.actor, later.cycle = rt.actor, getattr(rt, "cycle", None)
    return later


def wake(rt, moment: datetime) -> Runtime:
    """Move the clock to `moment` and fire every timer that fell due, the cycle's and its children's."""
    later = at(rt, moment)
    for _ in range(5):  # firing a timer may make another one due at once (e.g. 旬末 and 月末开评)
        due = instances.due_instance_ids(later)
        if not due:
            break
        for instance_id in due:
            instances.wake(later, instance_id)
    return later


def family(rt) -> set[int]:
    """The cycle and every instance started from it, at any depth."""
    with rt.db.reading() as session:
        found, frontier = {rt.cycle}, {rt.cycle}
        while frontier:
            frontier = set(session.scalars(select(ProcessInstance.id)
                                           .where(ProcessInstance.parent_instance_id.in_(frontier)))) - found
            found |= frontier
    return found


def inbox(rt, username: str, name: str | None = None) -> list[HumanTask]:
    """`username`'s open tasks in this cycle (its own and its children's), optionally of one name."""
    mine = family(rt)
    return [t for t in tasks.inbox(rt, rt.actor(username), limit=1000)
            if t.instance_id in mine and (name is None or t.name == name)]


def names(rt, username: str) -> list[str]:
    return sorted(t.name for t in inbox(rt, username))


def do(rt, username: str, name: str, form: dict) -> None:
    """Complete every open task called `name` that `username` may take in this cycle."""
    todo = inbox(rt, username, name)
    assert todo, f"{username} has no task {name}"
    for task in todo:
        tasks.complete(rt, task.id, rt.actor(username), form)


def cycle_record(rt):
    with rt.db.reading() as session:
        return fetch_instance(session, rt.cycle)


def cycle_data(rt, instance_id: int | None = None) -> dict:
    """The cycle's data as its open branches see it (parallel branches each carry their own)."""
    with rt.db.reading() as session:
        workflow, _loaded = load_workflow(rt, session, fetch_instance(session, instance_id or rt.cycle))
        if workflow.is_completed():
            return dict(workflow.data)
        data: dict = {}
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            data.update(task.data)
        return data


def children(rt, spawned_by: str | None = None, instance_id: int | None = None) -> list:
    with rt.db.reading() as session:
        query = select(ProcessInstance).where(ProcessInstance.parent_instance_id == (instance_id or rt.cycle))
        if spawned_by:
            query = query.where(ProcessInstance.spawned_by == spawned_by)
        return list(session.scalars(query.order_by(ProcessInstance.id)))


def terminate_children(rt, spawned_by: str) -> int:
    """End every open child of one step, as the office would (a terminated child counts as finished)."""
    open_ = [c.id for c in children(rt, spawned_by) if c.status not in ("completed", "terminated")]
    for child in open_:
        instances.terminate(rt, child, rt.actor("owner"), "测试：批量结束")
    return len(open_)


def import_scheme(rt) -> None:
    schemes.import_scheme(rt, schemes.DEFAULT_SCHEME_FILE.read_text(encoding="utf-8"), SYSTEM)


def enter_scores(rt, period: str = PERIOD) -> None:
    """Every indicator of every active unit scored (as the groups' workbooks would), unit by unit a
    little lower so that each category has one clear last place."""
    with rt.db.unit_of_work() as session:
        scheme = scheme_for_period(session, period)
        by_category = areas_by_category(scheme)
        units = session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.category)
                                .where(OrgUnit.active.is_(True)).order_by(OrgUnit.code)).all()
        for n, (unit_id, _code, category) in enumerate(units):
            share = Decimal("0.95") - Decimal("0.01") * n
            for area in by_category.get(category, []):
                for indicator in area.indicators:
                    value = indicator.max_score * share
                    if indicator.method == "deduction":
                        value = indicator.max_score - value
                    elif indicator.method == "pass_fail":
                        value = indicator.max_score
                    session.add(ScoreEntry(period=period, unit_id=unit_id, indicator_id=indicator.id,
                                           value=value.quantize(Decimal("0.1")), entered_by="test",
                                           entered_at=rt.clock.now()))


def keep_only(rt, codes: set[str]) -> None:
    """A small organisation: every other unit of a ranked category is deactivated (a faster cycle)."""
    with rt.db.unit_of_work() as session:
        for unit in session.scalars(select(OrgUnit).where(
                OrgUnit.category.in_(("production", "non_production", "party_branch")))):
            unit.active = unit.code in codes


def start_cycle(rt) -> Runtime:
    first = at(rt, START)
    first.cycle = instances.start(first, "monthly_cycle", rt.actor("owner"), data={"period": PERIOD},
                                  title=f"{PERIOD} 月度考核", business_key=f"monthly_cycle:{PERIOD}")
    return first


def sign_task_books(rt, heads, secretaries) -> None:
    for head in heads:
        do(rt, head, PLAN, DRAFT)
        do(rt, head, "正职签字", {"head_approved": True})
    for secretary in secretaries:
        do(rt, secretary, "书记签字", {"secretary_approved": True})


def publish_focus(rt) -> None:
    for leader in LEADERS:
        do(rt, leader, FOCUS_TASK, FOCUS)


def rated(task_data: dict) -> dict:
    items = [{**item, "rating": "良好", "rating_reason": "按期完成，质量较好"} for item in task_data["items"]]
    return {"items": items, "score": 88, "comment": "继续保持"}


def declare_and_rate(rt, people: list[str]) -> None:
    for person in people:
        do(rt, person, DECLARE, DECLARATION)
    for rater in ["owner"] + sorted({p.split("_")[0] + "_head" for p in people}):
        for task in inbox(rt, rater, RATE):
            data = tasks.get(rt, task.id, rt.actor(rater)).data
            tasks.complete(rt, task.id, rt.actor(rater), rated(data))


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
