"""Who may be rated "excellent" (seed 002 "入围择优"), and full marks that look too good (seed 001).

excellent_shortlist — candidates come only from the top 50 % by score:

* ``places = n // 2`` over *all* n people scored, so the middle one of an odd count is not in the
  top half (5 people → 2 places; 1 person → none);
* a tie at the boundary takes in everyone tied with the last place (scores 90, 80, 80, 70 →
  places 2, shortlist 90, 80, 80). Unlike the money rewards of ranking.py, this only admits people
  to a shortlist that is decided on afterwards, so no tied person is shut out;
* anyone who failed the political-quality check is left out, but still counts in n and still
  takes a place: failing does not move someone lower down into the top half.

full_marks_streaks — positions with full marks several months running while results fall short
are a known failure of such systems (seed 001). A code is flagged when each of its last ``months``
consecutive calendar months has full marks (score >= maximum). The streak is counted back from
the code's latest month (or from ``as_of``); a gap breaks it: 2026-01 and 2026-03 are not
consecutive, whatever lies between is unknown.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal

from engine.scoring.errors import ScoringError
from engine.scoring.numbers import to_decimal

_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def excellent_shortlist(scores: Mapping[str, Decimal], failed_political: Collection[str]) -> list[str]:
    """Codes eligible for an "excellent" rating, best first (equal scores by code)."""
    checked = {code: to_decimal(score, f"{code} score") for code, score in scores.items()}
    places = len(checked) // 2
    if places == 0:
        return []
    ordered = sorted(checked, key=lambda code: (-checked[code], code))
    cutoff = checked[ordered[places - 1]]
    failed = set(failed_political)
    return [code for code in ordered if checked[code] >= cutoff and code not in failed]


def full_marks_streaks(history: Mapping[str, Sequence[tuple[str, Decimal, Decimal]]], months: int = 3,
                       *, as_of: str | None = None) -> set[str]:
    """Codes with full marks in each of their last `months` consecutive months (see module docstring).
    `as_of` ("2026-03") makes the streak end in that month for everyone; later entries are ignored."""
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ScoringError(f"连续月数须为正整数，现为 {months!r}", f"months must be a positive integer, got {months!r}")
    end = _month_number(as_of) if as_of is not None else None
    flagged = set()
    for code, entries in history.items():
        full_by_month = _full_marks_by_month(code, entries)
        last = end if end is not None else max(full_by_month, default=None)
        if last is not None and all(full_by_month.get(last - back, False) for back in range(months)):
            flagged.add(code)
    return flagged


def _full_marks_by_month(code: str, entries: Sequence[tuple[str, Decimal, Decimal]]) -> dict[int, bool]:
    result: dict[int, bool] = {}
    for period, score, maximum in entries:
        month = _month_number(period)
        if month in result:
            raise ScoringError(f"{code} 在 {period} 有两条记录", f"{code} has two entries for {period}")
        what = f"{code} {period}"
        result[month] = to_decimal(score, f"{what} score") >= to_decimal(maximum, f"{what} maximum")
    return result


def _month_number(period: str) -> int:
    """Months since year 0, so that consecutive months differ by exactly 1 across a new year."""
    match = _PERIOD.fullmatch(period) if isinstance(period, str) else None
    if match is None:
        raise ScoringError(f"期间须写作 年-月（如 2026-03），现为 {period!r}",
                           f"a period must be written year-month (e.g. 2026-03), got {period!r}")
    return int(match.group(1)) * 12 + int(match.group(2)) - 1
