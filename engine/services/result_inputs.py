"""The "inputs changed" generations of the stored results (engine/services/result_store.py).

Every service that writes something results depend on calls, inside its transaction,
`inputs_changed(session, month)` (scores, likes and error notices, person ratings, political
findings of that month) or `all_periods_changed(session)` (schemes, reward tables, the
organisation). The call only notes the scope; the generations are bumped just before that
transaction commits, so they are always the last rows it locks (after the instance row and the
audit head): two writers then never wait for each other's locks in opposite orders on PostgreSQL,
and many writes in one transaction cost one bump per scope. A rolled-back transaction bumps nothing.

This module imports nothing of the services, so every writer can import it (results.py itself
imports deploy, which must bump when a reward table is deployed)."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.models import ResultInputGeneration
from engine.periods import months_of

EVERY_PERIOD = "*"
_PENDING = "kaohe_result_inputs_changed"   # session.info key: the scopes to bump at commit
_GENERATION = ResultInputGeneration.__table__


def inputs_changed(session: Session, period: str) -> None:
    """Something results read for this month ("2026-03"; a quarter means its months) changed."""
    session.info.setdefault(_PENDING, set()).update(months_of(period))


def all_periods_changed(session: Session) -> None:
    """A scheme, a reward table or the organisation changed: every period's results may differ."""
    session.info.setdefault(_PENDING, set()).add(EVERY_PERIOD)


@event.listens_for(Session, "before_commit")
def _bump_generations(session: Session) -> None:
    scopes = session.info.pop(_PENDING, None)
    if not scopes:
        return
    session.flush()  # the writes themselves first, then the generations (see the module docstring)
    dialect = session.get_bind().dialect.name
    upsert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[dialect](_GENERATION)
    upsert = upsert.on_conflict_do_update(index_elements=[_GENERATION.c.scope],
                                          set_={"generation": _GENERATION.c.generation + 1})
    connection = session.connection()
    for scope in sorted(scopes):  # one order for every writer: two of them never deadlock on these rows
        connection.execute(upsert.values(scope=scope, generation=1))


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
