"""The application on the MQTT profile: the bus connects at start-up and /ready reports it."""

from __future__ import annotations

import threading
import uuid

from fastapi.testclient import TestClient

from _services import require_tcp
from xingcheng.app import create_app
from xingcheng.core.events import Delivery, Event
from xingcheng.core.settings import Settings


def test_ready_reports_the_broker_and_events_flow_over_mqtt(tmp_path, monkeypatch):
    require_tcp("Mosquitto", "127.0.0.1", 1883)
    monkeypatch.setenv("XC_AUDIT__SEQUENCER_ENABLED", "false")
    settings = Settings(data_dir=tmp_path, mqtt_url="mqtt://127.0.0.1:1883", port=18000 + uuid.uuid4().int % 1000)
    app = create_app(settings=settings, with_ui=False)
    with TestClient(app) as client:
        bus = app.state.bus
        assert bus.wait_connected(5.0)
        ready = client.get("/ready").json()
        assert ready["checks"]["broker"] == "ok"
        got = threading.Event()
        topic = f"xc/events/test/{uuid.uuid4().hex}"
        received: list[Delivery] = []

        def handler(delivery: Delivery) -> None:
            received.append(delivery)
            got.set()

        bus.subscribe(topic, handler)
        bus.wait_subscribed(5.0)


        bus.publish(topic, Event(type="xingcheng.test.ping", source="/test"))
        assert got.wait(5.0)
        assert received[0].event.type == "xingcheng.test.ping"
