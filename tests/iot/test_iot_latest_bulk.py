"""The bulk latest-value path: one Arrow table from either store, streamed as Arrow IPC or NDJSON by the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import select
from test_iot_store import T0, batch

from xingcheng.iot import store_pg
from xingcheng.iot.models import Datastream, Thing
from xingcheng.iot.store import LATEST_SCHEMA, ObservationStore
from xingcheng.iot.store_pg import latest_from_copy

BASE = "/api/v1/iot"
ARROW = "application/vnd.apache.arrow.stream"


def _fill(store: ObservationStore) -> None:
    rows = [(ds, T0 + timedelta(minutes=5 * i), float(10 * ds + i)) for ds in range(1, 31) for i in range(3)]
    store.append(batch(rows))
    store.append(batch([(4, T0 - timedelta(days=1), -1.0)]))  # late and older: not the newest


def test_the_bulk_table_matches_the_per_object_answer(any_store):
    _fill(any_store)
    table = any_store.latest_table()
    assert table.schema == LATEST_SCHEMA
    assert table.column("datastream_id").to_pylist() == list(range(1, 31))
    per_object = {(v.datastream_id, v.time, v.value) for v in any_store.latest(list(range(1, 31)))}
    assert set(zip(*(table.column(n).to_pylist() for n in LATEST_SCHEMA.names), strict=True)) == per_object
    assert table.to_pylist()[3] == {"datastream_id": 4, "phenomenon_time": T0 + timedelta(minutes=10), "result": 42.0}
    wanted = any_store.latest_table(pa.array([30, 2, 999]))
    assert wanted.column("datastream_id").to_pylist() == [2, 30]  # unknown ids are simply absent


def test_an_empty_store_gives_an_empty_typed_table(any_store):
    assert any_store.latest_table().schema == LATEST_SCHEMA and any_store.latest_table().num_rows == 0
    assert any_store.latest_table(pa.array([1], pa.int64())).num_rows == 0


@pytest.mark.postgres
def test_a_large_wanted_set_reads_the_whole_table_once_and_filters_in_arrow(pg_store, monkeypatch):
    _fill(pg_store)
    monkeypatch.setattr(store_pg, "_LATEST_ANY_LIMIT", 2)
    wanted = pg_store.latest_table(pa.array([5, 6, 7, 999]))
    assert wanted.column("datastream_id").to_pylist() == [5, 6, 7]
    assert wanted.column("result").to_pylist() == [52.0, 62.0, 72.0]


def test_an_unexpected_copy_layout_is_refused():
    assert latest_from_copy(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + b"\xff\xff").num_rows == 0
    with pytest.raises(ValueError, match="layout"):
        latest_from_copy(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + b"\x00\x03" + b"\xff\xff")


def _two_things(session) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    """(datastream id, key, thing key) of every datastream of two demo things."""
    things = session.scalars(select(Thing.id).order_by(Thing.id).limit(2)).all()
    rows = session.execute(select(Datastream.id, Datastream.key, Thing.key).join(Thing, Thing.id == Datastream.thing_id)
                           .where(Thing.id.in_(things)).order_by(Datastream.id)).all()
    return [(int(i), k, t) for i, k, t in rows]


def test_the_api_streams_every_value_as_ndjson_or_arrow(client, auth, any_db, api_store):
    streams = _two_things(any_db)
    moment = datetime(2026, 11, 24, 8, 0, 0, 500_000, tzinfo=UTC)
    api_store.append(batch([(ds, moment + timedelta(seconds=i), 1.5 * i) for i, (ds, _, _) in enumerate(streams)]))
    api_store.append(batch([(999_999_999, moment, 1.0)]))  # not in the registry: never handed out
    headers = auth("operator")
    expected = [{"datastream_id": ds, "datastream": key, "result": 1.5 * i} for i, (ds, key, _) in enumerate(streams)]

    ndjson = client.get(f"{BASE}/latest", params={"format": "ndjson"}, headers=headers)
    assert ndjson.status_code == 200, ndjson.text
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [{k: v for k, v in line.items() if k != "phenomenon_time"} for line in lines] == expected
    assert datetime.fromisoformat(lines[1]["phenomenon_time"]) == moment + timedelta(seconds=1)
    assert ndjson.headers["x-total-count"] == str(len(streams))

    arrow = client.get(f"{BASE}/latest", headers={**headers, "Accept": ARROW})
    assert arrow.status_code == 200 and arrow.headers["content-type"] == ARROW
    table = pa.ipc.open_stream(arrow.content).read_all()
    assert table.select(["datastream_id", "datastream", "result"]).to_pylist() == expected
    assert table.column("phenomenon_time").to_pylist()[0] == moment

    one_thing = client.get(f"{BASE}/latest", params={"format": "arrow", "thing_key": streams[0][2]}, headers=headers)
    keys = pa.ipc.open_stream(one_thing.content).read_all().column("datastream").to_pylist()
    assert keys == [key for _, key, thing in streams if thing == streams[0][2]]

    page = client.get(f"{BASE}/latest", params={"thing_key": streams[0][2]}, headers=headers)  # paged JSON stays
    assert page.headers["content-type"].startswith("application/json") and page.json()["items"]


def test_the_bulk_api_needs_iot_read_and_a_known_format(client, auth, api_store):
    assert client.get(f"{BASE}/latest", params={"format": "arrow"}, headers=auth("citizen")).status_code == 403
    bad = client.get(f"{BASE}/latest", params={"format": "csv"}, headers=auth("operator"))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
