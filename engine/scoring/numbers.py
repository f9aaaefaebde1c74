"""The one rounding rule of kaohe's scores, money and percentages.

* Scores are ``Decimal`` and computed exactly (Python's default 28 significant digits, which only
  matters for a mean that does not terminate, e.g. a third); they are rounded **once, at the end**
  of a computation, ``ROUND_HALF_UP`` to 2 places: 82.345 → 82.35, never the banker's 82.34.
  Rounding intermediate values would let the order of operations change a rank.
* Money is rounded to whole yuan, ``ROUND_HALF_UP``: 450.5 → 451.
* Percentages are ``Decimal`` percent points: ``Decimal(20)`` means +20 %, ``Decimal(-15)`` −15 %.

Floats never enter a computation unconverted: ``to_decimal(0.1)`` is ``Decimal('0.1')`` (through
``str``), not the binary float's 0.1000000000000000055….
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from engine.scoring.errors import ScoringError

SCORE_QUANTUM = Decimal("0.01")
YUAN_QUANTUM = Decimal(1)
HUNDRED = Decimal(100)


def to_decimal(value, what: str = "value") -> Decimal:
    """`value` (Decimal, int, float or numeric string) as a finite Decimal; anything else is refused."""
    if isinstance(value, bool) or value is None:     # True is an int in Python, never a score
        raise ScoringError(f"{what} 不是数字：{value!r}", f"{what} is not a number: {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value) if isinstance(value, float)
                                                                  else value)
    except (InvalidOperation, TypeError, ValueError):
        raise ScoringError(f"{what} 不是数字：{value!r}", f"{what} is not a number: {value!r}") from None
    if not number.is_finite():
        raise ScoringError(f"{what} 必须是有限的数：{value!r}", f"{what} must be a finite number: {value!r}")
    return number


def round_score(value) -> Decimal:
    """A final score: ROUND_HALF_UP to 2 decimal places."""
    return to_decimal(value, "score").quantize(SCORE_QUANTUM, rounding=ROUND_HALF_UP)


def round_money(value) -> Decimal:
    """An amount of money: ROUND_HALF_UP to whole yuan."""
    return to_decimal(value, "amount").quantize(YUAN_QUANTUM, rounding=ROUND_HALF_UP)


def apply_percent(amount, percent_points) -> Decimal:
    """The change `percent_points` makes to `amount`, in whole yuan: apply_percent(3000, 15) == 450."""
    return round_money(to_decimal(amount, "amount") * to_decimal(percent_points, "percent") / HUNDRED)
