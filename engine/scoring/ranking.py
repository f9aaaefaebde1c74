"""Ranking per category (production / non-production / party branch) by fused score.

``rank`` is competition ranking: ties share the better place and the next place is skipped
(scores 90, 90, 80 → ranks 1, 1, 3). ``rank_from_bottom`` is the same counted from the worst
(90, 90, 80 → 2, 2, 1). Scores are compared as given; fused scores are already rounded to the
2 places people see, so two units shown with the same score share a place.

Top and bottom places (the reward tables' "first two", "last two") are counted only inside the
upper and the lower half of the category, so that **a unit is never both top and bottom**, however
small the category. With ``half = size // 2``:

* upper half: ``rank <= half`` and ``rank_from_bottom > half``  → ``upper_rank = rank``
* lower half: ``rank_from_bottom <= half`` and ``rank > half``  → ``lower_rank = rank_from_bottom``
* ``last_place`` (presents at the report meeting, files rectification) ⇔ ``lower_rank == 1``.

Both conditions fail only for the middle unit of an odd category, and for a group of tied units
that reaches into both halves: such a group is exactly in the middle, so it is neither top nor
bottom. Examples (scores → upper_rank / lower_rank, "-" = None):

==========================  ===================================  ==================================
scores                      result                               why
==========================  ===================================  ==================================
90                          -/-                                  one unit: half = 0, no last place
90, 80                      1/- , -/1 (last)
90, 80, 70                  1/- , -/- , -/1                      odd size: the middle is neither
90, 90, 80, 70              1/- , 1/- , -/2 , -/1                the tie lies inside the upper half
90, 80, 80, 70              1/- , -/- , -/- , -/1                the tied 80s straddle the middle
90, 90, 90, 70              -/- , -/- , -/- , -/1                the tie reaches into the lower half
85, 85, 85, 85              all -/-                              nobody is top, bottom or last
90, 90, 80 (odd)            1/- , 1/- , -/1                      the tie reaches only the middle
==========================  ===================================  ==================================

So ties never make more units top than the upper half holds (``size // 2``), except that in an
odd category a tie may take in the middle unit (last row); the same holds for the bottom.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from engine.scoring.errors import ScoringError
from engine.scoring.numbers import to_decimal


@dataclass(frozen=True)
class Ranked:
    code: str
    category: str
    score: Decimal
    rank: int                # 1 = best; ties share a rank ("1, 1, 3")
    rank_from_bottom: int    # 1 = worst; ties share it too
    size: int                # units ranked in this category
    upper_rank: int | None   # rank if the unit is in the upper half of its category, else None
    lower_rank: int | None   # rank_from_bottom if in the lower half, else None
    last_place: bool         # must present at the report meeting and file rectification


def rank_by_category(scores: Mapping[str, Decimal], categories: Mapping[str, str]) -> dict[str, Ranked]:
    """Rank every scored unit within its category. Units in `categories` without a score this period
    are not ranked; a scored unit without a category is an error (it would silently drop out)."""
    missing = sorted(code for code in scores if not categories.get(code))
    if missing:
        raise ScoringError(f"以下单位没有类别，无法排名：{'、'.join(missing)}",
                           f"these units have no category and cannot be ranked: {', '.join(missing)}")
    members: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for code, score in scores.items():
        members[categories[code]][code] = to_decimal(score, f"{code} score")

    ranked: dict[str, Ranked] = {}
    for category, category_scores in members.items():
        ranked.update(_rank_category(category, category_scores))
    return ranked


def _rank_category(category: str, scores: dict[str, Decimal]) -> dict[str, Ranked]:
    ordered = sorted(scores.values())
    size = len(ordered)
    half = size // 2
    result = {}
    for code, score in scores.items():
        rank = 1 + size - bisect_right(ordered, score)          # 1 + how many score strictly higher
        rank_from_bottom = 1 + bisect_left(ordered, score)      # 1 + how many score strictly lower
        upper = rank <= half < rank_from_bottom
        lower = rank_from_bottom <= half < rank
        result[code] = Ranked(code=code, category=category, score=score, rank=rank,
                              rank_from_bottom=rank_from_bottom, size=size,
                              upper_rank=rank if upper else None,
                              lower_rank=rank_from_bottom if lower else None,
                              last_place=lower and rank_from_bottom == 1)
    return result
