"""The demo organisation with one achievement declaration for p01_staff1 (staff page and browser tests)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.models import Person
from engine.runtime import SYSTEM
from engine.services import deploy, instances
from engine.services.demo import load_demo
from engine.services.people import actor_for

DECLARATION_DATA = {"period": "2026-12", "username": "p01_staff1", "person_name": "采油一队员工",
                    "unit_code": "P01", "unit_name": "采油一队", "branch_code": "B01", "position": "staff"}


@pytest.fixture
def declared(rt):
    """Workflows deployed, the demo organisation loaded, and p01_staff1's declaration for 2026-12
    started by the owner; `rt.actor(name)` and `rt.instance_id`."""
    deploy.deploy(rt, deploy.read_files([rt.settings.workflows_dir]), SYSTEM)
    load_demo(rt)

    def actor(username: str):
        with rt.db.reading() as session:
            return actor_for(session.scalar(select(Person).where(Person.username == username)))
    rt.actor = actor
    rt.instance_id = instances.start(rt, "achievement_declaration", actor("owner"), data=dict(DECLARATION_DATA),
                                     title="2026年12月 工作实绩申报")
    return rt
