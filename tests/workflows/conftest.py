"""Workflows run against the demo organisation and the bundled workflows/, as `make run` sets them up."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.models import Person
from engine.runtime import SYSTEM
from engine.services import deploy, schemes
from engine.services.demo import load_demo
from engine.services.people import actor_for


@pytest.fixture
def demo(rt):
    """The runtime with workflows deployed, the default scheme imported and the demo organisation
    loaded, as `kaohe init` and `kaohe demo` leave them; `demo.actor(name)`."""
    deploy.deploy(rt, deploy.read_files([rt.settings.workflows_dir]), SYSTEM)
    schemes.import_scheme(rt, (rt.settings.workflows_dir / "schemes" / "default.scheme.json")
                          .read_text(encoding="utf-8"), SYSTEM)
    load_demo(rt)

    def actor(username: str):
        with rt.db.reading() as session:
            return actor_for(session.scalar(select(Person).where(Person.username == username)))
    rt.actor = actor
    return rt
