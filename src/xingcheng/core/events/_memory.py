"""In-process event bus: synchronous delivery in the publisher's thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from ._envelope import (
    SHARE_PREFIX,
    ClosesOnExit,
    Delivery,
    Event,
    Handler,
    Subscription,
    check_headers,
    check_pattern,
    check_publish_topic,
    topic_matches,
)

__all__ = ["InProcessBus"]

logger = logging.getLogger("xingcheng.events")


class InProcessBus(ClosesOnExit):
    """Deliver each event synchronously to every matching subscription, in the publisher's thread.

    Like an MQTT broker, a message matching several subscriptions with the same
    ``$share/<group>/<filter>`` pattern goes to one of them, in turn.

    Each handler gets its own copy decoded from the JSON envelope, exactly what an MQTT
    subscriber would see: data that does not survive JSON fails at ``publish`` in both
    modes, and one handler mutating ``event.data`` cannot affect another.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Copy-on-write tuple: publishers iterate a snapshot without holding the lock,
        # so handlers may subscribe, cancel or publish re-entrantly.
        self._subscriptions: tuple[Subscription, ...] = ()
        self._turns: dict[str, int] = {}  # round-robin position per shared subscription
        self._closed = False

    def publish(
        self, topic: str, event: Event, *, headers: Mapping[str, str] | None = None
    ) -> None:
        """Deliver ``event`` to all matching handlers; handler errors are logged, not raised."""
        check_publish_topic(topic)
        frozen_headers = check_headers(headers)
        if self._closed:
            raise RuntimeError("event bus is closed")
        raw = event.to_json()
        for sub in self._recipients(topic):
            if not sub.active:  # cancelled by an earlier handler of this same publish
                continue
            try:
                sub.handler(Delivery(topic, Event.from_json(raw), frozen_headers))
            except Exception:
                logger.exception(
                    "event handler %r for %r failed on %s (event %s)",
                    sub.handler,
                    sub.pattern,
                    topic,
                    event.id,
                )

    def _recipients(self, topic: str) -> list[Subscription]:
        """Matching subscriptions; of several with the same ``$share/...`` pattern, one in turn."""
        matching = [s for s in self._subscriptions if s.active and topic_matches(s.pattern, topic)]
        shares: dict[str, list[Subscription]] = {}
        for sub in matching:
            if sub.pattern.startswith(SHARE_PREFIX):
                shares.setdefault(sub.pattern, []).append(sub)
        chosen: set[int] = set()
        with self._lock:
            for pattern, members in shares.items():
                turn = self._turns.get(pattern, 0)
                self._turns[pattern] = turn + 1
                chosen.add(id(members[turn % len(members)]))
        return [s for s in matching if s.pattern not in shares or id(s) in chosen]

    def subscribe(self, pattern: str, handler: Handler) -> Subscription:
        """Register ``handler`` for topics matching ``pattern`` (MQTT wildcard rules)."""
        check_pattern(pattern)
        sub = Subscription(pattern, handler, self._remove)
        with self._lock:
            if self._closed:
                raise RuntimeError("event bus is closed")
            self._subscriptions = (*self._subscriptions, sub)
        return sub

    def close(self) -> None:
        """Cancel every subscription; later publish/subscribe calls raise ``RuntimeError``."""
        with self._lock:
            self._closed = True
            subs = self._subscriptions
        for sub in subs:
            sub.cancel()

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._subscriptions = tuple(s for s in self._subscriptions if s is not sub)

