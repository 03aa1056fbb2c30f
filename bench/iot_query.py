"""IoT query benchmark: 15-minute aggregates of one datastream over 30 days; the latest value of 800k datastreams.

    python bench/iot_query.py [--datastreams 800000] [--history-streams 500] [--days 30] [--pg] [--json]

1. Fills a fresh DuckDB store (and, with ``--pg``, a PostgreSQL store in a throw-away schema) with
   ``--history-streams`` datastreams reporting every 5 minutes for ``--days`` days, plus one reading for
   each of ``--datastreams`` datastreams (the city's sensors) — filling is not timed.
2. Times ``aggregate(…, interval="15min")`` for one datastream over the 30 days (2,880 buckets) against
   the baseline measured in the same run: fetching the raw rows with ``range`` and bucketing in Python.
3. The latest value of all ``--datastreams`` datastreams, three ways in the same run: the bulk path
   ``latest_table()`` (one Arrow table: DuckDB ``to_arrow_table``, PostgreSQL binary ``COPY`` decoded by
   numpy), the old per-object path ``latest(ids)`` (one Python ``Latest`` per datastream), and the
   baseline of computing it from the raw table (``arg_max`` / ``DISTINCT ON`` per datastream).
4. Encodes the bulk table the way ``GET /api/v1/iot/latest`` streams it (Arrow IPC and NDJSON, with a
   datastream key column), to show what the HTTP path adds on top of the store.
Each timing is the median of ``--repeat`` runs (the slow per-object path and baselines: ``--repeat // 2``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table as RichTable

from xingcheng.iot.api import arrow_chunks, ndjson_chunks
from xingcheng.iot.store import DuckDBObservationStore, ObservationStore
from xingcheng.iot.store_pg import PostgresObservationStore

START = datetime(2026, 10, 1, tzinfo=UTC)
console = Console(width=max(Console().width, 110))


def history(streams: int, days: int) -> pa.Table:
    steps = days * 288
    return duckdb.sql(f"""
        SELECT i::BIGINT AS "index", (i % {streams})::BIGINT + 1 AS datastream_id,
               TIMESTAMP '2026-10-01' + to_microseconds((i // {streams}) * 300000000) AS phenomenon_time,
               round(50 + 20 * sin(i / 9000.0) + random() * 4, 3) AS result
        FROM range({streams * steps}) t(i)
    """).to_arrow_table()


def city(datastreams: int, offset: int) -> pa.Table:
    return duckdb.sql(f"""
        SELECT i::BIGINT AS "index", i::BIGINT + {offset} AS datastream_id,
               TIMESTAMP '2026-10-31 12:00' + to_microseconds(i * 1000) AS phenomenon_time, (i % 97)::DOUBLE AS result
        FROM range({datastreams}) t(i)
    """).to_arrow_table()


def median_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), result


def python_buckets(store: ObservationStore, end: datetime) -> int:
    points = store.range(1, start=START, end=end, limit=10_000_000)
    buckets: dict[int, list[float]] = {}
    for p in points:
        buckets.setdefault(int(p.time.timestamp()) // 900, []).append(p.value)
    return len([(min(v), max(v), sum(v) / len(v), len(v)) for v in buckets.values()])


def run(store: ObservationStore, args: argparse.Namespace, raw_latest: Callable[[], int]) -> dict[str, float]:
    filled = time.perf_counter()
    data = history(args.history_streams, args.days)
    for offset in range(0, data.num_rows, 500_000):
        store.append(data.slice(offset, 500_000))
    cityd = city(args.datastreams, args.history_streams + 1)
    for offset in range(0, cityd.num_rows, 200_000):
        store.append(cityd.slice(offset, 200_000))
    fill_s = time.perf_counter() - filled
    end = START + timedelta(days=args.days)
    agg_ms, buckets = median_ms(lambda: store.aggregate(1, start=START, end=end, interval="15min"), args.repeat)
    assert len(buckets) == args.days * 96
    base_agg_ms, n = median_ms(lambda: python_buckets(store, end), max(1, args.repeat // 2))
    assert n == len(buckets)
    ids = list(range(args.history_streams + 1, args.history_streams + 1 + args.datastreams))
    bulk_ms, bulk = median_ms(store.latest_table, args.repeat)
    assert bulk.num_rows == args.datastreams + args.history_streams
    slow = max(1, args.repeat // 2)
    latest_ms, latest = median_ms(lambda: store.latest(ids), slow)
    assert len(latest) == args.datastreams
    base_latest_ms, counted = median_ms(raw_latest, slow)
    assert counted >= args.datastreams
    keyed = bulk.add_column(1, "datastream", pc.binary_join_element_wise(
        "thing-", pc.cast(bulk.column("datastream_id"), pa.string()), "/pm25", ""))
    arrow_ms, arrow_bytes = median_ms(lambda: sum(len(c) for c in arrow_chunks(keyed)), args.repeat)
    ndjson_ms, ndjson_bytes = median_ms(lambda: sum(len(c) for c in ndjson_chunks(keyed)), args.repeat)
    return {"rows": data.num_rows + cityd.num_rows, "fill_s": fill_s, "aggregate_ms": agg_ms,
            "aggregate_baseline_ms": base_agg_ms, "latest_bulk_ms": bulk_ms, "latest_ms": latest_ms,
            "latest_baseline_ms": base_latest_ms, "encode_arrow_ms": arrow_ms, "encode_ndjson_ms": ndjson_ms,
            "arrow_mb": arrow_bytes / 1e6, "ndjson_mb": ndjson_bytes / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datastreams", type=int, default=800_000)
    parser.add_argument("--history-streams", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg", action="store_true", help="also the PostgreSQL store")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="xc-iot-query-") as tmp:
        duck = DuckDBObservationStore(Path(tmp) / "observations.duckdb")

        def duck_raw_latest() -> int:
            return len(duck._query("SELECT datastream_id, max(phenomenon_time), arg_max(result, phenomenon_time) "
                                   "FROM observation GROUP BY 1", []))

        results["duckdb"] = run(duck, args, duck_raw_latest)
        duck.close()
    if args.pg:
        schema = f"bench_iotq_{os.getpid()}"
        with psycopg.connect(args.pg_url, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        try:
            pg = PostgresObservationStore(args.pg_url, options=f"-csearch_path={schema}")

            def pg_raw_latest() -> int:
                return len(pg._query("SELECT DISTINCT ON (datastream_id) datastream_id, phenomenon_time, result "
                                     "FROM iot_obs_raw ORDER BY datastream_id, phenomenon_time DESC", []))

            results["postgres"] = run(pg, args, pg_raw_latest)
            pg.close()
        finally:
            with psycopg.connect(args.pg_url, autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, duckdb {duckdb.__version__}"
    load = os.getloadavg()
    if args.json:
        print(json.dumps({"machine": machine, "load_average": [round(x, 2) for x in load],
                          "datastreams": args.datastreams, "history_streams": args.history_streams,
                          "days": args.days, "results": {k: {m: round(x, 2) for m, x in v.items()} for k, v in results.items()}}))
        return
    table = RichTable(title=f"IoT queries ({machine}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    for column in ("store", "rows", "15-min × 30 d (ms)", "baseline: range + Python (ms)",
                   f"latest of {args.datastreams:,}: bulk Arrow (ms)", "per-object Latest (ms)",
                   "baseline: from raw table (ms)", "encode Arrow IPC / NDJSON (ms)"):
        table.add_column(column, justify="right")
    for name, r in results.items():
        table.add_row(name, f"{r['rows']:,.0f}", f"{r['aggregate_ms']:.1f}", f"{r['aggregate_baseline_ms']:.1f}",
                      f"{r['latest_bulk_ms']:.0f}", f"{r['latest_ms']:.0f}", f"{r['latest_baseline_ms']:.0f}",
                      f"{r['encode_arrow_ms']:.0f} / {r['encode_ndjson_ms']:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()
