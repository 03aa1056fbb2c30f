"""The DuckDB observation store: round trip, idempotent appends, aggregates against values computed here."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from xingcheng.iot.store import DuckDBObservationStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def batch(rows: list[tuple[int, datetime, float]], first_index: int = 0) -> pa.Table:
    return pa.table({
        "index": pa.array(range(first_index, first_index + len(rows)), pa.int64()),
        "datastream_id": pa.array([r[0] for r in rows], pa.int64()),
        "phenomenon_time": pa.array([r[1].replace(tzinfo=None) for r in rows], pa.timestamp("us")),
        "result": pa.array([r[2] for r in rows], pa.float64()),
    })


def test_round_trip_and_a_retried_batch_adds_nothing(iot_store):
    rows = [(1, T0 + timedelta(minutes=5 * i), float(i)) for i in range(10)] + [(2, T0, 42.0)]
    assert iot_store.append(batch(rows)).to_pylist() == []
    assert iot_store.count() == 11
    duplicates = iot_store.append(batch(rows))
    assert duplicates.to_pylist() == list(range(11))
    assert iot_store.count() == 11
    points = iot_store.range(1, start=T0, end=T0 + timedelta(hours=1), limit=100)
    assert [(p.time, p.value) for p in points] == [(r[1], r[2]) for r in rows[:10]]
    assert points[0].time.tzinfo is not None


def test_duplicates_inside_one_batch_keep_the_first_item(iot_store):
    rows = [(7, T0, 1.0), (7, T0, 2.0), (7, T0 + timedelta(seconds=1), 3.0)]
    assert iot_store.append(batch(rows)).to_pylist() == [1]
    assert [p.value for p in iot_store.range(7, start=T0, end=T0 + timedelta(minutes=1), limit=10)] == [1.0, 3.0]


def test_a_partly_new_batch_stores_only_the_new_rows(iot_store):
    iot_store.append(batch([(3, T0 + timedelta(minutes=i), 1.0) for i in range(5)]))
    retry = [(3, T0 + timedelta(minutes=i), 9.0) for i in range(3, 8)]
    assert iot_store.append(batch(retry, first_index=100)).to_pylist() == [100, 101]
    assert iot_store.count() == 8
    values = [p.value for p in iot_store.range(3, start=T0, end=T0 + timedelta(hours=1), limit=100)]
    assert values == [1.0] * 5 + [9.0] * 3  # the stored readings are not overwritten by a retry


@pytest.mark.parametrize(("interval", "width"), [("1min", 60), ("15min", 900), ("1h", 3600), ("1day", 86400)])
def test_aggregates_match_values_computed_in_the_test(iot_store, interval, width):
    rng = random.Random(5)
    rows = [(11, T0 + timedelta(seconds=rng.randrange(2 * 86400)), round(rng.uniform(0, 100), 3)) for _ in range(3000)]
    rows = list({(r[0], r[1]): r for r in reversed(rows)}.values())  # unique times; the first occurrence wins
    rows.sort(key=lambda r: r[1])
    iot_store.append(batch([*rows, (12, T0, 1e6)]))  # another datastream must not leak in
    expected: dict[datetime, list[float]] = {}
    for _, moment, value in rows:
        start = T0 + timedelta(seconds=int((moment - T0).total_seconds()) // width * width)
        expected.setdefault(start, []).append(value)
    buckets = iot_store.aggregate(11, start=T0, end=T0 + timedelta(days=2), interval=interval)
    assert [b.time for b in buckets] == sorted(expected)
    for bucket in buckets:
        values = expected[bucket.time]
        assert bucket.count == len(values)
        assert bucket.min == min(values) and bucket.max == max(values)
        assert bucket.avg == pytest.approx(sum(values) / len(values))


def test_latest_values_are_cached_and_survive_a_reopen(tmp_path):
    path = tmp_path / "obs.duckdb"
    store = DuckDBObservationStore(path)
    store.append(batch([(1, T0, 1.0), (1, T0 + timedelta(minutes=5), 2.0), (2, T0, 5.0)]))
    store.append(batch([(1, T0 - timedelta(days=1), -1.0)]))  # a late, older reading does not replace the newest
    assert {(v.datastream_id, v.value) for v in store.latest([1, 2, 3])} == {(1, 2.0), (2, 5.0)}
    assert [p.value for p in store.latest_n(1, n=2)] == [2.0, 1.0]
    store.close()
    reopened = DuckDBObservationStore(path)
    assert [(v.datastream_id, v.time, v.value) for v in reopened.latest([1])] == [(1, T0 + timedelta(minutes=5), 2.0)]
    reopened.close()


def test_a_second_process_gets_one_clear_line(tmp_path):
    path = tmp_path / "held.duckdb"
    store = DuckDBObservationStore(path)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", (
                "from xingcheng.iot.store import DuckDBObservationStore\n"
                "from xingcheng.core.errors import Unavailable\n"
                f"try:\n    DuckDBObservationStore({str(path)!r})\nexcept Unavailable as e:\n    print(e.detail)\n"
            )],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert "held by another process" in probe.stdout, probe.stderr
    finally:
        store.close()
