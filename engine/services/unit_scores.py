"""A unit's own score from the evaluation groups' entries, by the scheme in force.

Each indicator counts `weight`% of its area, as a share of its maximum: points and pass/fail
entries are the score itself; a deduction entry is the points taken off the maximum. An area
score is 0..100; the unit's base score is the weighted mean of the areas that score its category.
A unit with any indicator not yet scored has no score this month (it is listed as missing and
not ranked), so an unfinished evaluation never looks like a bad result.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import EvaluationScheme, OrgUnit, ScoreEntry, SchemeArea, SchemeIndicator
from engine.services.rows import execute


@dataclass
class BaseScore:
    score: Decimal | None
    area_scores: dict[str, Decimal] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    entered: bool = False  # any indicator scored at all this month


def _effective(indicator: SchemeIndicator, value: Decimal) -> Decimal:
    return indicator.max_score - value if indicator.method == "deduction" else value


def areas_by_category(scheme: EvaluationScheme) -> dict[str, list[SchemeArea]]:
    result: dict[str, list[SchemeArea]] = defaultdict(list)
    for area in scheme.areas:
        for category in json.loads(area.categories):
            result[category].append(area)
    return result


def _entries(session: Session, scheme: EvaluationScheme, months: list[str]) -> dict[tuple[str, str], dict]:
    """(month, unit code) -> {indicator id: value}, for the scheme's indicators only."""
    indicator_ids = [i.id for a in scheme.areas for i in a.indicators]
    rows = execute(session, select(ScoreEntry.period, OrgUnit.code, ScoreEntry.indicator_id, ScoreEntry.value)
                           .join(OrgUnit, OrgUnit.id == ScoreEntry.unit_id)
                           .where(ScoreEntry.period.in_(months), ScoreEntry.indicator_id.in_(indicator_ids)))
    values: dict[tuple[str, str], dict] = defaultdict(dict)
    for period, code, indicator_id, value in rows:
        values[(period, code)][indicator_id] = Decimal(value)
    return values


def _base(areas: list[SchemeArea], values: dict) -> BaseScore:
    result = BaseScore(None, entered=bool(values))
    weighted, total_weight = Decimal(0), Decimal(0)
    for area in areas:
        area_score, complete = Decimal(0), True
        for indicator in area.indicators:
            if indicator.id not in values:
                result.missing.append(indicator.code)
                complete = False
                continue
            area_score += indicator.weight * _effective(indicator, values[indicator.id]) / indicator.max_score
        if complete:  # a half-scored area would read as a poor score; it is listed as missing instead
            result.area_scores[area.code] = area_score
        weighted += area.weight * area_score
        total_weight += area.weight
    if not result.missing and total_weight:
        result.score = weighted / total_weight
    return result


def own_base_scores(session: Session, scheme: EvaluationScheme, month: str, units) -> dict[str, BaseScore]:
    """Base score per unit code for one month (`units` from org_units.active_units)."""
    by_category = areas_by_category(scheme)
    values = _entries(session, scheme, [month])
    return {code: _base(by_category.get(category, []), values.get((month, code), {}))
            for code, _name, category, _branch in units}


def full_mark_units(session: Session, scheme: EvaluationScheme, months: list[str]) -> set[str]:
    """Units with every indicator at full marks in every one of `months` (the anomaly of seed 001)."""
    by_category = areas_by_category(scheme)
    values = _entries(session, scheme, months)
    categories = dict(execute(session, select(OrgUnit.code, OrgUnit.category)).all())
    streaks = None
    for month in months:
        full = set()
        for (period, code), entered in values.items():
            if period != month:
                continue
            base = _base(by_category.get(categories.get(code), []), entered)
            if base.score is not None and base.score == 100:
                full.add(code)
        streaks = full if streaks is None else streaks & full
    return streaks or set()
