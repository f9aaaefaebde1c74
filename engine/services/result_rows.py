"""A computed result as a stored row and back, exactly: decimals travel as strings, so a page
built from a snapshot shows the very figures results.compute produced (monthly area scores and a
branch's fusion partner are not rounded, and "5" must not come back as "5.00")."""
from __future__ import annotations

import json
from decimal import Decimal

from engine.scoring import (IndividualScore, MonthlyReward, NegativeItem, PoliticalResult, QuarterlyReward,
                            Ranked)
from engine.services.results import PersonResult, Results, UnitResult

_CLEAR = PoliticalResult(Decimal(0), False, ())  # what most people have: stored as null


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _number(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def fusion_partners(results: Results) -> dict[str, Decimal | None]:
    """For a month, what each unit's own score is fused with: its party branch's own score, or for
    a branch the mean own score of its units (unrounded, as the ranking page always showed it)."""
    if len(results.months) != 1:
        return {}
    own = {u.code: u.own for u in results.units}
    members: dict[str, list[Decimal]] = {}
    for unit in results.units:
        if unit.category != "party_branch" and unit.branch_code and unit.own is not None:
            members.setdefault(unit.branch_code, []).append(unit.own)
    partners = {}
    for unit in results.units:
        if unit.category == "party_branch":
            scores = members.get(unit.code)
            partners[unit.code] = sum(scores, Decimal(0)) / len(scores) if scores else None
        else:
            partners[unit.code] = own.get(unit.branch_code) if unit.branch_code else None
    return partners


def unit_data(unit: UnitResult, partner: Decimal | None) -> str:
    ranked, monthly, quarterly = unit.ranked, unit.monthly, unit.quarterly
    return json.dumps({
        "name": unit.name, "branch": unit.branch_code,
        "areas": {code: str(score) for code, score in unit.area_scores.items()}, "missing": unit.missing,
        "adjustments": str(unit.adjustments), "own": _text(unit.own), "fused": _text(unit.fused),
        "partner": _text(partner),
        "ranked": None if ranked is None else [str(ranked.score), ranked.rank, ranked.rank_from_bottom,
                                               ranked.size, ranked.upper_rank, ranked.lower_rank,
                                               ranked.last_place],
        "monthly": None if monthly is None else [str(monthly.head_pct), str(monthly.deputy_pct)],
        "quarterly": None if quarterly is None else [str(quarterly.head_yuan), str(quarterly.deputy_yuan),
                                                     str(quarterly.staff_pct)],
        "shortlisted": unit.shortlisted, "streak": unit.full_marks_streak, "entered": unit.entered,
    }, ensure_ascii=False, separators=(",", ":"))


def unit_from(code: str, category: str, data: str) -> tuple[UnitResult, Decimal | None]:
    """The unit's result and its fusion partner (None for a quarter or with nothing to fuse with)."""
    d = json.loads(data)
    ranked = d["ranked"]
    unit = UnitResult(code, d["name"], category, d["branch"],
                      {area: Decimal(score) for area, score in d["areas"].items()}, d["missing"],
                      Decimal(d["adjustments"]), _number(d["own"]), _number(d["fused"]),
                      None if ranked is None else Ranked(code, category, Decimal(ranked[0]), *ranked[1:]),
                      None if d["monthly"] is None else MonthlyReward(*map(Decimal, d["monthly"])),
                      None if d["quarterly"] is None else QuarterlyReward(*map(Decimal, d["quarterly"])),
                      d["shortlisted"], d["streak"], d["entered"])
    return unit, _number(d["partner"])


def person_data(person: PersonResult) -> str:
    rating, political = person.rating, person.political
    return json.dumps({
        "name": person.name,
        "rating": [_text(rating.score), list(rating.missing_roles), rating.complete],
        "political": None if political == _CLEAR else [
            str(political.deduction), political.failed,
            [[i.code, i.text_zh, i.text_en, str(i.deduction), i.veto] for i in political.items]],
        "adjustments": str(person.adjustments), "score": _text(person.score),
        "shortlisted": person.shortlisted, "streak": person.full_marks_streak,
    }, ensure_ascii=False, separators=(",", ":"))


def person_from(username: str, unit_code: str | None, data: str) -> PersonResult:
    d = json.loads(data)
    score, missing, complete = d["rating"]
    political = _CLEAR
    if d["political"] is not None:
        deduction, failed, items = d["political"]
        political = PoliticalResult(Decimal(deduction), failed, tuple(
            NegativeItem(code, zh, en, Decimal(points), veto) for code, zh, en, points, veto in items))
    rating = IndividualScore(_number(score), tuple(missing), complete)
    return PersonResult(username, d["name"], unit_code, rating, political, Decimal(d["adjustments"]),
                        _number(d["score"]), d["shortlisted"], d["streak"])
