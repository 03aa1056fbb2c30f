"""MQTT ingest benchmark: devices publish at QoS 1 through the real Mosquitto, workers store; end-to-end obs/s, loss counted.

    python bench/iot_mqtt.py [--observations 100000] [--cycles 5] [--publishers 2] [--batch-size 5000]
                             [--scenarios serve,pg1,pg2] [--mqtt mqtt://127.0.0.1:1883]
                             [--pg-url postgresql://postgres@127.0.0.1:5432/test] [--json]

Scenarios (each on its own registry and store, each with observations no other scenario sends):

- ``serve``: ``xingcheng serve`` in a subprocess with its own data directory (demo city, SQLite
  registry, DuckDB store) and its embedded ingest worker (group ``xc-ingest``, a fresh client id).
- ``pg1`` / ``pg2``: 1 or 2 ``xingcheng iot worker`` processes on the PostgreSQL store, registry and
  store in a fresh schema of database ``test`` (the small demo city), dropped afterwards; a fresh
  shared-subscription group and fresh worker ids whose broker sessions exist before anything is sent.

Publishers (``--publishers`` clients) simulate every active device of the demo city: one message
carries ``--cycles`` readings of each of the device's datastreams, published at QoS 1 to
``xc/ingest/<device_key>/obs``. Values sit in each property's normal band, so the city's alert rules
are evaluated on every batch but do not fire.

They stay at most ``--backlog`` observations ahead of what the workers reported stored: Mosquitto
keeps per worker session only its in-flight window plus ``max_queued_messages`` (default 1,000) and
drops the rest, so an unbounded burst of ~10k messages measured the broker's drops (~16 % lost).

Measured: end-to-end seconds from the first publish to the result report of the batch that stored
the last observation (the worker publishes it after the commit, before acking), and obs/s over that.
Zero loss is counted in the store afterwards: rows in the scenario's window == distinct rows ==
observations sent, and accepted (sum of the workers' reports) == sent. Per-worker shares come from
the workers' progress lines (``N messages: A accepted …``, printed every 10 s).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from rich.console import Console
from rich.table import Table

console = Console(width=max(Console().width, 120), stderr=True)
EXE = str(Path(sys.executable).with_name("xingcheng"))
DEVICES_SQL = (
    "SELECT t.key, d.key, p.name, d.value_type, d.valid_min, d.valid_max, d.id FROM iot_datastream d "
    "JOIN iot_thing t ON t.id = d.thing_id JOIN iot_observed_property p ON p.id = d.observed_property_id "
    "WHERE t.status = 'active' ORDER BY t.key, d.id"
)
# Normal readings for the properties the demo city's rules watch (so the rules run but stay quiet).
NORMAL = {"methane_lel": 1.0, "cover_tilt": 2.0, "tilt": 0.2, "vibration_accel": 0.3, "water_level": 100.0,
          "ph": 7.2, "temperature": 50.0, "vibration_rms": 2.0}


@dataclass
class Stream:
    key: str
    property: str
    value_type: str
    low: float | None
    high: float | None
    id: int


@dataclass
class Result:
    scenario: str
    workers: int
    sent: int
    stored: int = 0
    distinct: int = 0
    accepted: int = 0
    rejected: int = 0
    seconds: float = 0.0
    publish_seconds: float = 0.0
    shares: list[int] = field(default_factory=list)
    complete: bool = False

    @property
    def obs_per_s(self) -> float:
        return self.distinct / self.seconds if self.seconds else 0.0  # what was stored, not what was sent

    @property
    def lost(self) -> int:
        return self.sent - self.distinct

    @property
    def duplicates(self) -> int:
        return self.stored - self.distinct


def _mqtt(url: str) -> tuple[str, int]:
    match = re.fullmatch(r"mqtt://([^:/]+):(\d+)/?", url)
    if not match:
        raise SystemExit(f"--mqtt 应形如 mqtt://127.0.0.1:1883，而不是 {url}")
    return match.group(1), int(match.group(2))


def _client(host: str, port: int, client_id: str, *, persistent: bool = False, inflight: int = 20) -> Client:
    client = Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=MQTTProtocolVersion.MQTTv5)
    client.max_inflight_messages_set(inflight)  # only before connecting
    client.max_queued_messages_set(0)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 24 * 3600 if persistent else 0
    client.connect(host, port, clean_start=not persistent, properties=properties)
    client.loop_start()
    return client


def _end_session(host: str, port: int, client_id: str) -> None:
    """Drop a worker slot's persistent session on the broker (a clean start with expiry 0)."""
    client = _client(host, port, client_id)
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


# ---- the devices' messages ---------------------------------------------------------------------

def _value(stream: Stream, rng: random.Random) -> Any:
    if stream.value_type == "bool":
        return rng.random() < 0.5
    low, high = stream.low if stream.low is not None else 0.0, stream.high if stream.high is not None else 100.0
    base = NORMAL.get(stream.property, low + 0.2 * (high - low))
    value = base * (1 + rng.uniform(-0.01, 0.01)) + rng.uniform(-0.001, 0.001)
    return round(value) if stream.value_type == "int" else round(value, 4)


def build_messages(devices: dict[str, list[Stream]], *, observations: int, cycles: int, start: datetime,
                   step_s: int, seed: int) -> tuple[list[tuple[str, bytes]], int]:
    """(topic, payload) in publishing order (device after device, round after round) and the observations in them."""
    rng = random.Random(seed)
    per_round = sum(len(s) for s in devices.values()) * cycles
    rounds = max(1, -(-observations // per_round))
    messages: list[tuple[str, bytes]] = []
    sent = 0
    for r in range(rounds):
        for thing, streams in devices.items():
            items = []
            for c in range(cycles):
                moment = (start + timedelta(seconds=(r * cycles + c) * step_s)).isoformat()
                items += [{"datastream": s.key, "phenomenon_time": moment, "result": _value(s, rng)} for s in streams]
            messages.append((f"xc/ingest/{thing}/obs", json.dumps(items).encode()))
            sent += len(items)
    return messages, sent


class Reports:
    """Sums the workers' per-batch result reports for the scenario's devices; notes when the last arrived."""

    def __init__(self, host: str, port: int, devices: set[str]) -> None:
        self.devices = devices
        self.accepted = self.duplicate = self.rejected = 0
        self.last = 0.0
        self.lock = threading.Lock()
        self.client = _client(host, port, f"xc-bench-results-{uuid.uuid4().hex[:6]}")
        self.client.on_message = self._on_message
        self.client.subscribe("xc/ingest/+/result", qos=0)

    def _on_message(self, _c: Client, _u: Any, message: Any) -> None:
        device = message.topic.split("/")[2]
        if device not in self.devices:
            return
        report = json.loads(message.payload)
        with self.lock:
            self.accepted += report["accepted"]
            self.duplicate += report["duplicate"]
            self.rejected += report["rejected"]
            self.last = time.time()

    def done(self) -> int:
        return self.accepted + self.duplicate + self.rejected

    def wait(self, total: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.accepted + self.duplicate + self.rejected >= total:
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def run_load(host: str, port: int, devices: dict[str, list[Stream]], result: Result, messages: list[tuple[str, bytes]],
             publishers: int, timeout: float, backlog: int) -> None:
    """Publish from ``publishers`` clients, never more than ``backlog`` observations ahead of what is stored.

    Closed loop on purpose: Mosquitto buffers per worker session only its in-flight window plus
    ``max_queued_messages`` (default 1,000) and silently drops the rest, so an open-loop burst larger
    than that measures the broker's drops, not the workers.
    """
    reports = Reports(host, port, set(devices))
    sizes = [payload.count(b'"datastream"') for _, payload in messages]
    published = [0]
    lock = threading.Lock()
    spans: list[tuple[float, float]] = []

    def publish(index: int) -> None:
        client = _client(host, port, f"xc-bench-pub-{index}-{uuid.uuid4().hex[:6]}", inflight=1000)
        first = time.time()
        infos = []
        for n in range(index, len(messages), publishers):
            while published[0] - reports.done() > backlog:
                time.sleep(0.005)
            topic, payload = messages[n]
            infos.append(client.publish(topic, payload, qos=1))
            with lock:
                published[0] += sizes[n]
        for info in infos:
            info.wait_for_publish(120)
        spans.append((first, time.time()))
        client.disconnect()
        client.loop_stop()

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    first = min(s[0] for s in spans)
    result.publish_seconds = max(s[1] for s in spans) - first
    result.complete = reports.wait(result.sent, timeout)
    time.sleep(1.0)  # a late extra report would show as more than sent
    reports.close()
    result.accepted, result.rejected = reports.accepted, reports.rejected
    result.seconds = (reports.last or time.time()) - first


# ---- scenario: the worker embedded in `xingcheng serve` (DuckDB store, SQLite registry) -------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _probe(host: str, port: int, timeout: float) -> bool:
    """Publish an empty message for a made-up device until a worker reports on it: the worker is subscribed."""
    device = f"xc-bench-probe-{uuid.uuid4().hex[:6]}"
    answered = threading.Event()
    client = _client(host, port, f"{device}-c")
    client.on_message = lambda *_: answered.set()
    client.subscribe(f"xc/ingest/{device}/result", qos=0)
    deadline = time.monotonic() + timeout
    while not answered.is_set() and time.monotonic() < deadline:
        client.publish(f"xc/ingest/{device}/obs", b"[]", qos=1)
        answered.wait(1.0)
    client.disconnect()
    client.loop_stop()
    return answered.is_set()


def scenario_serve(args: argparse.Namespace, host: str, port: int) -> Result:
    import duckdb
    import httpx

    with tempfile.TemporaryDirectory(prefix="xc-bench-mqtt-") as tmp:
        http_port = _free_port()
        worker_id = f"xc-bench-serve-{uuid.uuid4().hex[:6]}"
        env = {**os.environ, "XC_DATA_DIR": tmp, "XC_AUDIT__SEQUENCER_ENABLED": "false", "XC_PORT": str(http_port),
               "XC_MQTT_URL": args.mqtt, "XC_IOT__WORKER_ID": worker_id, "XC_IOT__WORKER_BATCH_SIZE": str(args.batch_size)}
        for name in ("XC_DATABASE_URL", "XC_IOT__STORE", "XC_IOT__SIMULATE_IN_SERVE"):
            env.pop(name, None)
        console.print("serve：载入示例城市…")
        loaded = subprocess.run([EXE, "demo", "load"], env=env, capture_output=True, text=True)
        if loaded.returncode != 0:
            raise RuntimeError("示例城市载入失败：" + (loaded.stderr or loaded.stdout)[-2000:])
        import sqlite3

        with sqlite3.connect(Path(tmp) / "xingcheng.db") as conn:
            devices = _devices(conn.execute(DEVICES_SQL).fetchall(), args.devices)
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
        messages, sent = build_messages(devices, observations=args.observations, cycles=args.cycles, start=start,
                                        step_s=args.step, seed=1)
        result = Result("serve (embedded worker, DuckDB)", 1, sent)
        log = Path(tmp) / "serve.log"
        server = subprocess.Popen([EXE, "serve"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("serve 未能启动：" + log.read_text(errors="replace")[-2000:])
                time.sleep(0.5)
            if not _probe(host, port, 60):
                raise RuntimeError("serve 内置的接入进程未订阅：" + log.read_text(errors="replace")[-2000:])
            console.print(f"serve：{len(devices)} 台设备发布 {sent:,} 条观测…")
            run_load(host, port, devices, result, messages, args.publishers, args.timeout, args.backlog)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
            _end_session(host, port, worker_id)
        ids = ",".join(str(s.id) for streams in devices.values() for s in streams)
        with duckdb.connect(str(Path(tmp) / "observations.duckdb"), read_only=True) as store:
            row = store.execute(
                f"SELECT count(*), count(DISTINCT (datastream_id, phenomenon_time)) FROM observation "
                f"WHERE datastream_id IN ({ids}) AND phenomenon_time >= ? AND phenomenon_time < ?",
                [start.replace(tzinfo=None), _window_end(start, sent, devices, args.step).replace(tzinfo=None)],
            ).fetchone()
        result.stored, result.distinct = int(row[0]), int(row[1])  # type: ignore[index]
        result.shares = [result.accepted]
    return result


def _window_end(start: datetime, sent: int, devices: dict[str, list[Stream]], step_s: int) -> datetime:
    """Just past the scenario's last reading: rows of anything else publishing for these devices stay out."""
    return start + timedelta(seconds=(sent // max(1, sum(len(s) for s in devices.values())) + 1) * step_s + 1)


def _devices(rows: Sequence[Any], limit: int) -> dict[str, list[Stream]]:
    devices: dict[str, list[Stream]] = {}
    for thing, key, prop, value_type, low, high, stream_id in rows:
        devices.setdefault(thing, []).append(Stream(key, prop, value_type, low, high, stream_id))
    return dict(list(devices.items())[:limit]) if limit else devices


# ---- scenarios: N `xingcheng iot worker` processes on the PostgreSQL store ----------------------

def _accepted_in_log(log: Path) -> int:
    found = re.findall(r"(\d+) messages: (\d+) accepted", log.read_text(errors="replace"))
    return int(found[-1][1]) if found else 0


def scenario_pg(args: argparse.Namespace, host: str, port: int, schema: str, devices: dict[str, list[Stream]],
                workers: int, start: datetime, seed: int) -> Result:
    import psycopg

    messages, sent = build_messages(devices, observations=args.observations, cycles=args.cycles, start=start,
                                    step_s=args.step, seed=seed)
    result = Result(f"{workers} × iot worker (PostgreSQL)", workers, sent)
    group = f"xc-bench-{uuid.uuid4().hex[:8]}"
    ids = [f"xc-bench-pg-{i}-{uuid.uuid4().hex[:6]}" for i in range(workers)]
    for worker_id in ids:  # every slot's session exists before devices publish: nothing can be missed
        slot = _client(host, port, worker_id, persistent=True)
        slot.subscribe(f"$share/{group}/xc/ingest/+/obs", qos=1)
        time.sleep(0.3)
        slot.disconnect()
        slot.loop_stop()
    with tempfile.TemporaryDirectory(prefix="xc-bench-mqtt-pg-") as tmp:
        env = {**os.environ, "XC_DATA_DIR": tmp, "XC_MQTT_URL": args.mqtt, "XC_IOT__STORE": "postgres",
               "XC_AUDIT__SEQUENCER_ENABLED": "false", "XC_DATABASE_URL": args.pg_url,
               "PGOPTIONS": f"-csearch_path={schema}"}
        logs = [Path(tmp) / f"worker-{i}.log" for i in range(workers)]
        procs = [subprocess.Popen([EXE, "iot", "worker", "--id", worker_id, "--group", group,
                                   "--batch-size", str(args.batch_size)], env=env, stdout=log.open("ab"),
                                  stderr=subprocess.STDOUT) for worker_id, log in zip(ids, logs, strict=True)]
        try:
            deadline = time.monotonic() + 60
            while not all("consuming" in log.read_text(errors="replace") for log in logs):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError("接入进程未能启动：" + logs[0].read_text(errors="replace")[-2000:])
                time.sleep(0.2)
            time.sleep(2.0)  # connected and subscribed (they print before connecting)
            console.print(f"{workers} 个接入进程：{len(devices)} 台设备发布 {sent:,} 条观测…")
            run_load(host, port, devices, result, messages, args.publishers, args.timeout, args.backlog)
            deadline = time.monotonic() + 25  # each worker prints its totals every 10 s
            while sum(map(_accepted_in_log, logs)) < result.accepted and time.monotonic() < deadline:
                time.sleep(0.5)
            result.shares = [_accepted_in_log(log) for log in logs]
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            for worker_id in ids:
                _end_session(host, port, worker_id)
    end = _window_end(start, sent, devices, args.step)
    with psycopg.connect(args.pg_url, options=f"-csearch_path={schema}") as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (datastream_id, phenomenon_time)) FROM iot_obs_raw "
            "WHERE phenomenon_time >= %s AND phenomenon_time < %s AND datastream_id = ANY(%s)",
            [start.replace(tzinfo=None), end.replace(tzinfo=None), [s.id for ss in devices.values() for s in ss]],
        ).fetchone()
    result.stored, result.distinct = int(row[0]), int(row[1])  # type: ignore[index]
    return result


def pg_scenarios(args: argparse.Namespace, host: str, port: int, counts: list[int]) -> list[Result]:
    import psycopg
    from sqlalchemy import text

    from xingcheng.core.db import Database, create_db_engine
    from xingcheng.core.migrate import upgrade
    from xingcheng.demo.runner import load_demo
    from xingcheng.modules import MODULES

    schema = f"bench_iotmq_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    results = []
    try:
        console.print(f"PostgreSQL：在 schema {schema} 中载入示例城市…")
        engine = create_db_engine(args.pg_url, connect_args={"options": f"-csearch_path={schema}"})
        try:
            upgrade(engine)
            load_demo(Database(engine), MODULES, seed=42, scale="small")
            with engine.connect() as conn:
                devices = _devices(conn.execute(text(DEVICES_SQL)).all(), args.devices)
        finally:
            engine.dispose()
        base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=20)
        for n, workers in enumerate(counts):  # later scenarios later in time: the rules' state moves forward
            results.append(scenario_pg(args, host, port, schema, devices, workers, base + timedelta(hours=6 * n),
                                       seed=10 + n))
    finally:
        with psycopg.connect(args.pg_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observations", type=int, default=100_000,
                        help="observations per scenario (rounded up to whole rounds)")
    parser.add_argument("--cycles", type=int, default=5, help="readings of each datastream per message")
    parser.add_argument("--step", type=int, default=10, help="seconds between a device's readings")
    parser.add_argument("--devices", type=int, default=0, help="devices to simulate (0: every active one)")
    parser.add_argument("--publishers", type=int, default=2, help="publisher clients (threads)")
    parser.add_argument("--backlog", type=int, default=20_000,
                        help="observations the publishers may be ahead of what is stored (keep the broker's buffer)")
    parser.add_argument("--batch-size", type=int, default=5000, help="the workers' observations per durable write")
    parser.add_argument("--scenarios", default="serve,pg1,pg2", help="comma-separated: serve, pg1, pg2 (pgN: N workers)")
    parser.add_argument("--mqtt", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for a scenario's last report")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    host, port = _mqtt(args.mqtt)
    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    load_before = os.getloadavg()
    results: list[Result] = []
    if "serve" in wanted:
        results.append(scenario_serve(args, host, port))
    counts = [int(s[2:]) for s in wanted if re.fullmatch(r"pg\d+", s)]
    if counts:
        results += pg_scenarios(args, host, port, counts)
    load_after = os.getloadavg()
    out = {
        "machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in load_after],
        "cycles": args.cycles, "batch_size": args.batch_size, "publishers": args.publishers, "backlog": args.backlog,
        "results": [{
            "scenario": r.scenario, "workers": r.workers, "sent": r.sent, "stored": r.stored, "distinct": r.distinct,
            "lost": r.lost, "duplicates": r.duplicates, "accepted": r.accepted, "rejected": r.rejected,
            "seconds": round(r.seconds, 2), "obs_per_s": round(r.obs_per_s), "publish_seconds": round(r.publish_seconds, 2),
            "shares": r.shares, "complete": r.complete,
        } for r in results],
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return
    table = Table(title=f"MQTT 接入端到端吞吐（{out['machine']}；负载 {load_before[0]:.1f} → {load_after[0]:.1f}）")
    for column in ("scenario", "sent", "stored", "lost", "dup.", "seconds", "obs/s", "publish s", "per-worker share"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for r in results:
        total = sum(r.shares) or 1
        table.add_row(r.scenario, f"{r.sent:,}", f"{r.stored:,}", str(r.lost), str(r.duplicates), f"{r.seconds:.1f}",
                      f"{r.obs_per_s:,.0f}", f"{r.publish_seconds:.1f}",
                      " / ".join(f"{s / total:.0%}" for s in r.shares))
    Console().print(table)


if __name__ == "__main__":
    main()
