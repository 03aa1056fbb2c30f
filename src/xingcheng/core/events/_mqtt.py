"""MQTT v5 event bus on paho-mqtt 2.x.

Only this module imports paho, and the package imports this module on first use, so the
in-process mode runs where paho is not installed.
"""

from __future__ import annotations

import logging
import ssl
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, LogLevel, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from ._envelope import (
    ClosesOnExit,
    Delivery,
    Event,
    Handler,
    Subscription,
    _check_topic_name,
    check_headers,
    check_pattern,
    check_publish_topic,
    topic_matches,
)

__all__ = ["MqttBus", "MqttUrl", "parse_mqtt_url"]

logger = logging.getLogger("xingcheng.events")
paho_logger = logging.getLogger("xingcheng.events.paho")

# paho's own errors (a failed socket read, ...) are the cause of what _on_disconnect and
# _on_connect_fail already report as warnings; keeping them at WARNING avoids double alarms.
_PAHO_LEVELS: dict[int, int] = {
    LogLevel.MQTT_LOG_DEBUG: logging.DEBUG,
    LogLevel.MQTT_LOG_INFO: logging.INFO,
    LogLevel.MQTT_LOG_NOTICE: logging.INFO,
    LogLevel.MQTT_LOG_WARNING: logging.WARNING,
    LogLevel.MQTT_LOG_ERR: logging.WARNING,
}

#: Largest MQTT v5 subscription identifier (a variable byte integer).
_MAX_SUBSCRIPTION_ID = 268_435_455
#: CloudEvents MQTT binding, structured mode.
_CONTENT_TYPE = "application/cloudevents+json"


@dataclass(frozen=True, slots=True)
class MqttUrl:
    """Broker address parsed from ``mqtt[s]://[user[:password]@]host[:port]``."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


def parse_mqtt_url(url: str) -> MqttUrl:
    """Parse a broker URL; error messages never repeat the URL, which may hold a password."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"MQTT URL scheme must be mqtt or mqtts, not {scheme or 'nothing'!r}")
    if not parts.hostname:
        raise ValueError("MQTT URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("MQTT URL has an invalid port") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("MQTT URL must not have a path, query or fragment")
    tls = scheme == "mqtts"
    return MqttUrl(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _properties(packet_type: int) -> Properties:
    return Properties(packet_type)  # type: ignore[no-untyped-call]  # paho leaves it untyped


class _Filter:
    """One broker-side subscription; several local subscriptions may share it."""

    __slots__ = ("acked", "pattern", "sub_id", "subs")

    def __init__(self, pattern: str, sub_id: int) -> None:
        self.pattern = pattern
        self.sub_id = sub_id
        self.subs: tuple[Subscription, ...] = ()
        self.acked = False


class MqttBus(ClosesOnExit):
    """Event bus over an MQTT v5 broker: QoS 1 both ways, persistent session, auto-reconnect.

    * ``client_id`` must be stable for consumers that must not lose messages: the broker
      keeps their session (subscriptions, queued and in-flight messages) for
      ``session_expiry`` seconds across disconnects. ``session_expiry=0`` asks for a clean
      session on every connect.
    * With ``manual_ack=True`` a message is acknowledged only after every matching handler
      returned without raising, so a handler doing its durable write before returning gives
      at-least-once processing; a message whose handler raised is redelivered by the broker
      after the next reconnect (MQTT redelivers only on reconnect).
    * To receive what the broker queued while the consumer was away, subscribe before
      connecting: ``MqttBus(..., autostart=False)``, ``subscribe(...)``, then ``start()``.
      Messages arriving with no matching handler are logged, acknowledged and dropped.
    * QoS 1 messages published while disconnected are kept in memory by paho (up to
      ``max_queued_messages``; 0 = unlimited) and sent after the reconnect; ``close()``
      waits for them, but they do not survive the process.
    * Overlapping patterns each get a message once: MQTT v5 subscription identifiers say
      which pattern a copy is for (Mosquitto sends one copy per matching subscription).
    * Handlers run on paho's network thread: keep them short, never wait on this bus from them.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        session_expiry: int = 3600,
        manual_ack: bool = False,
        keepalive: int = 30,
        connect_timeout: float = 5.0,
        reconnect_min_delay: int = 1,
        reconnect_max_delay: int = 30,
        max_queued_messages: int = 0,
        autostart: bool = True,
    ) -> None:
        if not client_id:
            raise ValueError("client_id must not be empty")
        if session_expiry < 0:
            raise ValueError("session_expiry must be >= 0 seconds")
        self._url = parse_mqtt_url(url)
        self._client_id = client_id
        self._session_expiry = session_expiry
        self._keepalive = keepalive
        self._manual_ack = manual_ack

        # _lock guards subscription state and _online; paho callbacks take it briefly and
        # user handlers always run without it.
        self._lock = threading.RLock()
        self._subacked = threading.Condition(self._lock)
        self._filters: dict[str, _Filter] = {}
        self._by_id: dict[int, _Filter] = {}
        self._pending_suback: dict[int, _Filter] = {}
        self._stale: set[str] = set()  # unsubscribes the broker has not seen yet
        self._online = False
        self._sub_ids = True
        self._started = False
        self._closed = False
        self._connected = threading.Event()

        # Separate from _lock: paho calls on_publish holding its own mutex, which publish()
        # takes too, so on_publish must not need a lock held around client.publish().
        self._unacked = threading.Condition()
        self._unacked_mids: set[int] = set()
        self._early_acks: set[int] = set()

        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=manual_ack,
        )
        client.connect_timeout = connect_timeout
        client.reconnect_delay_set(min_delay=reconnect_min_delay, max_delay=reconnect_max_delay)
        client.max_queued_messages_set(max_queued_messages)
        if self._url.username is not None:
            client.username_pw_set(self._url.username, self._url.password)
        if self._url.tls:
            client.tls_set_context(ssl.create_default_context())
        client.on_log = self._on_log
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self._client: Client = client
        if autostart:
            self.start()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def client_id(self) -> str:
        return self._client_id

    @property
    def is_connected(self) -> bool:
        """True while a broker connection is established."""
        return self._connected.is_set()

    def start(self) -> None:
        """Start connecting in the background (idempotent); reconnects happen by themselves."""

        with self._lock:
            if self._closed:
                raise RuntimeError("event bus is closed")
            if self._started:
                return
            self._started = True
        props = _properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._session_expiry
        self._client.connect_async(
            self._url.host,
            self._url.port,
            keepalive=self._keepalive,
            clean_start=self._session_expiry == 0,
            properties=props,
        )
        self._client.loop_start()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected; False if ``timeout`` seconds passed first."""
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float | None = None) -> bool:
        """Block until the broker acknowledged every current subscription on this connection."""
        with self._subacked:
            return self._subacked.wait_for(
                lambda: self._online and all(f.acked for f in self._filters.values()), timeout
            )

    def flush(self, timeout: float | None = None) -> bool:
        """Block until the broker acknowledged every message published so far."""
        with self._unacked:
            return self._unacked.wait_for(lambda: not self._unacked_mids, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` for unacknowledged publishes, then disconnect cleanly.

        Broker-side subscriptions stay in the session so a restart with the same client id
        gets what was published meanwhile; local subscriptions are cancelled.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            subs = [s for f in self._filters.values() for s in f.subs]
        for sub in subs:
            sub.cancel()
        if not self._started:
            return
        if not self.flush(timeout):
            logger.warning(
                "closing MQTT client %s with %d unacknowledged messages; they are lost",
                self._client_id,
                len(self._unacked_mids),
            )
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()


    def __repr__(self) -> str:
        state = "connected" if self.is_connected else "disconnected"
        return f"<MqttBus {self._client_id} {self._url.host}:{self._url.port} {state}>"

    # -- publish / subscribe ---------------------------------------------------------------

    def publish(
        self, topic: str, event: Event, *, headers: Mapping[str, str] | None = None
    ) -> None:
        """Queue ``event`` for QoS 1 delivery; headers travel as MQTT user properties.

        Returns at once; if the connection is down the message waits in memory for the
        reconnect. ``flush()`` waits for the broker's acknowledgements.
        """

        check_publish_topic(topic)
        frozen_headers = check_headers(headers)
        payload = event.to_json()
        if self._closed:
            raise RuntimeError("event bus is closed")
        props = _properties(PacketTypes.PUBLISH)
        props.PayloadFormatIndicator = 1
        props.ContentType = _CONTENT_TYPE
        for key, value in frozen_headers.items():
            props.UserProperty = (key, value)  # paho appends: user properties may repeat
        info = self._client.publish(topic, payload, qos=1, properties=props)
        # Only a full queue means paho dropped the message; NO_CONN and friends leave it
        # queued for resending after the reconnect.
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            raise RuntimeError(f"MQTT outgoing queue is full; event {event.id} not published")
        with self._unacked:
            if info.mid in self._early_acks:
                self._early_acks.discard(info.mid)
            else:
                self._unacked_mids.add(info.mid)

    def subscribe(self, pattern: str, handler: Handler) -> Subscription:
        """Register ``handler`` for ``pattern`` (MQTT filter, ``$share/<group>/...`` allowed)."""
        check_pattern(pattern)
        sub = Subscription(pattern, handler, self._remove)
        with self._lock:
            if self._closed:
                raise RuntimeError("event bus is closed")
            filt = self._filters.get(pattern)
            if filt is None:
                filt = _Filter(pattern, self._allocate_id(pattern))
                self._filters[pattern] = filt
                self._by_id[filt.sub_id] = filt
                self._stale.discard(pattern)
                if self._online:
                    self._send_subscribe(filt)
            filt.subs = (*filt.subs, sub)
        return sub

    def _allocate_id(self, pattern: str) -> int:
        # Derived from the pattern, not a counter, so a restarted process gets the same ids
        # and messages the broker queued under the old session still route correctly.
        sub_id = zlib.crc32(pattern.encode()) % _MAX_SUBSCRIPTION_ID + 1
        while sub_id in self._by_id:
            sub_id = sub_id % _MAX_SUBSCRIPTION_ID + 1
        return sub_id

    def _send_subscribe(self, filt: _Filter) -> None:
        """Send SUBSCRIBE for ``filt``; caller holds ``_lock``."""

        props = None
        if self._sub_ids:
            props = _properties(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = filt.sub_id
        filt.acked = False
        rc, mid = self._client.subscribe(
            filt.pattern, options=SubscribeOptions(qos=1), properties=props
        )
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
            self._pending_suback[mid] = filt

    def _remove(self, sub: Subscription) -> None:

        with self._lock:
            filt = self._filters.get(sub.pattern)
            if filt is None:
                return
            filt.subs = tuple(s for s in filt.subs if s is not sub)
            if filt.subs:
                return
            del self._filters[sub.pattern]
            del self._by_id[filt.sub_id]
            self._subacked.notify_all()
            if self._closed:
                return  # keep the broker-side subscription in the persistent session
            rc = MQTTErrorCode.MQTT_ERR_NO_CONN
            if self._online:
                rc, _ = self._client.unsubscribe(sub.pattern)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._stale.add(sub.pattern)

    # -- paho callbacks (network thread; they must never raise) ------------------------------

    def _on_connect(
        self,
        client: Client,
        userdata: Any,
        flags: ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:

        if reason_code.is_failure:
            logger.warning(
                "MQTT broker %s:%d refused client %s: %s",
                self._url.host,
                self._url.port,
                self._client_id,
                reason_code,
            )
            return
        with self._lock:
            self._sub_ids = bool(getattr(properties, "SubscriptionIdentifierAvailable", 1))
            for pattern in list(self._stale):
                rc, _ = client.unsubscribe(pattern)
                if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._stale.discard(pattern)
            # Always resubscribe: the broker may have dropped the session (expiry, restart,
            # clean start) and a subscribe attempted while offline was never sent.
            for filt in self._filters.values():
                self._send_subscribe(filt)
            self._online = True
            self._connected.set()
        logger.info(
            "MQTT client %s connected to %s:%d (session present: %s)",
            self._client_id,
            self._url.host,
            self._url.port,
            flags.session_present,
        )

    def _on_connect_fail(self, client: Client, userdata: Any) -> None:
        logger.warning(
            "MQTT client %s cannot reach %s:%d; retrying",
            self._client_id,
            self._url.host,
            self._url.port,
        )

    def _on_disconnect(
        self,
        client: Client,
        userdata: Any,
        flags: DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            self._online = False
            self._connected.clear()
            self._pending_suback.clear()
            for filt in self._filters.values():
                filt.acked = False
            closed = self._closed
        if not closed:
            logger.warning(
                "MQTT client %s lost its connection (%s); reconnecting",
                self._client_id,
                reason_code,
            )

    def _on_subscribe(
        self,
        client: Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._lock:
            filt = self._pending_suback.pop(mid, None)
            if filt is None or self._filters.get(filt.pattern) is not filt:
                return
            refused = [rc for rc in reason_codes if rc.is_failure]
            if refused:
                logger.error("MQTT broker refused subscription %r: %s", filt.pattern, refused[0])
                return
            filt.acked = True
            self._subacked.notify_all()

    def _on_publish(
        self,
        client: Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        if reason_code.is_failure:
            logger.error("MQTT broker rejected published message %d: %s", mid, reason_code)
        with self._unacked:
            if mid in self._unacked_mids:
                self._unacked_mids.discard(mid)
                self._unacked.notify_all()
            else:
                # PUBACK overtook publish() recording the mid (network thread was faster).
                self._early_acks.add(mid)

    def _on_log(self, client: Client, userdata: Any, level: int, message: str) -> None:
        # Once close() has begun, paho's complaints about the missing connection are expected.
        std = logging.DEBUG if self._closed else _PAHO_LEVELS.get(level, logging.WARNING)
        if paho_logger.isEnabledFor(std):
            paho_logger.log(std, "%s: %s", self._client_id, message)

    def _on_message(self, client: Client, userdata: Any, msg: MQTTMessage) -> None:
        try:
            self._dispatch(msg)
        except Exception:
            # paho re-raises callback errors and that would end the network thread.
            logger.exception("unexpected error while dispatching an MQTT message")

    def _dispatch(self, msg: MQTTMessage) -> None:
        try:
            topic = msg.topic
            _check_topic_name(topic)
            event = Event.from_json(msg.payload)
        except (UnicodeDecodeError, ValueError) as exc:
            logger.warning("dropping undecodable MQTT message (mid %d): %s", msg.mid, exc)
            self._ack(msg)
            return
        props = msg.properties
        headers: Mapping[str, str] = MappingProxyType(
            dict(getattr(props, "UserProperty", None) or [])
        )
        sub_ids: list[int] = getattr(props, "SubscriptionIdentifier", None) or []
        with self._lock:
            # Subscription identifiers tell which of possibly overlapping filters this copy is
            # for; fall back to matching when the broker sent none we know.
            filters = [
                f
                for f in (self._by_id.get(i) for i in sub_ids)
                if f is not None and topic_matches(f.pattern, topic)
            ]
            if not filters:
                filters = [f for f in self._filters.values() if topic_matches(f.pattern, topic)]
            subs = [s for f in filters for s in f.subs]
        if not subs:
            logger.warning("no handler for %s (event %s); dropped", topic, event.id)
            self._ack(msg)
            return
        ok = True
        for i, sub in enumerate(subs):
            if not sub.active:
                continue
            try:
                # Every handler after the first gets its own copy, as in the in-process bus.
                copy = event if i == 0 else Event.from_json(msg.payload)
                sub.handler(Delivery(topic, copy, headers))
            except Exception:
                ok = False
                logger.exception(
                    "event handler %r for %r failed on %s (event %s)",
                    sub.handler,
                    sub.pattern,
                    topic,
                    event.id,
                )
        if ok:
            self._ack(msg)
        elif self._manual_ack:
            logger.error(
                "event %s on %s not acknowledged; the broker redelivers it after a reconnect",
                event.id,
                topic,
            )

    def _ack(self, msg: MQTTMessage) -> None:
        if self._manual_ack:
            self._client.ack(msg.mid, msg.qos)
