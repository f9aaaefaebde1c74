from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.scoring.errors import ScoringError
from engine.scoring.excellence import (
    EXCELLENCE_CATEGORIES,
    LETCI,
    MAXIMUM_POINTS,
    SCORING_BANDS,
    assessor_evaluation,
    band_label,
    diagnosis_for_task_data,
    diagnosis_total,
)

D = Decimal
ALL = list(EXCELLENCE_CATEGORIES)


def scores(default=50, **given_):
    return {code: given_.get(code, default) for code in ALL}


def test_categories_follow_gb_t_19580():
    assert {code: points for code, (_zh, _en, points, _m) in EXCELLENCE_CATEGORIES.items()} == {
        "leadership": 110, "strategy": 90, "customers_market": 90, "resources": 130, "process": 100,
        "measurement": 80, "results": 400}
    assert sum(points for _zh, _en, points, _m in EXCELLENCE_CATEGORIES.values()) == MAXIMUM_POINTS == 1000
    assert [code for code, value in EXCELLENCE_CATEGORIES.items() if value[3] == LETCI] == ["results"]


def test_all_categories_at_half_give_500():
    result = diagnosis_total(scores(50))
    assert result.total == D("500.00")
    assert result.points["leadership"] == D(55) and result.points["results"] == D(200)
    assert set(result.bands.values()) == {"50–65%"}


def test_a_worked_example_with_odd_points():
    result = diagnosis_total(scores(leadership=35, strategy=45, customers_market=55, resources=40, process=60,
                                    measurement=25, results=30))
    # 38.5 + 40.5 + 49.5 + 52 + 60 + 20 + 120 = 380.5
    assert result.points == {"leadership": D("38.5"), "strategy": D("40.5"), "customers_market": D("49.5"),
                             "resources": D(52), "process": D(60), "measurement": D(20), "results": D(120)}
    assert result.total == D("380.50")
    assert result.bands["measurement"] == "10–25%" and result.bands["results"] == "30–45%"


def test_bounds_and_band_labels():
    assert diagnosis_total(scores(0)).total == 0
    assert diagnosis_total(scores(100)).total == D("1000.00")
    assert [band_label(p) for p in (0, 5, 10, 25, 30, 45, 50, 65, 70, 85, 90, 100)] == [
        "0–5%", "0–5%", "10–25%", "10–25%", "30–45%", "30–45%", "50–65%", "50–65%", "70–85%", "70–85%",
        "90–100%", "90–100%"]


@given(st.lists(st.integers(0, 20), min_size=7, max_size=7))
def test_every_multiple_of_5_lies_in_exactly_one_band_and_the_total_adds_up(steps):
    given_scores = dict(zip(ALL, (5 * s for s in steps)))
    result = diagnosis_total(given_scores)
    for percent in given_scores.values():
        assert sum(low <= percent <= high for low, high in SCORING_BANDS) == 1
    assert result.total == sum(result.points.values())
    assert 0 <= result.total <= 1000


def test_percent_as_text_or_decimal_is_accepted_and_bool_is_not():
    assert diagnosis_total(scores("50", results=D("55"))).total == D(520)
    with pytest.raises(ScoringError):
        diagnosis_total(scores(True))


@pytest.mark.parametrize("bad, zh, en", [
    (7.5, "5 的整数倍", "multiple of 5"), (12, "5 的整数倍", "multiple of 5"),
    (105, "0 到 100", "between 0 and 100"), (-5, "0 到 100", "between 0 and 100"),
    ("abc", "不是数字", "not a number"), (None, "不是数字", "not a number")])
def test_bad_percentages_are_refused_in_both_languages(bad, zh, en):
    with pytest.raises(ScoringError) as caught:
        diagnosis_total(scores(resources=bad))
    assert zh in caught.value.text("zh") and en in caught.value.text("en")


def test_unknown_and_missing_categories_are_named():
    with pytest.raises(ScoringError) as caught:
        diagnosis_total({**scores(), "finance": 50})
    assert "finance" in caught.value.text("zh") and "unknown categories: finance" in caught.value.text("en")
    partial = scores()
    del partial["results"], partial["strategy"]
    with pytest.raises(ScoringError) as caught:
        diagnosis_total(partial)
    assert caught.value.text("zh") == "缺少类目评分：战略、结果"
    assert caught.value.text("en") == "categories not scored: strategy, results"
    with pytest.raises(ScoringError):
        diagnosis_total([50] * 7)


def test_task_data_form_is_plain_json():
    data = diagnosis_for_task_data(scores(50, results=60))
    assert data == {"total": 540.0, "maximum": 1000,
                    "points": {"leadership": 55.0, "strategy": 45.0, "customers_market": 45.0, "resources": 65.0,
                               "process": 50.0, "measurement": 40.0, "results": 240.0},
                    "bands": {**{code: "50–65%" for code in ALL}, "results": "50–65%"}}
    assert all(type(v) is float for v in data["points"].values())


def test_assessor_evaluation_default_weights():
    assert assessor_evaluation(90, 80, 70) == D("81.00")          # 0.4·90 + 0.3·80 + 0.3·70
    assert assessor_evaluation(85, 92, 78) == D("85.0")           # 34 + 27.6 + 23.4
    assert assessor_evaluation(D("88.5"), 90, 91, weights=(50, 25, 25)) == D("89.50")
    assert assessor_evaluation(100, 100, 100) == 100 and assessor_evaluation(0, 0, 0) == 0
    assert assessor_evaluation(1, 0, 0, weights=(D("33.33"), D("33.33"), D("33.34"))) == D("0.33")


@pytest.mark.parametrize("args, kwargs, en", [
    ((101, 80, 80), {}, "professional contribution score must be between 0 and 100"),
    ((80, -1, 80), {}, "political quality score must be between 0 and 100"),
    ((80, 80, "x"), {}, "pioneer role is not a number"),
    ((80, 80, 80), {"weights": (40, 30, 20)}, "add up to 100%, they add up to 90%"),
    ((80, 80, 80), {"weights": (40, 60)}, "must be three"),
    ((80, 80, 80), {"weights": (110, -10, 0)}, "cannot be negative: political quality"),
])
def test_assessor_evaluation_refuses_bad_input(args, kwargs, en):
    with pytest.raises(ScoringError) as caught:
        assessor_evaluation(*args, **kwargs)
    assert en in caught.value.text("en") and caught.value.text("zh") != caught.value.text("en")
