from decimal import Decimal

import pytest

from engine.scoring import ScoringError, apply_percent, round_money, round_score, to_decimal


@pytest.mark.parametrize("value, expected", [
    (Decimal("82.345"), Decimal("82.35")),     # half up, not the banker's 82.34
    (Decimal("82.335"), Decimal("82.34")),
    (Decimal("-1.005"), Decimal("-1.01")),     # half away from zero for deductions too
    (Decimal("90.8"), Decimal("90.80")),
    (2.675, Decimal("2.68")),                  # a float goes through str: no binary 2.67499…
    (87, Decimal("87.00")),
])
def test_scores_round_half_up_to_two_places(value, expected):
    assert round_score(value) == expected
    assert str(round_score(value)) == str(expected)


@pytest.mark.parametrize("value, expected", [
    (Decimal("450.5"), Decimal(451)), (Decimal("449.49"), Decimal(449)), (Decimal("-450.5"), Decimal(-451)),
])
def test_money_rounds_to_whole_yuan(value, expected):
    assert round_money(value) == expected


def test_percentages_are_percent_points():
    assert apply_percent(Decimal(3000), Decimal(15)) == Decimal(450)
    assert apply_percent(Decimal(2999), Decimal(-20)) == Decimal(-600)   # −599.8 → −600


@pytest.mark.parametrize("value", [None, True, "abc", "NaN", Decimal("Infinity"), float("nan"), [1]])
def test_non_numbers_are_refused(value):
    with pytest.raises(ScoringError) as raised:
        to_decimal(value)
    assert raised.value.message.zh and raised.value.message.en
