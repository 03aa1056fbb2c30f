"""SQLite write sessions begin IMMEDIATE and read sessions take the write lock before their first write, so
concurrent units of work queue on the lock instead of failing with 'database is locked'."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, update

from xingcheng.core.db import Database, WriterQueue, create_db_engine

COUNTER = Table("counter", MetaData(), Column("id", Integer, primary_key=True), Column("value", Integer))


def _database(tmp_path: Path) -> Database:
    database = Database(create_db_engine(f"sqlite:///{tmp_path / 'lock.db'}"))
    COUNTER.metadata.create_all(database.engine)
    with database.session_scope() as session:
        session.execute(insert(COUNTER).values(id=1, value=0))
    return database


def _run_threads(*targets: object, per_thread: int) -> list[str]:
    errors: list[str] = []

    def guarded(work: object) -> None:
        for _ in range(per_thread):
            try:
                work()  # type: ignore[operator]
            except Exception as exc:  # every failure is the finding
                errors.append(repr(exc))

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_read_modify_write_units_of_work_never_lose_an_update(tmp_path: Path) -> None:
    database = _database(tmp_path)

    def increment() -> None:
        with database.session_scope() as session:
            value = session.execute(select(COUNTER.c.value).where(COUNTER.c.id == 1)).scalar_one()
            session.execute(update(COUNTER).where(COUNTER.c.id == 1).values(value=value + 1))

    errors = _run_threads(*[increment] * 4, per_thread=100)
    assert errors == []
    with database.session_scope(write=False) as session:
        assert session.execute(select(COUNTER.c.value).where(COUNTER.c.id == 1)).scalar_one() == 400
    database.engine.dispose()


def test_read_sessions_that_write_a_log_entry_queue_instead_of_failing(tmp_path: Path) -> None:
    database = _database(tmp_path)

    def read_then_log() -> None:  # e.g. a GET that audits the read
        with database.session_scope(write=False) as session:
            session.execute(select(COUNTER.c.value)).all()
            session.execute(insert(COUNTER).values(value=-1))

    def increment() -> None:
        with database.session_scope() as session:
            value = session.execute(select(COUNTER.c.value).where(COUNTER.c.id == 1)).scalar_one()
            session.execute(update(COUNTER).where(COUNTER.c.id == 1).values(value=value + 1))

    errors = _run_threads(*[read_then_log] * 3, *[increment] * 3, per_thread=60)
    assert errors == []
    with database.session_scope(write=False) as session:
        assert session.execute(select(COUNTER.c.value).where(COUNTER.c.id == 1)).scalar_one() == 180
        assert session.query(COUNTER).filter(COUNTER.c.value == -1).count() == 180
    database.engine.dispose()


def test_a_read_session_never_commits_work_early(tmp_path: Path) -> None:
    """The lock upgrade ends only a transaction that has written nothing: a failure after a write still
    rolls everything back."""
    database = _database(tmp_path)
    try:
        with database.session_scope(write=False) as session:
            session.execute(insert(COUNTER).values(value=7))
            session.execute(insert(COUNTER).values(value=8))
            raise RuntimeError("the route failed")
    except RuntimeError:
        pass
    with database.session_scope(write=False) as session:
        assert session.query(COUNTER).filter(COUNTER.c.value.in_([7, 8])).count() == 0
    database.engine.dispose()


def test_writers_of_one_process_take_turns_in_arrival_order() -> None:
    queue = WriterQueue()
    assert queue.acquire(1.0)
    order: list[int] = []

    def writer(number: int) -> None:
        assert queue.acquire(5.0)
        order.append(number)
        queue.release()  # from another thread than the one that will take the next turn: turns are not threads

    threads = []
    for number in range(5):
        thread = threading.Thread(target=writer, args=(number,))
        thread.start()
        threads.append(thread)
        while len(queue._waiters) < number + 1:  # wait until this one is queued, so arrival order is known
            time.sleep(0.001)
    queue.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3, 4]


def test_a_writer_that_waits_too_long_gives_up_and_the_queue_moves_on() -> None:
    queue = WriterQueue()
    assert queue.acquire(1.0)
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(queue.acquire(0.05)))
    waiter.start()
    waiter.join()
    assert outcome == [False]
    queue.release()
    assert queue.acquire(0.05)  # free again: the one that gave up left no ghost turn behind
    queue.release()


def test_an_event_handler_that_writes_does_not_wait_for_its_publishers_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process handlers run in the publisher's thread after its commit: the publisher's writer turn is
    handed on before publishing, so the handler's own unit of work gets it at once."""
    from xingcheng.core import db as core_db
    from xingcheng.core import outbox
    from xingcheng.core.events import Event, InProcessBus

    monkeypatch.setattr(core_db, "SQLITE_WRITE_WAIT", 0.5)  # a regression fails fast instead of in 10 s
    database = _database(tmp_path)
    handled: list[str] = []

    def count_delivery(_delivery: object) -> None:
        with database.session_scope() as session:
            session.execute(insert(COUNTER).values(value=42))
        handled.append("written")

    with InProcessBus() as bus:
        bus.subscribe("xc/events/test/#", count_delivery)
        outbox.set_bus(bus)
        try:
            with database.session_scope() as session:
                session.execute(update(COUNTER).where(COUNTER.c.id == 1).values(value=1))
                outbox.publish_after_commit(session, "xc/events/test/done", Event(type="xingcheng.test.done",
                                                                                  source="/test"))
        finally:
            outbox.set_bus(None)
    assert handled == ["written"]
    with database.session_scope(write=False) as session:
        assert session.query(COUNTER).filter(COUNTER.c.value == 42).count() == 1
    database.engine.dispose()


def test_a_write_unit_queues_for_the_writer_turn_at_its_first_statement_not_when_opened(tmp_path: Path) -> None:
    # The request session opens on the event loop: opening must never wait; the first statement (in a worker
    # thread) does, and a unit that ends without a statement never held the turn.
    database = _database(tmp_path)
    holder = database.open_session()
    idle = database.open_session()  # opened while nobody holds the turn, never used
    holder.execute(select(COUNTER.c.value))  # takes the turn and SQLite's lock
    opened_at = time.monotonic()
    waiting = database.open_session()  # does not block although the turn is held
    assert time.monotonic() - opened_at < 0.5
    done = threading.Event()

    def write() -> None:
        waiting.execute(update(COUNTER).where(COUNTER.c.id == 1).values(value=7))
        done.set()

    worker = threading.Thread(target=write)
    worker.start()
    assert not done.wait(0.3)  # its first statement waits for the holder's turn
    Database.end_session(holder, commit=True)
    assert done.wait(5)
    worker.join()
    Database.end_session(waiting, commit=True)
    Database.end_session(idle, commit=False)
    explicit = database.open_session()
    database.take_writer_turn(explicit)  # what an async route does in a worker thread before its first statement
    explicit.execute(update(COUNTER).where(COUNTER.c.id == 1).values(value=8))
    Database.end_session(explicit, commit=True)
    with database.session_scope(write=False) as session:
        assert session.execute(select(COUNTER.c.value).where(COUNTER.c.id == 1)).scalar_one() == 8
    database.engine.dispose()
