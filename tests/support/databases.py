"""Extra, empty databases for tests that need more than the shared one (a restore target, a migrated
source): SQLite files under tmp_path, or PostgreSQL databases `<test db>_<suffix>` created beside
KAOHE_TEST_DATABASE_URL's database and dropped afterwards."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from engine.clock import as_utc
from engine.services.backup import ordered_tables, primary_key_order


def _admin(url: str):
    """An AUTOCOMMIT connection to the server's `postgres` database: CREATE/DROP DATABASE need one."""
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)


@pytest.fixture
def new_database(tmp_path: Path):
    """new_database(suffix) -> the URL of a new, empty database of the suite's dialect."""
    base, created = os.environ.get("KAOHE_TEST_DATABASE_URL"), []

    def make(suffix: str, *, sqlite: bool = False) -> str:
        if base is None or sqlite:
            return f"sqlite:///{tmp_path / f'{suffix}.db'}"
        url = make_url(base)
        name = f"{url.database}_{suffix}"
        with _admin(base).connect() as admin:
            admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return url.set(database=name).render_as_string(hide_password=False)

    yield make
    if created:
        with _admin(base).connect() as admin:
            for name in created:
                admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _plain(value):
    """Compare across dialects: SQLite hands back naive UTC datetimes, PostgreSQL aware ones."""
    return as_utc(value) if hasattr(value, "tzinfo") and hasattr(value, "hour") else value


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every table's rows in primary-key order, as a test compares two databases."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return {t.name: [tuple(_plain(v) for v in row)
                             for row in connection.execute(select(t).order_by(*primary_key_order(t)))]
                    for t in ordered_tables(connection)}
    finally:
        engine.dispose()


def table_names(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return inspect(connection).get_table_names()
    finally:
        engine.dispose()


def scalar(url: str, sql: str):
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.scalar(text(sql))
    finally:
        engine.dispose()

