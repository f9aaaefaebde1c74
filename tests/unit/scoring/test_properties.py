"""Properties of score fusion, ranking and the reward tables that users rely on, for any input.

The example tests next to this file pin the worked examples of DOMAIN.md; these check the rules
themselves (fusion.py, ranking.py and rewards.py docstrings) on generated organisations.
"""
from __future__ import annotations

import functools
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.scoring import (PARTY_BRANCH, ScoringError, UnitOwnScore, fuse_scores, load_default_tables,
                            monthly_reward, quarterly_reward, rank_by_category, rank_inputs, round_score)

D = Decimal
PROPERTY = settings(max_examples=50, deadline=None)
FEW = settings(max_examples=25, deadline=None)
ADMIN_CATEGORIES = ("production", "non_production")
CATEGORIES = (*ADMIN_CATEGORIES, PARTY_BRANCH)


def fixed(low, high, places):
    """Decimals with exactly `places` places in [low, high] (much faster to draw than st.decimals)."""
    scale = 10 ** places
    return st.integers(int(D(low) * scale), int(D(high) * scale)).map(lambda n: D(n).scaleb(-places))


score = fixed(0, 120, 2)                # likes may push a score above 100
whole = st.integers(60, 100).map(D)     # whole points: many ties
weight = fixed("0.01", 1, 2)


@st.composite
def organisations(draw, own=score):
    """Branches B0.. and units U0.. whose branch is a listed branch, an unscored one ("Bx") or none."""
    branches = [UnitOwnScore(f"B{i}", PARTY_BRANCH, draw(own)) for i in range(draw(st.integers(0, 3)))]
    choices = [b.code for b in branches] + ["Bx", None]
    units = [UnitOwnScore(f"U{i}", draw(st.sampled_from(ADMIN_CATEGORIES)), draw(own),
                          draw(st.sampled_from(choices)))
             for i in range(draw(st.integers(0, 8)))]
    return branches + units


def partner_of(unit, units):
    """The score a unit is fused with (fusion.py docstring), or None when it has none."""
    by_code = {u.code: u for u in units}
    if unit.category == PARTY_BRANCH:
        members = [u.own for u in units if u.category != PARTY_BRANCH and u.branch_code == unit.code]
        return sum(members, D(0)) / len(members) if members else None
    branch = by_code.get(unit.branch_code)
    return branch.own if branch else None


def replaced(units, code, own):
    return [UnitOwnScore(u.code, u.category, own, u.branch_code) if u.code == code else u for u in units]


# ---------------------------------------------------------------- fusion (3:7)

@PROPERTY
@given(organisations(), weight)
def test_fusion_scores_every_unit_once_rounded_to_two_places(units, own_weight):
    fused = fuse_scores(units, own_weight)
    assert set(fused) == {u.code for u in units}
    assert all(value.as_tuple().exponent == -2 for value in fused.values())


@PROPERTY
@given(organisations(), weight)
def test_fused_score_lies_between_the_own_score_and_the_partner_score(units, own_weight):
    fused = fuse_scores(units, own_weight)
    for unit in units:
        partner = partner_of(unit, units)
        low, high = (unit.own, unit.own) if partner is None else sorted((unit.own, partner))
        # 2-place inputs: the rounded result cannot leave [low, high]; a branch mean may have more places
        assert round_score(low) <= fused[unit.code] <= round_score(high)


@PROPERTY
@given(organisations())
def test_fusion_weighs_own_score_7_and_partner_3_by_default(units):
    fused = fuse_scores(units)
    for unit in units:
        partner = partner_of(unit, units)
        expected = unit.own if partner is None else D("0.7") * unit.own + D("0.3") * partner
        assert fused[unit.code] == round_score(expected)
        if partner is not None:     # the own score weighs more: the result is nearer to it
            assert abs(fused[unit.code] - unit.own) <= abs(fused[unit.code] - partner)


@PROPERTY
@given(organisations())
def test_a_missing_partner_leaves_the_own_score(units):
    fused = fuse_scores(units)
    for unit in units:
        if partner_of(unit, units) is None:     # no branch, an unscored branch, a branch without units
            assert fused[unit.code] == round_score(unit.own)


@PROPERTY
@given(organisations(), weight, st.data())
def test_raising_an_own_score_never_lowers_a_fused_score_and_moves_only_its_partner(units, own_weight, data):
    assume(units)
    unit = data.draw(st.sampled_from(units))
    higher = unit.own + data.draw(fixed(0, 50, 2))
    before = fuse_scores(units, own_weight)
    after = fuse_scores(replaced(units, unit.code, higher), own_weight)
    assert all(after[code] >= before[code] for code in before)
    # own scores feed the formula, never fused ones: only the unit and its fusion partners can move
    affected = {unit.code}
    if unit.category == PARTY_BRANCH:
        affected |= {u.code for u in units if u.branch_code == unit.code}
    elif unit.branch_code:
        affected.add(unit.branch_code)
    assert {code for code in before if after[code] != before[code]} <= affected


@PROPERTY
@given(organisations(), st.data())
def test_fusion_does_not_depend_on_the_input_order(units, data):
    assert fuse_scores(data.draw(st.permutations(units))) == fuse_scores(units)


@PROPERTY
@given(organisations())
def test_own_weight_one_switches_fusion_off(units):
    assert fuse_scores(units, D(1)) == {u.code: round_score(u.own) for u in units}


@FEW
@given(organisations(), fixed(-10, 0, 4) | fixed("1.0001", 100, 4))
def test_an_own_weight_outside_zero_to_one_is_refused(units, own_weight):
    with pytest.raises(ScoringError):
        fuse_scores(units, own_weight)


# ---------------------------------------------------------------- ranking

CODES = [f"u{n:02d}" for n in range(14)]


@st.composite
def category_scores(draw):
    """{code: (category, score)} for up to 14 units, codes in no particular order."""
    units = draw(st.lists(st.tuples(st.sampled_from(CATEGORIES), whole), max_size=len(CODES)))
    return dict(zip(draw(st.permutations(CODES)), units))


def split(units):
    return {c: s for c, (_, s) in units.items()}, {c: cat for c, (cat, _) in units.items()}


def by_category(result):
    groups: dict[str, list] = {}
    for one in result.values():
        groups.setdefault(one.category, []).append(one)
    return groups.values()


@PROPERTY
@given(category_scores())
def test_ties_share_a_rank_and_a_better_score_has_a_better_rank(units):
    for peers in by_category(rank_by_category(*split(units))):
        for a in peers:
            for b in peers:
                if a.score == b.score:
                    assert (a.rank, a.rank_from_bottom) == (b.rank, b.rank_from_bottom)
                elif a.score > b.score:
                    assert a.rank < b.rank and a.rank_from_bottom > b.rank_from_bottom


@PROPERTY
@given(category_scores())
def test_ranks_run_from_1_to_n_with_competition_gaps(units):
    for peers in by_category(rank_by_category(*split(units))):
        ordered = sorted((p.score for p in peers), reverse=True)
        # standard competition ranking ("1, 1, 3"): a place is 1 + the position its score first appears at
        expected = sorted(1 + ordered.index(p.score) for p in peers)
        assert sorted(p.rank for p in peers) == expected
        assert expected[0] == 1 and expected[-1] <= len(peers)
        for p in peers:
            tied = sum(q.score == p.score for q in peers)
            assert p.rank + p.rank_from_bottom + tied == p.size + 2 and p.size == len(peers)


@PROPERTY
@given(category_scores(), st.data())
def test_ranking_does_not_depend_on_the_input_order(units, data):
    scores, categories = split(units)
    shuffled = dict(data.draw(st.permutations(list(scores.items()))))
    assert rank_by_category(shuffled, categories) == rank_by_category(scores, categories)


@PROPERTY
@given(category_scores(), st.dictionaries(st.sampled_from(["x1", "x2", "x3"]), st.sampled_from(CATEGORIES)))
def test_each_category_is_ranked_on_its_own_and_unscored_units_are_not_ranked(units, unscored):
    scores, categories = split(units)
    together = rank_by_category(scores, {**unscored, **categories})
    assert set(together) == set(scores)
    for category in CATEGORIES:
        alone = {c: s for c, s in scores.items() if categories[c] == category}
        assert rank_by_category(alone, categories) == {c: together[c] for c in alone}


@PROPERTY
@given(category_scores())
def test_top_places_only_in_the_upper_half_and_bottom_places_only_in_the_lower_half(units):
    for peers in by_category(rank_by_category(*split(units))):
        size, half = len(peers), len(peers) // 2
        upper = [p for p in peers if p.upper_rank is not None]
        lower = [p for p in peers if p.lower_rank is not None]
        assert all(p.upper_rank == p.rank <= half for p in upper)
        assert all(p.lower_rank == p.rank_from_bottom <= half for p in lower)
        assert not {p.code for p in upper} & {p.code for p in lower}      # never both top and bottom
        # ties never exceed the half, except that in an odd category they may take in the middle unit
        assert len(upper) <= size - half and len(lower) <= size - half
        rest = [p for p in peers if p not in upper]
        assert all(u.score > r.score for u in upper for r in rest)          # the top is a block of the best
        rest = [p for p in peers if p not in lower]
        assert all(low.score < r.score for low in lower for r in rest)      # the bottom a block of the worst


@PROPERTY
@given(st.lists(st.integers(0, 1000), unique=True, max_size=14))
def test_without_ties_exactly_half_are_top_and_half_bottom_and_one_is_last(points):
    codes = [f"u{i}" for i in range(len(points))]
    result = rank_by_category({c: D(p) for c, p in zip(codes, points)}, dict.fromkeys(codes, "production"))
    half = len(points) // 2
    assert sum(r.upper_rank is not None for r in result.values()) == half
    assert sum(r.lower_rank is not None for r in result.values()) == half
    assert sum(r.last_place for r in result.values()) == (1 if len(points) >= 2 else 0)


@PROPERTY
@given(category_scores())
def test_the_last_place_is_the_lowest_score_unless_the_bottom_tie_reaches_past_the_middle(units):
    for peers in by_category(rank_by_category(*split(units))):
        lowest = min(p.score for p in peers)
        tied_at_bottom = sum(p.score == lowest for p in peers)
        size = len(peers)
        for p in peers:
            assert p.last_place == (p.score == lowest and size >= 2 and tied_at_bottom <= size - size // 2)


# ---------------------------------------------------------------- rewards (default DMN tables)

@functools.cache
def default_tables():
    return load_default_tables()


@FEW
@given(category_scores())
def test_rank_inputs_give_the_half_ranks_with_0_for_not_in_that_half(units):
    for one in rank_by_category(*split(units)).values():
        assert rank_inputs(one) == {"upper_rank": one.upper_rank or 0, "lower_rank": one.lower_rank or 0}


@FEW
@given(category_scores())
def test_a_unit_is_never_both_rewarded_and_penalised_and_a_better_score_never_earns_less(units):
    monthly_table, quarterly_table = default_tables()
    result = rank_by_category(*split(units))
    rewards = {c: (monthly_reward(r, monthly_table), quarterly_reward(r, quarterly_table))
               for c, r in result.items()}
    for code, (month, quarter) in rewards.items():
        signs = {(v > 0) - (v < 0) for v in (month.head_pct, month.deputy_pct, quarter.head_yuan,
                                              quarter.deputy_yuan, quarter.staff_pct)}
        assert not {1, -1} <= signs       # a bonus and a deduction never together
        if month.head_pct > 0 or quarter.head_yuan > 0:
            assert result[code].upper_rank in (1, 2)
        if month.head_pct < 0 or quarter.head_yuan < 0:
            assert result[code].lower_rank in (1, 2)
    for peers in by_category(result):
        for a in peers:
            for b in peers:
                if a.score > b.score:
                    (ma, qa), (mb, qb) = rewards[a.code], rewards[b.code]
                    assert ma.head_pct >= mb.head_pct and ma.deputy_pct >= mb.deputy_pct
                    assert qa.head_yuan >= qb.head_yuan and qa.deputy_yuan >= qb.deputy_yuan
                    assert qa.staff_pct >= qb.staff_pct
