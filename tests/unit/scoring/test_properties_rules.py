"""Properties of the arithmetic rules: rounding (numbers.py), multi-rater individual scores
(individual.py) and the excellence-performance diagnosis (excellence.py), for any input."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.scoring import (RATER_ROLES, Rating, ScoringError, apply_percent, round_money, round_score,
                            to_decimal, validate_rater_weights, weighted_score)
from engine.scoring.excellence import (EXCELLENCE_CATEGORIES, SCORING_BANDS, assessor_evaluation, band_label,
                                       diagnosis_for_task_data, diagnosis_total)

D = Decimal
PROPERTY = settings(max_examples=50, deadline=None)
HALF_CENT, HALF_YUAN = D("0.005"), D("0.5")


def fixed(low, high, places):
    """Decimals with exactly `places` places in [low, high] (much faster to draw than st.decimals)."""
    scale = 10 ** places
    return st.integers(int(D(low) * scale), int(D(high) * scale)).map(lambda n: D(n).scaleb(-places))


# Exact decimals of several scales, bounded so that quantize stays within Decimal's 28 digits.
numbers = st.builds(lambda n, places: D(n).scaleb(-places), st.integers(-10**12, 10**12), st.integers(0, 5))
rating = fixed(0, 100, 2)


# ---------------------------------------------------------------- numbers: the one rounding rule

@PROPERTY
@given(numbers)
def test_round_score_keeps_two_places_moves_at_most_half_a_cent_and_is_idempotent(value):
    rounded = round_score(value)
    assert rounded.as_tuple().exponent == -2
    assert abs(rounded - value) <= HALF_CENT
    assert round_score(rounded) == rounded and str(round_score(rounded)) == str(rounded)


@PROPERTY
@given(st.integers(0, 10**7), st.sampled_from([1, -1]))
def test_round_score_rounds_a_half_cent_away_from_zero(cents, sign):
    value = sign * (D(cents) / 100 + HALF_CENT)        # 82.345 → 82.35, −1.005 → −1.01
    assert round_score(value) == sign * D(cents + 1) / 100


@PROPERTY
@given(numbers, numbers)
def test_round_score_never_swaps_two_scores_and_is_symmetric(a, b):
    low, high = sorted((a, b))
    assert round_score(low) <= round_score(high)      # rounding once at the end cannot reverse a rank
    assert round_score(-a) == -round_score(a)


@PROPERTY
@given(numbers)
def test_round_money_gives_whole_yuan_half_up_and_is_idempotent(value):
    rounded = round_money(value)
    assert rounded == rounded.to_integral_value() and rounded.as_tuple().exponent == 0
    assert abs(rounded - value) <= HALF_YUAN
    if abs(rounded - value) == HALF_YUAN:
        assert abs(rounded) > abs(value)
    assert round_money(rounded) == rounded and round_money(-value) == -rounded


@PROPERTY
@given(fixed(0, 10**6, 2), fixed(-100, 100, 1))
def test_apply_percent_is_whole_yuan_and_follows_the_sign_of_the_percentage(amount, percent):
    change = apply_percent(amount, percent)
    assert change == round_money(amount * percent / 100)
    assert apply_percent(amount, -percent) == -change
    exact = amount * percent / 100
    assert (change > 0 and percent > 0) or (change < 0 and percent < 0) or abs(exact) <= HALF_YUAN
    assert apply_percent(amount, 0) == 0 and apply_percent(amount, 100) == round_money(amount)


@PROPERTY
@given(fixed(-10**6, 10**6, 3))
def test_a_float_score_rounds_like_the_decimal_it_was_typed_as(value):
    typed = float(value)                      # 2.675 as a float is 2.67499999…, and still rounds to 2.68
    assert to_decimal(typed) == value
    assert round_score(typed) == round_score(value)


@PROPERTY
@given(numbers, st.integers(-10**12, 10**12))
def test_to_decimal_keeps_decimals_ints_and_numeric_text_exactly(value, whole):
    assert str(to_decimal(value)) == str(value)
    assert to_decimal(whole) == whole and to_decimal(str(value)) == value


# ---------------------------------------------------------------- individual: multi-rater scores

@st.composite
def rater_weights(draw):
    """Weights per role in whole percent points, each >= 0, together exactly 100."""
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=len(RATER_ROLES) - 1,
                                max_size=len(RATER_ROLES) - 1)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 100])]
    return {role: D(part) for role, part in zip(RATER_ROLES, parts)}


ratings = st.lists(st.builds(Rating, st.sampled_from(list(RATER_ROLES)), rating), max_size=10)


@PROPERTY
@given(rater_weights())
def test_any_non_negative_weights_adding_up_to_100_are_accepted_and_any_other_total_refused(weights):
    validate_rater_weights(weights)
    role = next(iter(weights))
    with pytest.raises(ScoringError):
        validate_rater_weights({**weights, role: weights[role] + D("0.5")})


@PROPERTY
@given(ratings, rater_weights(), st.data())
def test_the_individual_score_ignores_the_order_of_ratings(given_ratings, weights, data):
    shuffled = data.draw(st.permutations(given_ratings))
    assert weighted_score(shuffled, weights) == weighted_score(given_ratings, weights)


@PROPERTY
@given(ratings, rater_weights(), st.integers(2, 4))
def test_raters_of_one_role_are_averaged_so_more_of_the_same_change_nothing(given_ratings, weights, times):
    assert weighted_score(given_ratings * times, weights) == weighted_score(given_ratings, weights)


@PROPERTY
@given(ratings, rater_weights())
def test_missing_roles_are_those_nobody_rated_and_no_counted_rating_gives_no_score(given_ratings, weights):
    result = weighted_score(given_ratings, weights)
    rated = {r.rater_role for r in given_ratings}
    assert result.missing_roles == tuple(r for r in RATER_ROLES if weights[r] > 0 and r not in rated)
    assert result.complete == (not result.missing_roles)
    counted = [r.score for r in given_ratings if weights[r.rater_role] > 0]
    assert (result.score is None) == (not counted)
    if counted:
        assert min(counted) <= result.score <= max(counted)


@PROPERTY
@given(ratings, rater_weights(), st.sampled_from(list(RATER_ROLES)), st.lists(rating, min_size=1, max_size=3))
def test_ratings_by_a_role_weighing_nothing_do_not_count(given_ratings, weights, role, extra):
    other = next(r for r in RATER_ROLES if r != role)
    weights = {**weights, role: D(0), other: weights[other] + weights[role]}     # still 100 together
    more = given_ratings + [Rating(role, s) for s in extra]
    assert weighted_score(more, weights).score == weighted_score(given_ratings, weights).score


@PROPERTY
@given(st.lists(rating, min_size=len(RATER_ROLES), max_size=len(RATER_ROLES)), rater_weights())
def test_with_every_role_rated_once_the_score_is_the_weighted_mean(scores, weights):
    result = weighted_score([Rating(role, s) for role, s in zip(RATER_ROLES, scores)], weights)
    assert result.complete and result.score == round_score(
        sum((weights[role] * s for role, s in zip(RATER_ROLES, scores)), D(0)) / 100)


@PROPERTY
@given(st.lists(st.builds(Rating, st.sampled_from(list(RATER_ROLES)), rating), min_size=1, max_size=10),
       rater_weights(), st.data())
def test_raising_one_rating_never_lowers_the_individual_score(given_ratings, weights, data):
    index = data.draw(st.integers(0, len(given_ratings) - 1))
    old = given_ratings[index]
    better = Rating(old.rater_role, data.draw(fixed(old.score, 100, 2)))
    before = weighted_score(given_ratings, weights).score
    after = weighted_score(given_ratings[:index] + [better] + given_ratings[index + 1:], weights).score
    assert before is None or after >= before


# ---------------------------------------------------------------- excellence: diagnosis and assessors

percent = st.integers(0, 20).map(lambda step: 5 * step)
diagnoses = st.fixed_dictionaries({code: percent for code in EXCELLENCE_CATEGORIES})
BAND_LABELS = [f"{low}–{high}%" for low, high in SCORING_BANDS]


@PROPERTY
@given(diagnoses)
def test_each_category_earns_at_most_its_points_and_the_total_at_most_1000(scores):
    result = diagnosis_total(scores)
    for code, (_zh, _en, maximum, _method) in EXCELLENCE_CATEGORIES.items():
        assert 0 <= result.points[code] == maximum * scores[code] / 100 <= maximum
        assert result.bands[code] == band_label(scores[code]) and result.percents[code] == scores[code]
    data = diagnosis_for_task_data(scores)
    assert data["total"] == float(result.total) and data["maximum"] == 1000


@PROPERTY
@given(diagnoses, st.sampled_from(list(EXCELLENCE_CATEGORIES)), percent)
def test_a_higher_percentage_never_lowers_the_diagnosis(scores, code, other):
    low, high = sorted((scores[code], other))
    assert diagnosis_total({**scores, code: low}).total <= diagnosis_total({**scores, code: high}).total


@PROPERTY
@given(percent, percent)
def test_a_higher_percentage_is_never_in_a_lower_band(a, b):
    low, high = sorted((a, b))
    assert BAND_LABELS.index(band_label(low)) <= BAND_LABELS.index(band_label(high))


@PROPERTY
@given(st.one_of(st.integers(0, 100).filter(lambda p: p % 5), fixed(0, 100, 2)
                 .filter(lambda p: p % 5)), st.sampled_from(list(EXCELLENCE_CATEGORIES)), diagnoses)
def test_a_percentage_off_the_5_percent_steps_is_refused(bad, code, scores):
    with pytest.raises(ScoringError):
        diagnosis_total({**scores, code: bad})


@st.composite
def assessor_weights(draw):
    first = draw(st.integers(0, 100))
    second = draw(st.integers(0, 100 - first))
    return (D(first), D(second), D(100 - first - second))


@PROPERTY
@given(st.lists(rating, min_size=3, max_size=3), assessor_weights())
def test_an_assessors_score_lies_between_the_lowest_and_highest_dimension(values, weights):
    result = assessor_evaluation(*values, weights=weights)
    assert round_score(min(values)) <= result <= round_score(max(values))
    assert result == round_score(sum((w * v for w, v in zip(weights, values)), D(0)) / 100)


@PROPERTY
@given(st.lists(rating, min_size=3, max_size=3), assessor_weights(), st.integers(0, 2), rating)
def test_a_better_dimension_score_never_lowers_the_assessors_score(values, weights, index, other):
    low, high = sorted((values[index], other))
    lower = values[:index] + [low] + values[index + 1:]
    higher = values[:index] + [high] + values[index + 1:]
    assert assessor_evaluation(*lower, weights=weights) <= assessor_evaluation(*higher, weights=weights)
