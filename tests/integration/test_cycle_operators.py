"""The service-task operators the monthly and quarterly cycles call, run by real SpiffWorkflow
instances of small probe diagrams: a service task with the parameters under test, then a user
task where the result can be read."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from engine.bpmn.bundle import SourceFile
from engine.clock import FixedClock
from engine.models import AchievementItem, FeedbackInterview, Person, PersonRating, PoliticalFinding, ProcessInstance
from engine.runtime import SYSTEM, Runtime
from engine.services import deploy, instances, tasks
from tests.support.probes import PROBE, probe, run

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=timezone.utc)

def test_month_deadlines_are_day_ends_or_given_moments_in_local_time(demo_org):
    rt = demo_org
    pid = probe(rt, "kaohe/month_deadlines", ["period", "deadlines"])
    _id, result = run(rt, pid, {"period": "2026-12", "deadlines": {
        "declare_due": [1, 5], "meeting": [1, 15, "09:00"], "thirtieth": [2, 30], "same_month": [0, 10]}})
    assert result == {"declare_due": "2027-01-06T00:00:00+08:00", "meeting": "2027-01-15T09:00:00+08:00",
                      "thirtieth": "2027-03-01T00:00:00+08:00",  # 28 February 2027, to its end
                      "same_month": "2026-12-11T00:00:00+08:00"}


@pytest.mark.parametrize("deadlines, says", [
    ({"due": [1]}, "期限 due"), ({"due": [1, 32]}, "期限 due"), ({"due": [13, 1]}, "期限 due"),
    ({"due": [1, 5, "9am"]}, "09:00"), ({}, "deadlines")])
def test_a_malformed_deadline_stops_the_instance_with_a_clear_error(rt, deadlines, says):
    pid = probe(rt, "kaohe/month_deadlines", ["period", "deadlines"])
    instance_id = instances.start(rt, pid, SYSTEM, data={"period": "2026-12", "deadlines": deadlines})
    with rt.db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        assert (row.status, says in row.error_message) == ("error", True)


def test_children_for_each_person_and_each_group(demo_org):
    rt = demo_org
    child = PROBE.format(pid="noop", operator="kaohe/month_deadlines", first="call", before="",
                         parameters='<spiffworkflow:parameter id="period" type="str" value="\'2026-12\'"/>'
                                    '<spiffworkflow:parameter id="deadlines" type="dict" value="{\'d\': [0, 1]}"/>')
    deploy.deploy(rt, [SourceFile("noop.bpmn", child)], SYSTEM)
    pid = probe(rt, "kaohe/start_instances", ["process", "for_each_person", "data"])
    parent, result = run(rt, pid, {"process": "noop", "for_each_person": ["deputy"], "data": {"period": "2026-12"}})
    with rt.db.reading() as session:
        deputies = session.scalar(select(func.count()).select_from(Person).where(Person.position == "deputy"))
        children = session.execute(select(ProcessInstance.title, ProcessInstance.business_key)
                                   .where(ProcessInstance.parent_instance_id == parent)
                                   .order_by(ProcessInstance.business_key)).all()
    assert result == {"started": deputies} and deputies == 33
    assert children[0].business_key.endswith(":n01_deputy")
    first = [t for t in tasks.inbox(rt, rt.actor("owner")) if t.name == "查看结果" and t.instance_id != parent][0]
    data = tasks.get(rt, first.id, rt.actor("owner")).data
    assert {k: data[k] for k in ("period", "position", "unit_code", "branch_code")} == \
        {"period": "2026-12", "position": "deputy", "unit_code": data["username"][:3].upper(), "branch_code":
         data["branch_code"]} and data["person_name"]

    groups_pid = probe(rt, "kaohe/start_instances", ["process", "for_each_group"])
    groups_parent, result = run(rt, groups_pid, {"process": "noop", "for_each_group": True})
    assert result == {"started": 6}
    with rt.db.reading() as session:
        titles = session.scalars(select(ProcessInstance.title)
                                 .where(ProcessInstance.parent_instance_id == groups_parent)).all()
    assert sorted(titles)[0].endswith("评价小组")


def test_a_declaration_is_recorded_with_the_rater_who_completed_the_task(demo_org):
    rt = demo_org
    pid = probe(rt, "kaohe/record_declaration", ["period", "username", "items", "score", "comment", "rated_in"],
                fill_first=True)
    items = [{"title": f"实绩{n}", "task_source": "月度任务书第 1 项", "self_rating": "优秀", "detail": "",
              "rating": "良好" if n < 3 else "一般", "rating_reason": "按期完成，质量较好"} for n in range(1, 5)]
    data = {"period": "2026-11", "username": "p01_staff1", "items": items, "score": 88.5, "comment": "",
            "rated_in": "fill", "lane_owners": {}}
    _id, result = run(rt, pid, data, filled_by="p01_head")
    assert result == {"items": 4, "good": 2, "score": "88.50"}
    # Declared again (a second pass): the earlier record is replaced, not added to.
    _id, result = run(rt, pid, {**data, "items": items[:1], "score": 90}, filled_by="p01_head")
    with rt.db.reading() as session:
        staff = session.scalar(select(Person.id).where(Person.username == "p01_staff1"))
        head = session.scalar(select(Person.id).where(Person.username == "p01_head"))
        rows = session.execute(select(AchievementItem.title, AchievementItem.rated_by_id)
                               .where(AchievementItem.person_id == staff, AchievementItem.period == "2026-11")).all()
        ratings = session.execute(select(PersonRating.rater_id, PersonRating.score, PersonRating.rater_role)
                                  .where(PersonRating.person_id == staff, PersonRating.period == "2026-11")).all()
    assert rows == [("实绩1", head)]
    assert [(r, str(s), role) for r, s, role in ratings] == [(head, "90.00", "direct_head")]


def test_a_sixth_item_or_an_unknown_rating_is_refused(demo_org):
    rt = demo_org
    pid = probe(rt, "kaohe/record_declaration", ["period", "username", "items", "score", "rated_in"],
                fill_first=True)
    item = {"title": "实绩", "task_source": "任务书", "self_rating": "优秀", "rating": "良好", "rating_reason": "好"}
    base = {"period": "2026-11", "username": "p01_staff1", "score": 80, "rated_in": "fill"}
    _id, error = run(rt, pid, {**base, "items": [item] * 6}, filled_by="p01_head")
    assert "1–5" in error
    _id, error = run(rt, pid, {**base, "items": [{**item, "rating": "满分"}]}, filled_by="p01_head")
    assert "rating" in error


def test_political_findings_outside_the_branch_come_back_as_problems(demo_org):
    rt = demo_org
    pid = probe(rt, "kaohe/record_political_findings", ["period", "branch_code", "findings", "recorded_in"],
                fill_first=True)
    base = {"period": "2026-11", "branch_code": "B01", "recorded_in": "fill"}
    _id, result = run(rt, pid, {**base, "findings": [
        {"username": "p02_staff1", "item_code": "formalism"},  # P02 belongs to branch B02
        {"username": "p01_staff1", "item_code": "sleeping_in"}]}, filled_by="b01_secretary")
    assert result["recorded"] == 0 and len(result["problems"]) == 2
    assert "p02_staff1 不是本支部" in result["problems"][0] and "sleeping_in 不在负面清单上" in result["problems"][1]
    _id, result = run(rt, pid, {**base, "findings": [{"username": "p01_staff1", "item_code": "formalism",
                                                      "note": "例会只表态不落实"}]}, filled_by="b01_secretary")
    assert result == {"recorded": 1, "problems": []}
    with rt.db.reading() as session:
        rows = session.execute(select(PoliticalFinding.item_code, PoliticalFinding.recorded_by)).all()
    assert rows == [("formalism", "b01_secretary")]


def test_score_progress_counts_units_scored_on_every_indicator_of_the_area(demo_org):
    rt = Runtime(demo_org.settings, database=demo_org.db, clock=FixedClock(NOW))
    rt.actor = demo_org.actor
    pid = probe(rt, "kaohe/score_progress", ["period", "area"])
    _id, result = run(rt, pid, {"period": "2026-12", "area": "safety"})
    assert (result["scored"], result["missing"]) == (0, result["units"]) and result["units"] > 0
    assert len(result["missing_units"]) == min(20, result["units"])
    _id, error = run(rt, pid, {"period": "2026-12", "area": "weather"})
    assert "weather" in error


def test_results_are_computed_and_good_achievements_published(demo_org):
    from engine.services.demo_scores import load_demo_scores
    rt = Runtime(demo_org.settings, database=demo_org.db, clock=FixedClock(NOW))
    rt.actor = demo_org.actor
    period = load_demo_scores(rt)  # November 2026, last month at NOW
    pid = probe(rt, "kaohe/compute_results", ["label"])
    _id, result = run(rt, pid, {"label": period})
    assert result["units_ranked"] == 43 and result["units_missing"] == 0
    assert sorted(p["category"] for p in result["last_places"]) == ["non_production", "party_branch", "production"]
    _id, error = run(rt, pid, {"label": "2026-13"})
    assert "2026-13" in error

    declare = probe(rt, "kaohe/record_declaration", ["period", "username", "items", "score", "rated_in"],
                    fill_first=True)
    item = {"title": "完成产量攻坚", "task_source": "任务书第 2 项", "self_rating": "优秀", "rating": "优秀",
            "rating_reason": "超额完成 12%"}
    run(rt, declare, {"period": period, "username": "p01_staff1", "items": [item, {**item, "rating": "一般"}],
                      "score": 95, "rated_in": "fill"}, filled_by="p01_head")
    publish = probe(rt, "kaohe/publish_achievements", ["quarter"])
    _id, result = run(rt, publish, {"quarter": "2026Q4"})
    assert result == {"quarter": "2026Q4", "items": 1, "people": 1}
    with rt.db.reading() as session:
        assert session.scalar(select(func.count()).where(AchievementItem.published_at.is_not(None))) == 1


def test_an_interview_is_recorded_once_per_person_and_label(demo_org):
    rt = demo_org
    pid = probe(rt, "kaohe/record_interview", ["label", "username", "form", "recorded_in"], fill_first=True)
    form = {"result": "良好", "topics": {"thinking": "积极"}, "held_on": "2027-01-12"}
    for _ in range(2):
        run(rt, pid, {"label": "2026Q4", "username": "p01_staff2", "form": form, "recorded_in": "fill"},
            filled_by="p01_head")
    with rt.db.reading() as session:
        rows = session.execute(select(FeedbackInterview.label, FeedbackInterview.held_on,
                                      FeedbackInterview.interviewer_id)).all()
        head = session.scalar(select(Person.id).where(Person.username == "p01_head"))
    assert rows == [("2026Q4", "2027-01-12", head)]
    _id, error = run(rt, pid, {"label": "Q4", "username": "p01_staff2", "form": form, "recorded_in": "fill"},
                     filled_by="p01_head")
    assert "2026Q4" in error
