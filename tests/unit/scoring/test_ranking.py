from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.scoring import ScoringError, rank_by_category


def ranked_list(*scores):
    """Rank one category whose units u0, u1, … have these scores; the results in that order."""
    codes = [f"u{i}" for i in range(len(scores))]
    scored = {code: Decimal(score) for code, score in zip(codes, scores)}
    result = rank_by_category(scored, dict.fromkeys(codes, "production"))
    return [result[c] for c in codes]


def halves(*scores):
    """(upper_rank, lower_rank, last_place) per unit, in input order."""
    return [(r.upper_rank, r.lower_rank, r.last_place) for r in ranked_list(*scores)]


@pytest.mark.parametrize("scores, expected", [
    pytest.param([90], [(None, None, False)], id="1: neither top nor bottom, no last place"),
    pytest.param([90, 80], [(1, None, False), (None, 1, True)], id="2"),
    pytest.param([90, 80, 70], [(1, None, False), (None, None, False), (None, 1, True)],
                 id="3: middle is neither"),
    pytest.param([90, 80, 70, 60], [(1, None, False), (2, None, False), (None, 2, False), (None, 1, True)],
                 id="4"),
    pytest.param([90, 80, 70, 60, 50],
                 [(1, None, False), (2, None, False), (None, None, False), (None, 2, False), (None, 1, True)],
                 id="5: middle is neither"),
    pytest.param([90, 80, 70, 60, 50, 40],
                 [(1, None, False), (2, None, False), (3, None, False), (None, 3, False), (None, 2, False),
                  (None, 1, True)], id="6"),
])
def test_small_categories(scores, expected):
    assert halves(*scores) == expected


@pytest.mark.parametrize("scores, expected", [
    pytest.param([90, 90, 80, 70], [(1, None, False), (1, None, False), (None, 2, False), (None, 1, True)],
                 id="tie inside the upper half shares first place"),
    pytest.param([90, 80, 80, 70], [(1, None, False), (None, None, False), (None, None, False),
                                    (None, 1, True)],
                 id="tie straddling the middle is neither"),
    pytest.param([90, 90, 90, 70], [(None, None, False)] * 3 + [(None, 1, True)],
                 id="tie reaching into the lower half is not top"),
    pytest.param([85, 85, 85, 85], [(None, None, False)] * 4, id="all tied: nobody top, bottom or last"),
    pytest.param([85, 85], [(None, None, False)] * 2, id="two tied: nobody last"),
    pytest.param([90, 90, 80], [(1, None, False), (1, None, False), (None, 1, True)],
                 id="odd size: a tie may take in the middle unit"),
    pytest.param([90, 80, 70, 70], [(1, None, False), (2, None, False), (None, 1, True), (None, 1, True)],
                 id="tied for last: both present at the meeting"),
])
def test_ties(scores, expected):
    assert halves(*scores) == expected


def test_competition_ranks_from_top_and_bottom():
    result = ranked_list(90, 90, 80, 70, 70, 60)
    assert [r.rank for r in result] == [1, 1, 3, 4, 4, 6]
    assert [r.rank_from_bottom for r in result] == [5, 5, 4, 2, 2, 1]
    assert {r.size for r in result} == {6}


def test_each_category_is_ranked_on_its_own():
    scores = {"p1": Decimal(95), "p2": Decimal(70), "n1": Decimal(60), "b1": Decimal(99), "b2": Decimal(98)}
    categories = {"p1": "production", "p2": "production", "n1": "non_production", "b1": "party_branch",
                  "b2": "party_branch", "unscored": "production"}
    result = rank_by_category(scores, categories)
    assert set(result) == set(scores)           # a unit without a score this period is not ranked
    assert (result["p2"].rank, result["p2"].last_place, result["p2"].size) == (2, True, 2)
    assert (result["n1"].rank, result["n1"].last_place, result["n1"].size) == (1, False, 1)
    assert result["b2"].last_place and result["b1"].upper_rank == 1


def test_a_scored_unit_without_category_is_refused():
    with pytest.raises(ScoringError) as raised:
        rank_by_category({"x": Decimal(80)}, {})
    assert "x" in raised.value.message.zh and "category" in raised.value.message.en


category_scores = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3),
    st.tuples(st.sampled_from(["production", "non_production", "party_branch"]),
              st.decimals(min_value=60, max_value=100, places=0)),   # whole points: many ties
    max_size=14)


@given(category_scores)
def test_properties_of_any_ranking(units):
    scores = {code: score for code, (_, score) in units.items()}
    categories = {code: category for code, (category, _) in units.items()}
    result = rank_by_category(scores, categories)
    assert set(result) == set(units)
    for one in result.values():
        assert not (one.upper_rank and one.lower_rank)
        assert one.last_place == (one.lower_rank == 1)
        assert one.upper_rank in (None, one.rank) and one.lower_rank in (None, one.rank_from_bottom)
        peers = [r for r in result.values() if r.category == one.category]
        assert one.size == len(peers)
        assert one.rank == 1 + sum(p.score > one.score for p in peers)
        assert one.rank_from_bottom == 1 + sum(p.score < one.score for p in peers)
        assert sum(p.upper_rank is not None for p in peers) <= one.size - one.size // 2
        assert sum(p.lower_rank is not None for p in peers) <= one.size - one.size // 2
        if one.size == 1:
            assert (one.upper_rank, one.lower_rank, one.last_place) == (None, None, False)
