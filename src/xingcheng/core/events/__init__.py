"""The platform's one publish/subscribe interface, with an in-process and an MQTT backend.

Envelope
    :class:`Event` carries the CloudEvents 1.0 attributes ``id``, ``type``, ``time``,
    ``source``, ``subject`` and ``data`` and travels as JSON (``Event.to_json`` /
    ``Event.from_json``); ``type`` reads like ``xingcheng.iot.alert.opened``.

Topics
    ``xc/events/<area>/<event>`` (:func:`event_topic`), device ingest
    ``xc/ingest/<device_key>/obs``. Subscription patterns follow MQTT filter rules in both
    backends (:func:`topic_matches`): ``+`` is one level, a trailing ``#`` any number of
    levels, and ``$share/<group>/<filter>`` is a shared subscription.

Handlers
    A handler is ``Callable[[Delivery], None]``. :class:`Delivery` is a frozen dataclass
    of the concrete ``topic``, the ``event`` and the publisher's ``headers`` (string
    pairs outside the envelope, e.g. a trace id; MQTT user properties on the wire), so
    the envelope stays exactly the CloudEvents attributes. A handler that raises is
    logged on ``xingcheng.events`` and does not affect other handlers or the publisher.

Backends
    :class:`InProcessBus` delivers synchronously in the publisher's thread;
    :class:`MqttBus` publishes and subscribes with QoS 1 over MQTT v5 and delivers on its
    network thread. :func:`create_bus` picks one from the configured URL.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._envelope import Delivery, Event, EventBus, Handler, Subscription, event_topic, topic_matches
from ._memory import InProcessBus

if TYPE_CHECKING:
    from ._mqtt import MqttBus, MqttUrl, parse_mqtt_url

__all__ = [
    "Delivery",
    "Event",
    "EventBus",
    "Handler",
    "InProcessBus",
    "MqttBus",
    "MqttUrl",
    "Subscription",
    "create_bus",
    "event_topic",
    "parse_mqtt_url",
    "topic_matches",
]


_MQTT_NAMES = frozenset({"MqttBus", "MqttUrl", "parse_mqtt_url"})


def __getattr__(name: str) -> Any:
    # The MQTT names load on first use so that the in-process mode never imports paho.
    if name in _MQTT_NAMES:
        return getattr(importlib.import_module(f"{__name__}._mqtt"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def create_bus(mqtt_url: str | None, *, client_id: str) -> EventBus:
    """Return an :class:`MqttBus` connecting to ``mqtt_url``, or an in-process bus without one."""
    if not mqtt_url:
        return InProcessBus()
    mqtt_bus: type[MqttBus] = __getattr__("MqttBus")
    return mqtt_bus(mqtt_url, client_id=client_id)
