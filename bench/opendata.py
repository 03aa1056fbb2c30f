"""Open-data row serving: datastore_search (DuckDB over Parquet) and streamed CSV export vs per-row Python baselines.

Run: ``python bench/opendata.py [--rows 1000000]``. Prints a table; both sides run in the same process on the
same synthetic Parquet file (the demo's 公共厕所分布 generator).
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from xingcheng.datahub.catalog.export import csv_chunks, iter_batches
from xingcheng.datahub.catalog.storage import ParquetLake
from xingcheng.datahub.opendata import datastore
from xingcheng.datahub.opendata.demo import entries, topic_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    data, gen_fields, _ = entries()[0]
    fields = [f.model_dump() for f in data.fields]
    with tempfile.TemporaryDirectory() as tmp:
        lake = ParquetLake(Path(tmp))
        table = topic_table(gen_fields, rows, np.random.default_rng(7), None)
        part = lake.append("cgj", "public-toilets", 1, table)
        del table
        paths = [(Path(tmp) / part, rows)]
        query = datastore.RowQuery(filters={"division_code": "430104"}, q="公共厕所", sort="lng desc", limit=100)
        started = time.perf_counter()
        found = datastore.search(paths, fields, query)
        duck = time.perf_counter() - started
        started = time.perf_counter()
        matches = [r for r in pq.read_table(paths[0][0]).to_pylist()
                   if r["division_code"] == "430104" and any("公共厕所" in str(v) for v in r.values())]
        matches.sort(key=lambda r: -r["lng"])
        python = time.perf_counter() - started
        assert len(matches) == found["total"]
        started = time.perf_counter()
        size = sum(len(c) for c in csv_chunks(iter_batches([(part, rows)], fields, store=lake), fields))
        arrow_csv = time.perf_counter() - started
        started = time.perf_counter()
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for batch in iter_batches([(part, rows)], fields, store=lake):
            for record in batch.to_pylist():
                writer.writerow(record.values())
            buffer.seek(0)
            buffer.truncate()
        python_csv = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows: {rows:,}; matches: {found['total']:,}; CSV bytes: {size:,}; peak RSS {peak:.0f} MB")
    print(f"{'measurement':<48}{'ours':>12}{'baseline':>12}{'speed-up':>10}")
    print(f"{'datastore_search filter+q+sort+total (s)':<48}{duck:>12.3f}{python:>12.3f}{python / duck:>9.1f}x")
    print(f"{'CSV export, streamed (rows/s)':<48}{rows / arrow_csv:>12,.0f}{rows / python_csv:>12,.0f}"
          f"{python_csv / arrow_csv:>9.1f}x")


if __name__ == "__main__":
    main()
