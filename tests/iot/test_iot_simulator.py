"""The live feed: every sensor at its interval, realistic rhythms, faults that ingest and quality see, no alert flood."""

from __future__ import annotations

import json
import random
import threading
import time
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from statistics import mean

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from xingcheng.iot import simulator
from xingcheng.iot.models import Alert, Datastream, Thing

START = datetime(2026, 7, 2, 0, 0, tzinfo=UTC)  # 08:00 Beijing, the morning rush


def _active_streams(db) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(Datastream).join(Thing).where(Thing.status == "active"))


def _sample(feed: simulator.Simulator, things: int = 40) -> simulator.Simulator:
    """Every kind of sensor, a few of each: ingest through the full path costs tens of ms per thing-batch."""
    keys = sorted({s.thing_key for s in feed.streams})
    chosen = set(keys[:: max(1, len(keys) // things)])
    feed.streams = [s for s in feed.streams if s.thing_key in chosen]
    return feed


def test_inprocess_feed_lands_every_reading_without_raising_alerts(db, iot_store):
    feed = simulator.Simulator.from_registry(db, seed=3, start=START, fault_rate=0.0)
    assert len(feed.streams) == _active_streams(db) > 0
    _sample(feed)
    assert len({s.prop for s in feed.streams}) >= 8
    expected = sum(int(30 * 60 // s.interval) for s in feed.streams)  # every stream's first slot is in [0, interval)
    alerts_before = db.scalar(select(func.count()).select_from(Alert))
    sink = simulator.inprocess_sink(lambda: nullcontext(db), iot_store)
    delivered = simulator.replay(feed, sink, start=START, minutes=30, tick=60)
    assert delivered.rejected == 0 and delivered.duplicate == 0
    assert abs(delivered.accepted - expected) <= len(feed.streams)  # a slot at the window's edge may fall either side
    assert delivered.accepted > 2 * len(feed.streams)
    assert iot_store.count() == delivered.accepted
    assert db.scalar(select(func.count()).select_from(Alert)) == alerts_before  # normal live data raises nothing


def test_rhythms_weather_and_zone_classes():
    stream = simulator._Stream("td-1/vehicle_flow", "td-1", "vehicle_flow", 60.0, None, "float", 1.0)
    feed = simulator.Simulator([stream], random.Random(1), fault_rate=0.0)
    rush = mean(float(feed._value(stream, 8.0, 0.0) or 0) for _ in range(200))
    night = mean(float(feed._value(stream, 3.0, 0.0) or 0) for _ in range(200))
    assert rush > 3 * night
    windy, calm = simulator.Weather(wind=10.0), simulator.Weather(wind=0.5)
    assert windy.pm_factor() < calm.pm_factor()
    assert simulator.Weather(wind=2.0, raining=True).pm_factor() < simulator.Weather(wind=2.0).pm_factor()
    assert simulator.ZONE_FACTOR[4] > simulator.ZONE_FACTOR[1]


def test_faults_stick_drop_and_spike(db, iot_store):
    feed = _sample(simulator.Simulator.from_registry(db, seed=5, start=START, fault_rate=0.05))
    sink = simulator.inprocess_sink(lambda: nullcontext(db), iot_store)
    delivered = simulator.replay(feed, sink, start=START, minutes=20, tick=60)
    assert delivered.rejected > 0  # out-of-range spikes are refused by ingest
    assert any(s.stuck_until > 0 for s in feed.streams) and any(s.silent_until > 0 for s in feed.streams)
    stuck = next(s for s in feed.streams if s.stuck_until > 0)
    values = {feed._value(stuck, 12.0, stuck.stuck_until - 1) for _ in range(5)}
    assert values == {stuck.stuck_value if stuck.value_type == "float" else values.pop()}


def test_mqtt_feed_publishes_per_thing_to_the_ingest_topic(db):
    received: list[tuple[str, list[dict]]] = []
    subscribed = threading.Event()
    listener = Client(CallbackAPIVersion.VERSION2, client_id=f"xc-sim-test-{time.monotonic_ns()}")
    listener.on_connect = lambda c, *_: c.subscribe("xc/ingest/+/obs", qos=1)
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.on_message = lambda _c, _u, m: received.append((m.topic, json.loads(m.payload)))
    listener.connect("127.0.0.1", 1883)
    listener.loop_start()
    try:
        assert subscribed.wait(10)
        feed = simulator.Simulator.from_registry(db, seed=1, start=START, fault_rate=0.0)
        sink = simulator.MqttSink("mqtt://127.0.0.1:1883", client_id=f"xc-sim-{time.monotonic_ns()}")
        try:
            items = feed.due(START + timedelta(minutes=16))  # every stream is due once by now
            delivery = sink(items)
        finally:
            sink.close()
        deadline = time.monotonic() + 10
        while sum(len(batch) for _, batch in received) < delivery.published and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        listener.loop_stop()
        listener.disconnect()
    assert delivery.published == len(feed.streams)
    assert sum(len(batch) for _, batch in received) == delivery.published
    topic, batch = received[0]
    thing_key = topic.split("/")[2]
    assert topic == f"xc/ingest/{thing_key}/obs" and all(item["datastream"].startswith(f"{thing_key}/") for item in batch)
