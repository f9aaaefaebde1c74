from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.scoring import (DEFAULT_RATER_WEIGHTS, RATER_ROLES, IndividualScore, Rating, ScoringError,
                            validate_rater_weights, weighted_score)

D = Decimal


def ratings(**by_role):
    """ratings(direct_head=90, peer=[80, 70]) → Rating objects."""
    result = []
    for role, scores in by_role.items():
        result.extend(Rating(role, D(s)) for s in (scores if isinstance(scores, list) else [scores]))
    return result


def test_defaults_follow_seed_002():
    assert DEFAULT_RATER_WEIGHTS["direct_head"] == D(40)
    assert DEFAULT_RATER_WEIGHTS["direct_head"] > max(DEFAULT_RATER_WEIGHTS["supervising_leader"],
                                                      DEFAULT_RATER_WEIGHTS["main_leader"])
    assert sum(DEFAULT_RATER_WEIGHTS.values()) == 100
    assert RATER_ROLES["direct_head"] == ("直接部门负责人", "direct department head")
    validate_rater_weights(DEFAULT_RATER_WEIGHTS)


def test_all_raters_present():
    result = weighted_score(ratings(direct_head=90, supervising_leader=80, main_leader=85, peer=70,
                                    subordinate=95))
    # 0.4·90 + 0.2·80 + 0.2·85 + 0.1·70 + 0.1·95 = 85.5
    assert result == IndividualScore(D("85.50"), (), True)


def test_several_raters_of_one_role_are_averaged_within_the_role():
    result = weighted_score(ratings(direct_head=90, supervising_leader=80, main_leader=80,
                                    peer=[60, 70, 80, 90, 100], subordinate=80))
    # the five peers weigh 10% together: 0.4·90 + 0.2·80 + 0.2·80 + 0.1·80 + 0.1·80 = 84
    assert result.score == D("84.00")


def test_missing_roles_renormalise_and_mark_the_score_incomplete():
    result = weighted_score(ratings(direct_head=90, main_leader=80))
    assert result.score == D("86.67")             # (40·90 + 20·80) / 60
    assert result.missing_roles == ("supervising_leader", "peer", "subordinate")
    assert result.complete is False


def test_missing_direct_head_is_still_computed_but_incomplete():
    result = weighted_score(ratings(supervising_leader=80, main_leader=90, peer=70, subordinate=70))
    assert result == IndividualScore(D("80.00"), ("direct_head",), False)   # (1600 + 1800 + 700 + 700) / 60


def test_no_ratings_give_no_score():
    assert weighted_score([]) == IndividualScore(None, tuple(RATER_ROLES), False)


def test_custom_weights_and_roles_that_weigh_nothing():
    weights = {"direct_head": D(60), "main_leader": D(40), "peer": D(0)}
    result = weighted_score(ratings(direct_head=90, main_leader=70, peer=10), weights)
    assert result == IndividualScore(D("82.00"), (), True)   # the peer weighs 0: not counted, not missing
    only_peer = weighted_score(ratings(peer=90), weights)
    assert only_peer == IndividualScore(None, ("direct_head", "main_leader"), False)


@pytest.mark.parametrize("weights, word", [
    ({**DEFAULT_RATER_WEIGHTS, "peer": D(20)}, "add up to 100"),
    ({"direct_head": D(40), "main_leader": D(20)}, "add up to 100"),
    ({"direct_head": D(120), "main_leader": D(-20)}, "negative"),
    ({"direct_head": D(90), "customer": D(10)}, "unknown rater roles: customer"),
])
def test_invalid_weights_are_refused(weights, word):
    with pytest.raises(ScoringError) as raised:
        validate_rater_weights(weights)
    assert word in raised.value.message.en and raised.value.message.zh
    with pytest.raises(ScoringError):
        weighted_score(ratings(direct_head=90), weights)


@pytest.mark.parametrize("bad, word", [
    (Rating("customer", D(90)), "unknown rater role"),
    (Rating("peer", D("100.5")), "between 0 and 100"),
    (Rating("peer", D(-1)), "between 0 and 100"),
])
def test_invalid_ratings_are_refused(bad, word):
    with pytest.raises(ScoringError, match=word):
        weighted_score([Rating("direct_head", D(90)), bad])


@given(st.lists(st.tuples(st.sampled_from(sorted(RATER_ROLES)),
                          st.decimals(min_value=0, max_value=100, places=2)), min_size=1, max_size=12))
def test_the_score_lies_between_the_lowest_and_highest_rating(pairs):
    result = weighted_score([Rating(role, score) for role, score in pairs])
    scores = [score for _, score in pairs]
    assert min(scores) <= result.score <= max(scores)
    assert result.complete == (len({role for role, _ in pairs}) == len(RATER_ROLES))
