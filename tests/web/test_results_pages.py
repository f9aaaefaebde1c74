"""The results pages as people see them: rankings per category with each fused score taken apart,
drill-down from category to unit to person, trends, the workbook, and who may see what."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from engine.models import OrgUnit
from engine.services.demo import DEMO_PASSWORD
from engine.services.results import compute
from tests.web.conftest import job_download, login, run_job
from web import create_app

@pytest.fixture
def app(scored):
    return create_app({"TESTING": True, "KAOHE_RUNTIME": scored, "START_SCHEDULER": False})


def signed_in(app, username: str):
    client = app.test_client()
    response = login(client, username, DEMO_PASSWORD)
    assert response.status_code == 302, username
    return client


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def row_of(page: str, code: str) -> str:
    """The HTML of one unit's row in a ranking table."""
    start = page.index(f'data-unit="{code}"')
    return page[start:page.index("</tr>", start)]


def test_the_owner_sees_every_category_ranked_by_fused_score_with_its_breakdown(app, scored):
    results = compute(scored, "2026-03")
    page = text(signed_in(app, "owner").get("/results"))  # default: last month
    assert "2026-03" in page and "生产型" in page and "非生产型" in page and "党支部" in page
    by_code = {u.code: u for u in results.units}
    for category in ("production", "non_production", "party_branch"):
        section = page[page.index(f'id="cat-{category}"'):]
        section = section[:section.index("</section>")]
        members = sorted((u for u in results.units if u.category == category), key=lambda u: u.ranked.rank)
        positions = [section.index(f'data-unit="{u.code}"') for u in members]
        assert positions == sorted(positions)  # listed best first
        assert section.count("<rect ") >= 1 and "融合得分分布" in section
    unit = by_code["P01"]
    branch = by_code[unit.branch_code]
    row = row_of(page, "P01")
    assert f">{unit.fused:.2f}<" in row and f">{unit.own:.2f}<" in row
    assert f"70% × {unit.own:.2f} + 30% × {branch.own:.2f}" in row
    assert unit.fused == (Decimal("0.7") * unit.own + Decimal("0.3") * branch.own).quantize(Decimal("0.01"))
    for value in unit.area_scores.values():
        assert f"{value:.2f}" in row


def test_flags_and_rewards_follow_the_computed_results(app, scored):
    results = compute(scored, "2026-03")
    page = text(signed_in(app, "owner").get("/results?period=2026-03"))
    for unit in results.units:
        row = row_of(page, unit.code)
        assert ("末位" in row) == unit.ranked.last_place
        assert ("入围" in row) == unit.shortlisted
        if unit.monthly.head_pct:
            assert f"正职 {unit.monthly.head_pct:+.0f}%".replace("-", "−") in row
        if unit.adjustments:
            assert f"{unit.adjustments:+.2f}".replace("-", "−") in row
    assert any(u.ranked.last_place for u in results.units)


def test_an_incomplete_unit_is_marked_and_not_ranked(app, scored):
    with scored.db.unit_of_work() as session:
        session.add(OrgUnit(code="P99", name="新建队", category="production"))
    page = text(signed_in(app, "owner").get("/results"))
    row = row_of(page, "P99")
    assert "未评完" in row and "末位" not in row


def test_the_quarter_shows_quarterly_rewards_in_yuan(app, scored):
    results = compute(scored, "2026Q1")
    first = next(u for u in results.units if u.category == "production" and u.ranked.rank == 1)
    page = text(signed_in(app, "owner").get("/results?quarter=2026Q1"))
    assert "2026Q1" in page and "各月融合得分的平均" in page
    assert f"正职 {first.quarterly.head_yuan:+.0f}元" in row_of(page, first.code)


def test_drill_down_from_the_ranking_to_a_unit_and_a_person(app, scored):
    results = compute(scored, "2026-03")
    owner = signed_in(app, "owner")
    ranking = text(owner.get("/results"))
    assert '/results/units/P01?period=2026-03' in ranking
    unit = next(u for u in results.units if u.code == "P01")
    page = text(owner.get("/results/units/P01?period=2026-03"))
    assert "采油一队" in page and f"{unit.fused:.2f}" in page
    assert f"{unit.ranked.rank} / {unit.ranked.size}" in page
    assert "党务" in page and f"{unit.area_scores['party']:.2f}" in page
    assert "/results/people/p01_staff1?period=2026-03" in page
    person = next(p for p in results.people if p.username == "p01_staff1")
    page = text(owner.get("/results/people/p01_staff1?period=2026-03"))
    assert f"{person.score:.2f}" in page and f"{person.rating.score:.2f}" in page
    assert "直接部门负责人" in page and "40%" in page and "分管领导" in page and "未评价" in page
    assert "无故缺席政治理论学习或组织生活" in page and person.political.deduction == 2
    assert person.score == person.rating.score - 2


def test_a_unit_lists_its_likes_and_error_notices_with_their_reasons(app, scored):
    results = compute(scored, "2026-03")
    adjusted = next(u for u in results.units if u.adjustments)
    page = text(signed_in(app, "owner").get(f"/results/units/{adjusted.code}"))
    reason = "抢险保供表现突出" if adjusted.adjustments > 0 else "月报迟报一天"
    assert reason in page and f"{adjusted.adjustments:+.2f}".replace("-", "−") in page


def test_the_unit_page_shows_the_trend_over_the_months(app, scored):
    february = next(u for u in compute(scored, "2026-02").units if u.code == "P03")
    march = next(u for u in compute(scored, "2026-03").units if u.code == "P03")
    page = text(signed_in(app, "owner").get("/results/units/P03?months=6"))
    assert "近 6 个月走势" in page and page.count("<circle ") == 4  # two months, two charts
    assert f"2026-02: {february.fused}" in page and f"2026-03: {march.fused}" in page
    assert f"{march.ranked.rank} / {march.ranked.size}" in page


def test_staff_see_their_own_result_and_their_units_position_only(app, scored):
    results = compute(scored, "2026-03")
    unit = next(u for u in results.units if u.code == "P01")
    me = next(p for p in results.people if p.username == "p01_staff1")
    staff = signed_in(app, "p01_staff1")
    page = text(staff.get("/results"))
    assert f"{unit.ranked.rank} / {unit.ranked.size}" in page and f"{unit.fused:.2f}" in page
    assert f"{me.score:.2f}" in page and "采油二队" not in page and 'data-unit=' not in page
    assert "导出" not in page and "/results/units/P01" not in page
    assert text(staff.get("/results/people/p01_staff1")).count("p01_staff1") >= 1
    for url in ("/results/units/P01", "/results/units/P02", "/results/units/NOPE",
                "/results/people/p01_staff2", "/results/people/p01_head", "/results/people/nobody"):
        response = staff.get(url)
        assert response.status_code == 403, url
        assert "无权" in response.get_data(as_text=True)
    export = run_job(staff, "/results", "results_export", {"label": "2026-03"})  # a forged export button
    assert export.status_code == 403 and "无权" in export.get_data(as_text=True)


def test_a_head_sees_their_units_pages_and_people_only(app):
    head = signed_in(app, "p01_head")
    page = text(head.get("/results"))
    assert "/results/units/P01?period=2026-03" in page and "采油二队" not in page
    page = text(head.get("/results/units/P01"))
    assert "本单位人员" in page and "p01_staff2" in page
    assert "p01_staff1" in text(head.get("/results/people/p01_staff1"))
    for url in ("/results/units/P02", "/results/people/p02_staff1", "/results/people/owner"):
        assert head.get(url).status_code == 403, url
    assert 'value="results_export"' not in text(head.get("/results"))  # no export button, and no export
    assert run_job(head, "/results", "results_export", {"label": "2026-03"}).status_code == 403


def test_an_evaluation_leader_sees_the_categories_their_area_scores(app):
    leader = signed_in(app, "leader_tertiary")   # 三产 scores production units only
    page = text(leader.get("/results"))
    assert 'id="cat-production"' in page and 'id="cat-non_production"' not in page
    unit = text(leader.get("/results/units/P02"))
    assert "采油二队" in unit and "本单位人员" not in unit
    assert leader.get("/results/units/N01").status_code == 403
    assert leader.get("/results/people/p02_staff1").status_code == 403


@pytest.mark.parametrize("username", ["owner", "auditor"])
def test_the_office_and_auditors_see_everything_and_may_export(app, username):
    client = signed_in(app, username)
    assert 'data-unit="N20"' in text(client.get("/results"))
    assert "p05_staff2" in text(client.get("/results/people/p05_staff2"))
    assert "本单位人员" in text(client.get("/results/units/B03"))
    assert client.get("/results/units/ORG").status_code == 404
    assert client.get("/results/people/nobody").status_code == 404
    workbook = export(client)
    assert workbook.status_code == 200 and "kaohe-results-2026-03.xlsx" in workbook.headers["Content-Disposition"]


def export(client, label: str = "2026-03"):
    """The results page's 导出 Excel button: a job; then the file behind the job page's download."""
    job_page = run_job(client, f"/results?period={label}", "results_export", {"label": label})
    assert 'id="job-done"' in text(job_page)
    return job_download(client, job_page)


def test_the_workbook_is_the_one_the_cli_writes(app, scored):
    owner = signed_in(app, "owner")
    assert 'name="kind" value="results_export"' in text(owner.get("/results?period=2026-03"))
    response = export(owner)
    assert response.status_code == 200
    assert "kaohe-results-2026-03.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["单位", "个人"]
    units = list(book["单位"].iter_rows(values_only=True))
    results = compute(scored, "2026-03")
    assert len(units) == 1 + len(results.units) and units[0][0] == "单位编码"
    first = next(u for u in results.units if u.code == units[1][0])
    assert units[1][units[0].index("融合得分")] == pytest.approx(float(first.fused))


def test_the_page_in_english(app):
    client = signed_in(app, "owner")
    page = text(client.get("/results?lang=en"))
    assert "Results" in page and "Production" in page and "Fused score" in page and "Last place" in page
    assert "融合得分" not in page
    book = load_workbook(io.BytesIO(export(client).data))
    assert book.sheetnames == ["units", "people"]
    page = text(client.get("/results/people/p01_staff1"))
    assert "Direct department head" in page or "direct department head" in page


def test_periods_without_a_scheme_or_malformed_are_explained(app):
    client = signed_in(app, "owner")
    assert "没有适用的考核方案" in text(client.get("/results?period=2020-01"))
    response = client.get("/results?period=2026-13")
    assert response.status_code == 422 and "2026-13" in response.get_data(as_text=True)
