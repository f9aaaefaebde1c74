"""Stored results: the pages read a period's snapshot, computed once, exactly what results.compute
returns; every kind of input written through kaohe's services makes the next page show the new
figure; a failed or concurrent store never leaves a wrong or half snapshot."""
from __future__ import annotations

import json
import threading
from dataclasses import asdict
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.models import ResultInputGeneration, ResultPersonRow, ResultSnapshot, ScoreEntry
from engine.services import result_rows, result_store, result_views, results
from engine.services.result_inputs import inputs_changed
from tests.support.scoring import ON_10_APRIL

LABELS = ("2026-03", "2026-02", "2026Q1")


@pytest.fixture
def computations(monkeypatch):
    """Each label result_store computed, in order."""
    seen = []

    def counting(rt, label, progress=None):
        seen.append(label)
        return results.compute(rt, label, progress)
    monkeypatch.setattr(result_store, "compute", counting)
    return seen


def stored(rt, label):
    with rt.db.reading() as session:
        return result_store.results(session, result_store.snapshot(rt, label))


def ranked(rt, label, code, actor="owner"):
    page = result_views.results_page(rt, rt.actor(actor), label)
    return next(row for table in page.tables for row in table.rows if row.unit.code == code)


@pytest.mark.parametrize("label", LABELS)
def test_the_stored_results_are_exactly_what_compute_returns(scored, label):
    computed, kept = results.compute(scored, label), stored(scored, label)
    assert kept == computed
    # Exactly, digits included: monthly area scores are not rounded and "5" must not read "5.00".
    assert json.dumps(asdict(kept), default=str) == json.dumps(asdict(computed), default=str)
    assert any(p.political.items for p in kept.people) == (label != "2026-02")


def test_a_page_computes_once_then_reads_the_stored_results(scored, computations):
    first = ranked(scored, "2026-03", "P01")
    assert computations == ["2026-03"]
    assert ranked(scored, "2026-03", "P01") == first
    result_views.person_page(scored, scored.actor("owner"), "2026-03", "p01_staff1")
    result_views.unit_page(scored, scored.actor("owner"), "2026-03", "P01", 3)  # computes Jan and Feb once
    result_views.unit_page(scored, scored.actor("owner"), "2026-03", "P02", 3)
    assert computations == ["2026-03", "2026-01", "2026-02"]


def test_the_trend_reads_every_month_from_the_store(scored, computations):
    page = result_views.unit_page(scored, scored.actor("owner"), "2026-03", "P03", 6)
    expected = [next((u for u in results.compute(scored, month).units if u.code == "P03"), None)
                if month >= "2026-01" else None for month in ("2025-10", "2025-11", "2025-12", "2026-01",
                                                               "2026-02", "2026-03")]
    assert [(p.fused, p.rank) for p in page.trend] == [
        (u.fused, u.ranked.rank) if u and u.ranked else (None, None) for u in expected]
    # Months before the scheme's valid_from are stored as empty without computing anything.
    assert sorted(computations) == ["2026-01", "2026-02", "2026-03"]
    with scored.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(ResultSnapshot)) == 6
    computations.clear()
    assert result_views.unit_page(scored, scored.actor("owner"), "2026-03", "P03", 6).trend == page.trend
    assert computations == []


def test_a_change_makes_its_month_and_the_later_ones_stale_not_the_earlier(scored, computations):
    for label in ("2026-01", "2026-02", "2026-03", "2026Q1"):
        result_store.snapshot(scored, label)
    computations.clear()
    with scored.db.unit_of_work() as session:
        inputs_changed(session, "2026-02")  # a full-marks streak ending in March counts February
    for label in ("2026-01", "2026-02", "2026-03", "2026Q1"):
        result_store.snapshot(scored, label)
    assert computations == ["2026-02", "2026-03", "2026Q1"]


def test_a_rolled_back_write_changes_no_generation(scored):
    with pytest.raises(RuntimeError):
        with scored.db.unit_of_work() as session:
            inputs_changed(session, "2026-03")
            raise RuntimeError("the write failed")
    with scored.db.unit_of_work() as session:
        pass  # a later commit of the same kind of session does not bump it either
    with scored.db.reading() as session:
        assert session.scalar(select(ResultInputGeneration.generation)
                              .where(ResultInputGeneration.scope == "2026-03")) == 1  # from the demo scores


def test_requests_arriving_together_compute_once(scored, computations):
    answers, barrier = [], threading.Barrier(4)

    def ask():
        barrier.wait()
        answers.append(result_store.snapshot(scored, "2026-03").token)
    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert computations == ["2026-03"] and len(set(answers)) == 1


def test_a_store_that_fails_halfway_leaves_the_previous_snapshot_whole(scored, monkeypatch):
    before = stored(scored, "2026-03")
    with scored.db.unit_of_work() as session:
        inputs_changed(session, "2026-03")
    calls = []
    real = result_rows.person_data

    def failing(person):
        calls.append(person)
        if len(calls) == 5:
            raise OSError("disk full")
        return real(person)
    monkeypatch.setattr(result_rows, "person_data", failing)
    with pytest.raises(OSError):
        result_store.snapshot(scored, "2026-03")
    with scored.db.reading() as session:
        header = session.execute(select(ResultSnapshot.id, ResultSnapshot.person_count)).one()
        rows = session.scalar(select(func.count()).select_from(ResultPersonRow)
                              .where(ResultPersonRow.snapshot_id == header.id))
    assert rows == header.person_count == len(before.people)
    monkeypatch.setattr(result_rows, "person_data", real)
    assert stored(scored, "2026-03") == results.compute(scored, "2026-03")


# --- every kind of input, written through the service that writes it ------------------------

def test_a_score_workbook_import_shows_on_the_ranking(scored):
    import io

    from openpyxl import load_workbook

    from engine.services.score_sheets import import_scores, write_template
    before = ranked(scored, "2026-03", "P01")
    workbook = load_workbook(io.BytesIO(write_template(scored, "2026-03", scored.actor("owner"), "safety")))
    sheet = workbook["安全"]
    for row in sheet.iter_rows(min_row=2):
        if row[2].value == "P01":
            row[9].value = 0 if row[7].value != "扣分制" else row[8].value  # the worst score there is
    buffer = io.BytesIO()
    workbook.save(buffer)
    import_scores(scored, buffer.getvalue(), "safety.xlsx", scored.actor("owner"))
    after = ranked(scored, "2026-03", "P01")
    assert after.unit.fused < before.unit.fused and after.unit.area_scores["safety"] == 0
    assert after.unit == next(u for u in results.compute(scored, "2026-03").units if u.code == "P01")


def test_a_like_recorded_by_a_workflow_shows_on_the_unit_page(scored):
    from tests.support.probes import probe, run
    pid = probe(scored, "kaohe/record_adjustment", ["unit_code", "period", "points", "kind", "reason"])
    before = result_views.unit_page(scored, scored.actor("owner"), "2026-03", "P05", 1)
    run(scored, pid, {"unit_code": "P05", "period": "2026-03", "points": 3, "kind": "like", "reason": "抢修及时"})
    after = result_views.unit_page(scored, scored.actor("owner"), "2026-03", "P05", 1)
    assert after.row.unit.adjustments == before.row.unit.adjustments + 3
    assert after.row.unit.own == before.row.unit.own + 3 and after.trend[-1].fused == after.row.unit.fused


def test_a_direct_heads_rating_shows_on_the_person_page(scored):
    from tests.support.probes import probe, run
    pid = probe(scored, "kaohe/record_declaration", ["period", "username", "items", "score", "rated_in"],
                fill_first=True)
    before = result_views.person_page(scored, scored.actor("owner"), "2026-03", "p01_staff2").result
    item = {"title": "实绩", "task_source": "任务书", "self_rating": "优秀", "rating": "一般", "rating_reason": "尚可"}
    run(scored, pid, {"period": "2026-03", "username": "p01_staff2", "items": [item], "score": 41,
                      "rated_in": "fill", "lane_owners": {}}, filled_by="p01_head")
    after = result_views.person_page(scored, scored.actor("owner"), "2026-03", "p01_staff2").result
    assert before.rating.score != after.rating.score == Decimal("41.00")


def test_a_political_finding_shows_on_the_person_page(scored):
    from tests.support.probes import probe, run
    pid = probe(scored, "kaohe/record_political_findings",
                ["period", "branch_code", "findings", "recorded_in"], fill_first=True)
    before = result_views.person_page(scored, scored.actor("owner"), "2026-03", "p01_staff1").result
    assert before.political.deduction == 2
    run(scored, pid, {"period": "2026-03", "branch_code": "B01", "recorded_in": "fill",
                      "findings": [{"username": "p01_staff1", "item_code": "formalism"}]},
        filled_by="b01_secretary")
    after = result_views.person_page(scored, scored.actor("owner"), "2026-03", "p01_staff1").result
    assert after.political.deduction == 3 and after.score == after.rating.score - 3


def test_a_new_scheme_version_shows_on_the_ranking(scored):
    from engine.runtime import SYSTEM
    from engine.services import schemes
    before = result_views.results_page(scored, scored.actor("owner"), "2026-03")
    document = json.loads(schemes.DEFAULT_SCHEME_FILE.read_text(encoding="utf-8"))
    document["fusion"]["own_weight"] = 0.6
    schemes.import_scheme(scored, json.dumps(document, ensure_ascii=False), SYSTEM)
    after = result_views.results_page(scored, scored.actor("owner"), "2026-03")
    assert before.own_weight == Decimal("0.7") and after.own_weight == Decimal("0.6")
    assert before.scheme.endswith("v1") and after.scheme.endswith("v2")
    # Scores were entered against version 1's indicators: under version 2 March is not scored yet.
    row = next(r for t in after.tables for r in t.rows if r.unit.code == "P01")
    assert row.unit.fused is None and "incomplete" in row.flags
    assert row.unit == next(u for u in results.compute(scored, "2026-03").units if u.code == "P01")


def test_a_deployed_reward_table_shows_on_the_ranking(scored):
    from engine.bpmn.bundle import SourceFile
    from engine.runtime import SYSTEM
    from engine.services import deploy
    from tests.support.probes import WORKFLOWS
    top = next(r for r in result_views.results_page(scored, scored.actor("owner"), "2026-03").tables[0].rows)
    assert top.unit.monthly.head_pct == 20
    rule = '<outputEntry id="monthly_rule_top_two_head"><text>{}</text>'
    xml = (WORKFLOWS / "monthly_rewards.dmn").read_text(encoding="utf-8")
    xml = xml.replace(rule.format(20), rule.format(25))
    deploy.deploy(scored, [SourceFile("monthly_rewards.dmn", xml)], SYSTEM)
    assert ranked(scored, "2026-03", top.unit.code).unit.monthly.head_pct == 25


def test_an_org_import_shows_on_the_ranking(scored, tmp_path):
    from engine.services.org_io import export_org, import_org
    assert ranked(scored, "2026-03", "P01").unit.name == "采油一队"
    units, people = export_org(scored, tmp_path / "org.csv")
    units.write_text(units.read_text(encoding="utf-8-sig").replace("P01,采油一队", "P01,采油一队（更名）"),
                     encoding="utf-8-sig")
    import_org(scored, [units, people], scored.actor("owner"))
    assert ranked(scored, "2026-03", "P01").unit.name == "采油一队（更名）"


def test_a_renamed_person_shows_in_their_result(scored):
    from engine.services.people import ensure_person
    assert result_views.results_page(scored, scored.actor("p01_staff1"), "2026-03").me.name != "新名字"
    with scored.db.unit_of_work() as session:
        ensure_person(session, "p01_staff1", "新名字", unit_code="P01")
    assert result_views.results_page(scored, scored.actor("p01_staff1"), "2026-03").me.name == "新名字"


def test_demo_scores_of_a_new_month_show_on_its_page(scored):
    from datetime import timedelta

    from engine.services.demo_scores import load_demo_scores
    assert ranked(scored, "2026-04", "P01").unit.fused is None  # April not scored yet
    scored.clock.move_to(ON_10_APRIL + timedelta(days=30))
    assert load_demo_scores(scored) == "2026-04"
    with scored.db.reading() as session:
        assert session.scalar(select(func.count()).where(ScoreEntry.period == "2026-04"))
    assert ranked(scored, "2026-04", "P01").unit.fused is not None
