"""Database plumbing: declarative base, engine with SQLite pragmas, sessions that the edge commits."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from xingcheng.core.settings import get_settings

# Named constraints from the first migration: Alembic batch mode on SQLite needs the names.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass a timezone-aware value")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT (a RELEASE can commit everything);
    # take it over, as SQLAlchemy's SQLite docs recommend, and emit BEGIN ourselves below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# Execution option that makes a SQLite transaction take the write lock when it begins.
SQLITE_IMMEDIATE = "xc_sqlite_immediate"
# What a pooled SQLite connection remembers of its current transaction.
_CHANGES_AT_BEGIN = "xc_changes_at_begin"
_WRITE_LOCKED = "xc_write_locked"


def _sqlite_begin(connection: Any) -> None:
    # An in-memory database shares one DBAPI connection (StaticPool): join its open transaction, and
    # never end it early for a write lock (it is someone else's).
    if connection.connection.dbapi_connection.in_transaction:
        connection.connection.info[_WRITE_LOCKED] = True
        return
    # A deferred transaction that reads and then writes cannot be upgraded once another writer has
    # committed since its first read (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not retry). Units
    # of work that write therefore begin IMMEDIATE: they queue on the write lock (busy_timeout) up
    # front, while WAL readers keep running beside them.
    immediate = bool(connection.get_execution_options().get(SQLITE_IMMEDIATE, False))
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    record = connection.connection
    record.info[_CHANGES_AT_BEGIN] = record.dbapi_connection.total_changes
    record.info[_WRITE_LOCKED] = immediate


def _take_write_lock_before_writing(session: Session) -> None:
    """A read session about to write (an audit entry of a read, a key's last-use stamp) ends its read-only
    SQLite transaction and begins IMMEDIATE, so the write queues on the lock instead of failing with
    SQLITE_BUSY_SNAPSHOT. Only while nothing has been written and no savepoint is open: then that COMMIT
    publishes nothing, and the reads made so far never guarded the write (read routes' writes are logs)."""
    if session.get_transaction() is None or session.in_nested_transaction():
        return
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    record = connection.connection
    dbapi: Any = record.dbapi_connection  # sqlite3.Connection
    if (record.info.get(_WRITE_LOCKED, True) or not dbapi.in_transaction
            or record.info.get(_CHANGES_AT_BEGIN) != dbapi.total_changes):
        return
    _take_turn(session)
    dbapi.execute("COMMIT")
    dbapi.execute("BEGIN IMMEDIATE")
    record.info[_WRITE_LOCKED] = True


_READ_UNIT = "xc_read_unit"


def before_writing(session: Session) -> None:
    """Call before writing with Core on ``session``'s connection (ORM flushes and statements are covered by
    listeners): a SQLite read unit of work takes the write lock first."""
    if session.info.get(_READ_UNIT):
        _take_write_lock_before_writing(session)


def holds_write_lock(session: Session) -> bool:
    """Whether this unit of work's SQLite transaction holds the database's write lock (it began IMMEDIATE):
    no other writer can commit before it ends, so a check-then-insert cannot race and needs no savepoint.
    Always False on PostgreSQL, where writers run side by side."""
    connection = session.connection()
    return connection.dialect.name == "sqlite" and bool(connection.connection.info.get(_WRITE_LOCKED))


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        _take_write_lock_before_writing(session)


def _before_orm_execute(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _take_write_lock_before_writing(state.session)


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for SQLite (file or memory) or PostgreSQL (``postgresql+psycopg://``)."""
    if url.startswith("sqlite"):
        options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if url in ("sqlite://", "sqlite:///:memory:"):
            options["poolclass"] = StaticPool
        options.update(kwargs)
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


# Seconds a SQLite writer waits for its turn (the same as PRAGMA busy_timeout).
SQLITE_WRITE_WAIT = 10.0


class WriterQueue:
    """First come, first served turns at SQLite's single write lock for one process's units of work.

    SQLite's busy handler polls with growing sleeps, so under load a waiting writer can be overtaken again
    and again until busy_timeout fails it (seconds of tail latency, then 'database is locked'). Units of
    work of one process therefore queue here, and the lock is handed to the longest waiter; busy_timeout
    only arbitrates between processes. A turn belongs to a unit of work, not to a thread: FastAPI enters
    and leaves a request's session in different worker threads."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._busy = False
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._busy and not self._waiters:
                self._busy = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait timed out
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # the turn passes on; the queue stays busy
            else:
                self._busy = False


_QUEUE = "xc_writer_queue"
_HOLDS_TURN = "xc_holds_writer_turn"


def _take_turn(session: Session) -> None:
    queue: WriterQueue | None = session.info.get(_QUEUE)
    if queue is None or session.info.get(_HOLDS_TURN):
        return
    started = time.monotonic()
    if not queue.acquire(SQLITE_WRITE_WAIT):
        raise OperationalError("BEGIN IMMEDIATE", None, Exception(
            f"database is locked (waited {time.monotonic() - started:.1f} s for this process's writers)"))
    session.info[_HOLDS_TURN] = True


def _turn_before_begin(session: Session, transaction: Any) -> None:
    # A writer's outermost transaction is created just before its BEGIN IMMEDIATE is sent: queue here, in the
    # thread that runs the first statement, so SQLite's lock is handed out first come, first served.
    if transaction.parent is None:
        _take_turn(session)


def end_writer_turn(session: Session) -> None:
    """Hand this unit of work's SQLite writer turn to the next one (nothing if it holds none). Called when
    its transaction ended; the outbox calls it before publishing after a commit, so an in-process event
    handler that writes in the same thread does not wait for a turn its own publisher still holds."""
    if session.info.pop(_HOLDS_TURN, False):
        session.info[_QUEUE].release()


class Database:
    """One engine and its session factories: ``sessionmaker`` for units of work that write (SQLite:
    BEGIN IMMEDIATE), ``read_sessionmaker`` for ones that only read (deferred BEGIN; on PostgreSQL the
    two are the same)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(
            bind=engine.execution_options(**{SQLITE_IMMEDIATE: True}), expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(bind=engine, expire_on_commit=False,
                                              info={_READ_UNIT: engine.dialect.name == "sqlite"})
        # In-memory SQLite has one shared connection (StaticPool) and no second writer to wait for.
        self.writers = WriterQueue() if engine.dialect.name == "sqlite" and engine.url.database not in (
            None, "", ":memory:") else None
        if engine.dialect.name == "sqlite":
            event.listen(self.read_sessionmaker, "before_flush", _before_flush)
            event.listen(self.read_sessionmaker, "do_orm_execute", _before_orm_execute)
            event.listen(self.sessionmaker, "after_transaction_create", _turn_before_begin)

    def open_session(self, *, write: bool = True) -> Session:
        """A new unit of work; nothing touches the database until its first statement, which (for a SQLite
        writer) first waits for this process's writer turn, so opening never blocks. End it with
        ``end_session``."""
        session = (self.sessionmaker if write else self.read_sessionmaker)()
        if self.writers is not None:
            session.info[_QUEUE] = self.writers
        return session

    @staticmethod
    def take_writer_turn(session: Session) -> None:
        """Wait for this process's SQLite writer turn now (normally taken just before the first statement)."""
        _take_turn(session)

    @staticmethod
    def end_session(session: Session, *, commit: bool) -> None:
        """Commit (or roll back), close, and hand on the writer turn — also when the commit fails."""
        try:
            if commit:
                try:
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
            else:
                session.rollback()
        finally:
            try:
                session.close()
            finally:
                end_writer_turn(session)

    @contextmanager
    def session_scope(self, *, write: bool = True) -> Iterator[Session]:
        """A unit of work for CLI commands, workers and console pages: commit on success, roll back on
        error. ``write=False`` for read-only work, so it does not queue on SQLite's write lock."""
        session = self.open_session(write=write)
        try:
            yield session
        except BaseException:
            self.end_session(session, commit=False)
            raise
        self.end_session(session, commit=True)


@lru_cache(maxsize=1)
def get_database() -> Database:
    settings = get_settings()
    if settings.is_sqlite:
        settings.ensure_data_dir()
    return Database(create_db_engine(settings.resolved_database_url))

