"""Event envelope, delivery, topic rules and the bus protocol shared by both backends."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any, Protocol, Self, TypeAlias

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "Delivery",
    "Event",
    "EventBus",
    "Handler",
    "Subscription",
    "event_topic",
    "topic_matches",
]

#: MQTT limits a topic to 65535 bytes of UTF-8; we enforce the same everywhere.
_MAX_TOPIC_BYTES = 65535
SHARE_PREFIX = "$share/"


class Event(BaseModel):
    """One platform event: the CloudEvents 1.0 attributes we use, serialised as JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1)
    type: str = Field(min_length=1, description="e.g. xingcheng.iot.alert.opened")
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    source: str = Field(min_length=1)
    subject: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        # One canonical zone keeps the JSON ("...Z") and comparisons uniform.
        return value.astimezone(UTC)

    def to_json(self) -> bytes:
        """Serialise to the JSON envelope (UTF-8 bytes)."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | bytearray | str) -> Event:
        """Parse a JSON envelope; raise ``ValueError`` saying what is wrong with it."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
                for err in exc.errors(include_url=False)[:5]
            )
            raise ValueError(f"invalid event envelope: {problems}") from None


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a handler receives: the concrete topic, the event and the publisher's headers."""

    topic: str
    event: Event
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


Handler: TypeAlias = Callable[[Delivery], None]


class Subscription:
    """A handler registered for a topic pattern; ``cancel()`` stops deliveries (idempotent)."""

    __slots__ = ("_active", "_lock", "_on_cancel", "handler", "pattern")

    def __init__(
        self, pattern: str, handler: Handler, on_cancel: Callable[[Subscription], None]
    ) -> None:
        self.pattern = pattern
        self.handler = handler
        self._on_cancel = on_cancel
        self._active = True
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """False once cancelled or once the bus is closed."""
        return self._active

    def cancel(self) -> None:
        """Stop delivering to this handler; safe to call twice and from any thread."""
        with self._lock:
            if not self._active:
                return
            self._active = False
        self._on_cancel(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()

    def __repr__(self) -> str:
        state = "active" if self._active else "cancelled"
        return f"<Subscription {self.pattern!r} {state}>"


class ClosesOnExit:
    """``with bus:`` closes the bus on the way out (both backends)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus(Protocol):
    """The one publish/subscribe interface; see the package docstring for the semantics."""

    def publish(
        self, topic: str, event: Event, *, headers: Mapping[str, str] | None = None
    ) -> None: ...

    def subscribe(self, pattern: str, handler: Handler) -> Subscription: ...

    def close(self) -> None: ...


def event_topic(area: str, event: str) -> str:
    """Return ``xc/events/<area>/<event>`` after checking both are plain topic levels."""
    for name, value in (("area", area), ("event", event)):
        if not value or any(c in value for c in "/+#\0"):
            raise ValueError(
                f"{name} must be a non-empty topic level without / + # or NUL: {value!r}"
            )
    return f"xc/events/{area}/{event}"


def topic_matches(pattern: str, topic: str) -> bool:
    """Tell whether an MQTT topic filter (wildcards, ``$share/<group>/``) matches a topic name.

    Raises ``ValueError`` when the pattern is not a valid filter or the topic not a valid name.
    """
    levels = _filter_levels(pattern)
    _check_topic_name(topic)
    names = topic.split("/")
    # MQTT 4.7.2: a filter starting with a wildcard never matches a $-topic such as $SYS/...
    if topic.startswith("$") and levels[0] in ("+", "#"):
        return False
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(names) or (level != "+" and level != names[i]):
            return False
    return len(levels) == len(names)


def _check_topic_name(topic: str) -> None:
    if not topic:
        raise ValueError("topic must not be empty")
    if any(c in topic for c in "+#\0"):
        raise ValueError(f"topic must not contain wildcards or NUL: {topic!r}")
    if len(topic.encode()) > _MAX_TOPIC_BYTES:
        raise ValueError("topic is longer than 65535 bytes")


def check_publish_topic(topic: str) -> str:
    """Validate a topic to publish to: a topic name that is not broker-reserved ($...)."""
    _check_topic_name(topic)
    if topic.startswith("$"):
        raise ValueError(f"topics starting with '$' are reserved for the broker: {topic!r}")
    return topic


def _filter_levels(pattern: str) -> list[str]:
    """Validate a subscription pattern and return the levels of its (unshared) filter."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("topic pattern must be a non-empty string")
    if "\0" in pattern or len(pattern.encode()) > _MAX_TOPIC_BYTES:
        raise ValueError(f"invalid topic pattern: {pattern!r}")
    filt = pattern
    if pattern.startswith(SHARE_PREFIX):
        parts = pattern.split("/", 2)
        if len(parts) != 3 or not parts[1] or any(c in parts[1] for c in "+#") or not parts[2]:
            raise ValueError(f"shared pattern must look like $share/<group>/<filter>: {pattern!r}")
        filt = parts[2]
    levels = filt.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            if i != len(levels) - 1:
                raise ValueError(f"'#' must be the last level of a pattern: {pattern!r}")
        elif level != "+" and ("+" in level or "#" in level):
            raise ValueError(f"wildcards must fill a whole level of a pattern: {pattern!r}")
    return levels


def check_pattern(pattern: str) -> str:
    """Validate a subscription pattern (MQTT topic filter, optionally shared)."""
    _filter_levels(pattern)
    return pattern


def check_headers(headers: Mapping[str, str] | None) -> Mapping[str, str]:
    """Validate headers (they become MQTT user properties) and freeze a copy."""
    if not headers:
        return MappingProxyType({})
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise TypeError(f"headers must map non-empty str to str, got {key!r}: {value!r}")
    return MappingProxyType(dict(headers))
