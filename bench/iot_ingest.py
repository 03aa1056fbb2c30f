"""IoT ingest benchmark: bulk Arrow appends into the embedded DuckDB store vs a row-by-row SQLAlchemy insert.

    python bench/iot_ingest.py [--n 2000000] [--batch 100000] [--datastreams 20000] [--sample 20000] [--json]

1. Generates ``--n`` observations (``--datastreams`` datastreams reporting every 5 minutes, noisy
   values) as Arrow tables — generation is not timed.
2. Appends them to a fresh ``DuckDBObservationStore`` in ``--batch`` batches (the same ``append`` the
   HTTP ingest uses, with its idempotency anti-join and latest-value cache update), then retries
   one batch and checks that nothing was added.
3. Baseline on ``--sample`` rows of the same data: one SQLAlchemy ``INSERT`` per row into a SQLite
   table keyed on (datastream, time), committed at the end — the naive way to write readings.
4. Query timings: 15-minute aggregates of one datastream over the whole span; the latest value of
   every datastream from the cache.
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

import duckdb
import pyarrow as pa
from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy import BigInteger, Column, DateTime, Float, MetaData, Table, insert
from sqlalchemy.orm import Session

from xingcheng.core.db import create_db_engine
from xingcheng.iot.store import DuckDBObservationStore

START = datetime(2026, 6, 1, tzinfo=UTC)
console = Console(width=max(Console().width, 110))


def generate(n: int, datastreams: int) -> pa.Table:
    """``n`` rows: datastream i reports at 5-minute steps with a per-datastream phase offset."""
    return duckdb.sql(f"""
        SELECT i::BIGINT AS "index", (i % {datastreams})::BIGINT + 1 AS datastream_id,
               TIMESTAMP '2026-06-01' + to_microseconds((i // {datastreams}) * 300000000 + (i % {datastreams}) * 1000)
                   AS phenomenon_time,
               round(40 + 15 * sin(i / 5000.0) + random() * 5, 3) AS result
        FROM range({n}) t(i)
    """).to_arrow_table()


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
    parser.add_argument("--n", type=int, default=2_000_000, help="observations to ingest")
    parser.add_argument("--batch", type=int, default=100_000, help="rows per append")
    parser.add_argument("--datastreams", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=20_000, help="rows for the row-by-row baseline")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    data = generate(args.n, args.datastreams)
    with tempfile.TemporaryDirectory(prefix="xc-iot-bench-") as tmp:
        store = bench_store(data, args.batch, Path(tmp), args.datastreams)
        baseline = bench_row_by_row(data.slice(0, min(args.sample, args.n)), Path(tmp))
    speedup = store["obs_per_s"] / baseline["obs_per_s"]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"duckdb {duckdb.__version__}",
        "n": args.n, "batch": args.batch, "datastreams": args.datastreams, "sample": min(args.sample, args.n),
        "store": {k: round(v, 3) for k, v in store.items()}, "baseline": {k: round(v, 3) for k, v in baseline.items()},
        "speedup": round(speedup, 1),
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
    table.add_row("[bold]speedup", "", "", f"[bold]{speedup:,.0f}×")
    console.print(table)
    console.print(
        f"retried batch of {args.batch:,}: {store['retry_seconds']:.2f} s, 0 rows added · "
        f"15-min aggregates of one datastream over the span: {store['aggregate_ms']:.1f} ms ({store['buckets']:.0f} buckets) · "
        f"latest value of {args.datastreams:,} datastreams from the cache: {store['latest_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
