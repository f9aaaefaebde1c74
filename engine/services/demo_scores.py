"""A month of demo scores, so a fresh `make run` has results to show (deterministic, loaded once)."""
from __future__ import annotations

import hashlib
from decimal import Decimal

from sqlalchemy import exists, insert, select

from engine.errors import NotFound
from engine.models import OrgUnit, Person, PersonRating, ScoreAdjustment, ScoreEntry
from engine.periods import last_month
from engine.runtime import Runtime
from engine.services.result_inputs import inputs_changed
from engine.services.schemes import scheme_for_period
from engine.services.unit_scores import areas_by_category


def _fraction(*parts: str) -> Decimal:
    """A stable pseudo-random number in [0, 1) from the parts: the same demo every time."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return Decimal(int.from_bytes(digest[:4], "big")) / Decimal(2**32)


def load_demo_scores(rt: Runtime) -> str | None:
    """Scores, a few likes and error notices, and ratings for last month; None if already there."""
    period = last_month(rt.clock.now(), rt.settings.timezone)
    now = rt.clock.now()
    with rt.db.unit_of_work() as session:
        if session.scalar(select(exists().where(ScoreEntry.period == period))):
            return None
        try:
            scheme = scheme_for_period(session, period)
        except NotFound:  # no scheme imported (kaohe init imports the default one): nothing to score
            return None
        by_category = areas_by_category(scheme)
        units = session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.category)).all()
        entries = []
        for unit_id, code, category in units:
            for area in by_category.get(category, []):
                for indicator in area.indicators:
                    share = Decimal("0.6") + Decimal("0.4") * _fraction(period, code, indicator.code)
                    value = indicator.max_score * share
                    if indicator.method == "deduction":
                        value = indicator.max_score - value
                    elif indicator.method == "pass_fail":
                        value = indicator.max_score if share > Decimal("0.7") else Decimal(0)
                    entries.append({"period": period, "unit_id": unit_id, "indicator_id": indicator.id,
                                    "value": value.quantize(Decimal("0.1")), "entered_by": "demo",
                                    "entered_at": now})
        session.execute(insert(ScoreEntry), entries)
        adjustments = [{"period": period, "unit_id": unit_id, "kind": kind, "points": points, "reason": reason,
                        "created_by": "demo", "created_at": now}
                       for n, (unit_id, _code, _category) in enumerate(units[::7])
                       for kind, points, reason in [("like", Decimal(2), "抢险保供表现突出") if n % 2 else
                                                    ("error", Decimal(-1), "月报迟报一天")]]
        session.execute(insert(ScoreAdjustment), adjustments)
        people = session.execute(select(Person.id, Person.username, Person.unit_id, Person.position)).all()
        heads = {unit_id: person_id for person_id, _u, unit_id, position in people if position == "head"}
        ratings = [{"period": period, "person_id": person_id, "rater_id": heads[unit_id], "rater_role": "direct_head",
                    "score": (Decimal(70) + Decimal(30) * _fraction(period, username)).quantize(Decimal("0.1")),
                    "created_at": now}
                   for person_id, username, unit_id, position in people
                   if position != "head" and heads.get(unit_id)]
        session.execute(insert(PersonRating), ratings)
        inputs_changed(session, period)
    return period
