"""The `kaohe` command on a fresh SQLite file (`kaohe.database` is its path)."""
from __future__ import annotations

import pytest

from tests.support.cli import cli_runner


@pytest.fixture
def kaohe(tmp_path):
    run = cli_runner(f"sqlite:///{tmp_path / 'kaohe.db'}")
    run.database = tmp_path / "kaohe.db"
    return run
