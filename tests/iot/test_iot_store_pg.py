"""The PostgreSQL observation store: the DuckDB store's behavioural tests again, plus partitions and concurrent writers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from test_iot_store import (  # the same behaviour, run here against PostgreSQL (``iot_store`` below)
    T0,
    batch,
    test_a_partly_new_batch_stores_only_the_new_rows,
    test_aggregates_match_values_computed_in_the_test,
    test_duplicates_inside_one_batch_keep_the_first_item,
    test_round_trip_and_a_retried_batch_adds_nothing,
)

from xc_testing import PG_BASE_URL, postgres_schema_name, schema_connect_args
from xingcheng.core.db import create_db_engine
from xingcheng.iot.store import ObservationFilter
from xingcheng.iot.store_pg import PostgresObservationStore, psycopg_conninfo

pytestmark = pytest.mark.postgres

__all__ = [
    "test_a_partly_new_batch_stores_only_the_new_rows",
    "test_aggregates_match_values_computed_in_the_test",
    "test_duplicates_inside_one_batch_keep_the_first_item",
    "test_round_trip_and_a_retried_batch_adds_nothing",
]

CONNINFO = psycopg_conninfo(PG_BASE_URL)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    with postgres_schema_name("iotobs") as schema:
        yield schema


@pytest.fixture
def iot_store(pg_schema: str) -> Iterator[PostgresObservationStore]:
    store = PostgresObservationStore(CONNINFO, options=schema_connect_args(pg_schema)["options"])
    yield store
    store.close()


def partitions(schema: str) -> list[str]:
    engine = create_db_engine(PG_BASE_URL)
    try:
        with engine.connect() as conn:
            return sorted(conn.execute(text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
                "WHERE p.relname = 'iot_obs_raw' AND n.nspname = :schema"
            ), {"schema": schema}).scalars())
    finally:
        engine.dispose()


def test_one_partition_per_day_created_on_demand(iot_store, pg_schema):
    rows = [(1, T0 + timedelta(hours=20 * i), float(i)) for i in range(4)]  # spans 2026-11-01 … 2026-11-03
    assert iot_store.append(batch(rows)).to_pylist() == []
    assert partitions(pg_schema) == ["iot_obs_raw_20261101", "iot_obs_raw_20261102", "iot_obs_raw_20261103"]
    assert [d.isoformat() for d in iot_store.days()] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    day = iot_store.read_day(T0.date())
    assert day.num_rows == 2 and day.column("result").to_pylist() == [0.0, 1.0]


def test_latest_values_are_shared_and_a_late_reading_does_not_replace_the_newest(iot_store, pg_schema):
    iot_store.append(batch([(1, T0, 1.0), (1, T0 + timedelta(minutes=5), 2.0), (2, T0, 5.0)]))
    iot_store.append(batch([(1, T0 - timedelta(days=1), -1.0)]))
    assert {(v.datastream_id, v.value) for v in iot_store.latest([1, 2, 3])} == {(1, 2.0), (2, 5.0)}
    assert [p.value for p in iot_store.latest_n(1, n=2)] == [2.0, 1.0]
    other = PostgresObservationStore(CONNINFO, options=schema_connect_args(pg_schema)["options"])  # another process's view
    try:
        assert [(v.datastream_id, v.time, v.value) for v in other.latest([1])] == [(1, T0 + timedelta(minutes=5), 2.0)]
        assert other.count() == 4
    finally:
        other.close()


WRITER = """
import sys
from datetime import UTC, datetime, timedelta
import pyarrow as pa
from xingcheng.iot.store_pg import PostgresObservationStore
conninfo, options, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = PostgresObservationStore(conninfo, options=options)
t0 = datetime(2026, 11, 1)
duplicates = 0
# Both writers send the same 6,000 keys over 5 days (all day partitions new), in different batch orders.
keys = [(ds, t0 + timedelta(minutes=30 * step)) for step in range(240) for ds in range(1, 26)]
order = keys if first == 0 else list(reversed(keys))
for offset in range(0, len(order), 500):
    chunk = order[offset:offset + 500]
    table = pa.table({
        "index": pa.array(range(len(chunk)), pa.int64()),
        "datastream_id": pa.array([k[0] for k in chunk], pa.int64()),
        "phenomenon_time": pa.array([k[1] for k in chunk], pa.timestamp("us")),
        "result": pa.array([float(first)] * len(chunk), pa.float64()),
    })
    duplicates += len(store.append(table))
store.close()
print(duplicates)
"""


def test_two_processes_writing_the_same_keys_store_each_once(iot_store, pg_schema):
    options = schema_connect_args(pg_schema)["options"]
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, CONNINFO, options, str(i)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for i in range(2)]
    results = [w.communicate(timeout=240) for w in writers]
    assert all(w.returncode == 0 for w in writers), [r[1][-2000:] for r in results]
    duplicates = sum(int(out.strip()) for out, _ in results)
    assert iot_store.count() == 6000
    assert duplicates == 6000  # every key was accepted by exactly one writer and reported as duplicate to the other
    assert len(partitions(pg_schema)) == 5
    assert len(iot_store.latest(list(range(1, 26)))) == 25


# ---- several ingest workers sharing the PostgreSQL store (the production profile) -----------------

MQTT_MESSAGES, MQTT_PER_MESSAGE = 300, 10


def _mqtt_client(client_id: str, *, persistent: bool):  # type: ignore[no-untyped-def]
    from paho.mqtt.client import Client
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from xingcheng.iot.worker import SESSION_EXPIRY

    client = Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=MQTTProtocolVersion.MQTTv5)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = SESSION_EXPIRY if persistent else 0
    client.connect("127.0.0.1", 1883, clean_start=not persistent, properties=properties)
    client.loop_start()
    return client


def _accepted_in_log(log: Path) -> int:
    """The worker's last progress line: ``N messages: A accepted, …``."""
    found = re.findall(r"(\d+) messages: (\d+) accepted", log.read_text(errors="replace"))
    return int(found[-1][1]) if found else 0


@pytest.mark.mqtt
def test_two_worker_processes_split_the_load_with_no_loss_and_no_duplicates(tmp_path):
    from _services import require_tcp
    from xingcheng.core.db import Database
    from xingcheng.core.migrate import upgrade
    from xingcheng.demo.runner import load_demo
    from xingcheng.iot.worker import INGEST_FILTER
    from xingcheng.modules import MODULES

    require_tcp("Mosquitto", "127.0.0.1", 1883)
    with postgres_schema_name("iotmq") as schema:
        engine = create_db_engine(PG_BASE_URL, connect_args=schema_connect_args(schema))
        try:
            upgrade(engine)  # the small demo city in this schema (the registry the workers validate against)
            load_demo(Database(engine), MODULES, seed=42, scale="small")
            with engine.connect() as conn:
                streams = conn.execute(text(
                    "SELECT t.key, d.key, d.id FROM iot_datastream d JOIN iot_thing t ON t.id = d.thing_id "
                    "WHERE t.status = 'active' AND d.key LIKE '%/pm25' ORDER BY d.id LIMIT 4"
                )).all()
        finally:
            engine.dispose()
        assert len(streams) == 4
        group = f"xc-test-pg-{uuid.uuid4().hex[:8]}"
        ids = [f"xc-test-pg-worker-{i}-{uuid.uuid4().hex[:6]}" for i in range(2)]
        for worker_id in ids:  # both slots' sessions exist before devices publish: nothing can be missed
            slot = _mqtt_client(worker_id, persistent=True)
            slot.subscribe(f"$share/{group}/{INGEST_FILTER}", qos=1)
            time.sleep(0.3)
            slot.disconnect()
            slot.loop_stop()
        env = {**os.environ, "XC_DATA_DIR": str(tmp_path), "XC_MQTT_URL": "mqtt://127.0.0.1:1883",
               "XC_IOT__STORE": "postgres", "XC_AUDIT__SEQUENCER_ENABLED": "false",
               "XC_DATABASE_URL": PG_BASE_URL, "PGOPTIONS": f"-csearch_path={schema}"}  # libpq: registry and store
        logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
        workers = [subprocess.Popen(
            [str(Path(sys.executable).with_name("xingcheng")), "iot", "worker", "--id", worker_id, "--group", group,
             "--batch-size", "50"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        ) for worker_id, log in zip(ids, logs, strict=True)]
        publisher = _mqtt_client(f"xc-test-device-{uuid.uuid4().hex[:8]}", persistent=False)
        store = PostgresObservationStore(CONNINFO, options=schema_connect_args(schema)["options"])
        try:
            time.sleep(3.0)  # both connected: the broker now alternates between them
            start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
            for m in range(MQTT_MESSAGES):
                thing, key, _ = streams[m % len(streams)]
                items = [{"datastream": key,
                          "phenomenon_time": (start + timedelta(seconds=m * MQTT_PER_MESSAGE + i)).isoformat(),
                          "result": round(20 + (m * 7 + i) % 50 * 0.5, 1)} for i in range(MQTT_PER_MESSAGE)]
                publisher.publish(f"xc/ingest/{thing}/obs", json.dumps(items), qos=1).wait_for_publish(10)
                time.sleep(0.01)
            wanted = ObservationFilter().narrowed_time("ge", start)
            deadline = time.monotonic() + 120
            while store.count_matching(wanted) < MQTT_MESSAGES * MQTT_PER_MESSAGE and time.monotonic() < deadline:
                time.sleep(0.2)
            # Each worker prints its running totals every 10 s: wait for lines that add up to everything.
            deadline = time.monotonic() + 40
            while sum(map(_accepted_in_log, logs)) < MQTT_MESSAGES * MQTT_PER_MESSAGE and time.monotonic() < deadline:
                time.sleep(0.5)
            stored = store.count_matching(wanted)
            distinct = store._query(
                "SELECT count(DISTINCT (datastream_id, phenomenon_time)) FROM iot_obs_raw WHERE phenomenon_time >= %s",
                [start.replace(tzinfo=None)],
            )[0][0]
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
            store.close()
            publisher.disconnect()
            for worker_id in ids:  # end the test slots' sessions on the broker
                _mqtt_client(worker_id, persistent=False).disconnect()
        shares = [_accepted_in_log(log) for log in logs]
        assert stored == distinct == MQTT_MESSAGES * MQTT_PER_MESSAGE, (stored, distinct, logs[0].read_text()[-2000:])
        assert sum(shares) == MQTT_MESSAGES * MQTT_PER_MESSAGE  # no observation accepted twice
        assert all(share > 0 for share in shares), shares  # both workers took part
