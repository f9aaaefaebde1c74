"""The deployed decision tables kaohe itself evaluates (reward rules), loaded by decision id."""
from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from engine.scoring import RewardTable
from engine.services.deploy import latest_decision

MONTHLY_REWARDS = "monthly_rewards"
QUARTERLY_REWARDS = "quarterly_rewards"
_TABLES: dict[str, RewardTable] = {}  # by file digest: a deployed version never changes
_LOCK = threading.Lock()


def decision_table(session: Session, decision_id: str) -> RewardTable:
    """The latest deployed version: a process owner changes a rule by deploying an edited table."""
    row = latest_decision(session, decision_id)
    key = f"{decision_id}:{row.sha256}"
    table = _TABLES.get(key)
    if table is None:
        table = RewardTable.from_xml(row.file.content, decision_id)
        with _LOCK:
            _TABLES[key] = table
    return table


def reward_tables(session: Session) -> tuple[RewardTable, RewardTable]:
    return decision_table(session, MONTHLY_REWARDS), decision_table(session, QUARTERLY_REWARDS)
