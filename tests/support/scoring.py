"""A small scored organisation: DOMAIN.md's worked example (branch B 88, units D1 92 and D2 80)
plus a second branch, with the simple one-indicator scheme and the bundled reward tables."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.models import OrgUnit, ScoreEntry, SchemeIndicator
from engine.runtime import SYSTEM
from engine.services import deploy, schemes
from tests.support.files import DATA

ROOT = DATA.parent.parent
MARCH = {"B": 88, "C": 80, "D1": 92, "D2": 80, "E1": 85, "E2": 70}


@pytest.fixture
def org(rt):
    """Branches B and C, production units D1, D2 (branch B) and E1, E2 (branch C)."""
    deploy.deploy(rt, deploy.read_files([ROOT / "workflows" / "monthly_rewards.dmn",
                                         ROOT / "workflows" / "quarterly_rewards.dmn"]), SYSTEM)
    schemes.import_scheme(rt, (DATA / "schemes" / "simple.scheme.json").read_text(encoding="utf-8"), SYSTEM)
    with rt.db.unit_of_work() as session:
        b = OrgUnit(code="B", name="第一党支部", category="party_branch")
        c = OrgUnit(code="C", name="第二党支部", category="party_branch")
        session.add_all([b, c])
        session.flush()
        session.add_all([OrgUnit(code="D1", name="一队", category="production", branch_id=b.id),
                         OrgUnit(code="D2", name="二队", category="production", branch_id=b.id),
                         OrgUnit(code="E1", name="三队", category="production", branch_id=c.id),
                         OrgUnit(code="E2", name="四队", category="production", branch_id=c.id)])
    return rt


def score(rt, month: str, values: dict[str, float]) -> None:
    with rt.db.unit_of_work() as session:
        indicator = session.scalar(select(SchemeIndicator.id))  # the simple scheme has one indicator
        units = dict(session.execute(select(OrgUnit.code, OrgUnit.id)).all())
        for code, value in values.items():
            session.add(ScoreEntry(period=month, unit_id=units[code], indicator_id=indicator, value=Decimal(str(value)),
                                   entered_by="test", entered_at=rt.clock.now()))


ON_10_APRIL = datetime(2026, 4, 10, 2, 0, tzinfo=UTC)   # last month: March 2026
ON_10_MARCH = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)   # last month: February 2026


@pytest.fixture
def scored(demo_org):
    """The demo organisation with demo scores for February and March 2026, seen on 10 April 2026;
    p01_staff1 has one political finding in March (the results pages' and API's world)."""
    from engine.clock import FixedClock
    from engine.models import Person, PoliticalFinding
    from engine.runtime import Runtime
    from engine.services.demo_scores import load_demo_scores
    rt = Runtime(demo_org.settings, database=demo_org.db, clock=FixedClock(ON_10_MARCH))
    assert load_demo_scores(rt) == "2026-02"
    rt.clock.move_to(ON_10_APRIL)
    assert load_demo_scores(rt) == "2026-03"
    with rt.db.unit_of_work() as session:
        staff = session.scalar(select(Person.id).where(Person.username == "p01_staff1"))
        session.add(PoliticalFinding(period="2026-03", person_id=staff, item_code="absent_from_study",
                                     note="缺席三月集中学习", recorded_by="owner", recorded_at=ON_10_APRIL))
    rt.actor = demo_org.actor
    return rt
