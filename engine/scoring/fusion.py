"""3:7 score fusion of administrative units and party branches (seed 004 "评价分值融合").

With S the *own* score of a unit from the evaluation groups (likes and error notices included) and
w the own weight (default 0.7):

    unit   = w · S(unit)   + (1 − w) · S(its branch)
    branch = w · S(branch) + (1 − w) · mean(S(units of that branch))

Only own scores feed the formula, never fused ones, so there is no circularity and the order of
the input does not matter. Example (DOMAIN.md): branch B own 88, its units D1 own 92 and D2 own 80
→ D1 = 0.7·92 + 0.3·88 = 90.8, D2 = 0.7·80 + 0.3·88 = 82.4, B = 0.7·88 + 0.3·86 = 87.4.

Decisions for the cases the seed does not cover:

* A unit without a branch, or whose branch has no score this period (not in the input), keeps its
  own score: there is nothing to fuse with, and inventing a branch score would move its rank.
* A branch none of whose units has a score this period keeps its own score, for the same reason.
  The mean is taken over the units that *do* have a score.
* ``own_weight`` must lie in (0, 1]. 1 switches fusion off (every unit keeps its own score); 0 or
  less would let a unit's score ignore its own work, so it is refused with a ScoringError.
* Refused too, because each would silently give a wrong score: a code given twice, an unknown
  category, a party branch that names a branch, and a ``branch_code`` that names a unit which is
  not a party branch.

Fused scores are final scores, so they are rounded here (numbers.round_score); the arithmetic
before that is exact.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.scoring.errors import ScoringError
from engine.scoring.numbers import round_score, to_decimal

PARTY_BRANCH = "party_branch"
# category -> (zh, en); the three ranking categories of seed 004.
CATEGORIES: dict[str, tuple[str, str]] = {
    "production": ("生产型", "production"),
    "non_production": ("非生产型", "non-production"),
    PARTY_BRANCH: ("党支部", "party branch"),
}
DEFAULT_OWN_WEIGHT = Decimal("0.7")


@dataclass(frozen=True)
class UnitOwnScore:
    code: str
    category: str                   # "production" / "non_production" / "party_branch"
    own: Decimal                    # the unit's own score from the evaluation groups (adjustments included)
    branch_code: str | None = None  # the party branch an administrative unit belongs to


def fuse_scores(units: Sequence[UnitOwnScore],
                own_weight: Decimal = DEFAULT_OWN_WEIGHT) -> dict[str, Decimal]:
    """Fused score of every unit and branch, by code (see the module docstring for every rule)."""
    weight = _checked_weight(own_weight)
    by_code = _index(units)
    members_own: dict[str, list[Decimal]] = defaultdict(list)
    for unit in by_code.values():
        if unit.category != PARTY_BRANCH and unit.branch_code in by_code:
            members_own[unit.branch_code].append(unit.own)

    fused = {}
    for code, unit in by_code.items():
        if unit.category == PARTY_BRANCH:
            members = members_own.get(code)
            partner = sum(members, Decimal(0)) / len(members) if members else None
        else:
            branch = by_code.get(unit.branch_code) if unit.branch_code else None
            partner = branch.own if branch else None
        fused[code] = round_score(unit.own if partner is None else weight * unit.own + (1 - weight) * partner)
    return fused


def _checked_weight(own_weight) -> Decimal:
    weight = to_decimal(own_weight, "own_weight")
    if not Decimal(0) < weight <= Decimal(1):
        raise ScoringError(f"自身得分权重须大于 0 且不超过 1，现为 {weight}",
                           f"the own-score weight must be greater than 0 and at most 1, got {weight}")
    return weight


def _index(units: Sequence[UnitOwnScore]) -> dict[str, UnitOwnScore]:
    by_code: dict[str, UnitOwnScore] = {}
    for unit in units:
        if unit.code in by_code:
            raise ScoringError(f"单位 {unit.code} 出现了两次", f"unit {unit.code} is given twice")
        if unit.category not in CATEGORIES:
            raise ScoringError(f"单位 {unit.code} 的类别 {unit.category!r} 未知（应为 {'、'.join(CATEGORIES)}）",
                               f"unit {unit.code} has unknown category {unit.category!r} "
                               f"(expected one of {', '.join(CATEGORIES)})")
        if unit.category == PARTY_BRANCH and unit.branch_code:
            raise ScoringError(f"党支部 {unit.code} 不能再隶属于支部 {unit.branch_code}",
                               f"party branch {unit.code} cannot belong to branch {unit.branch_code}")
        own = to_decimal(unit.own, f"{unit.code} own score")
        by_code[unit.code] = UnitOwnScore(unit.code, unit.category, own, unit.branch_code)
    for unit in by_code.values():
        branch = by_code.get(unit.branch_code) if unit.branch_code else None
        if branch is not None and branch.category != PARTY_BRANCH:
            raise ScoringError(f"单位 {unit.code} 所属支部 {branch.code} 不是党支部",
                               f"unit {unit.code} names {branch.code} as its branch, "
                               "which is not a party branch")
    return by_code
