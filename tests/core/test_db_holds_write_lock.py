"""``holds_write_lock``: whether a unit of work's SQLite transaction holds the write lock, so a check-then-insert
cannot race; never on PostgreSQL, where writers run side by side."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from xingcheng.core.db import Database, create_db_engine, holds_write_lock

ROWS = Table("row", MetaData(), Column("id", Integer, primary_key=True), Column("value", Integer))


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(create_db_engine(f"sqlite:///{tmp_path / 'lock.db'}"))
    ROWS.metadata.create_all(database.engine)
    yield database
    database.engine.dispose()


def test_a_write_unit_of_work_holds_the_lock(database: Database) -> None:
    with database.session_scope() as session:
        session.execute(select(ROWS.c.value)).all()
        assert holds_write_lock(session)
        session.execute(insert(ROWS).values(value=1))
        assert holds_write_lock(session)


def test_while_it_holds_the_lock_no_other_writer_can_commit(database: Database) -> None:
    with database.session_scope() as session:
        session.execute(select(ROWS.c.value)).all()
        assert holds_write_lock(session)
        with database.engine.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout=0")
            with pytest.raises(OperationalError, match="locked"):
                other.execute(insert(ROWS).values(value=2))
            other.rollback()


def test_a_read_unit_of_work_holds_it_only_once_it_writes(database: Database) -> None:
    with database.session_scope() as session:  # the pooled connection has held the lock before
        session.execute(insert(ROWS).values(value=1))
        assert holds_write_lock(session)
    with database.session_scope(write=False) as session:
        assert session.execute(select(ROWS.c.value)).scalars().all() == [1]
        assert not holds_write_lock(session)
        session.execute(insert(ROWS).values(value=2))  # e.g. a read route's audit entry
        assert holds_write_lock(session)
    with database.session_scope(write=False) as session:  # and a later read starts without it again
        session.execute(select(ROWS.c.value)).all()
        assert not holds_write_lock(session)


def test_a_read_unit_of_work_does_not_block_another_writer(database: Database) -> None:
    """What the answer means: while a read session holds no lock, another unit of work can commit."""
    with database.session_scope(write=False) as reader:
        reader.execute(select(ROWS.c.value)).all()
        assert not holds_write_lock(reader)
        with database.engine.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout=0")
            other.execute(insert(ROWS).values(value=3))
            other.commit()


def test_never_on_postgresql(pg_db: Session) -> None:
    pg_db.execute(text("SELECT 1"))
    assert not holds_write_lock(pg_db)
    pg_db.execute(text("CREATE TEMPORARY TABLE xc_lock_probe (id integer) ON COMMIT DROP"))
    pg_db.execute(text("INSERT INTO xc_lock_probe VALUES (1)"))
    assert not holds_write_lock(pg_db)


def test_never_in_a_postgresql_write_unit_of_work(pg_engine) -> None:  # type: ignore[no-untyped-def]
    database = Database(pg_engine)
    with database.session_scope() as session:
        session.execute(text("SELECT 1"))
        assert not holds_write_lock(session)
