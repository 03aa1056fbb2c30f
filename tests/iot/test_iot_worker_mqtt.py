"""The MQTT ingest worker against the real Mosquitto: kill it mid-stream, restart it, every observation lands once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from _services import require_tcp
from xingcheng.iot.worker import INGEST_FILTER, SESSION_EXPIRY, parse_message

pytestmark = pytest.mark.mqtt
MESSAGES, PER_MESSAGE = 300, 10  # 3,000 observations; Mosquitto queues up to 1,000 messages per session


def _client(client_id: str, *, persistent: bool) -> Client:
    client = Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=MQTTProtocolVersion.MQTTv5)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = SESSION_EXPIRY if persistent else 0
    client.connect("127.0.0.1", 1883, clean_start=not persistent, properties=properties)
    client.loop_start()
    return client


def _streams(db_file: Path) -> list[tuple[str, str, int]]:
    """Three demo air-quality stations' PM2.5 datastreams: (thing key, datastream key, id)."""
    with sqlite3.connect(db_file) as conn:
        return conn.execute(
            "SELECT t.key, d.key, d.id FROM iot_datastream d JOIN iot_thing t ON t.id = d.thing_id "
            "WHERE t.kind = 'air_quality_station' AND t.status = 'active' AND d.key LIKE '%/pm25' ORDER BY d.id LIMIT 3"
        ).fetchall()


def _start_worker(data_dir: Path, worker_id: str, group: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "XC_DATA_DIR": str(data_dir), "XC_MQTT_URL": "mqtt://127.0.0.1:1883",
           "XC_AUDIT__SEQUENCER_ENABLED": "false"}
    env.pop("XC_DATABASE_URL", None)
    command = [str(Path(sys.executable).with_name("xingcheng")), "iot", "worker", "--id", worker_id, "--group", group,
               "--batch-size", "30"]
    return subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_parse_message_accepts_objects_lists_envelopes_and_ndjson():
    item = {"datastream": "aq/pm25", "phenomenon_time": "2026-11-25T08:00:00+08:00", "result": 1}
    assert parse_message(json.dumps(item).encode()) == [item]
    assert parse_message(json.dumps([item, item]).encode()) == [item, item]
    assert parse_message(json.dumps({"observations": [item]}).encode()) == [item]
    assert parse_message(b'{"a": 1}\nnot json\n') == [{"a": 1}, None]
    assert parse_message(b"") == [None]


def test_a_killed_worker_restarted_under_its_id_lands_every_observation_exactly_once(template_dir, tmp_path):
    require_tcp("Mosquitto", "127.0.0.1", 1883)
    data_dir = tmp_path / "city"
    shutil.copytree(template_dir, data_dir)
    streams = _streams(data_dir / "xingcheng.db")
    worker_id, group = f"xc-test-worker-{uuid.uuid4().hex[:8]}", f"xc-test-{uuid.uuid4().hex[:8]}"

    # The worker slot's session exists before any device publishes (as after its first start),
    # so nothing published before the process is up is lost.
    slot = _client(worker_id, persistent=True)
    slot.subscribe(f"$share/{group}/{INGEST_FILTER}", qos=1)
    time.sleep(0.5)
    slot.disconnect()
    slot.loop_stop()

    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    lock = threading.Lock()
    expected_devices = {thing for thing, _, _ in streams}
    # The kill happens in the results callback, the moment a quarter has landed: a fast worker would
    # finish the whole backlog between two polls of the test thread.
    running: dict[str, subprocess.Popen[bytes]] = {}
    killed = threading.Event()

    def on_result(_c, _u, message) -> None:  # type: ignore[no-untyped-def]
        if message.topic.split("/")[2] in expected_devices:
            report = json.loads(message.payload)
            with lock:
                for name in totals:
                    totals[name] += report[name]
                if not killed.is_set() and totals["accepted"] >= MESSAGES * PER_MESSAGE // 4 and "worker" in running:
                    running["worker"].send_signal(signal.SIGKILL)  # mid-stream: in-flight messages unacked
                    killed.set()

    results = _client(f"xc-test-results-{uuid.uuid4().hex[:8]}", persistent=False)
    results.on_message = on_result
    results.subscribe("xc/ingest/+/result", qos=0)

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    publisher = _client(f"xc-test-device-{uuid.uuid4().hex[:8]}", persistent=False)
    for m in range(MESSAGES):
        thing, key, _ = streams[m % len(streams)]
        items = [{"datastream": key, "phenomenon_time": (start + timedelta(seconds=m * PER_MESSAGE + i)).isoformat(),
                  "result": round(20 + (m * 7 + i) % 50 * 0.5, 1)} for i in range(PER_MESSAGE)]
        publisher.publish(f"xc/ingest/{thing}/obs", json.dumps(items), qos=1).wait_for_publish(10)

    log = tmp_path / "worker.log"
    with lock:
        worker = running["worker"] = _start_worker(data_dir, worker_id, group, log)
    try:
        assert killed.wait(120), (totals, log.read_text()[-2000:])
        worker.wait(10)
        with lock:
            killed_at = dict(totals)
        assert killed_at["accepted"] < MESSAGES * PER_MESSAGE, "the worker finished before it could be killed"

        worker = _start_worker(data_dir, worker_id, group, log)  # same id: the broker resumes its session
        # Every observation is reported at least once: before its message was acked, or after the
        # restart (redelivered ones that the killed worker had stored come back as duplicates).
        deadline = time.monotonic() + 240
        while totals["accepted"] + totals["duplicate"] < MESSAGES * PER_MESSAGE and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # anything still arriving would be an extra
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
        publisher.disconnect()
        results.disconnect()
        cleanup = _client(worker_id, persistent=False)  # end the test slot's session on the broker
        cleanup.disconnect()

    assert totals["accepted"] + totals["duplicate"] >= MESSAGES * PER_MESSAGE, (totals, killed_at, log.read_text()[-3000:])
    assert totals["rejected"] == 0
    # A batch the killed worker stored but had not reported is accepted in the store yet unreported,
    # so the exact count comes from the store itself: every observation once, none twice.
    ids = [str(stream_id) for _, _, stream_id in streams]
    with duckdb.connect(str(data_dir / "observations.duckdb"), read_only=True) as store:
        stored, distinct = store.execute(
            f"SELECT count(*), count(DISTINCT (datastream_id, phenomenon_time)) FROM observation "
            f"WHERE datastream_id IN ({','.join(ids)}) AND phenomenon_time >= ?",
            [start.replace(tzinfo=None)],
        ).fetchone()
    assert stored == distinct == MESSAGES * PER_MESSAGE
