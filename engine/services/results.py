"""Results of a month or a quarter: each unit's own score by area, its fused score, rank,
rewards and flags; each person's weighted score. Computed from what was recorded, the same
way for the CLI, the web pages and the API."""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import (EvaluationScheme, OrgUnit, Person, PersonRating, PoliticalFinding, ScoreAdjustment)
from engine.periods import months_ending, months_of
from engine.runtime import Runtime
from engine.scoring import (IndividualScore, MonthlyReward, PoliticalResult, QuarterlyReward, Ranked, Rating,
                            UnitOwnScore, assess, excellent_shortlist, fuse_scores, monthly_reward,
                            quarterly_reward, rank_by_category, round_score, weighted_score)
from engine.services.decisions import reward_tables
from engine.services.org_units import active_units
from engine.services.progress import EVERY, Report
from engine.services.rows import execute
from engine.services.schemes import scheme_for_period
from engine.services.unit_scores import full_mark_units, own_base_scores

RANKED_CATEGORIES = ("production", "non_production", "party_branch")


@dataclass
class UnitResult:
    code: str
    name: str
    category: str
    branch_code: str | None
    area_scores: dict[str, Decimal] = field(default_factory=dict)  # area code -> 0..100
    missing: list[str] = field(default_factory=list)               # indicators not yet scored
    adjustments: Decimal = Decimal(0)                              # likes and error notices, signed
    own: Decimal | None = None
    fused: Decimal | None = None
    ranked: Ranked | None = None
    monthly: MonthlyReward | None = None
    quarterly: QuarterlyReward | None = None
    shortlisted: bool = False
    full_marks_streak: bool = False
    entered: bool = False                                          # anything scored at all


@dataclass
class PersonResult:
    username: str
    name: str
    unit_code: str | None
    rating: IndividualScore
    political: PoliticalResult
    adjustments: Decimal
    score: Decimal | None
    shortlisted: bool = False
    full_marks_streak: bool = False


@dataclass
class Results:
    label: str                      # "2026-03" or "2026Q1"
    months: list[str]
    scheme_code: str
    scheme_version: int
    units: list[UnitResult]
    people: list[PersonResult]


class _Tally:
    """Counts the units (once per month) and the people computed, reporting every EVERY of them."""

    def __init__(self, report: Report | None, total: int):
        self.report, self.total, self.done, self.reported = report, total, 0, 0
        self.add(0)

    def add(self, count: int) -> None:
        self.done += count
        if self.report is not None and (self.done - self.reported >= EVERY or count == 0
                                        or self.done >= self.total):
            self.report(self.done, max(self.total, self.done), "正在计算考核结果", "computing the results")
            self.reported = self.done


def compute(rt: Runtime, label: str, progress: Report | None = None) -> Results:
    """The results of a month ('2026-03') or a quarter ('2026Q1'); `progress` hears of the units
    (once per month) and the rated people computed."""
    months = months_of(label)
    with rt.db.reading() as session:
        scheme = scheme_for_period(session, months[-1])
        monthly, quarterly = reward_tables(session)
        units = active_units(session, RANKED_CATEGORIES)
        rated = 0 if progress is None else execute(session, select(func.count(func.distinct(
            PersonRating.person_id))).where(PersonRating.period.in_(months))).scalar_one()
        tally = _Tally(progress, len(units) * len(months) + rated)
        per_month = []
        for month in months:
            per_month.append(_unit_month(session, scheme, month, units))
            tally.add(len(units))
        unit_results = _combine_months(units, per_month)
        _rank_and_reward(unit_results, quarterly if len(months) > 1 else monthly, quarter=len(months) > 1)
        streaks = full_mark_units(session, scheme, months_ending(months[-1], scheme.full_marks_months))
        for result in unit_results:
            result.full_marks_streak = result.code in streaks
        people = _people(session, scheme, months, tally)
    return Results(label, months, scheme.code, scheme.version, unit_results, people)


def _unit_month(session: Session, scheme: EvaluationScheme, month: str, units) -> dict[str, UnitResult]:
    """Own score per unit for one month: areas weighted, plus adjustments; then 3:7 fusion."""
    bases = own_base_scores(session, scheme, month, units)
    adjustments = dict(execute(session, 
        select(OrgUnit.code, func.sum(ScoreAdjustment.points)).join(OrgUnit, OrgUnit.id == ScoreAdjustment.unit_id)
        .where(ScoreAdjustment.period == month).group_by(OrgUnit.code)).all())
    results: dict[str, UnitResult] = {}
    for code, name, category, branch_code in units:
        base = bases[code]
        result = UnitResult(code, name, category, branch_code, base.area_scores, base.missing,
                            Decimal(adjustments.get(code) or 0), entered=base.entered)
        if base.score is not None:
            result.own = round_score(base.score + result.adjustments)
        results[code] = result
    fused = fuse_scores([UnitOwnScore(r.code, r.category, r.own, r.branch_code)
                         for r in results.values() if r.own is not None], scheme.own_weight)
    for code, score in fused.items():
        results[code].fused = score
    return results


def _combine_months(units, per_month: list[dict[str, UnitResult]]) -> list[UnitResult]:
    """A month is itself; a quarter averages each score over the months that have one."""
    if len(per_month) == 1:
        return [per_month[0][unit.code] for unit in units]
    # A month in which nobody was scored (kaohe not in use yet) is not missing work.
    used = [any(r.entered for r in month.values()) for month in per_month]
    used = used if any(used) else [True] * len(per_month)
    combined = []
    for code, name, category, branch_code in units:
        months = [m[code] for m in per_month]
        result = UnitResult(code, name, category, branch_code,
                            missing=sorted({i for m, counts in zip(months, used) if counts for i in m.missing}),
                            entered=any(m.entered for m in months),
                            adjustments=sum((m.adjustments for m in months), Decimal(0)))
        for attribute in ("own", "fused"):
            values = [getattr(m, attribute) for m in months if getattr(m, attribute) is not None]
            setattr(result, attribute, round_score(sum(values) / len(values)) if values else None)
        areas = {a for m in months for a in m.area_scores}
        result.area_scores = {a: round_score(sum(m.area_scores[a] for m in months if a in m.area_scores) /
                                             sum(1 for m in months if a in m.area_scores)) for a in sorted(areas)}
        combined.append(result)
    return combined


def _rank_and_reward(results: list[UnitResult], table, *, quarter: bool) -> None:
    scored = {r.code: r.fused for r in results if r.fused is not None}
    ranked = rank_by_category(scored, {r.code: r.category for r in results if r.code in scored})
    by_category: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for result in results:
        result.ranked = ranked.get(result.code)
        if result.ranked is None:
            continue
        if quarter:
            result.quarterly = quarterly_reward(result.ranked, table)
        else:
            result.monthly = monthly_reward(result.ranked, table)
        by_category[result.category][result.code] = result.fused
    shortlisted = {code for scores in by_category.values() for code in excellent_shortlist(scores, ())}
    for result in results:
        result.shortlisted = result.code in shortlisted


def _people(session: Session, scheme: EvaluationScheme, months: list[str], tally: _Tally) -> list[PersonResult]:
    """Each rated person's weighted score, less political deductions, plus personal adjustments."""
    weights = {role: Decimal(str(w)) for role, w in json.loads(scheme.rater_weights).items()}
    ratings: dict[int, list[Rating]] = defaultdict(list)
    people: dict[int, tuple[str, str, str | None]] = {}
    rows = execute(session, select(PersonRating.person_id, PersonRating.rater_role, PersonRating.score,
                                  Person.username, Person.display_name, OrgUnit.code)
                           .join(Person, Person.id == PersonRating.person_id)
                           .outerjoin(OrgUnit, OrgUnit.id == Person.unit_id)
                           .where(PersonRating.period.in_(months)))
    for person_id, role, score, username, name, unit_code in rows.all():  # fetchall: much faster than row by row
        ratings[person_id].append(Rating(role, Decimal(score)))
        people[person_id] = (username, name, unit_code)
    if not ratings:
        return []
    findings: dict[int, list[str]] = defaultdict(list)
    for person_id, item in execute(session, select(PoliticalFinding.person_id, PoliticalFinding.item_code)
                                           .where(PoliticalFinding.period.in_(months))):
        findings[person_id].append(item)
    adjustments = dict(execute(session, select(ScoreAdjustment.person_id, func.sum(ScoreAdjustment.points))
                                       .where(ScoreAdjustment.period.in_(months),
                                              ScoreAdjustment.person_id.is_not(None))
                                       .group_by(ScoreAdjustment.person_id)).all())
    negative_list = _negative_list(scheme)
    clear = PoliticalResult(Decimal(0), False, ())  # most people have no finding: skip the look-up
    results = []
    for person_id, (username, name, unit_code) in sorted(people.items(), key=lambda item: item[1][0]):
        rating = weighted_score(ratings[person_id], weights)
        political = assess(findings[person_id], negative_list, threshold=scheme.political_fail_threshold) \
            if person_id in findings else clear
        extra = Decimal(adjustments.get(person_id) or 0)
        score = None if rating.score is None else round_score(rating.score - political.deduction + extra)
        results.append(PersonResult(username, name, unit_code, rating, political, extra, score))
        tally.add(1)
    _shortlist_people(session, scheme, months, results)
    return results


def _negative_list(scheme: EvaluationScheme):
    from engine.scoring import DEFAULT_NEGATIVE_LIST, NegativeItem
    custom = json.loads(scheme.negative_list or "null")
    if not custom:
        return DEFAULT_NEGATIVE_LIST
    return tuple(NegativeItem(i["code"], i["text_zh"], i.get("text_en", i["text_zh"]), Decimal(str(i["deduction"])),
                              bool(i.get("veto", False))) for i in custom)


def _shortlist_people(session: Session, scheme: EvaluationScheme, months: list[str],
                      results: list[PersonResult]) -> None:
    scores = {r.username: r.score for r in results if r.score is not None}
    failed = {r.username for r in results if r.political.failed}
    chosen = set(excellent_shortlist(scores, failed))
    recent = months_ending(months[-1], scheme.full_marks_months)
    full = execute(session, select(Person.username, PersonRating.period)
                           .join(Person, Person.id == PersonRating.person_id)
                           .where(PersonRating.period.in_(recent))
                           .group_by(Person.username, PersonRating.period)
                           .having(func.min(PersonRating.score) >= 100)).all()
    months_full: dict[str, set[str]] = defaultdict(set)
    for username, period in full:
        months_full[username].add(period)
    for result in results:
        result.shortlisted = result.username in chosen
        result.full_marks_streak = months_full.get(result.username, set()) >= set(recent)
