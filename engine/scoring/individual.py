"""Individual scores from several raters (seed 002: the direct department head weighs most).

Weights are percent points per rater role and must sum to 100 (validate_rater_weights); the
default is direct head 40, supervising leader 20, main leader 20, peers 10, subordinates 10.
A scheme may leave roles out (a unit without subordinates); a role left out weighs 0.

How a score is formed (weighted_score):

* Several raters of one role are averaged within the role first, so five peers together weigh
  what the peer role weighs, not five times as much.
* **Missing raters**: the weights are renormalised over the roles that did rate. Example: head 90,
  main leader 80, nobody else → (40·90 + 20·80) / 60 = 86.67. The result then says
  ``complete=False`` and lists ``missing_roles`` (roles with a positive weight and no rating), so
  the results page shows that the score rests on fewer raters. A missing direct head is treated
  the same way: still computed, marked incomplete; the people deciding see which role is missing.
* No usable rating at all (none, or only roles weighing 0) → ``score=None``: no number is invented.
* A rating by a role whose weight is 0 does not count; an unknown role or a score outside 0..100
  is an error (a typo must not quietly drop a rating).

The score is rounded once, at the end (numbers.round_score).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal

from engine.scoring.errors import ScoringError
from engine.scoring.numbers import HUNDRED, round_score, to_decimal

RATER_ROLES: dict[str, tuple[str, str]] = {
    "direct_head": ("直接部门负责人", "direct department head"),
    "supervising_leader": ("分管领导", "supervising leader"),
    "main_leader": ("主要领导", "main leader"),
    "peer": ("同级", "peer"),
    "subordinate": ("下级", "subordinate"),
}
DEFAULT_RATER_WEIGHTS: dict[str, Decimal] = {
    "direct_head": Decimal(40), "supervising_leader": Decimal(20), "main_leader": Decimal(20),
    "peer": Decimal(10), "subordinate": Decimal(10),
}


@dataclass(frozen=True)
class Rating:
    rater_role: str
    score: Decimal      # 0..100


@dataclass(frozen=True)
class IndividualScore:
    score: Decimal | None           # None when nobody whose rating counts has rated
    missing_roles: tuple[str, ...]  # roles with a positive weight and no rating, in RATER_ROLES order
    complete: bool


def validate_rater_weights(weights: Mapping[str, Decimal]) -> None:
    """Known roles, each weight >= 0, together exactly 100; else ScoringError naming the problem."""
    unknown = sorted(set(weights) - set(RATER_ROLES))
    if unknown:
        raise ScoringError(f"未知的评价人角色：{'、'.join(unknown)}", f"unknown rater roles: {', '.join(unknown)}")
    values = {role: to_decimal(weight, f"weight of {role}") for role, weight in weights.items()}
    negative = [role for role, weight in values.items() if weight < 0]
    if negative:
        names = [RATER_ROLES[role] for role in negative]
        raise ScoringError(f"权重不能为负：{'、'.join(zh for zh, _ in names)}",
                           f"weights cannot be negative: {', '.join(en for _, en in names)}")
    total = sum(values.values(), Decimal(0))
    if total != HUNDRED:
        raise ScoringError(f"各评价人权重之和须为 100%，现为 {total}%",
                           f"the rater weights must add up to 100%, they add up to {total}%")


@lru_cache(maxsize=32)
def _checked_weights(weights: tuple[tuple[str, Decimal], ...]) -> dict[str, Decimal]:
    validate_rater_weights(dict(weights))
    return {role: to_decimal(weight) for role, weight in weights}


def weighted_score(ratings: Sequence[Rating],
                   weights: Mapping[str, Decimal] = DEFAULT_RATER_WEIGHTS) -> IndividualScore:
    """Weighted score of one person (see the module docstring for missing raters)."""
    # Results score tens of thousands of people with one set of weights: check and convert it once.
    checked = _checked_weights(tuple(weights.items()))
    by_role: dict[str, list[Decimal]] = defaultdict(list)
    for rating in ratings:
        by_role[_checked_role(rating.rater_role)].append(_checked_score(rating))

    weighted_sum = weight_used = Decimal(0)
    for role, scores in by_role.items():
        weight = checked.get(role, 0)
        if weight > 0:
            weighted_sum += weight * sum(scores, Decimal(0)) / len(scores)
            weight_used += weight
    missing = tuple(role for role in RATER_ROLES if checked.get(role, 0) > 0 and role not in by_role)
    score = round_score(weighted_sum / weight_used) if weight_used else None
    return IndividualScore(score=score, missing_roles=missing, complete=not missing)


def _checked_role(role: str) -> str:
    if role not in RATER_ROLES:
        raise ScoringError(f"未知的评价人角色：{role!r}", f"unknown rater role: {role!r}")
    return role


def _checked_score(rating: Rating) -> Decimal:
    score = to_decimal(rating.score, "rating")
    if not Decimal(0) <= score <= HUNDRED:
        zh_role, en_role = RATER_ROLES[rating.rater_role]
        raise ScoringError(f"{zh_role}的评分须在 0 到 100 之间，现为 {score}",
                           f"a {en_role}'s rating must be between 0 and 100, got {score}")
    return score
