"""Registry and observation reads: paged filters, raw range, aggregates, latest values; staff only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from sqlalchemy import func, select

from xingcheng.iot.models import Datastream, Thing

BASE = "/api/v1/iot"


def test_things_are_paged_and_filtered(client, auth, any_db):
    headers = auth("operator")
    everything = client.get(f"{BASE}/things", params={"limit": 5}, headers=headers).json()
    assert everything["total"] == any_db.scalar(select(func.count()).select_from(Thing)) and len(everything["items"]) == 5
    gas = client.get(f"{BASE}/things", params={"kind": "gas_sensor", "division_code": "430104", "limit": 1000},
                     headers=headers).json()
    assert gas["total"] > 0
    assert {(t["kind"], t["division_code"], t["department_code"]) for t in gas["items"]} == {("gas_sensor", "430104", "rqgs")}
    streams = client.get(f"{BASE}/datastreams", params={"kind": "air_quality_station", "property": "pm10"},
                         headers=headers).json()
    assert streams["total"] > 0
    assert all(s["key"].endswith("/pm10") and s["unit"] == "ug/m3" for s in streams["items"])


def test_citizens_cannot_read_the_sensor_registry(client, auth):
    response = client.get(f"{BASE}/things", headers=auth("citizen"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_range_aggregates_and_latest_of_one_datastream(client, auth, any_db, api_store):
    stream_id, key = any_db.execute(select(Datastream.id, Datastream.key).where(Datastream.key.like("%/noise_laeq"))
                                    .order_by(Datastream.id).limit(1)).one()
    start = datetime(2026, 11, 24, tzinfo=UTC)
    values = [50.0 + (i % 7) for i in range(48)]  # every 5 minutes for 4 hours
    api_store.append(pa.table({
        "index": pa.array(range(48), pa.int64()), "datastream_id": pa.array([stream_id] * 48, pa.int64()),
        "phenomenon_time": pa.array([(start + timedelta(minutes=5 * i)).replace(tzinfo=None) for i in range(48)],
                                    pa.timestamp("us")),
        "result": pa.array(values, pa.float64()),
    }))
    headers = auth("clerk")
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=4)).isoformat()}
    raw = client.get(f"{BASE}/datastreams/{stream_id}/observations", params={**window, "limit": 10}, headers=headers)
    assert raw.status_code == 200, raw.text
    assert [p["result"] for p in raw.json()] == values[:10]
    hourly = client.get(f"{BASE}/datastreams/{stream_id}/aggregates", params={**window, "interval": "1h"},
                        headers=headers).json()
    assert [b["count"] for b in hourly] == [12] * 4
    for hour, bucket in enumerate(hourly):
        chunk = values[12 * hour:12 * hour + 12]
        assert (bucket["min"], bucket["max"]) == (min(chunk), max(chunk))
        assert abs(bucket["avg"] - sum(chunk) / 12) < 1e-9
    newest = client.get(f"{BASE}/datastreams/{stream_id}/latest", params={"n": 3}, headers=headers).json()
    assert [p["result"] for p in newest] == values[::-1][:3]
    thing_key = key.split("/")[0]
    latest = client.get(f"{BASE}/latest", params={"thing_key": thing_key}, headers=headers).json()
    assert [(v["datastream"], v["result"]) for v in latest["items"]] == [(key, values[-1])]


def test_bad_read_parameters_are_problem_json(client, auth, api_store, any_db):
    stream_id = any_db.scalar(select(Datastream.id).order_by(Datastream.id).limit(1))
    headers = auth("operator")
    cases = [
        (f"{BASE}/datastreams/{stream_id}/aggregates", {"interval": "5min"}, 422),
        (f"{BASE}/datastreams/{stream_id}/observations", {"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, 422),
        (f"{BASE}/datastreams/{stream_id}/observations", {"start": "2026-01-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, 422),
        (f"{BASE}/datastreams/{stream_id}/aggregates", {"interval": "1min", "start": "1990-01-01T00:00:00Z"}, 422),
        (f"{BASE}/datastreams/{stream_id}/observations", {"end": "0001-01-01T00:00:00Z"}, 422),
        (f"{BASE}/datastreams/999999999/observations", {}, 404),
        (f"{BASE}/datastreams/0/latest", {}, 422),
    ]
    for url, params, status in cases:
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == status, (url, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
