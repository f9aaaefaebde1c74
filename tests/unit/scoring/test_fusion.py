from decimal import Decimal

import pytest

from engine.scoring import ScoringError, UnitOwnScore, fuse_scores

D = Decimal


def unit(code, own, branch=None, category="production"):
    return UnitOwnScore(code, category, D(own), branch)


def branch(code, own):
    return UnitOwnScore(code, "party_branch", D(own))


def test_worked_example_of_domain_md():
    fused = fuse_scores([branch("B", 88), unit("D1", 92, "B"), unit("D2", 80, "B", "non_production")])
    assert fused == {"D1": D("90.80"), "D2": D("82.40"), "B": D("87.40")}


def test_own_scores_feed_the_formula_so_the_order_does_not_matter():
    units = [branch("B", 88), unit("D1", 92, "B"), unit("D2", 80, "B")]
    assert fuse_scores(units) == fuse_scores(list(reversed(units)))


def test_the_branch_mean_is_exact_and_only_the_result_is_rounded():
    # mean(90, 80, 81) = 83.666…; B = 0.7·70 + 0.3·83.666… = 74.1 exactly.
    fused = fuse_scores([branch("B", 70), unit("D1", 90, "B"), unit("D2", 80, "B"), unit("D3", 81, "B")])
    assert fused["B"] == D("74.10")


@pytest.mark.parametrize("units, expected", [
    pytest.param([unit("D1", 92)], {"D1": D("92.00")}, id="unit without a branch keeps its own score"),
    pytest.param([unit("D1", 92, "B")], {"D1": D("92.00")}, id="branch without a score this period"),
    pytest.param([branch("B", 88)], {"B": D("88.00")}, id="branch without units keeps its own score"),
    pytest.param([branch("B", 88), unit("D1", 92, "B"), unit("D2", 80)],
                 {"B": D("89.20"), "D1": D("90.80"), "D2": D("80.00")},
                 id="only the branch's own units count"),
])
def test_missing_partners_leave_the_own_score(units, expected):
    assert fuse_scores(units) == expected


def test_the_ratio_is_configuration():
    fused = fuse_scores([branch("B", 88), unit("D1", 92, "B"), unit("D2", 80, "B")], own_weight=D("0.6"))
    assert fused == {"D1": D("90.40"), "D2": D("83.20"), "B": D("87.20")}


def test_own_weight_one_switches_fusion_off():
    fused = fuse_scores([branch("B", 88), unit("D1", 92, "B")], own_weight=D(1))
    assert fused == {"B": D("88.00"), "D1": D("92.00")}


@pytest.mark.parametrize("weight", [D(0), D("-0.3"), D("1.01"), D(7)])
def test_own_weight_outside_zero_to_one_is_refused(weight):
    with pytest.raises(ScoringError) as raised:
        fuse_scores([unit("D1", 92)], own_weight=weight)
    assert "权重" in raised.value.message.zh and "weight" in raised.value.message.en


@pytest.mark.parametrize("units, word", [
    ([unit("D1", 92), unit("D1", 80)], "twice"),
    ([UnitOwnScore("D1", "office", D(90))], "unknown category"),
    ([branch("B", 88), UnitOwnScore("B2", "party_branch", D(80), "B")], "cannot belong"),
    ([unit("D1", 92), unit("D2", 80, "D1")], "not a party branch"),
])
def test_inconsistent_input_is_refused(units, word):
    with pytest.raises(ScoringError) as raised:
        fuse_scores(units)
    assert word in raised.value.message.en
