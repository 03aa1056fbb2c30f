"""Append-only rows (audit entries, timeline lines, notifications) written in one ``executemany`` per table.

The ORM's unit of work costs 0.2–0.3 ms per row on the 2-core box (state tracking, dependency sort,
one INSERT per row on SQLite, which cannot batch ``INSERT … RETURNING`` without a sentinel column) —
a third of an online application's server time went to flushing rows nobody reads back as objects.
``append_row`` queues such a row in the caller's unit of work instead; the queue is written, per
table in one ``executemany``, just before the session's next flush, its next ORM query (so a read in
the same unit of work sees the row, as autoflush would show a pending object) or its commit.

Same transaction, same guarantees as ``session.add``: a rollback discards queued rows; rolling back a
savepoint discards only the rows queued inside it (written ones are undone by the database itself).
A queued row must not be the parent of another pending row — it has no id until written.
``TransactionQueue`` is the transaction-bound queue itself; ``core.outbox`` keeps its events in one too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, Table, insert
from sqlalchemy import event as sa_event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction

from xingcheng.core.db import before_writing

T = TypeVar("T")

class TransactionQueue(Generic[T]):
    """Items that belong to a session's open transaction (rows to write, events to publish after commit).

    Each item remembers the innermost transaction it was queued in: a rollback drops them all, rolling back a
    savepoint drops only the items queued inside it. The owner takes them when their moment comes."""

    def __init__(self, name: str) -> None:
        self._key = f"xc_queue_{name}"
        _queues.append(self)

    def put(self, session: Session, item: T) -> None:
        if not session.in_transaction():
            session.begin()  # so that a rollback before any SQL still discards the item
        queued_in = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(self._key, []).append((item, queued_in))

    def items(self, session: Session) -> list[T]:
        return [item for item, _queued_in in session.info.get(self._key, ())]

    def take(self, session: Session) -> list[T]:
        return [item for item, _queued_in in session.info.pop(self._key, ())]

    def _drop_rolled_back(self, session: Session, previous: SessionTransaction) -> None:
        if not previous.nested:
            session.info.pop(self._key, None)
            return
        queued = session.info.get(self._key)
        if queued:
            session.info[self._key] = [entry for entry in queued if not _belongs_to(entry[1], previous)]


_queues: list[TransactionQueue[Any]] = []
_ROWS: TransactionQueue[tuple[Table, Mapping[str, Any], Callable[[int], None] | None]] = TransactionQueue("rows")


def append_row(session: Session, table: Table, values: Mapping[str, Any], *,
               with_id: Callable[[int], None] | None = None) -> None:
    """Queue ``values`` for ``table`` in the caller's unit of work (see the module docstring).

    ``with_id`` is called with the row's primary key once it is written (such a row is inserted on its own,
    not in the batch): for an event that names the row, built after the commit."""
    _ROWS.put(session, (table, values, with_id))


def queued_rows(session: Session) -> int:
    """How many rows wait to be written (for tests and diagnostics)."""
    return len(_ROWS.items(session))


def write_queued(session: Session) -> None:
    """Write what is queued now, one ``executemany`` per table, in the order tables were first used."""
    queued = _ROWS.take(session)
    if not queued:
        return
    by_table: dict[Table, list[Mapping[str, Any]]] = {}
    one_by_one: list[tuple[Table, Mapping[str, Any], Callable[[int], None]]] = []
    for table, values, with_id in queued:
        if with_id is None:
            by_table.setdefault(table, []).append(values)
        else:
            one_by_one.append((table, values, with_id))
    before_writing(session)  # a read unit of work (a GET that audits) takes the write lock first, as for a flush
    connection = session.connection()
    for table, rows in by_table.items():
        connection.execute(insert(table), list(rows))
    for table, values, with_id in one_by_one:
        key = connection.execute(insert(table), values).inserted_primary_key
        if key is None or key[0] is None:
            raise RuntimeError(f"the database did not return the id of the new {table.name} row")
        with_id(int(key[0]))


@sa_event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    write_queued(session)


def _reads_only_other_tables(state: ORMExecuteState, queued: list[tuple[Table, Any, Any]]) -> bool:
    """A plain SELECT from tables none of the queued rows go to (a join, subquery, text or eager-loading
    options, whose joins only appear when compiled: assume it may see them)."""
    if not state.is_select or not isinstance(state.statement, Select) or state.statement._with_options:
        return False
    tables = {entry[0] for entry in queued}
    return all(isinstance(source, Table) and source not in tables for source in state.statement.get_final_froms())


@sa_event.listens_for(Session, "do_orm_execute")
def _before_query(state: ORMExecuteState) -> None:
    queued = _ROWS.items(state.session)
    # Like autoflush, but a query that cannot see the queued rows leaves them queued: a request's audit
    # entries then go in one statement instead of one per read in between.
    if queued and not _reads_only_other_tables(state, queued):
        write_queued(state.session)


@sa_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_queued(session)


def _belongs_to(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether ``transaction`` is ``ended`` or nested inside it (what a savepoint's rollback undoes)."""
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    # "soft" fires on every rollback() call, also when no database transaction had begun.
    for queue in _queues:
        queue._drop_rolled_back(session, previous)
