"""The kaohe command as an operator uses it: a fresh database, deploys, demo data, audit checks."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from engine.db import Base
from engine.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SUBCOMMANDS = ["init", "demo", "serve", "deploy", "run-due", "audit", "audit verify", "create-user", "schedule",
               "schedule list", "scheme", "scheme import", "results", "scheduler", "check", "backup", "restore",
               "instances", "instances migrate", "launches"]


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_every_subcommand_has_help(kaohe, subcommand):
    result = kaohe(*subcommand.split(), "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout and result.stderr == ""


def test_init_then_deploy_then_verify(kaohe):
    init = kaohe("init")
    assert init.returncode == 0, init.stderr
    assert "task_book: v1" in init.stdout and "决策表 decision monthly_rewards: v1" in init.stdout
    assert "scheme party_admin_fusion: v1" in init.stdout
    assert "task_book: v1 未变化" in kaohe("init").stdout  # a second init changes nothing

    first = kaohe("deploy", str(DATA / "review.bpmn"), str(DATA / "self_assess.json"))
    assert first.returncode == 0 and "review: v1 新版本" in first.stdout
    again = kaohe("deploy", str(DATA / "review.bpmn"), str(DATA / "self_assess.json"))
    assert "review: v1 未变化" in again.stdout

    verify = kaohe("audit", "verify")
    deployed_by_init = sum(1 for line in init.stdout.splitlines() if "新版本" in line)  # processes, tables, scheme
    assert verify.returncode == 0 and f"{deployed_by_init + 1} 条事件" in verify.stdout  # ... and review


def test_a_bad_deploy_exits_non_zero_with_file_element_and_reason(kaohe, tmp_path):
    assert kaohe("init").returncode == 0
    bad = tmp_path / "review.bpmn"
    bad.write_text((DATA / "review.bpmn").read_text(encoding="utf-8").replace(
        "total = round_half_up(self_score * weight, 1)", "__import__('os').system('id')"), encoding="utf-8")
    result = kaohe("deploy", str(bad), str(DATA / "self_assess.json"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "review.bpmn" in result.stderr and "#score" in result.stderr and "部署被拒绝" in result.stderr
    english = kaohe("deploy", str(bad), str(DATA / "self_assess.json"), language="en")
    assert "deployment refused" in english.stderr
    with sqlite3.connect(kaohe.database) as db:
        assert db.execute("select count(*) from process_version where process_id='review'").fetchone() == (0,)


def test_demo_is_idempotent_and_prints_logins(kaohe):
    assert kaohe("init").returncode == 0
    first, second = kaohe("demo"), kaohe("demo")
    assert first.returncode == 0 and "owner" in first.stdout and "kaohe-demo-2026" in first.stdout
    once = [line for line in first.stdout.splitlines() if "demo case started" in line or "demo scores" in line]
    assert len(once) == 2  # a demo case and a month of demo scores, the first time only
    assert [line for line in first.stdout.splitlines() if line not in once] == second.stdout.splitlines()
    with sqlite3.connect(kaohe.database) as db:
        units = dict(db.execute("select category, count(*) from org_unit group by category").fetchall())
        people = db.execute("select count(*) from person").fetchone()[0]
    assert (units["production"], units["non_production"], units["party_branch"]) == (13, 20, 10)
    assert people > 200
    with sqlite3.connect(kaohe.database) as db:
        assert db.execute("select count(*) from process_instance").fetchone() == (1,)


def test_audit_verify_names_the_broken_link(kaohe):
    assert kaohe("init").returncode == 0
    kaohe("deploy", str(DATA / "review.bpmn"), str(DATA / "self_assess.json"))
    with sqlite3.connect(kaohe.database) as db:
        db.execute("update audit_event set actor='mallory' where id=2")
    result = kaohe("audit", "verify")
    assert result.returncode == 1 and "#2" in result.stderr


def test_migrations_build_exactly_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
