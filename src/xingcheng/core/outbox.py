"""Publish events only when the transaction that caused them commits.

A service calls ``publish_after_commit(session, topic, event)``; the event waits in the session
and goes to the running bus after a successful commit, never after a rollback, so subscribers
never react to something that did not happen. ``set_bus`` is called once at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from xingcheng.core.appended import TransactionQueue
from xingcheng.core.db import end_writer_turn
from xingcheng.core.events import Event, EventBus

log = logging.getLogger("xingcheng.events")
# Dropped with the transaction (or savepoint) they were queued in.
_PENDING: TransactionQueue[tuple[str, Event | Callable[[], Event], dict[str, str]]] = TransactionQueue("events")
_bus: EventBus | None = None


def set_bus(bus: EventBus | None) -> None:
    global _bus
    _bus = bus


def current_bus() -> EventBus | None:
    return _bus


def publish_after_commit(session: Session, topic: str, event: Event | Callable[[], Event], *,
                         headers: Mapping[str, str] | None = None) -> None:
    """``event`` may be a function that builds it after the commit, when the rows it names have their ids
    (so the caller need not flush just to learn one)."""
    _PENDING.put(session, (topic, event, dict(headers or {})))


@sa_event.listens_for(Session, "after_commit")
def _flush_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # SQLAlchemy calls this when a savepoint is released too: nothing is committed yet
    pending = _PENDING.take(session)
    if not pending:
        return
    end_writer_turn(session)  # committed: let the next writer (perhaps a handler below) go
    if _bus is None:
        log.debug("no event bus running; %d event(s) not published", len(pending))
        return
    for topic, item, headers in pending:
        try:
            event = item() if callable(item) else item
            _bus.publish(topic, event, headers=headers)
        except Exception:  # a broker hiccup must not turn a committed request into an error
            log.exception("could not publish an event to %s", topic)
