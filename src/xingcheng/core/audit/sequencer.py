"""The one sequencer: gives committed entries their leaf index, stores subtree hashes, signs a tree head.

As in a CT log, recording and sequencing are separate. ``record`` inserts an entry without a
leaf index in the caller's transaction; after commit the sequencer takes the committed,
unsequenced entries in id order, appends them to the tree (the next leaf index each, at
sequencing time) and signs one tree head per batch, all in one transaction.

Why not "index = id": ids are handed out at insert, but transactions commit in any order. An
entry with a lower id whose transaction commits later is simply sequenced later and gets a
later leaf index. Its leaf hash covers that index, so leaves are never renumbered and a
sequenced prefix never changes. Rolled-back entries never reach the sequencer, so there are
no gaps in leaf indexes (ids may have gaps; they do not matter).

One sequencer at a time, across processes: PostgreSQL takes a transaction-scoped advisory
lock keyed by schema; SQLite takes an ``flock`` on a file next to the database (in the data
directory by default — next to the file, so two processes pointed at the same database always
meet on the same lock) and then SQLite's own write lock (as ``BEGIN IMMEDIATE`` would) before
reading the tree. Unique constraints on ``leaf_index`` and ``tree_size`` back both up. Recording never
waits for this lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from sqlalchemy import Connection, Engine, Table, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from xingcheng.core.audit.config import AuditSettings
from xingcheng.core.audit.merkle import CompactTree, hasher
from xingcheng.core.audit.models import AuditEntry, AuditNode, AuditTreeHead, leaf_bytes_of
from xingcheng.core.audit.service import audit_settings, default_signer, subtree_hashes
from xingcheng.core.audit.signing import STH_VERSION, Signer, tree_head_bytes
from xingcheng.core.db import SQLITE_WRITE_WAIT, Database, get_database

log = logging.getLogger("xingcheng.audit")

Target = Database | Engine | sessionmaker[Session]
_entry = cast(Table, AuditEntry.__table__)
_node = cast(Table, AuditNode.__table__)
_head = cast(Table, AuditTreeHead.__table__)
_memory_locks: dict[int, threading.Lock] = {}
_memory_locks_guard = threading.Lock()
_warned_algorithm: set[str] = set()


def engine_of(target: Target) -> Engine:
    """The engine behind a ``Database``, an ``Engine`` or a ``sessionmaker`` bound to one."""
    if isinstance(target, Database):
        return target.engine
    if isinstance(target, Engine):
        return target
    bind = target.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("the session factory is not bound to an engine")
    return bind


def _advisory_key(conn: Connection) -> int:
    # Keyed by schema: sequencers of different logs in one database must not block each other.
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    digest = hashlib.blake2b(f"xingcheng.audit.sequencer:{schema}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _postgresql_turn(engine: Engine, *, wait: bool) -> Iterator[Connection | None]:
    with engine.connect() as conn, conn.begin():
        key = _advisory_key(conn)
        if wait:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        elif not conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar_one():
            yield None  # another sequencer is at work; it will take our entries too
            return
        yield conn  # the lock is released when this transaction ends


@contextmanager
def _sqlite_turn(engine: Engine, *, wait: bool) -> Iterator[Connection | None]:
    database = engine.url.database
    if not database or database == ":memory:":
        # One process can see an in-memory database: a thread lock is enough.
        with _memory_locks_guard:
            lock = _memory_locks.setdefault(id(engine), threading.Lock())
        if not lock.acquire(blocking=wait):
            yield None
            return
        try:
            with _sqlite_write_transaction(engine) as conn:
                yield conn
        finally:
            lock.release()
        return
    lock_path = Path(database).resolve().with_name(Path(database).name + ".audit-sequencer.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        with _sqlite_write_transaction(engine) as conn:
            yield conn
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def begin_sqlite(conn: Connection) -> None:
    """Open a real SQLite transaction, whether or not the engine emits BEGIN itself.

    With SQLAlchemy's recommended recipe (``isolation_level = None`` and a "begin" hook) BEGIN
    is already sent; with pysqlite's legacy handling nothing is sent until the first write.
    """
    conn.begin()
    raw = conn.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        conn.exec_driver_sql("BEGIN")


@contextmanager
def _sqlite_write_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        begin_sqlite(conn)
        # Take the write lock before reading the tree, so what we read cannot change under us: the first
        # statement of the transaction is a write (matching no row), which is what BEGIN IMMEDIATE does.
        conn.exec_driver_sql("UPDATE audit_tree_head SET tree_size = tree_size WHERE id = -1")
        yield conn
        conn.commit()


@contextmanager
def sequencer_turn(engine: Engine, *, wait: bool = False) -> Iterator[Connection | None]:
    """A transaction holding the log's sequencer lock, or None when another sequencer holds it."""
    if engine.dialect.name == "postgresql":
        with _postgresql_turn(engine, wait=wait) as conn:
            yield conn
    elif engine.dialect.name == "sqlite":
        with _sqlite_turn(engine, wait=wait) as conn:
            yield conn
    else:
        raise NotImplementedError(f"no sequencer lock for {engine.dialect.name}")


def _driver_sql(conn: Connection, statement: str) -> str:
    """``statement`` (written with ``?``) in the driver's parameter style: qmark (sqlite3) or format (psycopg)."""
    style = conn.dialect.paramstyle
    if style == "qmark":
        return statement
    if style in ("format", "pyformat"):
        return statement.replace("?", "%s")
    raise NotImplementedError(f"parameter style {style} is not supported")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _sign_head(conn: Connection, signer: Signer, *, algorithm: str, tree_size: int, previous_size: int,
               timestamp_ms: int, root_hash: bytes) -> None:
    signed = tree_head_bytes(version=STH_VERSION, algorithm=algorithm, tree_size=tree_size,
                             previous_size=previous_size, timestamp_ms=timestamp_ms, root_hash=root_hash)
    conn.execute(insert(_head).values(
        tree_size=tree_size, previous_size=previous_size, root_hash=root_hash, algorithm=algorithm,
        timestamp_ms=timestamp_ms, key_id=signer.key_id, signature=signer.sign(signed), version=STH_VERSION,
    ))


def sequence_batch(conn: Connection, *, signer: Signer, settings: AuditSettings) -> int:
    """Sequence up to ``batch_size`` committed entries inside ``conn``'s locked transaction."""
    head = conn.execute(select(_head).order_by(_head.c.tree_size.desc()).limit(1)).first()
    if head is None:
        # A new log: the empty tree's head fixes the algorithm and starts the chain of heads.
        algorithm, size, last_ms = settings.hash_algorithm, 0, _now_ms()
        _sign_head(conn, signer, algorithm=algorithm, tree_size=0, previous_size=0, timestamp_ms=last_ms,
                   root_hash=hasher(algorithm).empty_root())
    else:
        algorithm, size, last_ms = head.algorithm, int(head.tree_size), int(head.timestamp_ms)
        if algorithm != settings.hash_algorithm and algorithm not in _warned_algorithm:
            _warned_algorithm.add(algorithm)
            log.warning("the audit log was created with %s; XC_AUDIT__HASH_ALGORITHM=%s is ignored",
                        algorithm, settings.hash_algorithm)
    pending = conn.execute(
        select(_entry).where(_entry.c.leaf_index.is_(None)).order_by(_entry.c.id).limit(settings.batch_size)
    ).all()
    if not pending:
        return 0
    hash_ = hasher(algorithm)
    peak_ids = CompactTree.peak_ids(size)
    stored = subtree_hashes(conn, peak_ids)
    tree = CompactTree(hash_, size=size, peaks=[stored[node] for node in peak_ids])
    updates: list[tuple[int, bytes, int]] = []
    nodes: list[tuple[int, int, bytes]] = []
    for row in pending:
        index = tree.size
        leaf_hash = hash_.leaf(leaf_bytes_of(row, index))
        updates.append((index, leaf_hash, row.id))
        nodes.extend(tree.append(leaf_hash))
    # Driver-level executemany: the per-row parameter processing of Core would double the batch time.
    result = conn.exec_driver_sql(
        _driver_sql(conn, "UPDATE audit_entry SET leaf_index = ?, leaf_hash = ? WHERE id = ? AND leaf_index IS NULL"),
        updates,
    )
    if conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(updates):
        raise RuntimeError("audit entries were sequenced by someone else meanwhile; giving up this batch")
    if nodes:
        conn.exec_driver_sql(
            _driver_sql(conn, "INSERT INTO audit_node (level, position, hash) VALUES (?, ?, ?)"),
            nodes,
        )
    _sign_head(conn, signer, algorithm=algorithm, tree_size=tree.size, previous_size=size,
               timestamp_ms=max(_now_ms(), last_ms), root_hash=tree.root())
    return len(pending)


def sequence_pending(
    target: Target | None = None,
    *,
    signer: Signer | None = None,
    settings: AuditSettings | None = None,
    wait: bool = False,
) -> int:
    """Sequence every committed, unsequenced entry, one signed tree head per batch; returns how many.

    With ``wait=False`` it returns 0 at once when another sequencer holds the lock (that one
    will take these entries); ``wait=True`` queues behind it.
    """
    engine = engine_of(target if target is not None else get_database())
    settings = settings or audit_settings()
    signer = signer or default_signer(settings)
    total = 0
    while True:
        with sequencer_turn(engine, wait=wait) as conn:
            if conn is None:
                return total
            done = sequence_batch(conn, signer=signer, settings=settings)
        total += done
        if done < settings.batch_size:
            return total


class Sequencer:
    """Runs ``sequence_pending`` every ``merge_delay`` seconds in a background thread."""

    def __init__(
        self,
        target: Target | None = None,
        *,
        settings: AuditSettings | None = None,
        signer: Signer | None = None,
        merge_delay: float | None = None,
    ) -> None:
        self._target = target
        self.settings = settings or audit_settings()
        self._signer = signer
        self.merge_delay = merge_delay if merge_delay is not None else self.settings.merge_delay
        self.sequenced = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def sequence_once(self, *, wait: bool = False) -> int:
        target = self._target if self._target is not None else get_database()
        signer = self._signer or default_signer(self.settings)
        # Queue with this process's other SQLite writers (first come, first served) rather than poll
        # SQLite's busy handler against them, which would stall requests behind the sequencer's retries.
        writers = getattr(target, "writers", None)
        if writers is not None and not writers.acquire(SQLITE_WRITE_WAIT):
            return 0  # the next tick tries again
        try:
            done = sequence_pending(target, signer=signer, settings=self.settings, wait=wait)
        finally:
            if writers is not None:
                writers.release()
        self.sequenced += done
        return done

    def _run(self) -> None:
        while True:
            try:
                self.sequence_once()
            except Exception:  # a bad tick (database restarting…) must not end sequencing
                log.exception("audit sequencing failed; retrying in %.1f s", self.merge_delay)
            if self._stop.wait(self.merge_delay):
                return

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="xingcheng-audit-sequencer", daemon=True)
        self._thread.start()

    def stop(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Stop the thread; with ``drain`` sequence what committed meanwhile, so nothing waits for the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if drain:
            try:
                self.sequence_once(wait=True)
            except Exception:  # shutting down: report, do not mask the caller's exit
                log.exception("audit sequencing failed while stopping the sequencer")

    def __enter__(self) -> Sequencer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
