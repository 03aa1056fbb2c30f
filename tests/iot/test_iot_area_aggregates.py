"""Aggregates per area: groups of datastreams on both stores (raw and rolled-up periods) and the area API."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import select
from test_iot_store import T0, batch

from xingcheng.iot.models import Datastream, ObservedProperty, Thing
from xingcheng.iot.store import GROUP_BUCKETS_SCHEMA, request_store

BASE = "/api/v1/iot"


GROUPS = pa.table({"datastream_id": pa.array([1, 2, 3, 4], pa.int64()), "group_key": ["north", "north", "south", "south"]})


def _random_rows(seed: int, days: int = 2) -> list[tuple[int, datetime, float]]:
    rng = random.Random(seed)
    rows = {(ds, T0 + timedelta(seconds=rng.randrange(days * 86400))): round(rng.uniform(0, 100), 3)
            for ds in (1, 2, 3, 4, 5) for _ in range(400)}
    return [(ds, t, v) for (ds, t), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0]))]


def _expected(rows: list[tuple[int, datetime, float]], width: int) -> dict[tuple[str, datetime], list[tuple[int, float]]]:
    names = dict(zip(GROUPS.column("datastream_id").to_pylist(), GROUPS.column("group_key").to_pylist(), strict=True))
    out: dict[tuple[str, datetime], list[tuple[int, float]]] = {}
    for ds, moment, value in rows:
        if ds in names:  # datastream 5 belongs to no group: it must not leak in
            start = T0 + timedelta(seconds=int((moment - T0).total_seconds()) // width * width)
            out.setdefault((names[ds], start), []).append((ds, value))
    return out


def _check(table: pa.Table, expected: dict[tuple[str, datetime], list[tuple[int, float]]]) -> None:
    assert table.schema == GROUP_BUCKETS_SCHEMA
    got = table.to_pylist()
    assert [(r["group_key"], r["bucket"]) for r in got] == sorted(expected)
    for r in got:
        members = expected[(r["group_key"], r["bucket"])]
        values = [v for _, v in members]
        assert r["count"] == len(values) and r["datastreams"] == len({ds for ds, _ in members})
        assert (r["min"], r["max"]) == (min(values), max(values))
        assert r["avg"] == pytest.approx(sum(values) / len(values))


@pytest.mark.parametrize(("interval", "width"), [("15min", 900), ("1h", 3600), ("1day", 86400)])
def test_group_aggregates_match_values_computed_in_the_test(any_store, interval, width):
    rows = _random_rows(7)
    any_store.append(batch(rows))
    table = any_store.aggregate_groups(GROUPS, start=T0, end=T0 + timedelta(days=2), interval=interval)
    _check(table, _expected(rows, width))


def test_hours_before_the_retention_watermark_come_from_the_roll_up(any_store):
    rows = _random_rows(11, days=3)
    any_store.append(batch(rows))
    any_store.roll_up_and_drop(T0 + timedelta(days=1))  # the first day now lives only in the hourly roll-up
    assert any_store.count() == sum(1 for _, t, _ in rows if t >= T0 + timedelta(days=1))
    for interval, width in (("1h", 3600), ("1day", 86400)):
        table = any_store.aggregate_groups(GROUPS, start=T0, end=T0 + timedelta(days=3), interval=interval)
        _check(table, _expected(rows, width))
    fine = any_store.aggregate_groups(GROUPS, start=T0, end=T0 + timedelta(days=3), interval="15min")
    assert min(fine.column("bucket").to_pylist()) >= T0 + timedelta(days=1)  # finer buckets: raw period only


def test_no_groups_or_an_empty_window_give_an_empty_table(any_store):
    any_store.append(batch(_random_rows(3)))
    assert any_store.aggregate_groups(GROUPS.slice(0, 0), start=T0, end=T0 + timedelta(days=1), interval="1h").num_rows == 0
    later = T0 + timedelta(days=30)
    assert any_store.aggregate_groups(GROUPS, start=later, end=later + timedelta(days=1), interval="1h").num_rows == 0


def _area_streams(session, division: str, prop: str) -> list[int]:  # type: ignore[no-untyped-def]
    return list(session.scalars(
        select(Datastream.id).join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Thing.division_code == division, ObservedProperty.name == prop).order_by(Datastream.id)
    ))


@pytest.fixture(params=["duckdb", "postgres"])
def area_store(request, api_app):  # type: ignore[no-untyped-def]
    """The API on either observation store."""
    chosen = request.getfixturevalue("iot_store" if request.param == "duckdb" else "pg_store")
    api_app.dependency_overrides[request_store] = lambda: chosen
    yield chosen
    api_app.dependency_overrides.pop(request_store, None)


def test_the_area_api_gives_one_series_per_property(client, auth, any_db, area_store):
    district, other = "430104", "430102"
    mine, theirs = _area_streams(any_db, district, "pm25"), _area_streams(any_db, other, "pm25")
    assert len(mine) >= 2 and theirs
    start = datetime(2026, 11, 24, tzinfo=UTC)
    rows = [(ds, start + timedelta(minutes=10 * i), float(i + k)) for k, ds in enumerate(mine[:2]) for i in range(12)]
    rows += [(theirs[0], start, 1000.0)]  # another district: not in this area
    area_store.append(batch(rows))
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}
    headers = auth("clerk")
    answer = client.get(f"{BASE}/areas/{district}/aggregates", params={**window, "interval": "1h", "property": "pm25"},
                        headers=headers)
    assert answer.status_code == 200, answer.text
    [series] = answer.json()["series"]
    assert series["property"] == "pm25" and series["unit"] == "ug/m3" and series["datastreams"] == len(mine)
    first_hour = [v for _, t, v in rows[:-1] if t < start + timedelta(hours=1)]
    bucket = series["buckets"][0]
    assert (bucket["count"], bucket["datastreams"], bucket["max"]) == (len(first_hour), 2, max(first_hour))
    assert bucket["avg"] == pytest.approx(sum(first_hour) / len(first_hour))
    assert [b["count"] for b in series["buckets"]] == [12, 12]

    city = client.get(f"{BASE}/areas/430100/aggregates", params={**window, "interval": "1day"}, headers=headers).json()
    pm25 = next(s for s in city["series"] if s["property"] == "pm25")
    assert pm25["buckets"][0]["count"] == len(rows) and pm25["buckets"][0]["max"] == 1000.0  # the city covers both
    assert {s["property"] for s in city["series"]} > {"pm25"}  # every property registered, even without data


def test_area_api_errors_are_problem_json(client, auth, api_store):
    headers = auth("operator")
    for params, code, status in (({}, "999999", 404), ({"interval": "5min"}, "430104", 422), ({}, "4301", 422),
                                 ({"interval": "1min", "start": "2020-01-01T00:00:00Z"}, "430104", 422)):
        response = client.get(f"{BASE}/areas/{code}/aggregates", params=params, headers=headers)
        assert response.status_code == status, (params, code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{BASE}/areas/430104/aggregates", headers=auth("citizen")).status_code == 403
