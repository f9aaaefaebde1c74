"""Results of a month and a quarter, computed from recorded scores with the deployed reward tables."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.errors import NotFound, ValidationFailed
from engine.models import OrgUnit, PersonRating, PoliticalFinding, ScoreAdjustment
from engine.services import results
from engine.services.people import ensure_person
from tests.support.scoring import MARCH, score

D = Decimal


def by_code(computed) -> dict:
    return {u.code: u for u in computed.units}


def test_the_worked_example_is_fused_three_to_seven(org):
    score(org, "2026-03", MARCH)
    units = by_code(results.compute(org, "2026-03"))
    assert (units["D1"].fused, units["D2"].fused, units["B"].fused) == (D("90.80"), D("82.40"), D("87.40"))
    assert units["D1"].own == D("92.00") and units["D1"].area_scores == {"party": D("92")}


def test_ranks_rewards_and_last_place_per_category(org):
    score(org, "2026-03", MARCH)
    units = by_code(results.compute(org, "2026-03"))
    # production fused: D1 90.8, E1 0.7*85+0.3*80=83.5, D2 82.4, E2 0.7*70+0.3*80=73
    assert [units[c].ranked.rank for c in ("D1", "E1", "D2", "E2")] == [1, 2, 3, 4]
    assert (units["D1"].monthly.head_pct, units["D1"].monthly.deputy_pct) == (D(20), D(15))
    assert (units["E2"].monthly.head_pct, units["E2"].monthly.deputy_pct) == (D(-20), D(-15))
    assert units["E2"].ranked.last_place and not units["D2"].ranked.last_place
    # two branches: one top, one bottom, never both
    assert (units["B"].monthly.head_pct, units["C"].monthly.head_pct) == (D(20), D(-20))
    assert units["B"].shortlisted and not units["C"].shortlisted


def test_adjustments_change_the_own_score(org):
    score(org, "2026-03", MARCH)
    with org.db.unit_of_work() as session:
        d2 = session.scalar(select(OrgUnit).where(OrgUnit.code == "D2"))
        session.add_all([ScoreAdjustment(period="2026-03", unit_id=d2.id, kind="like", points=D(3), reason="抢险",
                                         created_by="t", created_at=org.clock.now()),
                         ScoreAdjustment(period="2026-03", unit_id=d2.id, kind="error", points=D(-1), reason="迟报",
                                         created_by="t", created_at=org.clock.now())])
    d2 = by_code(results.compute(org, "2026-03"))["D2"]
    assert (d2.adjustments, d2.own, d2.fused) == (D(2), D("82.00"), D("83.80"))


def test_a_unit_not_yet_scored_is_listed_and_not_ranked(org):
    score(org, "2026-03", {k: v for k, v in MARCH.items() if k != "E2"})
    e2 = by_code(results.compute(org, "2026-03"))["E2"]
    assert e2.own is None and e2.ranked is None and e2.missing == ["overall"]


def test_a_quarter_averages_the_months_and_uses_the_quarterly_table(org):
    for month, bump in (("2026-01", 0), ("2026-02", 1), ("2026-03", 2)):
        score(org, month, {k: v + bump for k, v in MARCH.items()})
    units = by_code(results.compute(org, "2026Q1"))
    assert units["D1"].fused == D("91.80")  # 90.8, 91.8, 92.8
    assert (units["D1"].quarterly.head_yuan, units["D1"].quarterly.deputy_yuan,
            units["D1"].quarterly.staff_pct) == (D(500), D(300), D(10))
    assert units["E2"].quarterly.head_yuan == D(-500) and units["D2"].quarterly.head_yuan == D(-450)


def test_a_month_nobody_scored_neither_drags_the_quarter_down_nor_counts_as_missing(org):
    """kaohe started in February: the quarter is February and March, not a zero for January."""
    for month, bump in (("2026-02", 1), ("2026-03", 2)):
        score(org, month, {k: v + bump for k, v in MARCH.items()})
    quarter = by_code(results.compute(org, "2026Q1"))
    march = by_code(results.compute(org, "2026-03"))
    assert quarter["D1"].fused == D("92.30")  # 91.8, 92.8
    assert quarter["D1"].missing == [] and quarter["D1"].area_scores == {
        area: (score_ - D("0.5")) for area, score_ in march["D1"].area_scores.items()}


def test_a_half_scored_month_lists_what_is_missing_without_a_partial_area_score(org):
    score(org, "2026-02", MARCH)
    score(org, "2026-03", {k: v for k, v in MARCH.items() if k != "D2"})
    quarter = by_code(results.compute(org, "2026Q1"))
    assert quarter["D2"].missing != [] and by_code(results.compute(org, "2026-03"))["D2"].area_scores == {}


def test_full_marks_three_months_running_are_flagged(org):
    for month in ("2026-01", "2026-02", "2026-03"):
        score(org, month, {**MARCH, "E1": 100})
    units = by_code(results.compute(org, "2026-03"))
    assert units["E1"].full_marks_streak and not units["D1"].full_marks_streak


def test_people_scores_political_check_and_shortlist(org):
    score(org, "2026-03", MARCH)
    with org.db.unit_of_work() as session:
        boss = ensure_person(session, "boss", "主任", unit_code="D1", position="head")
        staff = [ensure_person(session, f"s{n}", f"员工{n}", unit_code="D1") for n in range(4)]
        for person, value in zip(staff, (95, 90, 80, 70)):
            session.add(PersonRating(period="2026-03", person_id=person.id, rater_id=boss.id, rater_role="direct_head",
                                     score=D(value), created_at=org.clock.now()))
        session.add(PoliticalFinding(period="2026-03", person_id=staff[0].id, item_code=_veto_item(),
                                     recorded_by="t", recorded_at=org.clock.now()))
    people = {p.username: p for p in results.compute(org, "2026-03").people}
    assert people["s1"].score == D("90.00") and not people["s1"].rating.complete
    assert people["s0"].political.failed
    assert [u for u, p in sorted(people.items()) if p.shortlisted] == ["s1"]  # top half of 4, s0 excluded


def _veto_item() -> str:
    from engine.scoring import DEFAULT_NEGATIVE_LIST
    return next(item.code for item in DEFAULT_NEGATIVE_LIST if item.veto)


def test_bad_periods_and_missing_schemes_are_clear_errors(org):
    with pytest.raises(ValidationFailed):
        results.compute(org, "2026-13")
    with pytest.raises(NotFound):
        results.compute(org, "2025-12")  # before the scheme's valid_from
