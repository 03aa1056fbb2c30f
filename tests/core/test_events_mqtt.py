"""MqttBus against the real Mosquitto on 127.0.0.1:1883 (never mocked).

Every test uses its own topic area (uuid) and client ids, so pytest-xdist workers and
persistent sessions left behind by other tests never interfere.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from _services import require_tcp
from xingcheng.core.events import Delivery, Event, MqttBus, create_bus, event_topic

HOST, PORT = "127.0.0.1", 1883
URL = f"mqtt://{HOST}:{PORT}"
WAIT = 5.0  # seconds for anything that should happen promptly
RECONNECT_WAIT = 10.0  # reconnects back off for reconnect_min_delay first


class Inbox:
    """Thread-safe handler collecting deliveries, with bounded waits."""

    def __init__(self, fail_first: int = 0) -> None:
        self.deliveries: list[Delivery] = []
        self.attempts = 0
        self._fail_first = fail_first
        self._cond = threading.Condition()

    def __call__(self, delivery: Delivery) -> None:
        with self._cond:
            self.attempts += 1
            if self.attempts <= self._fail_first:
                raise RuntimeError("simulated failure before the durable write")
            self.deliveries.append(delivery)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT) -> list[Delivery]:
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.deliveries) >= count, timeout)
            got = list(self.deliveries)
        assert ok, f"expected {count} deliveries within {timeout}s, got {[d.topic for d in got]}"
        return got

    def wait_for_event(self, event_id: str, timeout: float = WAIT) -> Delivery:
        def find() -> Delivery | None:
            return next((d for d in self.deliveries if d.event.id == event_id), None)

        with self._cond:
            self._cond.wait_for(lambda: find() is not None, timeout)
            found = find()
        assert found is not None, f"event {event_id} not delivered within {timeout}s"
        return found

    @property
    def event_ids(self) -> list[str]:
        with self._cond:
            return [d.event.id for d in self.deliveries]


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def make_event(**data: Any) -> Event:
    return Event(type="xingcheng.test.thing.happened", source="/tests/mqtt", data=data)


def cut_connection(bus: MqttBus) -> None:
    """Kill the TCP connection underneath paho, as a network failure or broker restart would."""
    sock = bus._client.socket()  # reaching into the bus on purpose: no public API should allow this
    assert sock is not None, "bus has no socket to cut"
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def area() -> str:
    require_tcp("Mosquitto", HOST, PORT)
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def make_bus() -> Iterator[Callable[..., MqttBus]]:
    buses: list[MqttBus] = []

    def factory(client_id: str | None = None, *, wait: bool = True, **options: Any) -> MqttBus:
        options.setdefault("session_expiry", 60)  # long enough for any test, then gone
        options.setdefault("reconnect_min_delay", 1)
        options.setdefault("reconnect_max_delay", 2)
        bus = MqttBus(URL, client_id=client_id or f"xc-test-{uuid.uuid4().hex[:16]}", **options)
        buses.append(bus)
        if wait and options.get("autostart", True):
            assert bus.wait_connected(WAIT), "could not connect to Mosquitto"
        return bus

    yield factory
    for bus in buses:
        bus.close(timeout=1.0)


def test_round_trip_with_headers(area: str, make_bus: Callable[..., MqttBus]) -> None:
    sub_bus, pub_bus = make_bus(), make_bus()
    inbox = Inbox()
    topic = event_topic(area, "alert")
    sub_bus.subscribe(topic, inbox)
    assert sub_bus.wait_subscribed(WAIT)

    event = Event(
        type="xingcheng.iot.alert.opened",
        source="/iot",
        subject="device/42",
        data={"level": 3, "reading": 12.5, "tags": ["河西", "水位"]},
    )
    pub_bus.publish(topic, event, headers={"traceparent": "00-abc-def-01", "tenant": "长沙"})
    assert pub_bus.flush(WAIT)

    [delivery] = inbox.wait_for(1)
    assert delivery.topic == topic
    assert delivery.event == event
    assert dict(delivery.headers) == {"traceparent": "00-abc-def-01", "tenant": "长沙"}


def test_bus_receives_its_own_publications(area: str, make_bus: Callable[..., MqttBus]) -> None:
    bus = make_bus()
    inbox = Inbox()
    bus.subscribe(event_topic(area, "loop"), inbox)
    assert bus.wait_subscribed(WAIT)
    event = make_event(n=1)
    bus.publish(event_topic(area, "loop"), event)
    assert inbox.wait_for(1)[0].event == event
    assert dict(inbox.deliveries[0].headers) == {}


def test_wildcards_and_overlapping_subscriptions_deliver_once_each(
    area: str, make_bus: Callable[..., MqttBus]
) -> None:
    sub_bus, pub_bus = make_bus(), make_bus()
    plus, hash_, exact, twin = Inbox(), Inbox(), Inbox(), Inbox()
    sub_bus.subscribe(f"xc/events/{area}/+", plus)
    sub_bus.subscribe(f"xc/events/{area}/#", hash_)
    sub_bus.subscribe(event_topic(area, "alert"), exact)
    sub_bus.subscribe(event_topic(area, "alert"), twin)  # same filter, second handler
    assert sub_bus.wait_subscribed(WAIT)

    pub_bus.publish(event_topic(area, "alert"), make_event())
    pub_bus.publish(event_topic(area, "offline"), make_event())
    pub_bus.publish(f"xc/events/{area}/deep/er", make_event())
    # Mosquitto keeps one publisher's order per subscriber: once the sentinel has arrived
    # everywhere, any duplicate of the earlier messages would have arrived too.
    pub_bus.publish(event_topic(area, "alert"), make_event(sentinel=True))

    assert [d.topic.rsplit("/", 1)[1] for d in plus.wait_for(3)] == ["alert", "offline", "alert"]
    assert len(hash_.wait_for(4)) == 4
    assert len(exact.wait_for(2)) == 2
    assert len(twin.wait_for(2)) == 2
    assert len(plus.deliveries) == 3
    assert len(hash_.deliveries) == 4
    assert len(exact.deliveries) == 2
    assert exact.deliveries[1].event.data == {"sentinel": True}


def test_two_buses_talk_to_each_other(area: str, make_bus: Callable[..., MqttBus]) -> None:
    requester, responder = make_bus(), make_bus()
    replies = Inbox()
    requests_seen = Inbox()

    def answer(delivery: Delivery) -> None:
        requests_seen(delivery)
        # Publishing from inside a handler (on the network thread) must work.
        responder.publish(
            event_topic(area, "reply"),
            make_event(answer=delivery.event.data["question"] * 2),
            headers={"in-reply-to": delivery.event.id},
        )

    responder.subscribe(event_topic(area, "request"), answer)
    requester.subscribe(event_topic(area, "reply"), replies)
    assert responder.wait_subscribed(WAIT)
    assert requester.wait_subscribed(WAIT)

    sent = [make_event(question=i) for i in range(5)]
    for event in sent:
        requester.publish(event_topic(area, "request"), event)

    got = replies.wait_for(5)
    assert sorted(d.event.data["answer"] for d in got) == [0, 2, 4, 6, 8]
    assert {d.headers["in-reply-to"] for d in got} == {e.id for e in sent}
    assert len(requests_seen.deliveries) == 5


def test_shared_subscription_splits_messages_between_workers(
    area: str, make_bus: Callable[..., MqttBus]
) -> None:
    workers = [make_bus(), make_bus()]
    inboxes = [Inbox(), Inbox()]
    # The area stands in for the device key, which keeps this share apart from other tests'.
    pattern = f"$share/xc-ingest/xc/ingest/{area}/obs"
    for bus, inbox in zip(workers, inboxes, strict=True):
        bus.subscribe(pattern, inbox)
        assert bus.wait_subscribed(WAIT)
    device = make_bus()
    sent = [make_event(n=i) for i in range(10)]
    for event in sent:
        device.publish(f"xc/ingest/{area}/obs", event)

    assert wait_until(lambda: sum(len(i.deliveries) for i in inboxes) >= len(sent), WAIT)
    time.sleep(0.2)  # a duplicate, if any, would show up right behind
    received = inboxes[0].event_ids + inboxes[1].event_ids
    assert sorted(received) == sorted(e.id for e in sent)  # each exactly once
    assert all(inbox.deliveries for inbox in inboxes), "Mosquitto should spread the load"


def test_cancel_unsubscribes(area: str, make_bus: Callable[..., MqttBus]) -> None:
    bus = make_bus()
    cancelled, kept = Inbox(), Inbox()
    sub = bus.subscribe(event_topic(area, "a"), cancelled)
    bus.subscribe(f"xc/events/{area}/+", kept)
    assert bus.wait_subscribed(WAIT)
    bus.publish(event_topic(area, "a"), make_event())
    cancelled.wait_for(1)
    sub.cancel()
    bus.publish(event_topic(area, "a"), make_event())
    kept.wait_for(2)
    assert len(cancelled.deliveries) == 1


def test_invalid_payloads_are_dropped_without_killing_the_client(
    area: str, make_bus: Callable[..., MqttBus]
) -> None:
    bus = make_bus(manual_ack=True)
    inbox = Inbox()
    topic = event_topic(area, "mixed")
    bus.subscribe(topic, inbox)
    assert bus.wait_subscribed(WAIT)

    raw = Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    raw.connect(HOST, PORT)
    raw.loop_start()
    try:
        for payload in (b"not json", b"[]", b'{"type": "t"}', b"\xff\xfe"):
            raw.publish(topic, payload, qos=1).wait_for_publish(WAIT)
    finally:
        raw.disconnect()
        raw.loop_stop()
    good = make_event(ok=True)
    bus.publish(topic, good)
    assert inbox.wait_for(1)[0].event == good
    assert bus.is_connected
    assert len(inbox.deliveries) == 1


def test_publish_before_connecting_is_delivered_after_start(
    area: str, make_bus: Callable[..., MqttBus]
) -> None:
    sub_bus = make_bus()
    inbox = Inbox()
    sub_bus.subscribe(event_topic(area, "early"), inbox)
    assert sub_bus.wait_subscribed(WAIT)

    pub_bus = make_bus(autostart=False)
    event = make_event()
    pub_bus.publish(event_topic(area, "early"), event)  # nothing is connected yet
    assert not pub_bus.is_connected
    pub_bus.start()
    assert inbox.wait_for(1)[0].event == event
    assert pub_bus.flush(WAIT)


def test_subscriber_reconnects_and_gets_what_was_published_meanwhile(
    area: str, make_bus: Callable[..., MqttBus]
) -> None:
    sub_bus = make_bus(reconnect_min_delay=1)
    pub_bus = make_bus()
    inbox = Inbox()
    sub_bus.subscribe(f"xc/events/{area}/+", inbox)
    assert sub_bus.wait_subscribed(WAIT)

    before = make_event(phase="before")
    pub_bus.publish(event_topic(area, "x"), before)
    inbox.wait_for(1)

    cut_connection(sub_bus)
    assert wait_until(lambda: not sub_bus.is_connected, WAIT), "the cut went unnoticed"
    during = make_event(phase="during")
    pub_bus.publish(event_topic(area, "x"), during)
    assert pub_bus.flush(WAIT)  # the broker has it, queued in the subscriber's session

    assert sub_bus.wait_connected(RECONNECT_WAIT), "did not reconnect by itself"
    inbox.wait_for_event(during.id, RECONNECT_WAIT)
    after = make_event(phase="after")
    pub_bus.publish(event_topic(area, "y"), after)
    inbox.wait_for_event(after.id)
    # At least once: if the cut beat the PUBACK for "before", the broker rightly resends it.
    assert list(dict.fromkeys(inbox.event_ids)) == [before.id, during.id, after.id]


def test_resubscribes_when_the_broker_kept_no_session(
    area: str, make_bus: Callable[..., MqttBus]
) -> None:
    sub_bus = make_bus(session_expiry=0)  # clean session on every connect
    pub_bus = make_bus()
    inbox = Inbox()
    sub_bus.subscribe(event_topic(area, "x"), inbox)
    assert sub_bus.wait_subscribed(WAIT)

    cut_connection(sub_bus)
    assert wait_until(lambda: not sub_bus.is_connected, WAIT)
    assert sub_bus.wait_connected(RECONNECT_WAIT)
    # Only our on_connect re-subscription can make this arrive: the session is new.
    assert sub_bus.wait_subscribed(WAIT)
    after = make_event()
    pub_bus.publish(event_topic(area, "x"), after)
    inbox.wait_for_event(after.id)


def test_publisher_outage_keeps_qos1_messages(area: str, make_bus: Callable[..., MqttBus]) -> None:
    sub_bus = make_bus()
    pub_bus = make_bus(reconnect_min_delay=2)
    inbox = Inbox()
    sub_bus.subscribe(f"xc/events/{area}/#", inbox)
    assert sub_bus.wait_subscribed(WAIT)

    cut_connection(pub_bus)
    assert wait_until(lambda: not pub_bus.is_connected, WAIT), "the cut went unnoticed"
    during = [make_event(n=i) for i in range(3)]
    for event in during:
        pub_bus.publish(event_topic(area, "queued"), event)
    assert not pub_bus.is_connected, "reconnected too early: the publishes were not offline"
    assert not pub_bus.flush(0.1)  # nothing can be acknowledged while offline

    assert pub_bus.wait_connected(RECONNECT_WAIT), "did not reconnect by itself"
    assert pub_bus.flush(WAIT)
    inbox.wait_for(3)
    assert inbox.event_ids == [e.id for e in during]


def test_failed_handler_gets_the_message_again_after_reconnect(
    area: str, make_bus: Callable[..., MqttBus]
) -> None:
    consumer = make_bus(manual_ack=True)
    pub_bus = make_bus()
    inbox = Inbox(fail_first=1)
    consumer.subscribe(event_topic(area, "job"), inbox)
    assert consumer.wait_subscribed(WAIT)

    event = make_event(job=1)
    pub_bus.publish(event_topic(area, "job"), event)
    assert wait_until(lambda: inbox.attempts == 1, WAIT)
    assert inbox.deliveries == []  # failed, so not acknowledged

    cut_connection(consumer)
    assert wait_until(lambda: not consumer.is_connected, WAIT)
    assert consumer.wait_connected(RECONNECT_WAIT)
    assert inbox.wait_for_event(event.id, RECONNECT_WAIT).event == event
    assert inbox.attempts == 2


def test_restarted_worker_with_same_client_id_gets_unacknowledged_messages(
    area: str, make_bus: Callable[..., MqttBus]
) -> None:
    client_id = f"xc-test-worker-{uuid.uuid4().hex[:12]}"
    pattern = f"$share/xc-ingest/xc/ingest/{area}/obs"
    crashed = Inbox(fail_first=1_000)
    first = make_bus(client_id, manual_ack=True)
    first.subscribe(pattern, crashed)
    assert first.wait_subscribed(WAIT)

    device = make_bus()
    in_flight = make_event(reading=1)
    device.publish(f"xc/ingest/{area}/obs", in_flight)
    assert wait_until(lambda: crashed.attempts == 1, WAIT)
    first.close()  # the durable write never happened, so the message was never acknowledged
    queued = make_event(reading=2)
    device.publish(f"xc/ingest/{area}/obs", queued)
    assert device.flush(WAIT)

    # Subscribe before connecting, so nothing the session holds arrives without a handler.
    restarted = make_bus(client_id, manual_ack=True, autostart=False)
    inbox = Inbox()
    restarted.subscribe(pattern, inbox)
    restarted.start()
    inbox.wait_for_event(in_flight.id)
    inbox.wait_for_event(queued.id)


def test_close_is_clean_and_final(area: str, make_bus: Callable[..., MqttBus]) -> None:
    bus = make_bus()
    sub = bus.subscribe(event_topic(area, "x"), Inbox())
    bus.close()
    bus.close()
    assert not bus.is_connected
    assert not sub.active
    with pytest.raises(RuntimeError):
        bus.publish(event_topic(area, "x"), make_event())
    with pytest.raises(RuntimeError):
        bus.subscribe(event_topic(area, "x"), Inbox())


def test_create_bus_with_url_uses_mqtt(area: str) -> None:
    bus = create_bus(URL, client_id=f"xc-test-{uuid.uuid4().hex[:16]}")
    try:
        assert isinstance(bus, MqttBus)
        assert bus.wait_connected(WAIT)
        inbox = Inbox()
        bus.subscribe(event_topic(area, "x"), inbox)
        assert bus.wait_subscribed(WAIT)
        bus.publish(event_topic(area, "x"), make_event())
        inbox.wait_for(1)
    finally:
        bus.close()


def test_unreachable_broker_is_retried_not_raised() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    bus = MqttBus(f"mqtt://{HOST}:{port}", client_id="xc-test-nowhere", connect_timeout=0.5)
    try:
        assert not bus.wait_connected(0.5)
        assert not bus.is_connected
    finally:
        started = time.monotonic()
        bus.close(timeout=0.5)
        assert time.monotonic() - started < 3, "close must not hang while reconnecting"
