"""Publish events only when the transaction that caused them commits.

A service calls ``publish_after_commit(session, topic, event)``; the event waits in the session
and goes to the running bus after a successful commit, never after a rollback, so subscribers
never react to something that did not happen. ``set_bus`` is called once at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction

from xingcheng.core.appended import belongs_to
from xingcheng.core.db import end_writer_turn
from xingcheng.core.events import Event, EventBus

log = logging.getLogger("xingcheng.events")
_PENDING = "xc_pending_events"
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
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still discards the event
    # Remember the (innermost) transaction it belongs to: rolling back a savepoint drops only its own events.
    queued_in = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((topic, event, dict(headers or {}), queued_in))


@sa_event.listens_for(Session, "after_commit")
def _flush_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # SQLAlchemy calls this when a savepoint is released too: nothing is committed yet
    pending = session.info.pop(_PENDING, [])
    if not pending:
        return
    end_writer_turn(session)  # committed: let the next writer (perhaps a handler below) go
    if _bus is None:
        log.debug("no event bus running; %d event(s) not published", len(pending))
        return
    for topic, item, headers, _queued_in in pending:
        try:
            event = item() if callable(item) else item
            _bus.publish(topic, event, headers=headers)
        except Exception:  # a broker hiccup must not turn a committed request into an error
            log.exception("could not publish an event to %s", topic)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous: SessionTransaction) -> None:
    # "soft" fires on every rollback() call, also when no database transaction had begun. A savepoint's
    # rollback drops the events queued inside it; the outer transaction's keeps the rest.
    if not previous.nested:
        session.info.pop(_PENDING, None)
        return
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [item for item in pending if not belongs_to(item[3], previous)]
