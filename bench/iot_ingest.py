"""IoT ingest benchmark: bulk Arrow appends into the embedded DuckDB store vs a row-by-row SQLAlchemy insert.

    python bench/iot_ingest.py [--rows 2000000] [--batch 100000] [--datastreams 20000] [--sample 20000]
                               [--pg-rows 1000000] [--pg-url postgresql://postgres@127.0.0.1:5432/test] [--json]

1. Generates ``--n`` observations (``--datastreams`` datastreams reporting every 5 minutes, noisy
   values) as Arrow tables — generation is not timed.
2. Appends them to a fresh ``DuckDBObservationStore`` in ``--batch`` batches (the same ``append`` the
   HTTP ingest uses, with its idempotency anti-join and latest-value cache update), then retries
   one batch and checks that nothing was added.
3. Baseline on ``--sample`` rows of the same data: one SQLAlchemy ``INSERT`` per row into a SQLite
   table keyed on (datastream, time), committed at the end — the naive way to write readings.
4. Query timings: 15-minute aggregates of one datastream over the whole span; the latest value of
   every datastream from the cache.
5. PostgreSQL path (``--pg-rows`` > 0): the first ``--pg-rows`` rows into a ``PostgresObservationStore``
   in a throw-away schema (binary COPY into a temp table, ``INSERT … ON CONFLICT DO NOTHING`` into the
   day-partitioned table), same batches, and the same retried batch.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy import BigInteger, Column, DateTime, Float, MetaData, Table, insert
from sqlalchemy.orm import Session

from xingcheng.core.db import create_db_engine
from xingcheng.iot.store import DuckDBObservationStore
from xingcheng.iot.store_pg import PostgresObservationStore

START = datetime(2026, 6, 1, tzinfo=UTC)
console = Console(width=max(Console().width, 110))


def generate(n: int, datastreams: int) -> pa.Table:
    """``n`` rows: datastream i reports at 5-minute steps with a per-datastream phase offset."""
    relation = duckdb.sql(f"""
        SELECT i::BIGINT AS "index", (i % {datastreams})::BIGINT + 1 AS datastream_id,
               TIMESTAMP '2026-06-01' + to_microseconds((i // {datastreams}) * 300000000 + (i % {datastreams}) * 1000)
                   AS phenomenon_time,
               round(40 + 15 * sin(i / 5000.0) + random() * 5, 3) AS result
        FROM range({n}) t(i)
    """)
    assert relation is not None
    return relation.to_arrow_table()


def bench_store(data: pa.Table, batch: int, directory: Path, datastreams: int) -> dict[str, float]:
    store = DuckDBObservationStore(directory / "observations.duckdb")
    started = time.perf_counter()
    for offset in range(0, data.num_rows, batch):
        duplicates = store.append(data.slice(offset, batch))
        assert len(duplicates) == 0
    seconds = time.perf_counter() - started
    assert store.count() == data.num_rows
    retry_started = time.perf_counter()
    retried = store.append(data.slice(0, batch))
    retry_seconds = time.perf_counter() - retry_started
    assert len(retried) == min(batch, data.num_rows) and store.count() == data.num_rows, "a retried batch added rows"
    end = START + timedelta(days=365)
    query_started = time.perf_counter()
    buckets = store.aggregate(1, start=START, end=end, interval="15min")
    aggregate_ms = (time.perf_counter() - query_started) * 1000
    latest_started = time.perf_counter()
    latest = store.latest(list(range(1, datastreams + 1)))
    latest_ms = (time.perf_counter() - latest_started) * 1000
    assert buckets and len(latest) == datastreams
    store.close()
    return {"seconds": seconds, "obs_per_s": data.num_rows / seconds, "retry_seconds": retry_seconds,
            "aggregate_ms": aggregate_ms, "latest_ms": latest_ms, "buckets": len(buckets)}


def bench_postgres(data: pa.Table, batch: int, url: str) -> dict[str, float]:
    import psycopg

    schema = f"bench_iot_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        store = PostgresObservationStore(url, options=f"-csearch_path={schema}")
        started = time.perf_counter()
        for offset in range(0, data.num_rows, batch):
            assert len(store.append(data.slice(offset, batch))) == 0
        seconds = time.perf_counter() - started
        assert store.count() == data.num_rows
        retry_started = time.perf_counter()
        assert len(store.append(data.slice(0, batch))) == min(batch, data.num_rows)
        retry_seconds = time.perf_counter() - retry_started
        assert store.count() == data.num_rows, "a retried batch added rows"
        store.close()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    return {"rows": data.num_rows, "seconds": seconds, "obs_per_s": data.num_rows / seconds,
            "retry_seconds": retry_seconds}


KEYS_SCRIPT = """
import json, sys
from sqlalchemy import select
from xingcheng.core.db import get_database
from xingcheng.core.identity.schemas import ApiKeyCreate
from xingcheng.core.identity.service import create_api_key
from xingcheng.iot.models import Datastream, Thing
out = []
with get_database().session_scope() as session:
    things = session.execute(select(Thing.id, Thing.key).where(Thing.status == "active").order_by(Thing.id)
                             .limit(int(sys.argv[1]))).all()
    for thing_id, key in things:
        streams = session.scalars(select(Datastream.key).where(Datastream.thing_id == thing_id)).all()
        _, secret = create_api_key(session, data=ApiKeyCreate(name="bench " + key, device_key=key))
        out.append({"secret": secret, "streams": list(streams)})
print(json.dumps(out))
"""


def bench_http(devices: int, batches: int, batch: int, client_counts: list[int]) -> list[dict[str, Any]]:
    """``xingcheng serve`` in a subprocess on a fresh demo city; ``devices`` keys post JSON batches, with each
    number of concurrent clients in turn (same server, each run on its own observation times).

    A failed request is counted, not fatal: its observations are lost to the run (``lost``), and the first
    failure's status and body, and the server's last traceback, are kept in ``error``.
    """
    import socket
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    exe = str(Path(sys.executable).with_name("xingcheng"))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="xc-iot-http-") as tmp, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        env = {**os.environ, "XC_DATA_DIR": tmp, "XC_AUDIT__SEQUENCER_ENABLED": "false", "XC_PORT": str(port),
               "XC_IOT__EMBEDDED_WORKER": "false"}
        for name in ("XC_DATABASE_URL", "XC_MQTT_URL", "XC_IOT__STORE"):
            env.pop(name, None)
        subprocess.run([exe, "demo", "load"], env=env, check=True, capture_output=True)
        keys = json.loads(subprocess.run([sys.executable, "-c", KEYS_SCRIPT, str(devices)], env=env, check=True,
                                         capture_output=True, text=True).stdout)
        log = Path(tmp) / "serve.log"
        server = subprocess.Popen([exe, "serve"], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not come up")
                time.sleep(0.5)
            now = datetime.now(UTC).replace(microsecond=0)
            span = batches * batch

            def payloads(device: dict[str, Any], run: int) -> list[bytes]:
                # Each device posts ``batches`` batches over its datastreams, 1-s steps; each run an earlier window.
                streams = list(device["streams"])
                per_stream = span // len(streams) + 1
                first = now - timedelta(seconds=(run + 1) * (per_stream + 60))
                items = [{"datastream": streams[i % len(streams)],
                          "phenomenon_time": (first + timedelta(seconds=i // len(streams))).isoformat(),
                          "result": 1.0} for i in range(span)]
                return [json.dumps({"observations": items[b * batch:(b + 1) * batch]}).encode() for b in range(batches)]

            with httpx.Client(timeout=300, limits=httpx.Limits(max_connections=max(client_counts) + 1)) as http:
                # Untimed warm-up on its own window: the first batches into a fresh server were 2-3x slower
                # whatever the client count (first-request set-up, store file growth), which would favour later runs.
                for device in keys:
                    for body in payloads(device, len(client_counts)):
                        http.post(f"{base}/api/v1/iot/observations", content=body,
                                  headers={"X-API-Key": device["secret"], "Content-Type": "application/json"})
                for run, clients in enumerate(client_counts):
                    bodies = [(d["secret"], body) for d in keys for body in payloads(d, run)]
                    totals = {"accepted": 0, "duplicate": 0, "rejected": 0, "failed": 0}
                    errors: list[str] = []

                    def post(job: tuple[str, bytes], errors: list[str] = errors) -> dict[str, int]:
                        try:
                            answer = http.post(f"{base}/api/v1/iot/observations", content=job[1],
                                               headers={"X-API-Key": job[0], "Content-Type": "application/json"})
                        except httpx.HTTPError as exc:
                            errors.append(f"{type(exc).__name__}: {exc}")
                            return {"failed": 1}
                        if answer.status_code != 200:
                            errors.append(f"{answer.status_code} {answer.text[:300]}")
                            return {"failed": 1}
                        return answer.json()  # type: ignore[no-any-return]

                    started = time.perf_counter()
                    with ThreadPoolExecutor(clients) as pool:
                        for report in pool.map(post, bodies):
                            for name in totals:
                                totals[name] += report.get(name, 0)
                    seconds = time.perf_counter() - started
                    retried = post(bodies[0])  # a retried batch: all duplicates
                    sent = len(bodies) * batch
                    traceback = ""
                    if errors:
                        text = log.read_text(errors="replace")
                        at = text.rfind("Traceback (most recent call last)")
                        traceback = text[at:at + 4000] if at >= 0 else text[-2000:]
                    results.append({
                        "clients": clients, "observations": sent, "seconds": seconds, "obs_per_s": sent / seconds,
                        "accepted": totals["accepted"], "rejected": totals["rejected"], "failed_requests": totals["failed"],
                        "lost": sent - totals["accepted"], "devices": len(keys),
                        "retry_ok": retried.get("duplicate") == batch and retried.get("accepted") == 0,
                        "error": errors[0] if errors else None, "server_traceback": traceback or None,
                    })
        finally:
            server.terminate()
            server.wait(30)
    return results


def bench_row_by_row(sample: pa.Table, directory: Path) -> dict[str, float]:
    engine = create_db_engine(f"sqlite:///{directory / 'baseline.db'}")
    metadata = MetaData()
    table = Table(
        "observation", metadata,
        Column("datastream_id", BigInteger, primary_key=True),
        Column("phenomenon_time", DateTime, primary_key=True),
        Column("result", Float, nullable=False),
    )
    metadata.create_all(engine)
    rows = sample.select(["datastream_id", "phenomenon_time", "result"]).to_pylist()
    started = time.perf_counter()
    with Session(engine) as session:
        for row in rows:
            session.execute(insert(table).values(**row))
        session.commit()
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "obs_per_s": len(rows) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", "--n", dest="n", type=int, default=2_000_000, help="observations to ingest")
    parser.add_argument("--batch", type=int, default=100_000, help="rows per append")
    parser.add_argument("--datastreams", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=20_000, help="rows for the row-by-row baseline")
    parser.add_argument("--pg-rows", type=int, default=1_000_000, help="rows for the PostgreSQL COPY path (0: skip)")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--http", action="store_true", help="also HTTP batch ingest through `xingcheng serve`")
    parser.add_argument("--http-devices", type=int, default=8)
    parser.add_argument("--http-batches", type=int, default=10, help="batches per device")
    parser.add_argument("--http-batch", type=int, default=5000)
    parser.add_argument("--http-clients", default="1",
                        help="concurrent HTTP clients, one run per comma-separated count (e.g. 1,2,4)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    data = generate(args.n, args.datastreams)
    with tempfile.TemporaryDirectory(prefix="xc-iot-bench-") as tmp:
        store = bench_store(data, args.batch, Path(tmp), args.datastreams)
        baseline = bench_row_by_row(data.slice(0, min(args.sample, args.n)), Path(tmp))
    postgres = bench_postgres(data.slice(0, min(args.pg_rows, args.n)), args.batch, args.pg_url) if args.pg_rows > 0 else None
    speedup = store["obs_per_s"] / baseline["obs_per_s"]
    counts = [int(c) for c in str(args.http_clients).split(",") if c.strip()]
    http = bench_http(args.http_devices, args.http_batches, args.http_batch, counts) if args.http else None
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"duckdb {duckdb.__version__}",
        "n": args.n, "batch": args.batch, "datastreams": args.datastreams, "sample": min(args.sample, args.n),
        "store": {k: round(v, 3) for k, v in store.items()}, "baseline": {k: round(v, 3) for k, v in baseline.items()},
        "speedup": round(speedup, 1),
        "postgres": {k: round(v, 3) for k, v in postgres.items()} if postgres else None,
        "http": [{k: round(v, 3) if isinstance(v, float) else v for k, v in run.items()} for run in http] if http else None,
    }
    if args.json:
        print(json.dumps(result))
        return
    table = RichTable(title=f"IoT ingest — {args.n:,} observations, {args.datastreams:,} datastreams ({result['machine']})")
    table.add_column("path")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("obs/s", justify="right")
    table.add_row(f"DuckDB store, Arrow batches of {args.batch:,}", f"{args.n:,}", f"{store['seconds']:.2f}",
                  f"{store['obs_per_s']:,.0f}")
    table.add_row("row-by-row SQLAlchemy INSERT (SQLite)", f"{result['sample']:,}", f"{baseline['seconds']:.2f}",
                  f"{baseline['obs_per_s']:,.0f}")
    if postgres:
        table.add_row(f"PostgreSQL store, binary COPY, batches of {args.batch:,}", f"{postgres['rows']:,.0f}",
                      f"{postgres['seconds']:.2f}", f"{postgres['obs_per_s']:,.0f}")
    for run in http or []:
        table.add_row(f"HTTP batches of {args.http_batch:,} via serve, {run['clients']} client(s), {run['lost']:,} lost"
                      + (f", {run['failed_requests']} failed requests" if run["failed_requests"] else ""),
                      f"{run['observations']:,}", f"{run['seconds']:.2f}", f"{run['obs_per_s']:,.0f}")
    table.add_row("[bold]speedup (DuckDB vs row-by-row)", "", "", f"[bold]{speedup:,.0f}×")
    console.print(table)
    for run in http or []:
        if run["error"]:
            console.print(f"[red]{run['clients']} clients: first failure {run['error']}[/]\n{run['server_traceback'] or ''}")
    console.print(
        f"retried batch of {args.batch:,}: {store['retry_seconds']:.2f} s, 0 rows added · "
        f"15-min aggregates of one datastream over the span: {store['aggregate_ms']:.1f} ms ({store['buckets']:.0f} buckets) · "
        f"latest value of {args.datastreams:,} datastreams from the cache: {store['latest_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
