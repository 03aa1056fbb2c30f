"""Retention and roll-up on both backends: raw rows expire, hourly aggregates answer for the old part of a range."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from test_iot_store import batch

from xingcheng.iot.retention import apply_retention
from xingcheng.iot.store import ObservationStore

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
START = datetime(2026, 11, 15, tzinfo=UTC)  # 10 days of data before NOW's midnight


def fill(store: ObservationStore) -> list[tuple[int, datetime, float]]:
    rng = random.Random(3)
    rows = [(ds, START + timedelta(minutes=7 * step), round(rng.uniform(-20, 80), 3))
            for ds in (1, 2) for step in range(10 * 24 * 60 // 7)]
    store.append(batch(rows))
    return rows


@pytest.mark.parametrize("interval", ["1h", "1day"])
def test_roll_up_then_delete_keeps_the_aggregates(any_store, interval):
    rows = fill(any_store)
    end = NOW
    before = any_store.aggregate(1, start=START, end=end, interval=interval)
    report = apply_retention(any_store, now=NOW, raw_days=3, aggregate_days=30)
    cutoff = datetime(2026, 11, 22, tzinfo=UTC)
    assert report.raw_before == cutoff.isoformat()
    old = [r for r in rows if r[1] < cutoff]
    assert report.raw_deleted == len(old) and report.hours_rolled_up == 2 * 7 * 24 and report.rollup_deleted == 0
    assert any_store.count() == len(rows) - len(old)
    assert any_store.range(1, start=START, end=cutoff, limit=10) == []  # raw rows are gone…
    after = any_store.aggregate(1, start=START, end=end, interval=interval)  # …but the aggregates are not
    assert [b.time for b in after] == [b.time for b in before]
    for was, now in zip(before, after, strict=True):
        assert (now.count, now.min, now.max) == (was.count, was.min, was.max)
        assert now.avg == pytest.approx(was.avg)
    # Finer intervals cover only the raw period.
    fine = any_store.aggregate(1, start=START, end=end, interval="15min")
    assert fine and fine[0].time == cutoff


def test_retention_is_idempotent_and_old_roll_ups_expire(any_store):
    fill(any_store)
    first = apply_retention(any_store, now=NOW, raw_days=3, aggregate_days=30)
    again = apply_retention(any_store, now=NOW, raw_days=3, aggregate_days=30)
    assert first.raw_deleted > 0 and again.raw_deleted == 0 and again.hours_rolled_up == 0
    hourly = any_store.aggregate(2, start=START, end=NOW, interval="1h")
    assert sum(b.count for b in hourly) == 10 * 24 * 60 // 7 + 0  # everything still counted once
    later = apply_retention(any_store, now=NOW + timedelta(days=20), raw_days=3, aggregate_days=25)
    # Roll-ups before 2026-11-20 expire: 5 days × 24 h × 2 datastreams.
    assert later.rollup_deleted == 5 * 24 * 2
    assert any_store.aggregate(2, start=START, end=datetime(2026, 11, 20, tzinfo=UTC), interval="1day") == []


def test_retention_refuses_aggregates_kept_shorter_than_raw(any_store):
    with pytest.raises(ValueError, match="raw_retention_days"):
        apply_retention(any_store, now=NOW, raw_days=10, aggregate_days=5)
