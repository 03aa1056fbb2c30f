"""core.appended: append-only rows wait in the unit of work and go to the database in one executemany per table —
before a flush, before a query that could see them, at commit — and are dropped with the transaction (or the
savepoint) they were queued in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, event, func, select, text
from sqlalchemy.orm import Session

from xingcheng.core.appended import append_row, queued_rows
from xingcheng.core.db import create_db_engine

metadata = MetaData()
journal = Table("journal", metadata, Column("id", Integer, primary_key=True), Column("note", String(40)))
other = Table("other", metadata, Column("id", Integer, primary_key=True), Column("note", String(40)))


@pytest.fixture
def engine(tmp_path: Any) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'appended.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def inserts(engine: Engine) -> Iterator[list[tuple[str, bool]]]:
    """Each INSERT the driver is asked to run: (statement, executemany)."""
    seen: list[tuple[str, bool]] = []

    def watch(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        if statement.startswith("INSERT"):
            seen.append((statement.split()[2], executemany))

    event.listen(engine, "before_cursor_execute", watch)
    yield seen
    event.remove(engine, "before_cursor_execute", watch)


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(journal)) or 0)


def test_rows_wait_for_the_commit_and_go_in_one_executemany(engine: Engine, inserts: list[tuple[str, bool]]) -> None:
    with Session(engine) as session:
        for n in range(3):
            append_row(session, journal, {"note": f"entry {n}"})
        append_row(session, other, {"note": "elsewhere"})
        assert queued_rows(session) == 4 and inserts == []
        session.commit()
    assert inserts == [("journal", True), ("other", False)]
    assert count(engine) == 3


def test_a_query_that_could_see_them_writes_them_first(engine: Engine) -> None:
    with Session(engine) as session:
        append_row(session, journal, {"note": "visible"})
        session.execute(select(other.c.id))  # another table: they stay queued
        assert queued_rows(session) == 1
        assert session.scalars(select(journal.c.note)).all() == ["visible"]  # like autoflush
        assert queued_rows(session) == 0
        append_row(session, journal, {"note": "raw"})
        session.execute(text("SELECT 1"))  # cannot tell what a text statement reads: written
        assert queued_rows(session) == 0
        session.commit()
    assert count(engine) == 2


def test_rollback_discards_them(engine: Engine) -> None:
    with Session(engine) as session:
        append_row(session, journal, {"note": "never"})
        session.rollback()
        assert queued_rows(session) == 0
        session.commit()
    assert count(engine) == 0


def test_a_savepoint_rollback_drops_only_its_own_rows(engine: Engine) -> None:
    with Session(engine) as session:
        append_row(session, journal, {"note": "outer"})
        savepoint = session.begin_nested()
        append_row(session, journal, {"note": "inner"})
        savepoint.rollback()
        with session.begin_nested():
            append_row(session, journal, {"note": "kept"})
        session.commit()
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(journal.c.note))) == ["kept", "outer"]


def test_an_orm_flush_writes_them_with_it(engine: Engine) -> None:
    from xingcheng.core.db import Base
    from xingcheng.core.notifications.models import Notification

    Base.metadata.create_all(engine, tables=[Base.metadata.tables["notification"]])
    with Session(engine) as session:
        append_row(session, journal, {"note": "with the flush"})
        session.add(Notification(recipient_kind="account", recipient_key="1", title="t", body="b", source="test"))
        session.flush()
        assert queued_rows(session) == 0
        session.rollback()
    assert count(engine) == 0


def test_a_read_unit_of_work_takes_the_write_lock_before_writing_its_rows(engine: Engine) -> None:
    # A GET that audits: its deferred read transaction must not write on a stale snapshot (SQLITE_BUSY_SNAPSHOT
    # once another writer committed since its first read); it queues for the write lock like a flush would.
    from xingcheng.core.db import Database

    database = Database(engine)
    reader = database.open_session(write=False)
    try:
        assert reader.scalars(select(journal.c.note)).all() == []  # the read snapshot starts here
        with database.session_scope() as writer:
            writer.execute(journal.insert().values(note="committed meanwhile"))
        append_row(reader, journal, {"note": "read audited"})
        reader.commit()
    finally:
        database.end_session(reader, commit=False)
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(journal.c.note))) == ["committed meanwhile", "read audited"]


def test_a_query_with_loader_options_writes_them_first(engine: Engine) -> None:
    # Eager loads join their tables only when compiled: such a query might see the queued rows.
    from sqlalchemy.orm import defer

    from xingcheng.core.db import Base
    from xingcheng.core.notifications.models import Notification

    Base.metadata.create_all(engine, tables=[Base.metadata.tables["notification"]])
    with Session(engine) as session:
        append_row(session, journal, {"note": "queued"})
        session.scalars(select(Notification)).all()
        assert queued_rows(session) == 1
        session.scalars(select(Notification).options(defer(Notification.body))).all()
        assert queued_rows(session) == 0
        session.rollback()
