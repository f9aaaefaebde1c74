"""Read models of the results pages: the ranking per category with each fused score taken apart,
one unit (areas, adjustments, people, trend), one person (ratings by rater role, political check).
Every function checks first what the actor may see (result_access) and raises PermissionDenied
before computing anything; the numbers are the period's stored results (result_store), which are
exactly what results.compute returns, recomputed only after an input changed."""
from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from decimal import Decimal

from sqlalchemy import select

from engine.errors import NotFound
from engine.models import (
    OrgUnit,
    Person,
    PersonRating,
    PoliticalFinding,
    ScoreAdjustment,
)
from engine.models.scoring import AREAS
from engine.periods import months_ending, months_of
from engine.runtime import Actor, Runtime
from engine.scoring import RATER_ROLES, round_score
from engine.services import result_jobs, result_store, results_export
from engine.services.progress import step
from engine.services.result_access import (
    Visibility,
    refuse_export,
    refuse_person,
    refuse_unit,
    visibility,
)
from engine.services.results import RANKED_CATEGORIES, PersonResult, UnitResult

HISTOGRAM_STEP = Decimal(5)
MAX_TREND_MONTHS = 36


@dataclass(frozen=True)
class Fusion:
    """fused = own_weight·own + (1 − own_weight)·partner, for a month; partner is the unit's party
    branch's own score, or for a branch the mean own score of its units."""
    own_weight: Decimal
    own_share: Decimal
    partner: Decimal | None          # None: nothing to fuse with, the fused score is the own score
    partner_share: Decimal | None
    partner_is_members: bool         # True for a branch (its units' mean), False for a unit (its branch)


@dataclass
class UnitRow:
    unit: UnitResult
    fusion: Fusion | None            # None for a quarter (a mean of monthly fusions) or without own score
    flags: tuple[str, ...]           # last_place, shortlisted, full_marks_streak, incomplete


@dataclass(frozen=True)
class Bin:
    low: Decimal
    high: Decimal
    count: int


@dataclass
class CategoryTable:
    category: str
    rows: list[UnitRow]
    histogram: list[Bin]


@dataclass
class ResultsPage:
    label: str
    months: list[str]
    quarter: bool
    scheme: str | None               # "default v1"; None when no scheme applies to the period
    own_weight: Decimal | None
    seen: Visibility
    tables: list[CategoryTable] = field(default_factory=list)
    my_unit: UnitRow | None = None
    me: PersonResult | None = None
    updating: result_jobs.Updating | None = None   # shown as stored while a job recomputes them


def results_page(rt: Runtime, actor: Actor, label: str) -> ResultsPage:
    """The ranking tables the actor may see, their own unit's row and their own result."""
    months = months_of(label)
    with rt.db.reading() as session:
        seen = visibility(session, actor, months[-1])
    snap, updating = result_jobs.snapshot(rt, label)
    if snap.empty:  # no scheme for the period: an empty page with the picker, not an error
        return ResultsPage(label, months, len(months) > 1, None, None, seen, updating=updating)
    weight = Decimal(snap.own_weight)
    shown = [c for c in RANKED_CATEGORIES if seen.sees_ranking(c)]
    ranking = result_store.memo(snap, "ranking", lambda: _ranking(rt, snap)) if shown else None
    page = ResultsPage(label, months, len(months) > 1, f"{snap.scheme_code} v{snap.scheme_version}", weight,
                       seen, [ranking.tables[c] for c in shown] if ranking else [], updating=updating)
    with rt.db.reading() as session:
        mine = ranking.rows.get(seen.own_unit) if ranking and seen.own_unit else None
        if mine is None and seen.own_unit:  # staff see no ranking: their unit's row is one look-up
            mine = next((_row(unit, partner, weight, months) for unit, partner
                         in result_store.units(session, snap, codes=[seen.own_unit])), None)
        page.me = result_store.person(session, snap, actor.username)
    if mine is not None and not seen.sees_unit(mine.unit.code, mine.unit.category):
        # Staff learn where their unit stands, not how its score was made up.
        mine = UnitRow(replace(mine.unit, area_scores={}, missing=[], adjustments=Decimal(0), own=None),
                       None, tuple(f for f in mine.flags if f != "incomplete"))
    page.my_unit = mine
    return page


@dataclass(frozen=True)
class _Ranking:
    tables: dict[str, CategoryTable]
    rows: dict[str, UnitRow]


def _ranking(rt: Runtime, snap: result_store.Snapshot) -> _Ranking:
    """Every category's table of a stored snapshot, best first, with its histogram (shared by every
    request for the same snapshot: nothing downstream changes these objects)."""
    with rt.db.reading() as session:
        stored = result_store.units(session, snap)
    weight = Decimal(snap.own_weight)
    rows = {unit.code: _row(unit, partner, weight, snap.months) for unit, partner in stored}
    tables = {}
    for category in RANKED_CATEGORIES:
        members = sorted((r for r in rows.values() if r.unit.category == category), key=_rank_order)
        tables[category] = CategoryTable(category, members, histogram(
            [r.unit.fused for r in members if r.unit.fused is not None]))
    return _Ranking(tables, rows)


def _rank_order(row: UnitRow):
    return (row.unit.ranked.rank if row.unit.ranked else 10**9, row.unit.code)


def _row(unit: UnitResult, partner: Decimal | None, weight: Decimal, months: list[str]) -> UnitRow:
    """A unit's line with its fusion taken apart (a month only: a quarter averages monthly fusions)."""
    fusion = None
    if len(months) == 1 and unit.own is not None:
        partner_share = None if partner is None else (1 - weight) * partner
        fusion = Fusion(weight, weight * unit.own, partner, partner_share, unit.category == "party_branch")
    return UnitRow(unit, fusion, _flags(unit))


def _flags(unit: UnitResult) -> tuple[str, ...]:
    flags = []
    if unit.ranked is not None and unit.ranked.last_place:
        flags.append("last_place")
    if unit.shortlisted:
        flags.append("shortlisted")
    if unit.full_marks_streak:
        flags.append("full_marks_streak")
    if unit.missing:
        flags.append("incomplete")
    return tuple(flags)


def histogram(scores: list[Decimal], step: Decimal = HISTOGRAM_STEP) -> list[Bin]:
    """Counts per `step`-point band from the lowest band holding a score to the highest (empty bands kept,
    so gaps show); a band holds low <= score < high."""
    if not scores:
        return []
    first = (min(scores) // step) * step
    last = (max(scores) // step) * step
    bins, low = [], first
    while low <= last:
        bins.append(Bin(low, low + step, sum(1 for s in scores if low <= s < low + step)))
        low += step
    return bins


@dataclass(frozen=True)
class AreaLine:
    code: str
    name: tuple[str, str]            # (zh, en)
    weight: Decimal                  # percent of the own score
    score: Decimal | None


@dataclass(frozen=True)
class TrendPoint:
    month: str
    fused: Decimal | None
    rank: int | None
    size: int | None


@dataclass
class UnitPage:
    label: str
    quarter: bool
    row: UnitRow
    areas: list[AreaLine]
    adjustments: list[ScoreAdjustment]
    people: list[tuple[str, str, str, PersonResult | None]] | None   # None: not the actor's to see
    trend: list[TrendPoint]
    updating: result_jobs.Updating | None = None   # the period's (or a trend month's) recompute job


def unit_page(rt: Runtime, actor: Actor, label: str, code: str, trend_months: int = 12) -> UnitPage:
    months = months_of(label)
    with rt.db.reading() as session:
        seen = visibility(session, actor, months[-1])
        unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        if unit is None or not seen.sees_unit(code, unit.category):
            raise refuse_unit() if not seen.everything else _no_unit(code)
        if unit.category not in RANKED_CATEGORIES:
            raise _no_unit(code)
        adjustments = list(session.scalars(select(ScoreAdjustment).where(
            ScoreAdjustment.unit_id == unit.id, ScoreAdjustment.period.in_(months))
            .order_by(ScoreAdjustment.period, ScoreAdjustment.id)))
        staff = session.execute(select(Person.username, Person.display_name, Person.position)
                                .where(Person.unit_id == unit.id, Person.active.is_(True))
                                .order_by(Person.username)).all()
        session.expunge_all()
    snap, updating = result_jobs.snapshot(rt, label)
    if snap.empty:
        _explain_empty(rt, snap, updating)
    sees_people = seen.sees_people_of(code)
    with rt.db.reading() as session:
        stored = result_store.units(session, snap, codes=[code])
        scored = {p.username: p for p in result_store.people(session, snap, [u for u, _n, _p in staff])} \
            if sees_people and staff else {}
    if not stored:  # not active when the results were computed: nothing was ranked
        raise _no_unit(code)
    row = _row(*stored[0], Decimal(snap.own_weight), months)
    points, trend_updating = _trend(rt, code, months[-1], trend_months)
    return UnitPage(label, len(months) > 1, row,
                    [AreaLine(a, AREAS.get(a, (a, a)), Decimal(weight), row.unit.area_scores.get(a))
                     for a, weight, categories in snap.areas if unit.category in categories],
                    adjustments,
                    [(u, n, p, scored.get(u)) for u, n, p in staff] if sees_people else None,
                    points, updating or next(iter(trend_updating.values()), None))


def _no_unit(code: str) -> NotFound:
    return NotFound(f"没有参加排名的单位「{code}」", f"no ranked unit '{code}'")


def _explain_empty(rt: Runtime, snap: result_store.Snapshot, updating: result_jobs.Updating | None):
    """Nothing to show: being recomputed (a scheme may have come meanwhile), or why not."""
    if updating is not None:
        raise result_jobs.ResultsPending(updating)
    raise result_store.explain_empty(rt, snap)


def trend(rt: Runtime, code: str, last: str, count: int) -> list[TrendPoint]:
    """The unit's fused score and rank in each of `count` months up to `last` (oldest first);
    a month without a scheme or without the unit's score has no point. The months' stored results
    are read in one query (a month never computed is computed and stored once, here or, with a
    work queue, by a job: until then the month has no point)."""
    return _trend(rt, code, last, count)[0]


def _trend(rt: Runtime, code: str, last: str,
           count: int) -> tuple[list[TrendPoint], dict[str, result_jobs.Updating]]:
    months = months_ending(last, max(1, min(count, MAX_TREND_MONTHS)))
    snaps, updating = result_jobs.snapshots(rt, months)
    with rt.db.reading() as session:
        units = result_store.unit_across(session, [s for s in snaps.values() if not s.empty], code)
    points = []
    for month in months:
        unit = units.get(month)
        ranked = unit.ranked if unit is not None else None
        points.append(TrendPoint(month, unit.fused if unit else None, ranked.rank if ranked else None,
                                 ranked.size if ranked else None))
    return points, updating


@dataclass(frozen=True)
class RoleLine:
    role: str
    name: tuple[str, str]
    weight: Decimal
    mean: Decimal | None             # mean of this role's ratings; None: nobody in this role rated
    count: int


@dataclass
class PersonPage:
    label: str
    username: str
    name: str
    unit_code: str | None
    unit_name: str | None
    result: PersonResult | None      # None: nobody has rated the person in this period
    roles: list[RoleLine]
    ratings: list[tuple[str, str, str, Decimal, str | None]]   # period, rater, role, score, comment
    findings: list[tuple[str, str, str | None]]               # period, item code, note
    may_open_unit: bool
    updating: result_jobs.Updating | None = None


def person_page(rt: Runtime, actor: Actor, label: str, username: str) -> PersonPage:
    months = months_of(label)
    with rt.db.reading() as session:
        seen = visibility(session, actor, months[-1])
        if username != actor.username and not (seen.everything or seen.head_of):
            raise refuse_person()  # staff: before even looking the name up, so nothing leaks
        person = session.execute(select(Person.id, Person.display_name, OrgUnit.code, OrgUnit.name,
                                        OrgUnit.category)
                                 .outerjoin(OrgUnit, OrgUnit.id == Person.unit_id)
                                 .where(Person.username == username)).one_or_none()
        if person is None or not seen.sees_person(username, person.code):
            if seen.everything:
                raise NotFound(f"没有用户「{username}」", f"no person '{username}'")
            raise refuse_person()
        rater = select(Person.id, Person.display_name).subquery()
        ratings = session.execute(select(PersonRating.period, rater.c.display_name, PersonRating.rater_role,
                                         PersonRating.score, PersonRating.comment)
                                  .join(rater, rater.c.id == PersonRating.rater_id)
                                  .where(PersonRating.person_id == person.id, PersonRating.period.in_(months))
                                  .order_by(PersonRating.period, PersonRating.rater_role)).all()
        findings = session.execute(select(PoliticalFinding.period, PoliticalFinding.item_code,
                                          PoliticalFinding.note)
                                   .where(PoliticalFinding.person_id == person.id,
                                          PoliticalFinding.period.in_(months))
                                   .order_by(PoliticalFinding.period, PoliticalFinding.id)).all()
    snap, updating = result_jobs.snapshot(rt, label)
    weights = snap.rater_weights  # empty when no scheme applies
    result = None
    if not snap.empty:
        with rt.db.reading() as session:
            result = result_store.person(session, snap, username)
    return PersonPage(label, username, person.display_name, person.code, person.name, result,
                      _roles(weights, ratings), [tuple(r) for r in ratings], [tuple(f) for f in findings],
                      person.code is not None and seen.sees_unit(person.code, person.category), updating)


def _roles(weights: dict, ratings) -> list[RoleLine]:
    lines = []
    for role, name in RATER_ROLES.items():
        scores = [Decimal(r.score) for r in ratings if r.rater_role == role]
        weight = Decimal(str(weights.get(role, 0)))
        if weight or scores:
            mean = round_score(sum(scores) / len(scores)) if scores else None
            lines.append(RoleLine(role, name, weight, mean, len(scores)))
    return lines


def require_full_export(rt: Runtime, actor: Actor, label: str) -> None:
    """The export holds every unit and person, so only those who see everything get it."""
    months = months_of(label)
    with rt.db.reading() as session:
        if not visibility(session, actor, months[-1]).everything:
            raise refuse_export()


def export_xlsx(rt: Runtime, actor: Actor, label: str, language: str = "zh", progress=None) -> bytes:
    """The workbook `kaohe results --format xlsx` writes: every unit and person, so only for
    those who see everything."""
    require_full_export(rt, actor, label)
    step(progress, "正在读取考核结果", "reading the results")
    snap = result_store.snapshot(rt, label)
    if snap.empty:
        raise result_store.explain_empty(rt, snap)
    with rt.db.reading() as session:
        results = result_store.results(session, snap)
    buffer = io.BytesIO()
    results_export.write_xlsx(results, buffer, language, progress)
    return buffer.getvalue()
