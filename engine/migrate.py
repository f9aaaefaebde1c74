"""Run Alembic migrations from code, so `kaohe init` needs no alembic.ini in the working directory."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from engine.settings import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    if database_url.startswith("sqlite:///"):
        (PROJECT_ROOT / "instance").mkdir(exist_ok=True)
    command.upgrade(alembic_config(database_url), revision)
