"""Database plumbing: the declarative base, engine set-up per dialect, and the unit of work."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from sqlalchemy import DateTime, MetaData, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

from engine.clock import as_utc
from engine.errors import Conflict

# Stable constraint names so Alembic migrations name things the same way on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """Stores UTC; always returns aware UTC datetimes (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else as_utc(value)


# A database that cannot be reached must not hold a request (or a scheduler job) for long.
CONNECT_TIMEOUT_SECONDS = 3


def is_unavailable(error: BaseException) -> bool:
    """Could the database not be reached (down, restarting, connection lost, pool exhausted)?
    Such work did not happen and can be tried again later, unlike a failed constraint or a bug."""
    if isinstance(error, (OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime}


def _configure_sqlite(engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event decide how transactions start (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # A writing unit of work takes SQLite's write lock up front, so two writers queue
        # instead of both reading a snapshot and one failing at its first write.
        immediate = connection.get_execution_options().get("kaohe_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def translate_stale() -> Iterator[None]:
    """Another writer saved the same row first: tell the caller plainly instead of overwriting."""
    try:
        yield
    except StaleDataError as exc:
        raise Conflict("数据已被他人修改，请刷新后重试", "someone else changed this first; reload and try again") from exc


class Database:
    """One per process: the SQLAlchemy engine and the ways to open sessions on it."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        kwargs: dict = {"echo": echo}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            # pre-ping drops connections the server closed (a restart, an outage) before a request
            # uses one, so the same process serves again as soon as the database is back; the short
            # connect timeout makes a request answer "unavailable" within seconds instead of hanging.
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=10)
            if "connect_timeout" not in make_url(url).query:
                kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        self.engine = create_engine(url, **kwargs)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._writer = sessionmaker(self.engine.execution_options(kaohe_write=True), expire_on_commit=False)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        # Called with each committed write session, e.g. to reschedule timer wake-ups it changed.
        self.after_commit_hooks: list = []
        event.listen(self._writer, "after_commit", self._run_after_commit_hooks)

    def _run_after_commit_hooks(self, session: Session) -> None:
        for hook in list(self.after_commit_hooks):
            hook(session)

    @property
    def supports_row_locks(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One write transaction: commits when the block ends, rolls back on any exception."""
        session = self._writer()
        try:
            with translate_stale():
                yield session
                session.commit()
            # Work that must follow the commit, outside the transaction (e.g. a launch's chunks).
            follow_ups = session.info.pop("after_commit", [])
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        for work in follow_ups:
            work()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session; nothing it does is committed."""
        session = self._reader()
        try:
            yield session
        finally:
            # close() ends the transaction without expiring loaded objects, so callers can read them.
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
