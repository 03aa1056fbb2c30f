"""Per-process caches of reference data that hot paths read on every request and that changes rarely.

An online application reads its catalogue item (with materials and process link) and the newest version
of its process on every submission, and every authenticated request reads the principal behind its token:
queries for facts that change rarely (the first two were ~7 % of a submission's server time).
A :class:`ReferenceCache` keeps immutable snapshots of them (never ORM
objects: those belong to one session and one thread) and stays correct without a shared cache server:

- a unit of work that changes the data reads around the cache (it sees its own uncommitted change),
  and the cache is emptied when that unit of work commits — noticed automatically for ORM changes to
  the ``watch``-ed classes, declared with :meth:`ReferenceCache.changed` for Core statements;
- other processes (several workers on PostgreSQL) see a change after at most ``ttl`` seconds;
- a snapshot read while a change committed is not stored (a generation counter), so an emptied cache
  is not refilled with what was true before.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Any, Generic, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_CHANGED = "xc_refcache_changed"
_caches: list[ReferenceCache[Any, Any]] = []


class ReferenceCache(Generic[K, V]):
    def __init__(self, name: str, *, watch: tuple[type, ...] = (), ttl: float = 5.0, max_entries: int = 4096) -> None:
        self.name, self.watch, self.ttl, self.max_entries = name, watch, ttl, max_entries
        # Per database (engine): one process may talk to several, and tests do.
        self._entries: weakref.WeakKeyDictionary[Any, dict[K, tuple[float, V]]] = weakref.WeakKeyDictionary()
        self._generation = 0
        self._lock = threading.Lock()
        _caches.append(self)

    def get(self, session: Session, key: K, load: Callable[[], V]) -> V:
        """The snapshot for ``key``; ``load`` (a query in ``session``) when absent, stale or bypassed."""
        if self._bypassed(session):
            return load()
        bind = session.get_bind()
        engine = getattr(bind, "engine", bind)
        entries = self._entries.get(engine)
        entry = entries.get(key) if entries is not None else None
        now = time.monotonic()
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        generation = self._generation
        value = load()
        with self._lock:
            if generation == self._generation:
                entries = self._entries.setdefault(engine, {})
                if len(entries) >= self.max_entries:
                    entries.clear()
                entries[key] = (now, value)
        return value

    def changed(self, session: Session) -> None:
        """``session`` changes this data: read around the cache until it ends, empty it when it commits."""
        session.info.setdefault(_CHANGED, set()).add(self)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def _watches(self, objects: list[object]) -> bool:
        return bool(self.watch) and any(isinstance(obj, self.watch) for obj in objects)

    def _bypassed(self, session: Session) -> bool:
        if self in session.info.get(_CHANGED, ()):
            return True
        if self._watches(_pending_changes(session)):  # changed but not flushed yet
            self.changed(session)
            return True
        return False


def _pending_changes(session: Session) -> list[object]:
    return list(chain(session.new, session.dirty, session.deleted))


def clear_all() -> None:
    """Empty every reference cache of this process (tests, an operator's reload)."""
    for cache in _caches:
        cache.clear()


@sa_event.listens_for(Session, "before_flush")
def _notice_changes(session: Session, _context: UOWTransaction, _instances: object) -> None:
    objects = _pending_changes(session)
    if not objects:
        return
    for cache in _caches:
        if cache._watches(objects):
            cache.changed(session)


@sa_event.listens_for(Session, "after_commit")
def _clear_changed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint was released: nothing is committed yet
    for cache in session.info.pop(_CHANGED, ()):
        cache.clear()


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_changes(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop(_CHANGED, None)  # nothing it changed was committed
