"""Shared fixtures: a real database (SQLite, or PostgreSQL when KAOHE_TEST_DATABASE_URL is set),
emptied before every test, and a Runtime wired to it."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

import engine.models  # noqa: F401  (registers every table on Base.metadata)
from engine.db import Base, Database
from engine.runtime import Runtime
from engine.settings import Settings
from tests.support.people import make_people

# Fixtures shared by several folders: the scored organisation of tests/support/scoring.py.
pytest_plugins = ["tests.support.scoring", "tests.support.probes", "tests.support.staff",
                  "tests.support.rectifications", "tests.support.databases"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return os.environ.get("KAOHE_TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def database(database_url):
    db = Database(database_url)
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


def _empty_all_tables(db: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    return Settings(database_url=database_url, script_time_limit=1.0, workflows_dir=ROOT / "workflows",
                    files_dir=tmp_path / "files")


@pytest.fixture
def rt(database, settings, request) -> Iterator[Runtime]:
    """A runtime on the emptied database. Afterwards the audit chain must still verify, as
    `kaohe audit verify` would check it: every test that changed something leaves a sound trail
    (tests that break the chain on purpose are marked `tampers_audit`)."""
    _empty_all_tables(database)
    yield Runtime(settings, database=database)
    if request.node.get_closest_marker("tampers_audit") is None:
        from engine.services import audit
        with database.reading() as session:
            report = audit.verify(session)
        assert report.ok, f"audit chain broken at event #{report.first_broken_id}: {report.reason}"


@pytest.fixture
def people(rt):
    """A small cast: a process owner, an auditor, two staff in one unit, one in another."""
    return make_people(rt)
