from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from engine.bpmn.bundle import Bundle, SourceFile
from engine.bpmn.scripting import RestrictedEnvironment
from engine.scoring import (MonthlyReward, QuarterlyReward, RewardTable, RewardTableError,
                            load_default_tables, monthly_reward, quarterly_reward, rank_by_category)

WORKFLOWS = Path(__file__).resolve().parents[3] / "workflows"
MONTHLY_XML = (WORKFLOWS / "monthly_rewards.dmn").read_text(encoding="utf-8")
QUARTERLY_XML = (WORKFLOWS / "quarterly_rewards.dmn").read_text(encoding="utf-8")
D = Decimal

M_TOP, M_BOTTOM = MonthlyReward(D(20), D(15)), MonthlyReward(D(-20), D(-15))
M_NONE = MonthlyReward(D(0), D(0))
Q_FIRST, Q_SECOND = QuarterlyReward(D(500), D(300), D(10)), QuarterlyReward(D(450), D(270), D(5))
Q_SECOND_LAST, Q_LAST = QuarterlyReward(D(-450), D(-270), D(-5)), QuarterlyReward(D(-500), D(-300), D(-10))
Q_NONE = QuarterlyReward(D(0), D(0), D(0))


@pytest.fixture(scope="module")
def tables():
    return load_default_tables()


def rewards(scores, tables):
    """(monthly, quarterly) reward per unit of one category with these scores, in input order."""
    codes = [f"u{i}" for i in range(len(scores))]
    ranked = rank_by_category({c: D(s) for c, s in zip(codes, scores)}, dict.fromkeys(codes, "production"))
    monthly, quarterly = tables
    return [(monthly_reward(ranked[c], monthly), quarterly_reward(ranked[c], quarterly)) for c in codes]


@pytest.mark.parametrize("scores, expected", [
    pytest.param([95, 90, 85, 80, 75, 70], [(M_TOP, Q_FIRST), (M_TOP, Q_SECOND), (M_NONE, Q_NONE),
                                            (M_NONE, Q_NONE), (M_BOTTOM, Q_SECOND_LAST), (M_BOTTOM, Q_LAST)],
                 id="6: every row of DOMAIN's tables"),
    pytest.param([90], [(M_NONE, Q_NONE)], id="1: no reward, no penalty"),
    pytest.param([90, 80], [(M_TOP, Q_FIRST), (M_BOTTOM, Q_LAST)], id="2"),
    pytest.param([90, 80, 70], [(M_TOP, Q_FIRST), (M_NONE, Q_NONE), (M_BOTTOM, Q_LAST)],
                 id="3: the middle is neither 2nd nor second to last"),
    pytest.param([90, 80, 70, 60], [(M_TOP, Q_FIRST), (M_TOP, Q_SECOND), (M_BOTTOM, Q_SECOND_LAST),
                                    (M_BOTTOM, Q_LAST)], id="4"),
    pytest.param([90, 80, 70, 60, 50], [(M_TOP, Q_FIRST), (M_TOP, Q_SECOND), (M_NONE, Q_NONE),
                                        (M_BOTTOM, Q_SECOND_LAST), (M_BOTTOM, Q_LAST)], id="5"),
])
def test_rewards_by_place(scores, expected, tables):
    assert rewards(scores, tables) == expected


@pytest.mark.parametrize("scores, expected", [
    pytest.param([90, 90, 80, 70], [(M_TOP, Q_FIRST), (M_TOP, Q_FIRST), (M_BOTTOM, Q_SECOND_LAST),
                                    (M_BOTTOM, Q_LAST)], id="tied first: both get first place"),
    pytest.param([90, 80, 80, 70], [(M_TOP, Q_FIRST), (M_NONE, Q_NONE), (M_NONE, Q_NONE), (M_BOTTOM, Q_LAST)],
                 id="tie across the middle: neither reward nor penalty"),
    pytest.param([90, 90, 80, 70, 60, 60],
                 [(M_TOP, Q_FIRST)] * 2 + [(M_NONE, Q_NONE)] * 2 + [(M_BOTTOM, Q_LAST)] * 2,
                 id="competition ranks: after two firsts comes third"),
    pytest.param([85, 85, 85], [(M_NONE, Q_NONE)] * 3, id="all tied"),
])
def test_rewards_with_ties(scores, expected, tables):
    assert rewards(scores, tables) == expected


def test_a_process_owner_changes_the_rule_by_editing_the_dmn(tables):
    edited_monthly = MONTHLY_XML.replace("<text>20</text>", "<text>25</text>")
    edited_quarterly = QUARTERLY_XML.replace("<text>500</text>", "<text>600</text>")
    ranked = rank_by_category({"a": D(90), "b": D(80)}, {"a": "production", "b": "production"})["a"]
    assert monthly_reward(ranked, tables[0]).head_pct == D(20)
    assert monthly_reward(ranked, RewardTable.from_xml(edited_monthly, "monthly_rewards")).head_pct == D(25)
    quarterly = RewardTable.from_xml(edited_quarterly, "quarterly_rewards")
    assert quarterly_reward(ranked, quarterly).head_yuan == D(600)


def test_load_default_tables_reads_the_files_each_time(tmp_path):
    (tmp_path / "monthly_rewards.dmn").write_text(MONTHLY_XML.replace("<text>15</text>", "<text>12.5</text>"),
                                                  encoding="utf-8")
    (tmp_path / "quarterly_rewards.dmn").write_text(QUARTERLY_XML, encoding="utf-8")
    monthly, _ = load_default_tables(tmp_path)
    assert monthly.evaluate({"upper_rank": 1, "lower_rank": 0}) == {"head_pct": 20, "deputy_pct": 12.5}
    (tmp_path / "monthly_rewards.dmn").write_text(MONTHLY_XML.replace("<text>15</text>", "<text>10</text>"),
                                                  encoding="utf-8")
    assert load_default_tables(tmp_path)[0].evaluate({"upper_rank": 2, "lower_rank": 0})["deputy_pct"] == 10


def test_outputs_become_decimals_and_money_whole_yuan():
    ranked = rank_by_category({"a": D(90), "b": D(80)}, {"a": "production", "b": "production"})["a"]
    table = RewardTable.from_xml(QUARTERLY_XML.replace("<text>500</text>", "<text>500.5</text>")
                                 .replace("<text>10</text>", "<text>7.5</text>"), "quarterly_rewards")
    assert quarterly_reward(ranked, table) == QuarterlyReward(D(501), D(300), D("7.5"))


def test_shipped_tables_pass_the_deployment_checks():
    bundle = Bundle([SourceFile("monthly_rewards.dmn", MONTHLY_XML),
                     SourceFile("quarterly_rewards.dmn", QUARTERLY_XML)])
    # DMN 1.3 schema (DMNDI included) and the sandbox's check of every cell, as a deployment does them
    assert bundle.problems == [] and bundle.content_problems == []
    assert set(bundle.decision_files) == {"monthly_rewards", "quarterly_rewards"}


def test_cells_run_in_kaohe_restricted_engine(tables):
    assert all(isinstance(t._workflow.script_engine.environment, RestrictedEnvironment) for t in tables)
    unsafe = MONTHLY_XML.replace("<text>20</text>", "<text>__import__('os').getcwd()</text>")
    with pytest.raises(RewardTableError) as raised:
        RewardTable.from_xml(unsafe, "monthly_rewards")
    assert "monthly_rewards" in raised.value.message.en


@pytest.mark.parametrize("xml, decision_id, words", [
    pytest.param(MONTHLY_XML.replace("<text>0</text>", '<text>"none"</text>'), "monthly_rewards",
                 "not a number",
                 id="output is not a number"),
    pytest.param(MONTHLY_XML.replace('name="deputy_pct"', 'name="deputy"'), "monthly_rewards",
                 "gave no deputy_pct",
                 id="output column missing"),
])
def test_tables_without_usable_numbers_are_refused(xml, decision_id, words):
    middle = rank_by_category({"a": D(1), "b": D(2), "c": D(3)}, dict.fromkeys("abc", "x"))["b"]
    with pytest.raises(RewardTableError) as raised:
        monthly_reward(middle, RewardTable.from_xml(xml, decision_id))
    assert words in raised.value.message.en and "monthly_rewards" in raised.value.message.en
    assert "monthly_rewards" in raised.value.message.zh


def test_a_table_without_catch_all_rule_is_refused_when_no_rule_matches():
    start = MONTHLY_XML.index('<rule id="monthly_rule_otherwise">')
    end = MONTHLY_XML.index("</rule>", start) + len("</rule>")
    table = RewardTable.from_xml(MONTHLY_XML[:start] + MONTHLY_XML[end:], "monthly_rewards")
    middle = rank_by_category({"a": D(1), "b": D(2), "c": D(3)}, dict.fromkeys("abc", "x"))["b"]
    with pytest.raises(RewardTableError, match="no rule matched"):
        monthly_reward(middle, table)


@pytest.mark.parametrize("xml, decision_id, words", [
    pytest.param("<definitions", "monthly_rewards", "malformed XML", id="not XML"),
    pytest.param(MONTHLY_XML, "quarterly_rewards", "No DMN Diagram available", id="unknown decision"),
    pytest.param(MONTHLY_XML.replace('hitPolicy="UNIQUE"', 'hitPolicy="COLLECT"'), "monthly_rewards",
                 "UNIQUE",
                 id="hit policy"),
    pytest.param(MONTHLY_XML.replace("<dc:Bounds", "<dc:Bogus"), "monthly_rewards", "Bogus",
                 id="invalid DMNDI"),
])
def test_unreadable_tables_are_refused(xml, decision_id, words):
    with pytest.raises(RewardTableError) as raised:
        RewardTable.from_xml(xml, decision_id)
    assert words in raised.value.message.en and decision_id in raised.value.message.zh


def test_a_failing_cell_names_the_decision():
    table = RewardTable.from_xml(MONTHLY_XML.replace("<text>upper_rank</text>", "<text>rank</text>"),
                                 "monthly_rewards")
    with pytest.raises(RewardTableError) as raised:
        table.evaluate({"upper_rank": 1, "lower_rank": 0})
    assert "月度考核奖惩" in raised.value.message.zh and "rank" in raised.value.message.zh


def test_load_default_tables_reports_a_missing_file(tmp_path):
    with pytest.raises(RewardTableError, match="monthly_rewards.dmn"):
        load_default_tables(tmp_path)


def test_the_compiled_table_is_cached():
    first = RewardTable.from_xml(MONTHLY_XML, "monthly_rewards")
    assert RewardTable.from_xml(MONTHLY_XML.encode("utf-8"), "monthly_rewards") is first


def test_a_thousand_units_in_fifty_categories_each_get_their_places_reward():
    # 50 categories of 20 units (seed 004 has 13, 20 and 10), fresh tables; how fast this goes at
    # scale is bench/scoring.py's to measure (results.compute evaluates these tables), not a test's.
    codes = [f"u{i}" for i in range(1000)]
    ranked = rank_by_category({c: D(i // 50) for i, c in enumerate(codes)},  # distinct within a category
                              {c: f"category{i % 50}" for i, c in enumerate(codes)})
    monthly = RewardTable.from_xml(MONTHLY_XML + "\n", "monthly_rewards")
    quarterly = RewardTable.from_xml(QUARTERLY_XML + "\n", "quarterly_rewards")
    given = Counter((monthly_reward(one, monthly), quarterly_reward(one, quarterly)) for one in ranked.values())
    assert given == {(M_TOP, Q_FIRST): 50, (M_TOP, Q_SECOND): 50, (M_NONE, Q_NONE): 800,
                     (M_BOTTOM, Q_SECOND_LAST): 50, (M_BOTTOM, Q_LAST): 50}
