"""/api/v1/results: the rankings, one unit, one person and the workbook, with exactly the pages' rule
of who sees what (engine/services/result_access.py): a staff member who changes the unit code or the
username in the URL is refused."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from engine.services.results import compute
from web import create_app

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def app(scored):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": scored, "START_SCHEDULER": False})


@pytest.fixture
def as_user(scored, api_as):
    return lambda username: api_as(scored.actor(username))


def ok(response) -> dict:
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_office_gets_every_ranking_with_its_fusion_rewards_and_flags(scored, as_user):
    results = compute(scored, "2026-03")
    body = ok(as_user("owner").get("/api/v1/results"))  # by default last month
    assert body["label"] == "2026-03" and body["quarter"] is False and body["visibility"]["everything"] is True
    assert Decimal(body["own_weight"]) == Decimal("0.7")
    assert body["scheme"] == f"{results.scheme_code} v{results.scheme_version}"
    assert [t["category"] for t in body["tables"]] == ["production", "non_production", "party_branch"]
    by_code = {u.code: u for u in results.units}
    for table in body["tables"]:
        ranks = [row["ranking"]["rank"] for row in table["rows"]]
        assert ranks == sorted(ranks) and len(table["rows"]) == sum(
            1 for u in results.units if u.category == table["category"])
        assert sum(b["count"] for b in table["histogram"]) == len(table["rows"])
    rows = {row["code"]: row for table in body["tables"] for row in table["rows"]}
    p01, branch = by_code["P01"], by_code[by_code["P01"].branch_code]
    row = rows["P01"]
    assert Decimal(row["fused"]) == p01.fused and Decimal(row["own"]) == p01.own
    assert Decimal(row["fusion"]["own_share"]) == Decimal("0.7") * p01.own
    assert Decimal(row["fusion"]["partner"]) == branch.own and row["fusion"]["partner_is_members"] is False
    assert {k: Decimal(v) for k, v in row["area_scores"].items()} == p01.area_scores
    for code, unit in by_code.items():
        flags = rows[code]["flags"]
        assert ("last_place" in flags) == unit.ranked.last_place and ("shortlisted" in flags) == unit.shortlisted
        assert Decimal(rows[code]["monthly_reward"]["head_pct"]) == unit.monthly.head_pct
        assert Decimal(rows[code]["adjustments"]) == unit.adjustments
    assert any("last_place" in r["flags"] for r in rows.values())


def test_a_quarter_has_quarterly_rewards_and_no_monthly_fusion(scored, as_user):
    results = compute(scored, "2026Q1")
    body = ok(as_user("auditor").get("/api/v1/results?period=2026Q1"))
    assert body["quarter"] is True and body["months"] == ["2026-01", "2026-02", "2026-03"]
    first = next(u for u in results.units if u.category == "production" and u.ranked.rank == 1)
    row = next(r for t in body["tables"] for r in t["rows"] if r["code"] == first.code)
    assert row["fusion"] is None and Decimal(row["quarterly_reward"]["head_yuan"]) == first.quarterly.head_yuan


def test_staff_see_their_units_position_and_their_own_result_only(scored, as_user):
    results = compute(scored, "2026-03")
    unit = next(u for u in results.units if u.code == "P01")
    me = next(p for p in results.people if p.username == "p01_staff1")
    staff = as_user("p01_staff1")
    body = ok(staff.get("/api/v1/results?period=2026-03"))
    assert body["tables"] == [] and body["visibility"]["everything"] is False
    mine = body["my_unit"]
    assert mine["code"] == "P01" and mine["ranking"]["rank"] == unit.ranked.rank
    assert Decimal(mine["fused"]) == unit.fused and mine["area_scores"] == {} and mine["own"] is None
    assert body["me"]["username"] == "p01_staff1" and Decimal(body["me"]["score"]) == me.score
    assert ok(staff.get("/api/v1/results/people/p01_staff1"))["username"] == "p01_staff1"


@pytest.mark.parametrize("path", [
    "/api/v1/results/units/P01", "/api/v1/results/units/P02", "/api/v1/results/units/NOPE",
    "/api/v1/results/people/p01_staff2", "/api/v1/results/people/p02_staff1", "/api/v1/results/people/nobody",
    "/api/v1/results/export?period=2026-03"])
def test_staff_changing_the_code_or_name_in_the_url_are_refused(as_user, path):
    response = as_user("p01_staff1").get(path)
    assert response.status_code == 403, path
    body = response.get_json()
    assert body["code"] == "forbidden" and ("无权" in body["message"] or "只有" in body["message"])


def test_a_head_sees_their_unit_and_its_people_but_not_another_unit(as_user):
    head = as_user("p01_head")
    body = ok(head.get("/api/v1/results/units/P01?period=2026-03&months=2"))
    assert body["unit"]["code"] == "P01" and [p["month"] for p in body["trend"]] == ["2026-02", "2026-03"]
    assert "p01_staff2" in {p["username"] for p in body["people"]}
    assert ok(head.get("/api/v1/results/people/p01_staff1"))["unit_code"] == "P01"
    for path in ("/api/v1/results/units/P02", "/api/v1/results/people/p02_staff1", "/api/v1/results/people/owner",
                 "/api/v1/results/export"):
        assert head.get(path).status_code == 403, path


def test_an_evaluation_leader_sees_their_categories_without_people(as_user):
    leader = as_user("leader_tertiary")  # 三产 scores production units only
    body = ok(leader.get("/api/v1/results"))
    assert [t["category"] for t in body["tables"]] == ["production"]
    unit = ok(leader.get("/api/v1/results/units/P02"))
    assert unit["unit"]["code"] == "P02" and unit["people"] is None
    assert leader.get("/api/v1/results/units/N01").status_code == 403
    assert leader.get("/api/v1/results/people/p02_staff1").status_code == 403


def test_a_unit_with_its_areas_adjustments_and_trend(scored, as_user):
    results = compute(scored, "2026-03")
    adjusted = next(u for u in results.units if u.adjustments)
    body = ok(as_user("owner").get(f"/api/v1/results/units/{adjusted.code}?period=2026-03&months=6"))
    assert len(body["trend"]) == 6 and body["trend"][-1]["month"] == "2026-03"
    assert Decimal(body["trend"][-1]["fused"]) == adjusted.fused and body["trend"][0]["fused"] is None
    assert sum(Decimal(a["points"]) for a in body["adjustments"]) == adjusted.adjustments
    assert all(a["created_at"].endswith("+08:00") and a["reason"] for a in body["adjustments"])
    assert {a["code"] for a in body["areas"]} == set(adjusted.area_scores)
    assert all(set(a["name"]) == {"zh", "en"} for a in body["areas"])


def test_a_person_with_ratings_by_role_and_the_political_check(scored, as_user):
    person = next(p for p in compute(scored, "2026-03").people if p.username == "p01_staff1")
    body = ok(as_user("owner").get("/api/v1/results/people/p01_staff1?period=2026-03"))
    assert Decimal(body["result"]["score"]) == person.score
    assert Decimal(body["result"]["political"]["deduction"]) == 2 and body["result"]["political"]["failed"] is False
    assert body["findings"] == [{"period": "2026-03", "item_code": "absent_from_study", "note": "缺席三月集中学习"}]
    roles = {r["role"]: r for r in body["roles"]}
    assert roles["direct_head"]["weight"] == "40" and roles["direct_head"]["name"]["zh"] == "直接部门负责人"
    assert roles["supervising_leader"]["mean"] is None and roles["supervising_leader"]["count"] == 0
    assert body["ratings"] and all(r["period"] == "2026-03" for r in body["ratings"])
    assert body["may_open_unit"] is True


def test_the_office_and_auditors_get_404_for_what_does_not_exist(as_user):
    auditor = as_user("auditor")
    assert auditor.get("/api/v1/results/units/ORG").status_code == 404  # not a ranked unit
    missing = auditor.get("/api/v1/results/people/nobody")
    assert missing.status_code == 404 and missing.get_json()["code"] == "not_found"


def test_the_workbook_is_an_attachment_openpyxl_reads(scored, as_user):
    response = as_user("auditor").get("/api/v1/results/export?period=2026-03")
    assert response.status_code == 200 and response.mimetype == XLSX
    assert response.headers["Content-Disposition"] == 'attachment; filename="kaohe-results-2026-03.xlsx"'
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["单位", "个人"]
    units = list(book["单位"].iter_rows(values_only=True))
    assert len(units) == 1 + len(compute(scored, "2026-03").units)
    english = as_user("auditor").get("/api/v1/results/export", headers={"Accept-Language": "en"})
    assert load_workbook(io.BytesIO(english.data)).sheetnames == ["units", "people"]


@pytest.mark.parametrize("query", ["period=2026-13", "period=2026-Q1", "period=March", "period=0001-01",
                                   "period=", "months=0", "months=37", "months=many"])
def test_a_malformed_period_is_422_naming_the_field(as_user, query):
    response = as_user("owner").get(f"/api/v1/results/units/P01?{query}")
    assert response.status_code == 422, query
    body = response.get_json()
    assert body["code"] == "validation_failed" and set(body["field_errors"]) == {query.split("=")[0]}


def test_a_period_without_a_scheme_is_empty_or_404_never_500(as_user):
    owner = as_user("owner")
    body = ok(owner.get("/api/v1/results?period=2020-01"))
    assert body["scheme"] is None and body["tables"] == [] and body["my_unit"] is None
    assert owner.get("/api/v1/results/units/P01?period=2020-01").status_code == 404
    assert owner.get("/api/v1/results/export?period=2020-01").status_code == 404
    assert ok(owner.get("/api/v1/results/people/p01_staff1?period=2020-01"))["result"] is None


def test_results_need_a_token(anonymous):
    assert anonymous.get("/api/v1/results").status_code == 401
