"""The stored evaluation schemes as the administration pages list them: every version of every code,
which one is in force this month, and one version's areas, indicators and source document."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from engine.errors import NotFound
from engine.models import EvaluationScheme
from engine.periods import month_of
from engine.runtime import Actor, Runtime
from engine.services.admin_access import require_reader


@dataclass(frozen=True)
class VersionRow:
    code: str
    version: int
    name: str
    valid_from: str
    created_at: datetime
    created_by: str
    areas: int
    indicators: int
    in_force: bool  # the version scheme_for_period picks for this month, for its code


@dataclass(frozen=True)
class Indicator:
    code: str
    name: str
    weight: Decimal
    max_score: Decimal
    method: str
    description: str | None


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    weight: Decimal
    categories: tuple[str, ...]
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class VersionDetail:
    row: VersionRow
    own_weight: Decimal
    rater_weights: dict
    full_marks_months: int
    political_fail_threshold: Decimal
    areas: tuple[Area, ...]
    source: str


def _in_force(schemes: list[EvaluationScheme], period: str) -> set[int]:
    """Per code, the latest valid_from <= period, then the highest version (as scheme_for_period)."""
    best: dict[str, EvaluationScheme] = {}
    for scheme in schemes:
        if scheme.valid_from <= period:
            held = best.get(scheme.code)
            if held is None or (scheme.valid_from, scheme.version) > (held.valid_from, held.version):
                best[scheme.code] = scheme
    return {scheme.id for scheme in best.values()}


def _row(scheme: EvaluationScheme, in_force: set[int]) -> VersionRow:
    return VersionRow(scheme.code, scheme.version, scheme.name, scheme.valid_from, scheme.created_at,
                      scheme.created_by, len(scheme.areas), sum(len(a.indicators) for a in scheme.areas),
                      scheme.id in in_force)


def list_versions(rt: Runtime, actor: Actor) -> list[VersionRow]:
    """Every version, by code and newest version first. Schemes are few (a version a year or so)."""
    require_reader(actor)
    with rt.db.reading() as session:
        schemes = list(session.scalars(select(EvaluationScheme)
                                       .order_by(EvaluationScheme.code, EvaluationScheme.version.desc())))
        in_force = _in_force(schemes, month_of(rt.clock.now(), rt.settings.timezone))
        return [_row(scheme, in_force) for scheme in schemes]


def version_detail(rt: Runtime, actor: Actor, code: str, version: int) -> VersionDetail:
    require_reader(actor)
    with rt.db.reading() as session:
        scheme = session.scalar(select(EvaluationScheme).where(EvaluationScheme.code == code,
                                                               EvaluationScheme.version == version))
        if scheme is None:
            raise NotFound(f"考核方案 {code} 没有第 {version} 版", f"scheme {code} has no version {version}")
        siblings = list(session.scalars(select(EvaluationScheme).where(EvaluationScheme.code == code)))
        row = _row(scheme, _in_force(siblings, month_of(rt.clock.now(), rt.settings.timezone)))
        areas = tuple(Area(a.code, a.name, a.weight, tuple(json.loads(a.categories)), tuple(
            Indicator(i.code, i.name, i.weight, i.max_score, i.method, i.description) for i in a.indicators))
            for a in scheme.areas)
        return VersionDetail(row, scheme.own_weight, json.loads(scheme.rater_weights or "{}"),
                             scheme.full_marks_months, scheme.political_fail_threshold, areas, scheme.source)
