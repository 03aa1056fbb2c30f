"""Parquet lake export: read back with DuckDB (hive partitioning) and pyarrow.dataset, counts per day and property."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.dataset as pads
from sqlalchemy import select
from test_iot_store import T0, batch

from xingcheng.iot.export import UNKNOWN_PROPERTY, export_observations
from xingcheng.iot.models import Datastream, ObservedProperty
from xingcheng.iot.store import DuckDBObservationStore, ObservationStore


def registered(db, n: int) -> dict[int, str]:  # type: ignore[no-untyped-def]
    rows = db.execute(
        select(Datastream.id, ObservedProperty.name).join(ObservedProperty).order_by(Datastream.id).limit(n)
    ).all()
    assert len({name for _, name in rows}) >= 2, "the demo city should register several properties"
    return {int(i): str(name) for i, name in rows}


def fill(store: ObservationStore, streams: dict[int, str], days: int, first_index: int = 0) -> Counter[tuple[str, str]]:
    """Every datastream every 20 minutes for ``days`` days, plus one unregistered datastream; expected counts."""
    rows, expected = [], Counter[tuple[str, str]]()
    for ds, prop in [*streams.items(), (999_999_999, UNKNOWN_PROPERTY)]:
        for step in range(days * 72):
            moment = T0 + timedelta(minutes=20 * step)
            rows.append((ds, moment, float(step % 17)))
            expected[(moment.date().isoformat(), prop)] += 1
    assert store.append(batch(rows, first_index)).to_pylist() == []
    return expected


def read_back(root) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    by_duckdb = Counter({
        (str(d), str(p)): int(c) for d, p, c in duckdb.sql(
            f"SELECT date::VARCHAR, property, count(*) FROM read_parquet('{root}/**/*.parquet', hive_partitioning=true) "
            "GROUP BY ALL"
        ).fetchall()
    })
    table = pads.dataset(root, format="parquet", partitioning="hive").to_table()
    by_arrow = Counter(zip((str(d) for d in table.column("date").to_pylist()), table.column("property").to_pylist(),
                           strict=True))
    return by_duckdb, by_arrow


def test_export_reads_back_with_duckdb_and_pyarrow_and_reexport_replaces_the_day(db, any_store, tmp_path):
    streams = registered(db, 6)
    expected = fill(any_store, streams, days=3)
    root = tmp_path / "lake" / "observations"
    report = export_observations(db, any_store, root=root)
    assert report.days == 3 and report.rows == sum(expected.values())
    assert sorted(p.name for p in root.iterdir()) == ["date=2026-11-01", "date=2026-11-02", "date=2026-11-03"]
    assert {p.parent.name for p in root.rglob("part-*.parquet")} >= {f"property={UNKNOWN_PROPERTY}"}
    by_duckdb, by_arrow = read_back(root)
    assert by_duckdb == expected and by_arrow == expected

    # Late readings for day 2, then re-export that day only: it is replaced, not doubled; others untouched.
    late = [(ds, T0 + timedelta(days=1, seconds=30 + i), 1.0) for i, ds in enumerate(streams)]
    any_store.append(batch(late, first_index=10_000))
    for ds in streams:
        expected[("2026-11-02", streams[ds])] += 1
    again = export_observations(db, any_store, root=root, since=date(2026, 11, 2), until=date(2026, 11, 2))
    assert again.days == 1 and again.per_day == {"2026-11-02": sum(v for k, v in expected.items() if k[0] == "2026-11-02")}
    by_duckdb, by_arrow = read_back(root)
    assert by_duckdb == expected and by_arrow == expected
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_cli_export_prints_one_json_object(tmp_path):
    store = DuckDBObservationStore(tmp_path / "observations.duckdb")
    store.append(batch([(1, T0, 1.0), (1, T0 + timedelta(days=1), 2.0)]))
    store.close()
    env = {**os.environ, "XC_DATA_DIR": str(tmp_path), "XC_DATABASE_URL": f"sqlite:///{tmp_path / 'xc.db'}",
           "XC_IOT__STORE": "duckdb"}
    result = subprocess.run([str(Path(sys.executable).parent / "xingcheng"), "iot", "export", "--json", "--since", "2026-11-02"],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    assert figures["days"] == 1 and figures["rows"] == 1 and figures["per_day"] == {"2026-11-02": 1}
    assert (tmp_path / "lake" / "observations" / "date=2026-11-02" / f"property={UNKNOWN_PROPERTY}").is_dir()
